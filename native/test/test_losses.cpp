// Tests of jalign::cpu::ppo_loss, value_loss and ranking_loss against double-precision references written
// straight from the definitions in jalign.h; gradients by central finite differences.
// Build and run (from the repository root):
//   g++ -O2 -std=c++17 -fopenmp -mavx2 -mfma -mf16c -Inative/include -Inative/src
//       native/test/test_losses.cpp native/src/cpu/losses.cpp -o /tmp/test_losses && /tmp/test_losses
// Exit status 0 when every check passes, 1 otherwise.
//
// Shape legend: N = rows (B*T positions), V = vocab (real columns), ld = row stride (ld >= V),
//               G = groups, K = responses per group.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "jalign/jalign.h"

static int g_failures = 0;
#define CHECK(cond, ...)                               \
  do {                                                 \
    if (!(cond)) {                                     \
      g_failures++;                                    \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                        \
      std::printf("\n");                               \
    }                                                  \
  } while (0)

static bool close(double a, double b, double atol, double rtol) { return std::fabs(a - b) <= atol + rtol * std::fabs(b); }

// ------------------------------------------------------------------------------------------------ PPO

struct PpoCase {
  int64_t N, V, ld;
  std::vector<float> logits;  // (N, ld)
  std::vector<int32_t> tokens;
  std::vector<float> old_logp, adv, ref, mask;
  bool use_ref = true;
  float clip_eps = 0.2f, dual_clip = 0.0f, entropy_coef = 0.01f, kl_coef = 0.05f;
  int kl_estimator = 1;
};

// Reference loss and metrics (double) at logits X (N, ld); logp (N) out.
static double ref_ppo(const PpoCase& c, const std::vector<double>& X, double* metrics, std::vector<double>* logp) {
  double msum = 0;
  for (int64_t i = 0; i < c.N; i++) msum += c.mask[i];
  double loss = 0, pgs = 0, Hs = 0, kls = 0, clips = 0, akl = 0, rat = 0;
  for (int64_t i = 0; i < c.N; i++) {
    const double* x = &X[i * c.ld];
    double m = -INFINITY;
    for (int64_t j = 0; j < c.V; j++) m = std::max(m, x[j]);
    double s = 0;
    for (int64_t j = 0; j < c.V; j++) s += std::exp(x[j] - m);
    const double lse = m + std::log(s);
    double H = 0;
    for (int64_t j = 0; j < c.V; j++) {
      const double p = std::exp(x[j] - lse);
      if (p > 0) H -= p * (x[j] - lse);
    }
    const double lp = x[c.tokens[i]] - lse;
    if (logp) (*logp)[i] = lp;
    const double A = c.adv[i], ratio = std::exp(lp - c.old_logp[i]);
    const double clipped_ratio = std::min(std::max(ratio, 1.0 - c.clip_eps), 1.0 + c.clip_eps);
    double pg = std::max(-A * ratio, -A * clipped_ratio);
    bool clipped = -A * clipped_ratio > -A * ratio;
    if (c.dual_clip > 1.0f && A < 0 && pg > -A * c.dual_clip) {
      pg = -A * c.dual_clip;
      clipped = true;
    }
    double kl = 0;
    if (c.use_ref) {
      const double d = c.ref[i] - lp;
      kl = c.kl_estimator == 3 ? std::exp(d) - 1 - d : lp - c.ref[i];
    }
    const double w = msum > 0 ? c.mask[i] / msum : 0.0;
    loss += w * (pg - c.entropy_coef * H + c.kl_coef * kl);
    pgs += w * pg;
    Hs += w * H;
    kls += w * kl;
    clips += w * (clipped ? 1 : 0);
    akl += w * 0.5 * (lp - c.old_logp[i]) * (lp - c.old_logp[i]);
    rat += w * ratio;
  }
  if (metrics) {
    const double mm[8] = {loss, pgs, Hs, kls, clips, akl, rat, msum};
    std::copy(mm, mm + 8, metrics);
  }
  return loss;
}

