// CPU sampler of jalign: one token per row of logits without sorting the vocabulary.
//
// Shape legend: B = batch (rows), V = vocab (real columns), ld = row stride of logits (ld >= V).
//   logits (B, ld), ids (B), logp_sampled (B), logp_raw (B); per-row parameters (B) or NULL.
//
// Per row b (rows run in parallel with OpenMP):
//   1. m = max logit; with temperature T > 0, e_j = exp((x_j - m) / T) in [0, 1] (e_max == 1) is written
//      to a per-thread scratch row. Tokens with x = -inf get e = 0 and can never be drawn.
//   2. top-k: threshold tk = the k-th largest e (counting duplicates).
//      top-p: threshold tp = the largest value t >= tk with sum{e_j : e_j >= t} >= p * sum{e_j : e_j >= tk},
//             i.e. the smallest head of the top-k distribution whose renormalised mass reaches p.
//      min-p: threshold tm = min_p * e_max (relative to the most likely token; renormalising does not
//             change it, so applying it after top-p is the same as intersecting the sets).
//      Every filter keeps an upper set {j : e_j >= t}, so the kept set is {j : e_j >= max(tk, tp, tm)}.
//   3. One inverse-CDF draw over the kept set in column order (block sums first, then a scan inside one
//      block): u = U * Z with U = rng_uniform(seed, offset, row, 0), Z = kept mass.
//
// Thresholds are found without a sort: a bisection over the bit patterns of the (non-negative) float
// values, where one round counts the elements (top-k) or sums their mass (top-p) above a pivot. Bit-pattern
// bisection is exact and ends after at most 32 rounds; once few candidates remain inside the open interval
// they are copied (AVX2 compaction) to a small buffer so later rounds touch only them. The search starts from
// proven bounds: top-k below total/k; top-p above (1-p)*mass/count; and above a power of two guessed from a
// strided sample of 2048 elements, kept only after one exact count/mass pass confirms it.
//
// Ties rule: a threshold is a value, so every token whose e equals the threshold is kept. top-k can therefore
// keep more than k tokens when logits tie exactly at the k-th value, and top-p keeps all tokens tied with the
// last one needed to reach p. Greedy (T <= 0) picks the lowest column among equal maxima.
//
// Outputs: logp_sampled = log(e_id / Z) (0 for greedy: the filtered distribution is a point mass);
//          logp_raw = x_id - logsumexp(x) at temperature 1 over all V columns.
// A row whose logits are all -inf yields id 0 and logps -inf (there is no distribution to sample).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/rng.h"
#include "cpu/cpu_kernels.h"
#include "cpu/vexp.h"

