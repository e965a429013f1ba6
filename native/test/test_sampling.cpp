// Tests of jalign::cpu::sample against a double-precision reference that sorts the whole vocabulary.
// Build and run (from the repository root):
//   g++ -O2 -std=c++17 -fopenmp -mavx2 -mfma -mf16c -Inative/include -Inative/src
//       native/test/test_sampling.cpp native/src/cpu/sampling.cpp -o /tmp/test_sampling && /tmp/test_sampling
// Exit status 0 when every check passes, 1 otherwise.
//
// Shape legend: B = batch (rows), V = vocab (real columns), ld = row stride of logits (ld >= V).
//
// Checks: every sampled id lies in the reference top-k/top-p/min-p set (filters in that order, ties at a
// threshold kept); logp_sampled and logp_raw match the reference; empirical frequencies over many draws match
// the renormalised probabilities (cosine > 0.99, chi-square below a 5-sigma bound); same seed -> same ids
// (also across thread counts); greedy == argmax with the lowest index on ties; -inf logits never drawn.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "cpu/cpu_kernels.h"

using jalign::cpu::sample;

static int g_failures = 0;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      g_failures++;                                        \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
      std::printf(__VA_ARGS__);                            \
      std::printf("\n");                                   \
    }                                                      \
  } while (0)

struct Params {
  float temperature = 1.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
};

// Reference: renormalised probabilities of the filtered distribution (0 outside the kept set), in double.
// p_scale loosens (> 1) or tightens top-p to bracket float rounding at the cut.
static std::vector<double> reference_probs(const float* x, int64_t V, const Params& P, double p_scale = 1.0) {
  std::vector<double> probs(V, 0.0);
  double m = -INFINITY;
  for (int64_t j = 0; j < V; j++) m = std::max(m, (double)x[j]);
  if (!(P.temperature > 0.0f)) {
    int64_t a = 0;
    for (int64_t j = 0; j < V; j++)
      if (x[j] > x[a]) a = j;
    probs[a] = 1.0;
    return probs;
  }
  std::vector<double> e(V);
  for (int64_t j = 0; j < V; j++) e[j] = std::exp(((double)x[j] - m) / P.temperature);
  std::vector<int64_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return e[a] > e[b]; });
  double tk = 0.0;
  if (P.top_k > 0 && P.top_k < V) tk = e[order[P.top_k - 1]];
  double sk = 0.0;
  for (int64_t j = 0; j < V; j++)
    if (e[j] >= tk) sk += e[j];
  double tp = tk;
  if (P.top_p < 1.0f) {
    const double target = std::min(1.0, (double)P.top_p * p_scale) * sk;
    double cum = 0.0;
    for (int64_t i = 0; i < V; i++) {
      cum += e[order[i]];
      if (cum >= target) {
        tp = e[order[i]];
        break;
      }
    }
  }
  double t = std::max(tk, tp);
  if (P.min_p > 0.0f) t = std::max(t, (double)P.min_p);
  double z = 0.0;
  for (int64_t j = 0; j < V; j++)
    if (e[j] >= t) z += e[j];
  for (int64_t j = 0; j < V; j++) probs[j] = e[j] >= t ? e[j] / z : 0.0;
  return probs;
}

static double ref_logp_raw(const float* x, int64_t V, int64_t id) {
  double m = -INFINITY;
  for (int64_t j = 0; j < V; j++) m = std::max(m, (double)x[j]);
  double s = 0.0;
  for (int64_t j = 0; j < V; j++) s += std::exp((double)x[j] - m);
  return (double)x[id] - m - std::log(s);
}

static std::vector<float> random_logits(std::mt19937_64& rng, int64_t B, int64_t ld, double scale) {
  std::normal_distribution<double> nd(0.0, scale);
  std::vector<float> l(B * ld);
  for (auto& v : l) v = (float)nd(rng);
  return l;
}