// Runs the kernel; dlogits prefilled with garbage (it must be WRITTEN).
static void run_ppo(const PpoCase& c, float* metrics, std::vector<float>* logp, std::vector<float>* dlogits) {
  if (dlogits) dlogits->assign(c.N * c.ld, 123.0f);
  if (logp) logp->assign(c.N, 0.0f);
  jalign::cpu::ppo_loss(metrics, logp ? logp->data() : nullptr, dlogits ? dlogits->data() : nullptr,
                        c.logits.data(), c.tokens.data(), c.old_logp.data(), c.adv.data(),
                        c.use_ref ? c.ref.data() : nullptr, c.mask.data(), c.N, c.V, c.ld, c.clip_eps, c.dual_clip,
                        c.entropy_coef, c.kl_coef, c.kl_estimator);
}

// Random case; old_logp is set from chosen ratios away from the clip kinks so finite differences are clean.
static PpoCase make_ppo(std::mt19937_64& rng, int64_t N, int64_t V, int64_t ld, double scale) {
  PpoCase c;
  c.N = N;
  c.V = V;
  c.ld = ld;
  std::normal_distribution<double> nd(0.0, 1.0);
  c.logits.assign(N * ld, 0.0f);
  for (int64_t i = 0; i < N; i++)
    for (int64_t j = 0; j < ld; j++) c.logits[i * ld + j] = j < V ? (float)(scale * nd(rng)) : 777.0f;
  c.tokens.resize(N);
  c.old_logp.resize(N);
  c.adv.resize(N);
  c.ref.resize(N);
  c.mask.resize(N);
  const double ratios[] = {0.5, 0.7, 0.95, 1.05, 1.4, 4.0};
  for (int64_t i = 0; i < N; i++) {
    c.tokens[i] = (int32_t)((i * 7919 + 13) % V);
    std::vector<double> X(c.logits.begin() + i * ld, c.logits.begin() + i * ld + V);
    double m = *std::max_element(X.begin(), X.end()), s = 0;
    for (double v : X) s += std::exp(v - m);
    const double lp = X[c.tokens[i]] - m - std::log(s);
    c.old_logp[i] = (float)(lp - std::log(ratios[i % 6]));
    c.adv[i] = (float)((i % 2 ? -1.0 : 1.0) * (0.3 + 0.5 * std::fabs(nd(rng))));
    c.ref[i] = (float)(lp + 0.3 * nd(rng));
    c.mask[i] = (i % 5 == 4) ? 0.0f : ((i % 3 == 1) ? 0.5f : 1.0f);
  }
  return c;
}