namespace jalign {
namespace cpu {
namespace {

constexpr int64_t kBlock = 64;  // block size of the inverse-CDF draw

struct Scratch {
  std::vector<float> e;     // (V) exponentials of the row
  std::vector<float> cand;  // (V) compacted candidates of a threshold search
  std::vector<float> bsum;  // (V / kBlock + 1) kept mass per block
};

Scratch& scratch(int64_t V) {
  static thread_local Scratch s;
  if ((int64_t)s.e.size() < V) {
    s.e.resize(V);
    s.cand.resize(V);
    s.bsum.resize(V / kBlock + 1);
  }
  return s;
}

// Count and mass of the elements of a[0, n) with lo <= a_j < hi.
inline void tally(const float* a, int64_t n, float lo, float hi, float& count, float& mass) {
  tally_range(a, n, lo, hi, count, mass);
}

inline uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
inline float bitsf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

struct Threshold {
  float t;      // keep {e_j >= t}
  float count;  // number of kept elements
  float mass;   // their mass
};

// Largest t >= lower (a value among the bit patterns) with W(t) >= target, where W(t) is the count
// (by_mass == false) or the mass (by_mass == true) of the elements >= t. The caller guarantees
// W(lower) >= target and W(upper) < target; lower_count / lower_mass are W(lower) when known
// (count < 0: unknown). All elements are >= 0; target > 0.
Threshold search_threshold(const float* a, int64_t n, float* cand_buf, float lower, float lower_count,
                           float lower_mass, float upper, float target, bool by_mass) {
  uint32_t lo = fbits(lower);
  uint32_t hi = fbits(upper);
  float base_c = 0.0f, base_m = 0.0f;  // W of the elements >= hi
  float lo_c = lower_count, lo_m = lower_mass;
  const float* cand = a;  // holds every element of [lo, hi) (and possibly others outside it)
  int64_t nc = n;
  float in_c = (float)n;  // upper bound of the count inside [lo, hi)
  if (lower > 0.0f || upper <= 1.0f) {
    // Bounds cut the range: copy only the elements inside [lo, hi), and count those above hi (none when
    // upper > 1, since every element is <= 1).
    if (upper <= 1.0f) {
      float c, m;
      tally(a, n, upper, std::numeric_limits<float>::infinity(), c, m);
      base_c = c;
      base_m = m;
    }
    nc = compact_range(cand_buf, a, n, lower, upper);
    cand = cand_buf;
    in_c = (float)nc;
  }
  while (hi - lo > 1u) {
    if (in_c * 2.0f < (float)nc) {
      // Compact the candidates inside [lo, hi) so later rounds read only them.
      nc = compact_range(cand_buf, cand, nc, bitsf(lo), bitsf(hi));
      cand = cand_buf;
    }
    const uint32_t mid = lo + (hi - lo) / 2u;
    float c, m;
    tally(cand, nc, bitsf(mid), bitsf(hi), c, m);
    const float w = (by_mass ? m : c) + (by_mass ? base_m : base_c);
    if (w >= target) {
      lo = mid;
      lo_c = base_c + c;
      lo_m = base_m + m;
      in_c = c;
    } else {
      hi = mid;
      base_c += c;
      base_m += m;
      in_c = in_c - c;
    }
  }
  if (lo_c < 0.0f) {  // lo never moved and W(lower) was not given
    float c, m;
    tally(a, n, bitsf(lo), std::numeric_limits<float>::infinity(), c, m);
    lo_c = c;
    lo_m = m;
  }
  return {bitsf(lo), lo_c, lo_m};
}

// A verified lower bound for a threshold search, guessed from a strided sample of the row: the largest power of
// two 2^-i above floor_t whose estimated W (count or mass of the sampled elements >= 2^-i, times the stride)
// reaches twice the target. One exact tally over the row then checks W(2^-i) >= target (a second guess four
// times lower is tried once). Returns false when no guess is verified; the search then starts from its own bounds.
bool sampled_lower_bound(const float* e, int64_t n, float floor_t, float target, bool by_mass, Threshold* out) {
  if (n < 8192) return false;
  const int64_t stride = n / 2048;
  constexpr int kBuckets = 66;  // bucket i holds [2^-i, 2^-i+1); the last one everything below 2^-64 (and 0)
  float hc[kBuckets] = {0.0f}, hm[kBuckets] = {0.0f};
  for (int64_t j = 0; j < n; j += stride) {
    const float v = e[j];
    int i = 127 - (int)(fbits(v) >> 23);
    i = i < 0 ? 0 : (i > kBuckets - 1 ? kBuckets - 1 : i);
    hc[i] += 1.0f;
    hm[i] += v;
  }
  float acc_c = 0.0f, acc_m = 0.0f;
  for (int i = 0; i < kBuckets - 1; i++) {
    acc_c += hc[i] * (float)stride;
    acc_m += hm[i] * (float)stride;
    if ((by_mass ? acc_m : acc_c) < 2.0f * target) continue;
    for (int tries = 0; tries < 2 && i < kBuckets - 1; tries++, i += 2) {
      const float t = std::ldexp(1.0f, -i);
      if (!(t > floor_t)) return false;
      float c, m;
      tally(e, n, t, std::numeric_limits<float>::infinity(), c, m);
      if ((by_mass ? m : c) >= target) {
        *out = {t, c, m};
        return true;
      }
    }
    return false;
  }
  return false;
}

// Inverse-CDF draw over {j : e_j >= t} with u = U * (kept mass). Returns the column; *z gets the kept mass.
int64_t draw(const float* e, int64_t n, float t, float U, float* bsum, float* z) {
  const int64_t nb = (n + kBlock - 1) / kBlock;
  float total = 0.0f;
  for (int64_t b = 0; b < nb; b++) {
    const int64_t j0 = b * kBlock, j1 = j0 + kBlock < n ? j0 + kBlock : n;
    const float s = sum_at_least(e + j0, j1 - j0, t);
    bsum[b] = s;
    total += s;
  }
  *z = total;
  const float u = U * total;
  float cum = 0.0f, before = 0.0f;
  int64_t chosen = 0;
  for (int64_t b = 0; b < nb; b++) {
    if (bsum[b] <= 0.0f) continue;
    chosen = b;
    before = cum;
    if (cum + bsum[b] > u) break;
    cum += bsum[b];
  }
  // Scan inside the block; rounding can leave u past the block's own running sum: take its last kept token.
  cum = before;
  const int64_t j0 = chosen * kBlock, j1 = j0 + kBlock < n ? j0 + kBlock : n;
  int64_t last = -1;
  for (int64_t j = j0; j < j1; j++) {
    const float v = e[j];
    if (v >= t && v > 0.0f) {
      last = j;
      cum += v;
      if (cum > u) return j;
    }
  }
  return last;
}

int64_t first_index_of(const float* x, int64_t n, float v) {
  for (int64_t j = 0; j < n; j++)
    if (x[j] == v) return j;
  return 0;
}

}  // namespace

void sample(int32_t* ids, float* logp_sampled, float* logp_raw, const float* logits, int64_t B, int64_t V,
            int64_t ld, const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
            const uint64_t* seeds, uint64_t offset) {
  const float kNegInf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < B; b++) {
    const float* x = logits + b * ld;
    const float temp = temperature ? temperature[b] : 1.0f;
    const float m = row_max(x, V);
    if (m == kNegInf) {  // no distribution: every logit is -inf
      ids[b] = 0;
      if (logp_sampled) logp_sampled[b] = kNegInf;
      if (logp_raw) logp_raw[b] = kNegInf;
      continue;
    }
    if (!(temp > 0.0f)) {  // greedy
      const int64_t id = first_index_of(x, V, m);
      ids[b] = (int32_t)id;
      if (logp_sampled) logp_sampled[b] = 0.0f;
      if (logp_raw) logp_raw[b] = (x[id] - m) - std::log(exp_sum(x, V, m));
      continue;
    }
    Scratch& s = scratch(V);
    float* e = s.e.data();
    const float inv_t = 1.0f / temp;
    const float total = exp_store_sum(e, x, V, m, inv_t);
    const float emax = 1.0f;  // vexp(0) == 1 exactly

    // top-k
    Threshold th{0.0f, (float)V, total};
    const int32_t k = top_k ? top_k[b] : 0;
    // Upper bound: count{e >= t} <= total / t < k for t > total / k.
    // Lower bound: a sampled guess, verified (else 0, whose count V is known).
    if (k > 0 && k < V) {
      const float ub = std::nextafter(std::fmin(emax, total / (float)k * 1.0001f), 2.0f);
      Threshold lb{0.0f, (float)V, total};
      sampled_lower_bound(e, V, 0.0f, (float)k, false, &lb);
      th = search_threshold(e, V, s.cand.data(), lb.t, lb.count, lb.mass, ub, (float)k, false);
    }
    // top-p over the renormalised top-k distribution
    const float p = top_p ? top_p[b] : 1.0f;
    if (p < 1.0f) {
      if (p <= 0.0f) {
        th.t = emax;
        th.count = -1.0f;
      } else {
        // Lower bound: the kept set has th.count elements, so the mass below t is at most th.count * t and
        // W(t) >= th.mass - th.count * t >= p * th.mass for t <= (1 - p) * th.mass / th.count.
        // A sampled guess above that, verified by one tally, is used when it is higher.
        const float ub = std::nextafter(emax, 2.0f);
        const float target = p * th.mass;
        const float lb = p <= 0.999f ? (1.0f - p) * th.mass / th.count * 0.999f : 0.0f;
        Threshold guess;
        if (sampled_lower_bound(e, V, std::fmax(lb, th.t), target, true, &guess)) {
          th = search_threshold(e, V, s.cand.data(), guess.t, guess.count, guess.mass, ub, target, true);
        } else if (lb > th.t) {
          th = search_threshold(e, V, s.cand.data(), lb, -1.0f, 0.0f, ub, target, true);
        } else {
          th = search_threshold(e, V, s.cand.data(), th.t, th.count, th.mass, ub, target, true);
        }
      }
    }
    // min-p relative to the most likely token
    const float mp = min_p ? min_p[b] : 0.0f;
    if (mp > 0.0f) {
      const float tm = (mp < 1.0f ? mp : 1.0f) * emax;
      if (tm > th.t) th.t = tm;
    }

    const uint64_t seed = seeds ? seeds[b] : 0;
    const float U = rng_uniform(seed, offset, (uint64_t)b, 0);
    float z;
    const int64_t id = draw(e, V, th.t, U, s.bsum.data(), &z);
    ids[b] = (int32_t)id;
    if (logp_sampled) logp_sampled[b] = (x[id] - m) * inv_t - std::log(z);
    if (logp_raw) {
      const float s1 = temp == 1.0f ? total : exp_sum(x, V, m);
      logp_raw[b] = (x[id] - m) - std::log(s1);
    }
  }
}

}  // namespace cpu
}  // namespace jalign