// Runs sample() on rows with per-row parameters at offsets 0..n_offsets-1; checks membership and logps against the
// reference (computed once per row).
static void check_rows(const char* name, const std::vector<float>& logits, int64_t B, int64_t V, int64_t ld,
                       const std::vector<Params>& P, uint64_t n_offsets) {
  std::vector<float> temp(B), topp(B), minp(B);
  std::vector<int32_t> topk(B), ids(B);
  std::vector<uint64_t> seeds(B);
  std::vector<float> lps(B), lpr(B);
  for (int64_t b = 0; b < B; b++) {
    temp[b] = P[b].temperature;
    topk[b] = P[b].top_k;
    topp[b] = P[b].top_p;
    minp[b] = P[b].min_p;
    seeds[b] = 1000 + b;
  }
  std::vector<std::vector<double>> strict(B), loose(B), tight(B);
  for (int64_t b = 0; b < B; b++) {
    const float* x = logits.data() + b * ld;
    strict[b] = reference_probs(x, V, P[b]);
    loose[b] = reference_probs(x, V, P[b], 1.0 + 1e-5);
    tight[b] = reference_probs(x, V, P[b], 1.0 - 1e-5);
  }
  int bad = 0;
  for (uint64_t offset = 0; offset < n_offsets; offset++) {
    sample(ids.data(), lps.data(), lpr.data(), logits.data(), B, V, ld, temp.data(), topk.data(), topp.data(),
           minp.data(), seeds.data(), offset);
    for (int64_t b = 0; b < B; b++) {
      const float* x = logits.data() + b * ld;
      const int64_t id = ids[b];
      if (id < 0 || id >= V) {
        bad++;
        CHECK(false, "%s row %lld: id %lld out of range", name, (long long)b, (long long)id);
        continue;
      }
      const bool in_strict = strict[b][id] > 0.0, in_loose = loose[b][id] > 0.0;
      if (!in_loose) {
        bad++;
        CHECK(false, "%s row %lld: id %lld outside the reference set (T=%g k=%d p=%g minp=%g)", name, (long long)b,
              (long long)id, P[b].temperature, P[b].top_k, P[b].top_p, P[b].min_p);
        continue;
      }
      // logp_sampled matches the strict reference, or (rounding at the top-p cut) the loose or tight one.
      const double want = std::log(in_strict ? strict[b][id] : loose[b][id]);
      const double alt1 = loose[b][id] > 0 ? std::log(loose[b][id]) : want;
      const double alt2 = tight[b][id] > 0 ? std::log(tight[b][id]) : want;
      const double tol = 2e-4 + 2e-5 * std::fabs(want);
      const bool ok =
          std::fabs(lps[b] - want) < tol || std::fabs(lps[b] - alt1) < tol || std::fabs(lps[b] - alt2) < tol;
      if (!ok) bad++;
      CHECK(ok, "%s row %lld: logp_sampled %.6f vs reference %.6f", name, (long long)b, lps[b], want);
      const double raw = ref_logp_raw(x, V, id);
      const bool ok_raw = std::fabs(lpr[b] - raw) < 2e-4 + 2e-5 * std::fabs(raw);
      if (!ok_raw) bad++;
      CHECK(ok_raw, "%s row %lld: logp_raw %.6f vs reference %.6f", name, (long long)b, lpr[b], raw);
    }
  }
  std::printf("  %-34s B=%-4lld V=%-7lld offsets=%llu %s\n", name, (long long)B, (long long)V,
              (unsigned long long)n_offsets, bad ? "FAILED" : "ok");
}