static void check_ppo_fd(const char* name, PpoCase c) {
  float met[JALIGN_PPO_METRICS];
  std::vector<float> logp, dl;
  run_ppo(c, met, &logp, &dl);
  std::vector<double> X(c.logits.begin(), c.logits.end()), rlogp(c.N);
  double rmet[8];
  ref_ppo(c, X, rmet, &rlogp);
  int bad = 0;
  for (int k = 0; k < 8; k++)
    if (!close(met[k], rmet[k], 2e-6, 2e-5)) {
      bad++;
      CHECK(false, "%s: metric %d = %.8f, reference %.8f", name, k, met[k], rmet[k]);
    }
  for (int64_t i = 0; i < c.N; i++)
    if (!close(logp[i], rlogp[i], 1e-5, 1e-5)) {
      bad++;
      CHECK(false, "%s: logp[%lld] = %.7f, reference %.7f", name, (long long)i, logp[i], rlogp[i]);
    }
  // Central finite differences of the double reference loss (h = 1e-5) vs the kernel's dlogits.
  double max_err = 0, max_g = 0;
  for (int64_t i = 0; i < c.N; i++) {
    for (int64_t j = 0; j < c.ld; j++) {
      const size_t at = i * c.ld + j;
      double fd = 0;
      if (j < c.V && std::isfinite(X[at])) {
        const double h = 1e-5, x0 = X[at];
        X[at] = x0 + h;
        const double lp = ref_ppo(c, X, nullptr, nullptr);
        X[at] = x0 - h;
        const double lm = ref_ppo(c, X, nullptr, nullptr);
        X[at] = x0;
        fd = (lp - lm) / (2 * h);
      }
      max_err = std::max(max_err, std::fabs(dl[at] - fd));
      max_g = std::max(max_g, std::fabs(fd));
      if (!close(dl[at], fd, 2e-6, 1e-4)) {
        bad++;
        if (bad < 6) CHECK(false, "%s: dlogits[%lld,%lld] = %.8f, finite difference %.8f", name, (long long)i,
                           (long long)j, dl[at], fd);
      }
    }
  }
  // Central finite differences of the kernel's own float loss on a few coordinates (h = 3e-3).
  double max_err_f = 0;
  for (int t = 0; t < 12; t++) {
    const int64_t i = (t * 5) % c.N, j = (t * 11 + (t % 2 ? c.tokens[i] : 0)) % c.V;
    const size_t at = i * c.ld + j;
    if (!std::isfinite(c.logits[at])) continue;
    PpoCase cp = c, cm = c;
    cp.logits[at] += 3e-3f;
    cm.logits[at] -= 3e-3f;
    float mp[8], mm[8];
    run_ppo(cp, mp, nullptr, nullptr);
    run_ppo(cm, mm, nullptr, nullptr);
    const double fd = ((double)mp[0] - (double)mm[0]) / ((double)cp.logits[at] - (double)cm.logits[at]);
    max_err_f = std::max(max_err_f, std::fabs(fd - dl[at]));
    if (!close(dl[at], fd, 3e-4, 1e-2)) {
      bad++;
      CHECK(false, "%s: dlogits[%lld,%lld] = %.7f, float finite difference %.7f", name, (long long)i, (long long)j,
            dl[at], fd);
    }
  }
  std::printf("  %-40s max |dlogits - fd| = %.2e (max |grad| %.2e), float fd %.2e  %s\n", name, max_err, max_g,
              max_err_f, bad ? "FAILED" : "ok");
}

