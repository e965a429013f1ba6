// RL losses of jalign on CUDA: fused PPO policy loss, clipped value loss, K-wise ranking loss.
// Semantics are those of native/include/jalign/jalign.h.
//
// Shape legend: N = positions (B*T), V = vocab (real columns), ld = row stride of logits (ld >= V),
//               G = groups, K = responses per group.
//
// PPO, per position i (one block each), with p = softmax(x), logp = log p[token], H = -sum p log p:
//   ratio = exp(logp - old); pg = max(-A*ratio, -A*clip(ratio, 1-eps, 1+eps)); dual clip for A < 0;
//   kl: k1 = logp - ref, k3 = exp(ref - logp) - 1 - (ref - logp);
//   loss_i = pg - entropy_coef*H + kl_coef*kl;  w_i = mask_i / sum(mask);
//   dL/dx_j = w_i * (g*(onehot_j - p_j) + entropy_coef * p_j * (log p_j + H)),  g = d(pg + kl_coef*kl)/d logp.
// The metrics are masked means (weights w_i) summed with atomics into the zeroed metrics array; metric
// TOKENS = sum(mask) is written first by a one-block reduction so that every position knows w_i.
#include <cuda_runtime.h>

#include <cmath>

#include "common/cuda_common.cuh"
#include "jalign/jalign.h"
#include "jalign_cuda.h"