// Draws n_draws samples from one row (replicated over rows, distinct seeds, several offsets) and compares the
// empirical frequencies with the reference renormalised probabilities.
static void check_frequencies(const char* name, const std::vector<float>& row, int64_t V, const Params& P,
                              int64_t rows, int64_t rounds) {
  const int64_t ld = V;
  std::vector<float> logits(rows * ld);
  for (int64_t b = 0; b < rows; b++) std::copy(row.begin(), row.end(), logits.begin() + b * ld);
  std::vector<float> temp(rows, P.temperature), topp(rows, P.top_p), minp(rows, P.min_p);
  std::vector<int32_t> topk(rows, P.top_k), ids(rows);
  std::vector<uint64_t> seeds(rows);
  for (int64_t b = 0; b < rows; b++) seeds[b] = 0x5eed0000ull + b;
  std::vector<double> counts(V, 0.0);
  for (int64_t r = 0; r < rounds; r++) {
    sample(ids.data(), nullptr, nullptr, logits.data(), rows, V, ld, temp.data(), topk.data(), topp.data(),
           minp.data(), seeds.data(), (uint64_t)r);
    for (int64_t b = 0; b < rows; b++) counts[ids[b]] += 1.0;
  }
  const double n = (double)(rows * rounds);
  std::vector<double> ref = reference_probs(row.data(), V, P);
  double dot = 0, na = 0, nb = 0, chi2 = 0, outside = 0;
  int64_t dof = -1;
  for (int64_t j = 0; j < V; j++) {
    const double f = counts[j] / n;
    dot += f * ref[j];
    na += f * f;
    nb += ref[j] * ref[j];
    if (ref[j] > 0) {
      const double ex = ref[j] * n;
      chi2 += (counts[j] - ex) * (counts[j] - ex) / ex;
      dof++;
    } else {
      outside += counts[j];
    }
  }
  const double cosine = dot / std::sqrt(na * nb);
  const double bound = dof + 5.0 * std::sqrt(2.0 * std::max<int64_t>(dof, 1)) + 10.0;
  const bool ok = cosine > 0.99 && outside == 0 && (dof == 0 || chi2 < bound);
  std::printf("  %-34s draws=%-7.0f kept=%-5lld cosine=%.5f chi2=%.1f (bound %.1f) outside=%.0f %s\n", name, n,
              (long long)(dof + 1), cosine, chi2, bound, outside, ok ? "ok" : "FAILED");
  CHECK(ok, "%s: frequencies do not match the reference distribution", name);
}