static void test_ppo() {
  std::printf("PPO loss vs the double reference, dlogits vs finite differences:\n");
  std::mt19937_64 rng(7);
  {
    PpoCase c = make_ppo(rng, 12, 17, 17, 1.5);
    check_ppo_fd("k1 KL, entropy 0.01", c);
    c.kl_estimator = 3;
    c.entropy_coef = 0.3f;
    check_ppo_fd("k3 KL, entropy 0.3", c);
    c.use_ref = false;
    c.dual_clip = 3.0f;
    check_ppo_fd("no ref, dual clip 3", c);
  }
  {
    PpoCase c = make_ppo(rng, 12, 19, 24, 2.0);  // padding columns
    c.logits[3 * 24 + 5] = -std::numeric_limits<float>::infinity();
    c.logits[7 * 24 + 0] = -std::numeric_limits<float>::infinity();
    c.dual_clip = 2.0f;
    c.kl_estimator = 3;
    check_ppo_fd("padded ld, -inf logits, dual clip 2", c);
  }
  {
    // Large vocabulary: metrics and logp vs the reference; dlogits vs the reference gradient formula
    // (itself validated by the finite differences above).
    PpoCase c = make_ppo(rng, 10, 50304, 50304, 3.0);
    c.entropy_coef = 0.05f;
    c.kl_estimator = 3;
    float met[8];
    std::vector<float> logp, dl;
    run_ppo(c, met, &logp, &dl);
    std::vector<double> X(c.logits.begin(), c.logits.end()), rlogp(c.N);
    double rmet[8];
    ref_ppo(c, X, rmet, &rlogp);
    int bad = 0;
    for (int k = 0; k < 8; k++)
      if (!close(met[k], rmet[k], 1e-5, 1e-5)) {
        bad++;
        CHECK(false, "V=50304: metric %d = %.8f, reference %.8f", k, met[k], rmet[k]);
      }
    double msum = 0;
    for (float m : c.mask) msum += m;
    double max_err = 0;
    for (int64_t i = 0; i < c.N; i++) {
      const double* x = &X[i * c.V];
      double m = -INFINITY, s = 0, H = 0;
      for (int64_t j = 0; j < c.V; j++) m = std::max(m, x[j]);
      for (int64_t j = 0; j < c.V; j++) s += std::exp(x[j] - m);
      const double lse = m + std::log(s);
      for (int64_t j = 0; j < c.V; j++) H -= std::exp(x[j] - lse) * (x[j] - lse);
      if (!close(logp[i], rlogp[i], 1e-5, 1e-5)) bad++;
      const double w = c.mask[i] / msum, A = c.adv[i], ratio = std::exp(rlogp[i] - c.old_logp[i]);
      const double rc = std::min(std::max(ratio, 1.0 - c.clip_eps), 1.0 + c.clip_eps);
      const double dpg = (-A * rc > -A * ratio) ? 0.0 : -A * ratio;
      const double d = c.ref[i] - rlogp[i];
      const double g = dpg + c.kl_coef * (1.0 - std::exp(d));
      for (int64_t j = 0; j < c.V; j++) {
        const double p = std::exp(x[j] - lse);
        const double want = w * (g * ((j == c.tokens[i]) - p) + c.entropy_coef * p * (x[j] - lse + H));
        max_err = std::max(max_err, std::fabs(dl[i * c.V + j] - want));
      }
    }
    if (max_err > 1e-6) bad++;
    CHECK(max_err <= 1e-6, "V=50304: max |dlogits - reference| = %.3e", max_err);
    std::printf("  %-40s metrics, logp ok; max |dlogits - ref| = %.2e  %s\n", "N=10 V=50304", max_err,
                bad ? "FAILED" : "ok");

    // In place (dlogits == logits) gives exactly the same result; metrics are thread-count invariant.
    std::vector<float> inplace = c.logits;
    float met2[8];
    jalign::cpu::ppo_loss(met2, nullptr, inplace.data(), inplace.data(), c.tokens.data(), c.old_logp.data(),
                          c.adv.data(), c.ref.data(), c.mask.data(), c.N, c.V, c.ld, c.clip_eps, c.dual_clip,
                          c.entropy_coef, c.kl_coef, c.kl_estimator);
    const bool same = std::memcmp(inplace.data(), dl.data(), dl.size() * sizeof(float)) == 0 &&
                      std::memcmp(met, met2, sizeof(met)) == 0;
    CHECK(same, "in-place dlogits differ from the separate output");
    omp_set_num_threads(1);
    float met1[8];
    run_ppo(c, met1, nullptr, nullptr);
    omp_set_num_threads(2);
    const bool det = std::memcmp(met, met1, sizeof(met)) == 0;
    CHECK(det, "metrics depend on the thread count");
    std::printf("  %-40s %s\n", "in place == separate; 1 thread == 2", same && det ? "ok" : "FAILED");
  }
  {
    // All rows masked: metrics 0, gradients 0 everywhere (including padding).
    PpoCase c = make_ppo(rng, 4, 9, 12, 1.0);
    std::fill(c.mask.begin(), c.mask.end(), 0.0f);
    float met[8];
    std::vector<float> dl;
    run_ppo(c, met, nullptr, &dl);
    bool ok = true;
    for (float v : met) ok = ok && v == 0.0f;
    for (float v : dl) ok = ok && v == 0.0f;
    CHECK(ok, "all-masked batch: metrics or gradients not zero");
    std::printf("  %-40s %s\n", "all rows masked -> zeros", ok ? "ok" : "FAILED");
  }
}

