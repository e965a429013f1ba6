// Timing of the CPU sampler and the fused PPO loss against straightforward baselines, in the same run.
// Build and run (from the repository root; about 30 s on 2 idle cores, a minute on a busy machine):
//   g++ -O3 -std=c++17 -fopenmp -fPIC -mavx2 -mfma -mf16c -Inative/include -Inative/src
//       native/test/bench_sampling_losses.cpp native/src/cpu/sampling.cpp native/src/cpu/losses.cpp
//       -o /tmp/bench_sampling_losses && OMP_WAIT_POLICY=PASSIVE /tmp/bench_sampling_losses
// Wall and process CPU time are both printed; with OMP_WAIT_POLICY=PASSIVE the CPU time excludes spinning and
// is the steadier figure on a shared machine.
// Shape legend: B = batch (rows), T = time, N = B*T, V = vocab.
//
// Sampling (B, V) = (64, 50304) and (256, 50304), logits ~ N(0, 3^2):
//   jalign top-p 0.9 | jalign top-k 50 | jalign top-k 50 + top-p 0.9 + min-p 0.05
//   baseline "sort": softmax, full sort of the vocabulary, cumulative sum, cut at p, multinomial draw
//   baseline "top-k select": nth_element of the k largest, softmax over them, multinomial draw
// PPO (B, T, V) = (4, 256, 50304), (8, 128, 256):
//   jalign fused forward+backward (in place) vs log-softmax materialised + gather + masked reductions
//   + entropy pass + separate backward pass.
// Every variant runs on all threads (OpenMP over rows); time = median of the repetitions.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <numeric>
#include <random>
#include <time.h>
#include <vector>

#include "bench_timing.h"
#include "common/rng.h"
#include "cpu/cpu_kernels.h"
#include "jalign/jalign.h"

// ---------------------------------------------------------------- sampling baselines

static void baseline_sort_top_p(int32_t* ids, const float* logits, int64_t B, int64_t V, float p, uint64_t offset) {
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < B; b++) {
    const float* x = logits + b * V;
    std::vector<float> prob(V);
    std::vector<int32_t> idx(V);
    float m = x[0];
    for (int64_t j = 1; j < V; j++) m = std::max(m, x[j]);
    float s = 0;
    for (int64_t j = 0; j < V; j++) s += prob[j] = std::exp(x[j] - m);
    for (int64_t j = 0; j < V; j++) prob[j] /= s;
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int32_t a, int32_t c) { return prob[a] > prob[c]; });
    float cum = 0;
    int64_t n = 0;
    while (n < V) {
      cum += prob[idx[n++]];
      if (cum >= p) break;
    }
    const float u = jalign::rng_uniform(b, offset, b, 0) * cum;
    float c = 0;
    int32_t id = idx[n - 1];
    for (int64_t i = 0; i < n; i++) {
      c += prob[idx[i]];
      if (c > u) {
        id = idx[i];
        break;
      }
    }
    ids[b] = id;
  }
}

static void baseline_select_top_k(int32_t* ids, const float* logits, int64_t B, int64_t V, int k, uint64_t offset) {
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < B; b++) {
    const float* x = logits + b * V;
    std::vector<int32_t> idx(V);
    std::iota(idx.begin(), idx.end(), 0);
    std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), [&](int32_t a, int32_t c) { return x[a] > x[c]; });
    float m = x[idx[0]];
    for (int i = 1; i < k; i++) m = std::max(m, x[idx[i]]);
    std::vector<float> e(k);
    float s = 0;
    for (int i = 0; i < k; i++) s += e[i] = std::exp(x[idx[i]] - m);
    const float u = jalign::rng_uniform(b, offset, b, 0) * s;
    float c = 0;
    int32_t id = idx[k - 1];
    for (int i = 0; i < k; i++) {
      c += e[i];
      if (c > u) {
        id = idx[i];
        break;
      }
    }
    ids[b] = id;
  }
}