int main() {
  std::mt19937_64 rng(12345);

  std::printf("membership and log-probs vs the sorted reference:\n");
  {
    // Every filter alone and combined, several temperatures, padded rows (ld > V).
    const int64_t V = 1000, ld = 1024, B = 48;
    std::vector<float> logits = random_logits(rng, B, ld, 2.5);
    std::vector<Params> P(B);
    const float temps[] = {0.5f, 1.0f, 1.7f};
    for (int64_t b = 0; b < B; b++) {
      Params p;
      p.temperature = temps[b % 3];
      switch ((b / 3) % 8) {
        case 0: break;
        case 1: p.top_k = 1 + (int32_t)(b % 50); break;
        case 2: p.top_p = 0.5f + 0.03f * (b % 16); break;
        case 3: p.min_p = 0.01f + 0.02f * (b % 10); break;
        case 4: p.top_k = 40; p.top_p = 0.9f; break;
        case 5: p.top_k = 200; p.top_p = 0.8f; p.min_p = 0.05f; break;
        case 6: p.top_p = 0.95f; p.min_p = 0.1f; break;
        case 7: p.top_k = 5; p.min_p = 0.3f; break;
      }
      P[b] = p;
    }
    check_rows("mixed filters V=1000", logits, B, V, ld, P, 5);
  }
  {
    // Large vocabularies, flat and peaked rows.
    const int64_t V = 128256, B = 8;
    std::vector<float> logits = random_logits(rng, B, V, 1.0);
    for (int64_t j = 0; j < V; j++) logits[4 * V + j] *= 6.0f;  // a peaked row
    std::vector<Params> P(B);
    P[0] = {1.0f, 0, 0.9f, 0.0f};
    P[1] = {0.7f, 50, 0.95f, 0.0f};
    P[2] = {1.0f, 1000, 1.0f, 0.0f};
    P[3] = {1.2f, 0, 1.0f, 0.05f};
    P[4] = {1.0f, 0, 0.9f, 0.0f};
    P[5] = {1.0f, 0, 0.999f, 0.0f};
    P[6] = {1.0f, 0, 1.0f, 0.0f};
    P[7] = {0.0f, 0, 1.0f, 0.0f};
    check_rows("vocab 128256", logits, B, V, V, P, 3);
  }
  {
    // Quantised logits: many exact ties, including at the thresholds.
    const int64_t V = 777, B = 24;
    std::vector<float> logits(B * V);
    std::uniform_int_distribution<int> q(-8, 4);
    for (auto& v : logits) v = 0.5f * (float)q(rng);
    std::vector<Params> P(B);
    for (int64_t b = 0; b < B; b++) P[b] = {1.0f, (int32_t)(1 + b * 7), 0.6f + 0.015f * b, b % 3 ? 0.0f : 0.02f};
    check_rows("tied logits", logits, B, V, V, P, 4);
  }

  std::printf("frequencies vs renormalised probabilities:\n");
  {
    const int64_t V = 300;
    std::vector<float> row = random_logits(rng, 1, V, 1.5);
    check_frequencies("plain T=1", row, V, {1.0f, 0, 1.0f, 0.0f}, 1000, 100);
    check_frequencies("T=0.6", row, V, {0.6f, 0, 1.0f, 0.0f}, 1000, 100);
    check_frequencies("top-k 20", row, V, {1.0f, 20, 1.0f, 0.0f}, 1000, 100);
    check_frequencies("top-p 0.8", row, V, {1.0f, 0, 0.8f, 0.0f}, 1000, 100);
    check_frequencies("min-p 0.1 T=1.5", row, V, {1.5f, 0, 1.0f, 0.1f}, 1000, 100);
    check_frequencies("top-k 60 top-p 0.9 min-p 0.02", row, V, {1.0f, 60, 0.9f, 0.02f}, 1000, 100);
    // Ties at the top-k threshold: 0 (5.0), 1..3 (4.0), rest low. top-k 2 keeps {0,1,2,3}.
    std::vector<float> tied(V, -2.0f);
    tied[0] = 5.0f;
    tied[1] = tied[2] = tied[3] = 4.0f;
    check_frequencies("ties at the top-k threshold", tied, V, {1.0f, 2, 1.0f, 0.0f}, 1000, 50);
    // -inf logits are never drawn.
    std::vector<float> neg = row;
    for (int64_t j = 0; j < V; j += 2) neg[j] = -std::numeric_limits<float>::infinity();
    check_frequencies("-inf logits", neg, V, {1.0f, 0, 1.0f, 0.0f}, 1000, 50);
    check_frequencies("-inf logits + top-k 200", neg, V, {1.0f, 200, 1.0f, 0.0f}, 1000, 50);
    // A vocabulary large enough for the sampled lower bounds of the threshold searches (V >= 8192).
    const int64_t Vl = 20000;
    std::vector<float> big = random_logits(rng, 1, Vl, 2.5);
    check_frequencies("V=20000 top-k 50", big, Vl, {1.0f, 50, 1.0f, 0.0f}, 500, 24);
    check_frequencies("V=20000 top-p 0.5", big, Vl, {0.8f, 0, 0.5f, 0.0f}, 500, 24);
    check_frequencies("V=20000 top-k 300 top-p 0.9", big, Vl, {1.0f, 300, 0.9f, 0.0f}, 500, 24);
  }

  std::printf("determinism, greedy, degenerate rows:\n");
  {
    const int64_t V = 50304, B = 64;
    std::vector<float> logits = random_logits(rng, B, V, 2.0);
    std::vector<float> temp(B, 0.8f), topp(B, 0.9f), minp(B, 0.0f);
    std::vector<int32_t> topk(B, 0), a(B), b2(B), c(B);
    std::vector<uint64_t> seeds(B);
    for (int64_t b = 0; b < B; b++) seeds[b] = 77 + b;
    omp_set_num_threads(2);
    sample(a.data(), nullptr, nullptr, logits.data(), B, V, V, temp.data(), topk.data(), topp.data(), minp.data(),
           seeds.data(), 3);
    omp_set_num_threads(1);
    sample(b2.data(), nullptr, nullptr, logits.data(), B, V, V, temp.data(), topk.data(), topp.data(), minp.data(),
           seeds.data(), 3);
    omp_set_num_threads(2);
    CHECK(a == b2, "same seeds gave different ids across thread counts");
    sample(c.data(), nullptr, nullptr, logits.data(), B, V, V, temp.data(), topk.data(), topp.data(), minp.data(),
           seeds.data(), 4);
    int diff = 0;
    for (int64_t b = 0; b < B; b++) diff += a[b] != c[b];
    CHECK(diff > 0, "a new offset changed no id");
    std::printf("  same seed -> same ids (1 vs 2 threads): %s; new offset changed %d of %lld ids\n",
                a == b2 ? "ok" : "FAILED", diff, (long long)B);

    // Greedy: temperature 0 -> argmax; exact ties -> lowest index.
    std::vector<float> zero(B, 0.0f), lps(B), lpr(B);
    for (int64_t b = 0; b < 8; b++) {
      float* x = logits.data() + b * V;
      x[100 + b] = 50.0f;
      x[9000 + b] = 50.0f;
    }
    sample(a.data(), lps.data(), lpr.data(), logits.data(), B, V, V, zero.data(), nullptr, nullptr, nullptr, nullptr, 0);
    int bad = 0;
    for (int64_t b = 0; b < B; b++) {
      const float* x = logits.data() + b * V;
      int64_t am = 0;
      for (int64_t j = 1; j < V; j++)
        if (x[j] > x[am]) am = j;
      if (a[b] != am || lps[b] != 0.0f || std::fabs(lpr[b] - ref_logp_raw(x, V, am)) > 1e-4) bad++;
    }
    CHECK(bad == 0, "greedy differs from argmax in %d rows", bad);
    std::printf("  greedy == argmax (ties -> lowest index): %s\n", bad ? "FAILED" : "ok");

    // All parameters NULL: temperature 1, no filters, seed 0.
    sample(a.data(), lps.data(), lpr.data(), logits.data(), B, V, V, nullptr, nullptr, nullptr, nullptr, nullptr, 0);
    bad = 0;
    for (int64_t b = 0; b < B; b++) {
      const double r = ref_logp_raw(logits.data() + b * V, V, a[b]);
      if (std::fabs(lps[b] - r) > 2e-4 || std::fabs(lpr[b] - r) > 2e-4) bad++;
    }
    CHECK(bad == 0, "defaults: logp_sampled != logp_raw in %d rows", bad);
    std::printf("  NULL parameters = plain softmax sampling: %s\n", bad ? "FAILED" : "ok");

    // Degenerate rows: all -inf, one finite value, extreme temperatures, top_p ~ 0, min_p = 1.
    const int64_t Vs = 64;
    std::vector<float> d(6 * Vs, -std::numeric_limits<float>::infinity());
    d[1 * Vs + 17] = 3.0f;
    for (int64_t j = 0; j < Vs; j++) d[2 * Vs + j] = d[3 * Vs + j] = d[4 * Vs + j] = d[5 * Vs + j] = 0.1f * j;
    std::vector<float> t6 = {1.0f, 1.0f, 1e-6f, 1e6f, 1.0f, 1.0f};
    std::vector<float> p6 = {1.0f, 1.0f, 1.0f, 1.0f, 1e-9f, 1.0f};
    std::vector<float> m6 = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f};
    std::vector<int32_t> ids6(6);
    std::vector<float> ls6(6), lr6(6);
    sample(ids6.data(), ls6.data(), lr6.data(), d.data(), 6, Vs, Vs, t6.data(), nullptr, p6.data(), m6.data(),
           nullptr, 0);
    const bool ok = ids6[0] == 0 && std::isinf(ls6[0]) && ids6[1] == 17 && std::fabs(ls6[1]) < 1e-6 &&
                    std::fabs(lr6[1]) < 1e-6 && ids6[2] == Vs - 1 && ids6[3] >= 0 && ids6[3] < Vs &&
                    ids6[4] == Vs - 1 && ids6[5] == Vs - 1 && std::fabs(ls6[5]) < 1e-6;
    CHECK(ok, "degenerate rows: ids %d %d %d %d %d %d", ids6[0], ids6[1], ids6[2], ids6[3], ids6[4], ids6[5]);
    std::printf("  degenerate rows (all -inf, one finite, T=1e-6, T=1e6, top_p~0, min_p=1): %s\n",
                ok ? "ok" : "FAILED");
  }

  if (g_failures) {
    std::printf("test_sampling: %d FAILURES\n", g_failures);
    return 1;
  }
  std::printf("test_sampling: all checks passed\n");
  return 0;
}
