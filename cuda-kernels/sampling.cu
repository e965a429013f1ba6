// Sorting-free token sampling of jalign on CUDA (jalign_sample in native/include/jalign/jalign.h).
//
// Shape legend: B = batch (rows), V = vocab (real columns), ld = row stride of logits (ld >= V).
//
// One block per row. Every filter is a threshold on the logit, because all of them keep "the largest"
// tokens and x -> x / temperature is monotone; thresholds live in an order-preserving uint32 key space:
//   1. one pass: max and sum-exp of the raw logits (logp_raw, the temperature-1 log-softmax) and the argmax
//      (greedy when temperature <= 0; ties go to the lowest id);
//   2. top-k: radix select of the k-th largest key (4 passes of an 8-bit histogram of counts);
//   3. top-p: radix select on probability mass: the largest key t such that the mass of the top-k kept
//      tokens with key >= t reaches top_p times the kept mass (4 passes of a histogram of masses);
//   4. min-p: keep x >= max + T*log(min_p), i.e. p >= min_p * p_max;
//   5. inverse-CDF draw over the kept set in vocabulary order with u = rng_uniform(seed, offset, row, 0):
//      the first id whose running kept mass exceeds u times the total kept mass.
// The largest logit always stays in the kept set. Probabilities are exp((x - max) / T) (unnormalised).
// logp_sampled = log of the id's probability in the filtered, renormalised distribution (0 for greedy).
// A row whose logits are all -inf yields id 0 and log-probs -inf.
#include <cuda_runtime.h>

#include <cmath>

#include "common/cuda_common.cuh"
#include "common/rng.h"
#include "jalign_cuda.h"

namespace jalign {
namespace cuda {

namespace {

constexpr int kSampleThreads = 512;
constexpr int kSampleWarps = kSampleThreads / 32;
constexpr int kBins = 256;

// Masses in the top-p histograms are fixed point (e * 2^36, e <= 1) and summed with integer atomics, so the
// thresholds (and the sampled ids) do not depend on the order of the atomic additions.
constexpr double kMassScale = 68719476736.0;  // 2^36: V up to 2^27 columns cannot overflow 64 bits

struct SampleSmem {
  unsigned long long hist[kSampleWarps][kBins];  // per-warp histograms (counts or fixed-point masses)
  unsigned long long bins[kBins];                // combined histogram
  float wsum[kSampleWarps];                      // per-warp kept mass in the draw
  float red_f[32];
  int64_t red_i[32];
  detail::MaxSum red_ms[32];
  uint32_t sel_bin;
  unsigned long long sel_above;
  unsigned long long sel_need;
  int chosen;
};

// Argmax with ties to the lowest index; returns the winning (value, index) to every thread.
__device__ void block_argmax(float& v, int64_t& idx, SampleSmem& sm) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(detail::kFullMask, v, o);
    const int64_t oi = __shfl_xor_sync(detail::kFullMask, idx, o);
    if (ov > v || (ov == v && oi < idx)) {
      v = ov;
      idx = oi;
    }
  }
  __syncthreads();
  if (lane == 0) {
    sm.red_f[warp] = v;
    sm.red_i[warp] = idx;
  }
  __syncthreads();
  v = lane < kSampleWarps ? sm.red_f[lane] : -INFINITY;
  idx = lane < kSampleWarps ? sm.red_i[lane] : INT64_MAX;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(detail::kFullMask, v, o);
    const int64_t oi = __shfl_xor_sync(detail::kFullMask, idx, o);
    if (ov > v || (ov == v && oi < idx)) {
      v = ov;
      idx = oi;
    }
  }
}

// Warp 0 picks the digit of this radix pass from the combined histogram sm.bins: the highest bin b with
// C(b) = sum_{b' >= b} bins[b'] >= need; if none, the lowest non-empty bin (the kept set only grows).
// Sets sm.sel_bin, sm.sel_above = C(b) - bins[b] and sm.sel_need (need, or ceil(frac * total) when
// need_is_fraction: the first top-p pass, whose histogram total is the top-k kept mass).
__device__ void pick_bin(SampleSmem& sm, unsigned long long need, bool need_is_fraction, float frac) {
  const int lane = threadIdx.x & 31;
  unsigned long long h[8];
  unsigned long long lsum = 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    h[i] = sm.bins[lane * 8 + i];
    lsum += h[i];
  }
  // Inclusive suffix sum over lanes (higher lanes own higher bins).
  unsigned long long incl = lsum;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const unsigned long long t = __shfl_down_sync(detail::kFullMask, incl, o);
    if (lane + o < 32) incl += t;
  }
  const unsigned long long total = __shfl_sync(detail::kFullMask, incl, 0);
  if (need_is_fraction) need = (unsigned long long)ceil((double)frac * (double)total);
  unsigned long long above = incl - lsum;  // all bins owned by higher lanes
  int cand = -1, low = -1;
  unsigned long long cand_above = 0, low_above = 0;