static void bench_sampling(int64_t B, int64_t V) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> logits(B * V);
  for (auto& v : logits) v = nd(rng);
  std::vector<int32_t> ids(B);
  std::vector<float> lps(B), lpr(B);
  std::vector<uint64_t> seeds(B);
  std::iota(seeds.begin(), seeds.end(), 1);
  std::vector<float> top_p(B, 0.9f), min_p(B, 0.05f);
  std::vector<int32_t> top_k(B, 50);
  uint64_t off = 0;
  const int reps = B >= 256 ? 5 : 9;

  const Timing t_p = median_ms(reps * 3, [&] {
    jalign::cpu::sample(ids.data(), lps.data(), lpr.data(), logits.data(), B, V, V, nullptr, nullptr, top_p.data(),
                        nullptr, seeds.data(), off++);
  });
  const Timing t_k = median_ms(reps * 3, [&] {
    jalign::cpu::sample(ids.data(), lps.data(), lpr.data(), logits.data(), B, V, V, nullptr, top_k.data(), nullptr,
                        nullptr, seeds.data(), off++);
  });
  const Timing t_kpm = median_ms(reps * 3, [&] {
    jalign::cpu::sample(ids.data(), lps.data(), lpr.data(), logits.data(), B, V, V, nullptr, top_k.data(),
                        top_p.data(), min_p.data(), seeds.data(), off++);
  });
  const Timing t_plain = median_ms(reps * 3, [&] {
    jalign::cpu::sample(ids.data(), lps.data(), lpr.data(), logits.data(), B, V, V, nullptr, nullptr, nullptr,
                        nullptr, seeds.data(), off++);
  });
  const Timing t_sort = median_ms(reps, [&] { baseline_sort_top_p(ids.data(), logits.data(), B, V, 0.9f, off++); });
  const Timing t_sel = median_ms(reps, [&] { baseline_select_top_k(ids.data(), logits.data(), B, V, 50, off++); });
  std::printf("sampling B=%lld V=%lld (%d threads)                 wall ms     cpu ms   cpu us/row\n", (long long)B,
              (long long)V, omp_get_max_threads());
  auto row = [&](const char* name, Timing t) {
    std::printf("  %-44s %9.3f  %9.3f  %9.1f\n", name, t.wall, t.cpu, 1e3 * t.cpu / B);
  };
  row("jalign top-p 0.9", t_p);
  row("jalign top-k 50", t_k);
  row("jalign top-k 50 + top-p 0.9 + min-p 0.05", t_kpm);
  row("jalign no filter (T=1)", t_plain);
  row("baseline softmax + sort + cumsum (top-p 0.9)", t_sort);
  row("baseline nth_element top-k 50", t_sel);
  std::printf("  -> jalign top-p vs sort baseline: %.1fx (cpu), %.1fx (wall)\n", t_sort.cpu / t_p.cpu,
              t_sort.wall / t_p.wall);
  std::printf("  -> jalign top-p vs nth_element top-k: %.2fx (cpu), %.2fx (wall)  (> 1: top-p is faster)\n",
              t_sel.cpu / t_p.cpu, t_sel.wall / t_p.wall);
}

// ---------------------------------------------------------------- PPO baseline

struct PpoData {
  int64_t N, V;
  std::vector<float> logits, old_logp, adv, ref, mask;
  std::vector<int32_t> tokens;
};

// Log-softmax materialised, gather, masked reductions, entropy pass, separate backward pass.
static void baseline_ppo(float* metrics, float* dlogits, std::vector<float>& logsm, const PpoData& d, float clip_eps,
                         float ec, float kc) {
  const int64_t N = d.N, V = d.V;
  const float* X = d.logits.data();
#pragma omp parallel for
  for (int64_t i = 0; i < N; i++) {  // log_softmax
    const float* x = X + i * V;
    float* y = logsm.data() + i * V;
    float m = x[0];
    for (int64_t j = 1; j < V; j++) m = std::max(m, x[j]);
    double s = 0;
    for (int64_t j = 0; j < V; j++) s += std::exp(x[j] - m);
    const float lse = m + (float)std::log(s);
    for (int64_t j = 0; j < V; j++) y[j] = x[j] - lse;
  }
  std::vector<float> logp(N), H(N), g(N);
  for (int64_t i = 0; i < N; i++) logp[i] = logsm[i * V + d.tokens[i]];  // gather
#pragma omp parallel for
  for (int64_t i = 0; i < N; i++) {  // entropy
    const float* y = logsm.data() + i * V;
    double h = 0;
    for (int64_t j = 0; j < V; j++) h -= std::exp(y[j]) * y[j];
    H[i] = (float)h;
  }
  double msum = 0, loss = 0, pgs = 0, hs = 0, kls = 0;
  for (int64_t i = 0; i < N; i++) msum += d.mask[i];
  for (int64_t i = 0; i < N; i++) {  // masked reductions
    const double w = d.mask[i] / msum, A = d.adv[i], r = std::exp(logp[i] - d.old_logp[i]);
    const double rc = std::min(std::max(r, 1.0 - clip_eps), 1.0 + clip_eps);
    const double pg = std::max(-A * r, -A * rc);
    const double kl = logp[i] - d.ref[i];
    loss += w * (pg - ec * H[i] + kc * kl);
    pgs += w * pg;
    hs += w * H[i];
    kls += w * kl;
    g[i] = (float)(((-A * rc > -A * r) ? 0.0 : -A * r) + kc);
  }
  metrics[0] = (float)loss;
  metrics[1] = (float)pgs;
  metrics[2] = (float)hs;
  metrics[3] = (float)kls;
#pragma omp parallel for
  for (int64_t i = 0; i < N; i++) {  // backward
    const float w = (float)(d.mask[i] / msum);
    const float* y = logsm.data() + i * V;
    float* dx = dlogits + i * V;
    for (int64_t j = 0; j < V; j++) {
      const float p = std::exp(y[j]);
      dx[j] = w * (g[i] * ((j == d.tokens[i]) - p) + ec * p * (y[j] + H[i]));
    }
  }
}