namespace jalign {
namespace cuda {

namespace {

constexpr int kPpoThreads = 512;
constexpr int kOneBlockThreads = 1024;

// sum(mask) (or N without a mask) into metrics[JALIGN_PPO_TOKENS], fixed summation order, double.
__global__ void ppo_mask_sum_kernel(float* __restrict__ metrics, const float* __restrict__ mask, int64_t N) {
  __shared__ double scratch[32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += mask != nullptr ? (double)mask[i] : 1.0;
  s = detail::block_sum(s, scratch);
  if (threadIdx.x == 0) metrics[JALIGN_PPO_TOKENS] = (float)s;
}

// Online state for log-sum-exp and the entropy: m = max, s = sum e^(x-m), t = sum e^(x-m) * x.
struct MaxSumDot {
  float m, s, t;
};
__device__ __forceinline__ MaxSumDot msd_add(MaxSumDot a, float x) {
  if (x == -INFINITY) return a;
  if (x > a.m) {
    const float c = expf(a.m - x);  // 0 when a.m = -inf
    a.s = a.s * c + 1.0f;
    a.t = a.t * c + x;
    a.m = x;
  } else {
    const float e = expf(x - a.m);
    a.s += e;
    a.t += e * x;
  }
  return a;
}
__device__ __forceinline__ MaxSumDot msd_merge(MaxSumDot a, MaxSumDot b) {
  if (b.m == -INFINITY) return a;
  if (a.m == -INFINITY) return b;
  const float m = fmaxf(a.m, b.m);
  const float ca = expf(a.m - m), cb = expf(b.m - m);
  return MaxSumDot{m, a.s * ca + b.s * cb, a.t * ca + b.t * cb};
}
__device__ __forceinline__ MaxSumDot warp_msd(MaxSumDot v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    MaxSumDot w{__shfl_xor_sync(detail::kFullMask, v.m, o), __shfl_xor_sync(detail::kFullMask, v.s, o),
                __shfl_xor_sync(detail::kFullMask, v.t, o)};
    v = msd_merge(v, w);
  }
  return v;
}
__device__ MaxSumDot block_msd(MaxSumDot v, MaxSumDot* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_msd(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  MaxSumDot r = lane < nwarps ? scratch[lane] : MaxSumDot{-INFINITY, 0.0f, 0.0f};
  return warp_msd(r);
}

__global__ void __launch_bounds__(kPpoThreads)
    ppo_loss_kernel(float* __restrict__ metrics, float* __restrict__ logp_out, float* dlogits, const float* logits,
                    const int32_t* __restrict__ tokens, const float* __restrict__ old_logp,
                    const float* __restrict__ advantages, const float* __restrict__ ref_logp,
                    const float* __restrict__ mask, int64_t N, int64_t V, int64_t ld, float clip_eps,
                    float dual_clip, float entropy_coef, float kl_coef, int kl_estimator) {
  __shared__ MaxSumDot scratch[32];
  const float tokens_sum = metrics[JALIGN_PPO_TOKENS];
  const float inv_tokens = tokens_sum > 0.0f ? 1.0f / tokens_sum : 0.0f;

  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const float* x = logits + i * ld;
    const int32_t tok = tokens[i];
    const float xt = x[tok];  // read before any thread writes dlogits (which may alias logits)

    MaxSumDot st{-INFINITY, 0.0f, 0.0f};
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) st = msd_add(st, x[j]);
    st = block_msd(st, scratch);  // barrier: every read of pass 1 precedes every write of pass 2
    const float lse = st.m + logf(st.s);
    const float H = lse - st.t / st.s;
    const float logp = xt - lse;

    // Per-position scalars (every thread computes the same values).
    const float A = advantages[i];
    const float ratio = expf(logp - old_logp[i]);
    const float rc = fminf(fmaxf(ratio, 1.0f - clip_eps), 1.0f + clip_eps);
    const float pg1 = -A * ratio, pg2 = -A * rc;
    float pg = fmaxf(pg1, pg2);
    float dpg = pg2 > pg1 ? 0.0f : -A * ratio;  // the clipped branch is constant in logp
    // Clip fraction: rows where a clip (the PPO clip or, when active, the dual clip) set the surrogate,
    // i.e. exactly the rows whose policy gradient the clip cut to 0.
    float clipped = pg2 > pg1 ? 1.0f : 0.0f;
    if (dual_clip > 1.0f && A < 0.0f) {
      const float pg3 = -A * dual_clip;
      if (pg3 < pg) {
        pg = pg3;
        dpg = 0.0f;
        clipped = 1.0f;
      }
    }
    float kl = 0.0f, dkl = 0.0f;
    if (ref_logp != nullptr) {
      const float r = ref_logp[i];
      if (kl_estimator == 3) {
        const float dlt = r - logp;
        const float e = expf(dlt);
        kl = e - 1.0f - dlt;
        dkl = 1.0f - e;
      } else {
        kl = logp - r;
        dkl = 1.0f;
      }
    }
    const float mk = mask != nullptr ? mask[i] : 1.0f;
    const float w = mk * inv_tokens;
    const float g = dpg + kl_coef * dkl;

    if (threadIdx.x == 0) {
      if (logp_out != nullptr) logp_out[i] = logp;
      if (w != 0.0f) {
        const float dl = logp - old_logp[i];
        atomicAdd(metrics + JALIGN_PPO_LOSS, w * (pg - entropy_coef * H + kl_coef * kl));
        atomicAdd(metrics + JALIGN_PPO_PG_LOSS, w * pg);
        atomicAdd(metrics + JALIGN_PPO_ENTROPY, w * H);
        atomicAdd(metrics + JALIGN_PPO_KL_REF, w * kl);
        atomicAdd(metrics + JALIGN_PPO_CLIP_FRAC, w * clipped);
        atomicAdd(metrics + JALIGN_PPO_APPROX_KL, w * 0.5f * dl * dl);
        atomicAdd(metrics + JALIGN_PPO_RATIO_MEAN, w * ratio);
      }
    }

    if (dlogits != nullptr) {
      float* d = dlogits + i * ld;
      for (int64_t j = threadIdx.x; j < ld; j += blockDim.x) {
        float v = 0.0f;
        if (j < V && w != 0.0f) {
          const float lpj = x[j] - lse;
          const float pj = expf(lpj);
          const float ent = pj > 0.0f ? entropy_coef * pj * (lpj + H) : 0.0f;
          v = w * (g * ((j == tok ? 1.0f : 0.0f) - pj) + ent);
        }
        d[j] = v;
      }
    }
    __syncthreads();  // scratch reuse by the next position
  }
}

// One block: loss = sum mask*0.5*max((v-R)^2, (vc-R)^2) / sum mask, vc = old + clip(v - old, -clip, clip).
// Clip fraction: masked mean of [(vc-R)^2 > (v-R)^2].
__global__ void value_loss_kernel(float* __restrict__ metrics, float* __restrict__ dvalues,
                                  const float* __restrict__ values, const float* __restrict__ old_values,
                                  const float* __restrict__ returns, const float* __restrict__ mask, int64_t N,
                                  float clip) {
  __shared__ double scratch[32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += mask != nullptr ? (double)mask[i] : 1.0;
  const double msum = detail::block_sum(s, scratch);
  const float inv = msum > 0.0 ? (float)(1.0 / msum) : 0.0f;
  double loss = 0.0, clipf = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const float v = values[i], o = old_values[i], R = returns[i];
    const float mk = mask != nullptr ? mask[i] : 1.0f;
    // Inside the clip range vc == v exactly (no rounding through o + (v - o)), so the two branches tie and
    // the unclipped one (gradient v - R) is used; outside it vc = o +- clip is constant in v.
    const float d = v - o;
    const bool outside = d > clip || d < -clip;
    const float vc = outside ? o + (d > 0.0f ? clip : -clip) : v;
    const float e1 = v - R, e2 = vc - R;
    const float l1 = e1 * e1, l2 = e2 * e2;
    const bool use_clipped = outside && l2 > l1;
    loss += (double)mk * 0.5 * (double)(use_clipped ? l2 : l1);
    clipf += use_clipped ? (double)mk : 0.0;
    if (dvalues != nullptr) dvalues[i] = use_clipped ? 0.0f : mk * inv * e1;
  }
  loss = detail::block_sum(loss, scratch);
  clipf = detail::block_sum(clipf, scratch);
  if (threadIdx.x == 0) {
    metrics[0] = (float)(loss * (double)inv);
    metrics[1] = (float)(clipf * (double)inv);
  }
}

// One block over the G*K (group, rank) items. Item (g, a) with response i = order[g, a] owns the pairs
// (a, b > a) for the loss and accuracy, and the whole gradient of reward i (pairs on either side), so
// no atomics are needed and the result is deterministic.
__global__ void ranking_loss_kernel(float* __restrict__ loss, float* __restrict__ accuracy,
                                    float* __restrict__ drewards, const float* __restrict__ rewards,
                                    const int32_t* __restrict__ order, const float* __restrict__ margins, int64_t G,
                                    int64_t K) {
  __shared__ double scratch[32];
  const double pairs = (double)G * (double)(K * (K - 1) / 2);
  const double inv = pairs > 0.0 ? 1.0 / pairs : 0.0;
  double lsum = 0.0, asum = 0.0;
  for (int64_t item = threadIdx.x; item < G * K; item += blockDim.x) {
    const int64_t g = item / K, a = item % K;
    const float* r = rewards + g * K;
    const int32_t* ord = order + g * K;
    const float mg = margins != nullptr ? margins[g] : 0.0f;
    const float ri = r[ord[a]];
    double grad = 0.0;
    for (int64_t b = 0; b < K; ++b) {
      if (b == a) continue;
      const float rj = r[ord[b]];
      // d = r_better - r_worse - margin; l = softplus(-d); dl/dd = -sigmoid(-d)
      const float d = b > a ? ri - rj - mg : rj - ri - mg;
      const float sig_neg = 1.0f / (1.0f + expf(d));  // sigmoid(-d)
      if (b > a) {
        lsum += (double)(fmaxf(-d, 0.0f) + log1pf(expf(-fabsf(d))));
        asum += ri > rj ? 1.0 : 0.0;
        grad -= (double)sig_neg;  // i is the better one: dl/dr_i = -sigmoid(-d)
      } else {
        grad += (double)sig_neg;  // i is the worse one: dl/dr_i = +sigmoid(-d)
      }
    }
    if (drewards != nullptr) drewards[g * K + ord[a]] += (float)(grad * inv);
  }
  lsum = detail::block_sum(lsum, scratch);
  asum = detail::block_sum(asum, scratch);
  if (threadIdx.x == 0) {
    loss[0] = (float)(lsum * inv);
    accuracy[0] = (float)(asum * inv);
  }
}

}  // namespace

int ppo_loss(float* metrics, float* logp_out, float* dlogits, const float* logits, const int32_t* tokens,
             const float* old_logp, const float* advantages, const float* ref_logp, const float* mask, int64_t N,
             int64_t V, int64_t ld, float clip_eps, float dual_clip, float entropy_coef, float kl_coef,
             int kl_estimator, void* stream) {
  cudaStream_t s = (cudaStream_t)stream;
  JALIGN_CUDA_TRY(cudaMemsetAsync(metrics, 0, sizeof(float) * JALIGN_PPO_METRICS, s));
  if (N <= 0) return 0;
  ppo_mask_sum_kernel<<<1, kOneBlockThreads, 0, s>>>(metrics, mask, N);
  JALIGN_CUDA_LAUNCH_CHECK();
  const unsigned grid = (unsigned)(N < (1 << 20) ? N : (1 << 20));
  ppo_loss_kernel<<<grid, kPpoThreads, 0, s>>>(metrics, logp_out, dlogits, logits, tokens, old_logp, advantages,
                                               ref_logp, mask, N, V, ld, clip_eps, dual_clip, entropy_coef, kl_coef,
                                               kl_estimator);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int value_loss(float* metrics, float* dvalues, const float* values, const float* old_values, const float* returns,
               const float* mask, int64_t N, float clip, void* stream) {
  value_loss_kernel<<<1, kOneBlockThreads, 0, (cudaStream_t)stream>>>(metrics, dvalues, values, old_values, returns,
                                                                      mask, N, clip);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int ranking_loss(float* loss, float* accuracy, float* drewards, const float* rewards, const int32_t* order,
                 const float* margins, int64_t G, int64_t K, void* stream) {
  ranking_loss_kernel<<<1, kOneBlockThreads, 0, (cudaStream_t)stream>>>(loss, accuracy, drewards, rewards, order,
                                                                        margins, G, K);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

}  // namespace cuda
}  // namespace jalign