#pragma unroll
  for (int i = 7; i >= 0; --i) {
    if (cand < 0 && above + h[i] >= need) {
      cand = lane * 8 + i;
      cand_above = above;
    }
    if (h[i] > 0) {
      low = lane * 8 + i;
      low_above = above;
    }
    above += h[i];
  }
  const int best = __reduce_max_sync(detail::kFullMask, cand);
  int bin;
  unsigned long long bin_above;
  if (best >= 0) {
    bin = best;
    bin_above = __shfl_sync(detail::kFullMask, cand_above, best / 8);
  } else {
    const unsigned lowu = __reduce_min_sync(detail::kFullMask, low < 0 ? 0xffffffffu : (unsigned)low);
    if (lowu == 0xffffffffu) {
      bin = 0;  // empty histogram: digit 0 (the caller's clamp keeps the largest logit)
      bin_above = 0;
    } else {
      bin = (int)lowu;
      bin_above = __shfl_sync(detail::kFullMask, low_above, bin / 8);
    }
  }
  if (lane == 0) {
    sm.sel_bin = (uint32_t)bin;
    sm.sel_above = bin_above;
    sm.sel_need = need;
  }
}

// Radix select over the keys of row x (V columns), 8 bits per pass from the top.
//  MASS = false: returns the k-th largest key (need = k), over all columns.
//  MASS = true:  returns the largest key t with M(t) >= ceil(frac * M(min_key)), where
//                M(t) = sum of fixed-point e_j over {key_j >= t, key_j >= min_key}, e_j = exp((x_j - m) / temp).
template <bool MASS>
__device__ uint32_t radix_select(const float* __restrict__ x, int64_t V, float m, float temp, uint32_t min_key,
                                 unsigned long long need, float frac, SampleSmem& sm) {
  const int warp = threadIdx.x >> 5;
  uint32_t prefix = 0;
  for (int pass = 0; pass < 4; ++pass) {
    const int shift = 24 - 8 * pass;
    for (int i = threadIdx.x; i < kSampleWarps * kBins; i += blockDim.x) (&sm.hist[0][0])[i] = 0ull;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
      const float xv = x[j];
      const uint32_t key = detail::float_key(xv);
      bool in = pass == 0 || (key >> (shift + 8)) == prefix;  // shift + 8 <= 24 when pass > 0
      if (MASS) in = in && key >= min_key;
      if (in) {
        const uint32_t bin = (key >> shift) & 255u;
        unsigned long long add = 1ull;
        if (MASS) add = (unsigned long long)((double)expf((xv - m) / temp) * kMassScale);
        if (add != 0ull) atomicAdd(&sm.hist[warp][bin], add);
      }
    }
    __syncthreads();
    for (int b = threadIdx.x; b < kBins; b += blockDim.x) {
      unsigned long long s = 0;
      for (int w = 0; w < kSampleWarps; ++w) s += sm.hist[w][b];
      sm.bins[b] = s;
    }
    __syncthreads();
    if (warp == 0) pick_bin(sm, need, MASS && pass == 0, frac);
    __syncthreads();
    prefix = (prefix << 8) | sm.sel_bin;
    need = sm.sel_need - sm.sel_above;  // what the lower digits still have to cover
    __syncthreads();  // sm.sel_* are rewritten by the next pass
  }
  return prefix;
}