// ------------------------------------------------------------------------------------------------ value loss

static double ref_value(const std::vector<double>& v, const std::vector<float>& old, const std::vector<float>& R,
                        const std::vector<float>& mask, double clip, double* frac) {
  double ms = 0, loss = 0, f = 0;
  for (size_t i = 0; i < v.size(); i++) ms += mask[i];
  for (size_t i = 0; i < v.size(); i++) {
    const double vc = old[i] + std::min(std::max(v[i] - old[i], -clip), clip);
    const double l1 = (v[i] - R[i]) * (v[i] - R[i]), l2 = (vc - R[i]) * (vc - R[i]);
    loss += mask[i] / ms * 0.5 * std::max(l1, l2);
    f += mask[i] / ms * (l2 > l1 ? 1 : 0);
  }
  if (frac) *frac = f;
  return loss;
}

static void test_value() {
  std::printf("value loss:\n");
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(0.0, 1.0);
  const int64_t N = 40;
  const float clip = 0.2f;
  std::vector<float> v(N), old(N), R(N), mask(N);
  for (int64_t i = 0; i < N; i++) {
    old[i] = (float)nd(rng);
    double d;
    do d = 0.6 * nd(rng);
    while (std::fabs(std::fabs(d) - clip) < 1e-3);  // away from the clip kink
    v[i] = old[i] + (float)d;
    // Away from the tie between the branches (only possible when d is outside the clip).
    const double vc = old[i] + std::min(std::max(d, -(double)clip), (double)clip);
    do R[i] = (float)(old[i] + nd(rng));
    while (std::fabs(d) > clip && std::fabs(std::fabs(v[i] - R[i]) - std::fabs(vc - R[i])) < 1e-3);
    mask[i] = i % 7 == 3 ? 0.0f : 1.0f;
  }
  float met[2];
  std::vector<float> dv(N, 55.0f);
  jalign::cpu::value_loss(met, dv.data(), v.data(), old.data(), R.data(), mask.data(), N, clip);
  std::vector<double> vd(v.begin(), v.end());
  double frac;
  const double loss = ref_value(vd, old, R, mask, clip, &frac);
  int bad = 0;
  if (!close(met[0], loss, 1e-6, 1e-5) || !close(met[1], frac, 1e-6, 0)) bad++;
  CHECK(bad == 0, "value loss metrics %.7f %.4f vs reference %.7f %.4f", met[0], met[1], loss, frac);
  double max_err = 0;
  for (int64_t i = 0; i < N; i++) {
    const double h = 1e-6, x0 = vd[i];
    vd[i] = x0 + h;
    const double lp = ref_value(vd, old, R, mask, clip, nullptr);
    vd[i] = x0 - h;
    const double lm = ref_value(vd, old, R, mask, clip, nullptr);
    vd[i] = x0;
    const double fd = (lp - lm) / (2 * h);
    max_err = std::max(max_err, std::fabs(dv[i] - fd));
  }
  if (max_err > 1e-6) bad++;
  CHECK(max_err <= 1e-6, "value loss: max |dvalues - fd| = %.3e", max_err);
  std::printf("  %-40s loss %.6f (ref %.6f), clip frac %.3f, max |dvalues - fd| = %.2e  %s\n", "N=40 clip 0.2",
              met[0], loss, met[1], max_err, bad ? "FAILED" : "ok");
}

// ------------------------------------------------------------------------------------------------ ranking loss

