// CPU RL losses of jalign: fused PPO policy loss, clipped value loss, K-wise reward ranking loss.
//
// Shape legend: B = batch, T = time, N = B*T positions (rows), V = vocab (real columns),
//               ld = row stride of logits (ld >= V), G = groups, K = responses per group.
//   ppo_loss:     logits (N, ld), tokens/old_logp/advantages/ref_logp/mask/logp_out (N), dlogits (N, ld),
//                 metrics (JALIGN_PPO_METRICS)
//   value_loss:   values/old_values/returns/mask/dvalues (N), metrics (JALIGN_VALUE_METRICS)
//   ranking_loss: rewards/order/drewards (G, K), margins (G), loss (1), accuracy (1)
//
// PPO, per row i with weight w_i = mask_i / sum(mask) (rows run in parallel with OpenMP):
//   pass 1 (one read of the row): blocks of kBlock logits; a block's max updates the running max m (rescaling
//     the running sums), then s = sum exp(x - m) and t = sum exp(x - m) * (x - m) over the block while it is in
//     L1. lse = m + log s, H = log s - t / s, logp = x[token] - lse.
//   scalars: ratio = exp(logp - old), pg (PPO clip, optional dual clip), kl (k1 or k3), and
//     g = d(pg + kl_coef*kl)/d logp.
//   pass 2 (only with dlogits): with lp_j = x_j - lse, p_j = exp(lp_j),
//     dlogits_j = w * (g*(onehot_j - p_j) + entropy_coef * p_j * (lp_j + H))
//              = p_j * (w*(entropy_coef*H - g) + w*entropy_coef*lp_j) + [j == token] * w*g.
//   So the logits are read twice (once when dlogits is NULL); dlogits may be exactly logits (each element is
//   read before it is written). Masked rows (mask_i == 0) get dlogits 0; padding columns [V, ld) get 0.
//   Per-row results go to a per-row array and are reduced in a fixed order in double: the metrics do not
//   depend on the thread count.
// Clip fraction counts the rows whose surrogate took a clipped value (the PPO clip, or the dual clip when it
// is active) -- exactly the rows where the clip cut the gradient. All metrics are mask-weighted means except
// JALIGN_PPO_TOKENS (= sum of the mask). With sum(mask) == 0 every metric and every gradient is 0.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/vexp.h"
#include "jalign/jalign.h"