__global__ void __launch_bounds__(kSampleThreads)
    sample_kernel(int32_t* __restrict__ ids, float* __restrict__ logp_sampled, float* __restrict__ logp_raw,
                  const float* __restrict__ logits, int64_t B, int64_t V, int64_t ld,
                  const float* __restrict__ temperature, const int32_t* __restrict__ top_k,
                  const float* __restrict__ top_p, const float* __restrict__ min_p, const uint64_t* __restrict__ seeds,
                  uint64_t offset) {
  __shared__ SampleSmem sm;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  for (int64_t row = blockIdx.x; row < B; row += gridDim.x) {
    const float* x = logits + row * ld;
    const float temp = temperature != nullptr ? temperature[row] : 1.0f;
    const int32_t k = top_k != nullptr ? top_k[row] : 0;
    const float p = top_p != nullptr ? top_p[row] : 1.0f;
    const float mp = min_p != nullptr ? min_p[row] : 0.0f;
    const uint64_t seed = seeds != nullptr ? seeds[row] : 0ull;

    // ---- pass 1: max, sum-exp, argmax of the raw logits
    detail::MaxSum ms{-INFINITY, 0.0f};
    float best = -INFINITY;
    int64_t best_idx = INT64_MAX;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
      const float xv = x[j];
      ms = detail::maxsum_add(ms, xv);
      if (xv > best || best_idx == INT64_MAX) {  // ascending j per thread: ties keep the lowest index
        best = xv;
        best_idx = j;
      }
    }
    ms = detail::block_maxsum(ms, sm.red_ms);
    block_argmax(best, best_idx, sm);
    const float m = ms.m;
    const float lse_raw = ms.m + logf(ms.s);

    int64_t id = best_idx;
    float lp_sampled = 0.0f;
    const bool greedy = !(temp > 0.0f) || m == -INFINITY;
    if (!greedy) {
      const uint32_t key_max = detail::float_key(m);
      uint32_t thr = 0;  // keep every key >= thr
      // ---- top-k
      if (k > 0 && (int64_t)k < V) thr = radix_select<false>(x, V, m, temp, 0u, (unsigned long long)k, 0.0f, sm);
      // ---- top-p (relative to the top-k kept mass)
      if (p < 1.0f) {
        uint32_t t = radix_select<true>(x, V, m, temp, thr, 0ull, p > 0.0f ? p : 0.0f, sm);
        if (t > thr) thr = t;
      }
      // ---- min-p
      if (mp > 0.0f) {
        const uint32_t t = detail::float_key(m + temp * logf(mp));
        if (t > thr) thr = t;
      }
      if (thr > key_max) thr = key_max;  // the largest logit always stays

      // ---- inverse-CDF draw over the kept set, vocabulary order. Warp w owns columns [w*chunk, (w+1)*chunk).
      const int64_t chunk = detail::ceil_div(detail::ceil_div(V, kSampleWarps), 32) * 32;
      const int64_t c0 = (int64_t)warp * chunk;
      const int64_t c1 = c0 + chunk < V ? c0 + chunk : V;
      float s = 0.0f;
      for (int64_t j = c0 + lane; j < c1; j += 32) {
        const float xv = x[j];
        if (detail::float_key(xv) >= thr) s += expf((xv - m) / temp);
      }
      s = detail::warp_sum(s);
      if (lane == 0) sm.wsum[warp] = s;
      __syncthreads();
      float total = 0.0f;
      for (int w = 0; w < kSampleWarps; ++w) total += sm.wsum[w];  // same order in every thread
      const float u = rng_uniform(seed, offset, (uint64_t)row, 0);
      const float target = u * total;
      // Target warp: the first with mass whose running sum passes the target, else the last with mass.
      int tw = -1;
      float before = 0.0f, run = 0.0f;
      for (int w = 0; w < kSampleWarps; ++w) {
        if (sm.wsum[w] > 0.0f) {
          tw = w;
          before = run;
          if (run + sm.wsum[w] > target) break;
        }
        run += sm.wsum[w];
      }
      if (warp == tw) {
        const float rem = target - before;
        float acc = 0.0f;
        int64_t found = -1, last_kept = -1;
        for (int64_t j0 = c0; j0 < c1 && found < 0; j0 += 32) {
          const int64_t j = j0 + lane;
          float e = 0.0f;
          bool kept = false;
          if (j < c1) {
            const float xv = x[j];
            kept = detail::float_key(xv) >= thr;
            if (kept) e = expf((xv - m) / temp);
          }
          float incl = e;  // inclusive warp scan
#pragma unroll
          for (int o = 1; o < 32; o <<= 1) {
            const float t = __shfl_up_sync(detail::kFullMask, incl, o);
            if (lane >= o) incl += t;
          }
          const unsigned hit = __ballot_sync(detail::kFullMask, kept && acc + incl > rem);
          const unsigned kept_mask = __ballot_sync(detail::kFullMask, kept);
          if (hit != 0u) found = j0 + __ffs(hit) - 1;
          if (kept_mask != 0u) last_kept = j0 + 31 - __clz((int)kept_mask);
          acc += __shfl_sync(detail::kFullMask, incl, 31);
        }
        if (lane == 0) sm.chosen = (int)(found >= 0 ? found : last_kept);
      }
      __syncthreads();
      id = sm.chosen >= 0 ? sm.chosen : best_idx;
      lp_sampled = (x[id] - m) / temp - logf(total);
    }
    if (threadIdx.x == 0) {
      const bool empty = m == -INFINITY;  // every logit -inf: id 0, no distribution, log-probs -inf
      ids[row] = (int32_t)id;
      if (logp_sampled != nullptr) logp_sampled[row] = empty ? -INFINITY : lp_sampled;
      if (logp_raw != nullptr) logp_raw[row] = empty ? -INFINITY : x[id] - lse_raw;
    }
    __syncthreads();  // shared state is reused by the next row
  }
}

}  // namespace

int sample(int32_t* ids, float* logp_sampled, float* logp_raw, const float* logits, int64_t B, int64_t V, int64_t ld,
           const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
           const uint64_t* seeds, uint64_t offset, void* stream) {
  if (B <= 0 || V <= 0) return 0;
  const unsigned grid = (unsigned)(B < (1 << 20) ? B : (1 << 20));
  sample_kernel<<<grid, kSampleThreads, 0, (cudaStream_t)stream>>>(ids, logp_sampled, logp_raw, logits, B, V, ld,
                                                                  temperature, top_k, top_p, min_p, seeds, offset);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

}  // namespace cuda
}  // namespace jalign