static double ref_ranking(const std::vector<double>& r, const std::vector<int32_t>& order,
                          const std::vector<float>* margins, int64_t G, int64_t K, double* acc) {
  double loss = 0, correct = 0, pairs = 0;
  for (int64_t g = 0; g < G; g++)
    for (int64_t a = 0; a < K; a++)
      for (int64_t b = a + 1; b < K; b++) {
        const double ri = r[g * K + order[g * K + a]], rj = r[g * K + order[g * K + b]];
        const double d = ri - rj - (margins ? (*margins)[g] : 0.0);
        loss += -std::log(1.0 / (1.0 + std::exp(-d)));
        correct += ri > rj;
        pairs += 1;
      }
  if (acc) *acc = correct / pairs;
  return loss / pairs;
}

static void test_ranking() {
  std::printf("ranking loss:\n");
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd(0.0, 1.5);
  for (int64_t K : {2, 4, 7}) {
    for (int with_margin = 0; with_margin < 2; with_margin++) {
      const int64_t G = 5;
      std::vector<float> r(G * K), margins(G), dr(G * K, 1.0f);  // prefilled: drewards accumulates
      std::vector<int32_t> order(G * K);
      for (auto& x : r) x = (float)nd(rng);
      for (int64_t g = 0; g < G; g++) {
        std::iota(order.begin() + g * K, order.begin() + (g + 1) * K, 0);
        std::shuffle(order.begin() + g * K, order.begin() + (g + 1) * K, rng);
        margins[g] = 0.25f * g;
      }
      float loss, acc;
      jalign::cpu::ranking_loss(&loss, &acc, dr.data(), r.data(), order.data(), with_margin ? margins.data() : nullptr,
                                G, K);
      std::vector<double> rd(r.begin(), r.end());
      double racc;
      const std::vector<float>* mp = with_margin ? &margins : nullptr;
      const double rl = ref_ranking(rd, order, mp, G, K, &racc);
      double max_err = 0;
      for (int64_t i = 0; i < G * K; i++) {
        const double h = 1e-6, x0 = rd[i];
        rd[i] = x0 + h;
        const double lp = ref_ranking(rd, order, mp, G, K, nullptr);
        rd[i] = x0 - h;
        const double lm = ref_ranking(rd, order, mp, G, K, nullptr);
        rd[i] = x0;
        max_err = std::max(max_err, std::fabs((dr[i] - 1.0) - (lp - lm) / (2 * h)));
      }
      const bool ok = close(loss, rl, 1e-6, 1e-5) && close(acc, racc, 1e-6, 0) && max_err < 1e-6;
      CHECK(ok, "ranking K=%lld margin=%d: loss %.7f (ref %.7f) acc %.4f (ref %.4f) grad err %.3e", (long long)K,
            with_margin, loss, rl, acc, racc, max_err);
      std::printf("  K=%lld margins=%-3s loss %.6f (ref %.6f) accuracy %.3f (ref %.3f) max |grad - fd| %.2e  %s\n",
                  (long long)K, with_margin ? "yes" : "no", loss, rl, acc, racc, max_err, ok ? "ok" : "FAILED");
    }
  }
  // Extreme reward gaps stay finite.
  std::vector<float> r = {200.0f, -200.0f}, dr(2, 0.0f);
  std::vector<int32_t> order = {1, 0};  // the worse-scored one is ranked best: loss ~ 400
  float loss, acc;
  jalign::cpu::ranking_loss(&loss, &acc, dr.data(), r.data(), order.data(), nullptr, 1, 2);
  const bool ok = std::fabs(loss - 400.0f) < 1e-3 && acc == 0.0f && std::fabs(dr[1] + 1.0f) < 1e-6 &&
                  std::fabs(dr[0] - 1.0f) < 1e-6;
  CHECK(ok, "extreme gap: loss %f acc %f dr %f %f", loss, acc, dr[0], dr[1]);
  std::printf("  %-40s %s\n", "reward gap 400 stays finite", ok ? "ok" : "FAILED");
}

int main() {
  test_ppo();
  test_value();
  test_ranking();
  if (g_failures) {
    std::printf("test_losses: %d FAILURES\n", g_failures);
    return 1;
  }
  std::printf("test_losses: all checks passed\n");
  return 0;
}