static void bench_ppo(int64_t B, int64_t T, int64_t V) {
  PpoData d;
  d.N = B * T;
  d.V = V;
  std::mt19937_64 rng(9);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  d.logits.resize(d.N * V);
  for (auto& v : d.logits) v = nd(rng);
  d.tokens.resize(d.N);
  d.old_logp.resize(d.N);
  d.adv.resize(d.N);
  d.ref.resize(d.N);
  d.mask.resize(d.N);
  for (int64_t i = 0; i < d.N; i++) {
    d.tokens[i] = (int32_t)((i * 7919) % V);
    d.old_logp[i] = -std::log((float)V) + 0.1f * nd(rng);
    d.ref[i] = -std::log((float)V) + 0.1f * nd(rng);
    d.adv[i] = nd(rng);
    d.mask[i] = (i % T) < T * 7 / 8 ? 1.0f : 0.0f;  // padded tail of each response
  }
  std::vector<float> work(d.N * V), logsm(d.N * V), dl(d.N * V);
  float met[JALIGN_PPO_METRICS], metb[JALIGN_PPO_METRICS];
  const int reps = d.N * V > 10000000 ? 5 : 31;
  const Timing t_copy = median_ms(reps, [&] { std::copy(d.logits.begin(), d.logits.end(), work.begin()); });
  const Timing t_fused = median_ms(reps, [&] {
    std::copy(d.logits.begin(), d.logits.end(), work.begin());  // in place: dlogits overwrite the copy
    jalign::cpu::ppo_loss(met, nullptr, work.data(), work.data(), d.tokens.data(), d.old_logp.data(), d.adv.data(),
                          d.ref.data(), d.mask.data(), d.N, V, V, 0.2f, 0.0f, 0.01f, 0.05f, 1);
  });
  const Timing t_base = median_ms(reps, [&] { baseline_ppo(metb, dl.data(), logsm, d, 0.2f, 0.01f, 0.05f); });
  double max_diff = 0;
  for (int64_t i = 0; i < d.N * V; i++) max_diff = std::max(max_diff, (double)std::fabs(work[i] - dl[i]));
  const Timing fused = {t_fused.wall - t_copy.wall, t_fused.cpu - t_copy.cpu};
  const double gbs = (2.0 * 4.0 * d.N * V + 4.0 * d.N * V) / (fused.wall * 1e-3) / 1e9;  // read twice, write once
  std::printf("PPO loss fwd+bwd B=%lld T=%lld V=%lld (N=%lld, %d threads)     wall ms     cpu ms\n", (long long)B,
              (long long)T, (long long)V, (long long)d.N, omp_get_max_threads());
  std::printf("  %-44s %9.3f  %9.3f   (%.1f GB/s effective)\n", "jalign fused, in place (input copy excluded)",
              fused.wall, fused.cpu, gbs);
  std::printf("  %-44s %9.3f  %9.3f\n", "baseline materialised + separate backward", t_base.wall, t_base.cpu);
  std::printf("  -> fused vs baseline: %.1fx (cpu), %.1fx (wall)\n", t_base.cpu / fused.cpu, t_base.wall / fused.wall);
  std::printf("  check: loss %.6f vs %.6f, entropy %.5f vs %.5f, max |dlogits diff| %.2e\n", met[0], metb[0], met[2],
              metb[2], max_diff);
}

int main() {
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[128] = {0};
    if (std::fgets(buf, sizeof(buf), f)) std::printf("load average at start: %s", buf);
    std::fclose(f);
  }
  bench_sampling(64, 50304);
  bench_sampling(256, 50304);
  bench_ppo(8, 128, 256);
  bench_ppo(4, 256, 50304);
  return 0;
}