namespace jalign {
namespace cpu {
namespace {

constexpr int64_t kBlock = 512;  // logits per block of the online pass (2 KiB: stays in L1)

struct RowStats {
  float lse;
  float entropy;
};

// One read of the row: logsumexp and entropy of softmax(x).
RowStats row_lse_entropy(const float* x, int64_t V) {
  const float kNegInf = -std::numeric_limits<float>::infinity();
  float m = kNegInf;
  double s = 0.0, t = 0.0;  // sum e, sum e*(x - m), relative to the running max m
  for (int64_t j0 = 0; j0 < V; j0 += kBlock) {
    const int64_t n = j0 + kBlock < V ? kBlock : V - j0;
    const float* xb = x + j0;
    float bm = kNegInf;
#pragma omp simd reduction(max : bm)
    for (int64_t j = 0; j < n; j++) bm = xb[j] > bm ? xb[j] : bm;
    if (bm > m) {
      if (m != kNegInf) {
        const double d = (double)m - (double)bm;  // < 0
        const double sc = std::exp(d);
        t = sc * (t + d * s);
        s = sc * s;
      }
      m = bm;
    }
    if (m == kNegInf) continue;
    float bs, bt;
    exp_sum_ez(xb, n, m, bs, bt);
    s += bs;
    t += bt;
  }
  const double ls = std::log(s);
  return {(float)(m + ls), (float)(ls - t / s)};
}

}  // namespace

void ppo_loss(float* metrics, float* logp_out, float* dlogits, const float* logits, const int32_t* tokens,
              const float* old_logp, const float* advantages, const float* ref_logp, const float* mask, int64_t N,
              int64_t V, int64_t ld, float clip_eps, float dual_clip, float entropy_coef, float kl_coef,
              int kl_estimator) {
  double msum = 0.0;
  for (int64_t i = 0; i < N; i++) msum += mask ? (double)mask[i] : 1.0;
  const double inv_m = msum > 0.0 ? 1.0 / msum : 0.0;

  // Per-row results: pg, entropy, kl, clipped, approx-kl, ratio.
  std::vector<double> rows(6 * (size_t)N, 0.0);
  const bool use_dual = dual_clip > 1.0f;
  const bool use_ref = ref_logp != nullptr;

#pragma omp parallel for schedule(dynamic, 4) if (N * V >= 65536)
  for (int64_t i = 0; i < N; i++) {
    const float* x = logits + i * ld;
    float* dx = dlogits ? dlogits + i * ld : nullptr;
    const double mi = mask ? (double)mask[i] : 1.0;
    if (mi == 0.0 && !logp_out) {
      if (dx)
        for (int64_t j = 0; j < ld; j++) dx[j] = 0.0f;
      continue;
    }
    const int32_t tok = tokens[i];
    const float x_tok = x[tok];
    const RowStats st = row_lse_entropy(x, V);
    const double logp = (double)x_tok - (double)st.lse;
    if (logp_out) logp_out[i] = (float)logp;
    if (mi == 0.0) {
      if (dx)
        for (int64_t j = 0; j < ld; j++) dx[j] = 0.0f;
      continue;
    }

    // Surrogate, its derivative in logp, KL.
    const double A = advantages[i];
    const double lr = logp - (double)old_logp[i];
    const double ratio = std::exp(lr);
    const double rc = std::fmin(std::fmax(ratio, 1.0 - clip_eps), 1.0 + clip_eps);
    const double u1 = -A * ratio, u2 = -A * rc;
    double pg = u1, dpg = -A * ratio;
    bool clipped = false;
    if (u2 > u1) {
      pg = u2;
      dpg = 0.0;
      clipped = true;
    }
    if (use_dual && A < 0.0) {
      const double u3 = -A * (double)dual_clip;
      if (pg > u3) {
        pg = u3;
        dpg = 0.0;
        clipped = true;
      }
    }
    double kl = 0.0, dkl = 0.0;
    if (use_ref) {
      const double d = (double)ref_logp[i] - logp;
      if (kl_estimator == 3) {
        const double ed = std::exp(d);
        kl = ed - 1.0 - d;
        dkl = 1.0 - ed;
      } else {
        kl = -d;
        dkl = 1.0;
      }
    }
    const double H = st.entropy;
    double* r = &rows[6 * (size_t)i];
    r[0] = pg;
    r[1] = H;
    r[2] = kl;
    r[3] = clipped ? 1.0 : 0.0;
    r[4] = 0.5 * lr * lr;
    r[5] = ratio;

    if (dx) {
      const double w = mi * inv_m;
      const double g = dpg + (double)kl_coef * dkl;
      const float a = (float)(w * ((double)entropy_coef * H - g));
      const float c1 = (float)(w * (double)entropy_coef);
      softmax_affine_grad(dx, x, V, st.lse, a, c1);
      for (int64_t j = V; j < ld; j++) dx[j] = 0.0f;
      dx[tok] += (float)(w * g);
    }
  }

  double pg = 0, H = 0, kl = 0, clip = 0, akl = 0, ratio = 0;
  for (int64_t i = 0; i < N; i++) {
    const double w = (mask ? (double)mask[i] : 1.0) * inv_m;
    if (w == 0.0) continue;
    const double* r = &rows[6 * (size_t)i];
    pg += w * r[0];
    H += w * r[1];
    kl += w * r[2];
    clip += w * r[3];
    akl += w * r[4];
    ratio += w * r[5];
  }
  metrics[JALIGN_PPO_LOSS] = (float)(pg - (double)entropy_coef * H + (double)kl_coef * kl);
  metrics[JALIGN_PPO_PG_LOSS] = (float)pg;
  metrics[JALIGN_PPO_ENTROPY] = (float)H;
  metrics[JALIGN_PPO_KL_REF] = (float)kl;
  metrics[JALIGN_PPO_CLIP_FRAC] = (float)clip;
  metrics[JALIGN_PPO_APPROX_KL] = (float)akl;
  metrics[JALIGN_PPO_RATIO_MEAN] = (float)ratio;
  metrics[JALIGN_PPO_TOKENS] = (float)msum;
}

// Clipped value loss. Ties between the two branches take the unclipped one; the clip fraction counts rows
// where the clipped branch is strictly larger (its gradient is then 0 when values - old is outside the clip).
void value_loss(float* metrics, float* dvalues, const float* values, const float* old_values,
                const float* returns, const float* mask, int64_t N, float clip) {
  double msum = 0.0;
  for (int64_t i = 0; i < N; i++) msum += mask ? (double)mask[i] : 1.0;
  const double inv_m = msum > 0.0 ? 1.0 / msum : 0.0;
  double loss = 0.0, frac = 0.0;
  for (int64_t i = 0; i < N; i++) {
    const double w = (mask ? (double)mask[i] : 1.0) * inv_m;
    if (w == 0.0) {
      if (dvalues) dvalues[i] = 0.0f;
      continue;
    }
    const double v = values[i], o = old_values[i], R = returns[i];
    const double dv = v - o;
    const double dvc = std::fmin(std::fmax(dv, -(double)clip), (double)clip);
    const double vc = o + dvc;
    const double l1 = (v - R) * (v - R), l2 = (vc - R) * (vc - R);
    double grad;
    if (l2 > l1) {
      loss += w * 0.5 * l2;
      frac += w;
      grad = dvc == dv ? (vc - R) : 0.0;  // d vc / d v is 1 inside the clip, 0 outside
    } else {
      loss += w * 0.5 * l1;
      grad = v - R;
    }
    if (dvalues) dvalues[i] = (float)(w * grad);
  }
  metrics[0] = (float)loss;
  metrics[1] = (float)frac;
}

// K-wise ranking loss: every pair (a < b) of ranks in a group, better = order[g,a], worse = order[g,b].
// l = softplus(-(r_better - r_worse - margin)), computed stably; dl/dd = -sigmoid(-d).
void ranking_loss(float* loss, float* accuracy, float* drewards, const float* rewards, const int32_t* order,
                  const float* margins, int64_t G, int64_t K) {
  const int64_t P = G * K * (K - 1) / 2;
  const double inv_p = P > 0 ? 1.0 / (double)P : 0.0;
  std::vector<double> per_group(2 * (size_t)G, 0.0);  // loss sum, correct pairs: reduced in a fixed order
#pragma omp parallel for schedule(static) if (G * K * K > 4096)
  for (int64_t g = 0; g < G; g++) {
    double total = 0.0, correct = 0.0;
    const float* r = rewards + g * K;
    const int32_t* o = order + g * K;
    const double margin = margins ? (double)margins[g] : 0.0;
    for (int64_t a = 0; a < K; a++) {
      for (int64_t b = a + 1; b < K; b++) {
        const int32_t i = o[a], j = o[b];
        const double d = (double)r[i] - (double)r[j] - margin;
        // softplus(-d) = max(-d, 0) + log1p(exp(-|d|))
        total += std::fmax(-d, 0.0) + std::log1p(std::exp(-std::fabs(d)));
        correct += r[i] > r[j] ? 1.0 : 0.0;
        if (drewards) {
          // sigmoid(-d), stable for both signs
          const double sm = d >= 0.0 ? std::exp(-d) / (1.0 + std::exp(-d)) : 1.0 / (1.0 + std::exp(d));
          const float gd = (float)(-sm * inv_p);
          drewards[g * K + i] += gd;
          drewards[g * K + j] -= gd;
        }
      }
    }
    per_group[2 * g] = total;
    per_group[2 * g + 1] = correct;
  }
  double total = 0.0, correct = 0.0;
  for (int64_t g = 0; g < G; g++) {
    total += per_group[2 * g];
    correct += per_group[2 * g + 1];
  }
  loss[0] = (float)(total * inv_p);
  accuracy[0] = (float)(correct * inv_p);
}

}  // namespace cpu
}  // namespace jalign
