// Native test harness of the jalign CUDA kernels (core ops, Llama-family ops, sampling, RL losses); no Java
// involved. `test_cuda_ops [test ...]` runs the named tests only (names as in main's table), none: all.
//
// For every kernel: random inputs at awkward sizes (not multiples of 32/128, padded rows, repeated indices,
// misaligned pointers), the CUDA launcher (jalign::cuda::*) run on them and compared with
//   - a plain double-precision reference written here (always), whose gradients are themselves checked by
//     central finite differences, and
//   - the CPU kernel (jalign::cpu::*) on the same inputs, where the CPU kernels were built
//     (JALIGN_HAVE_CPU_CORE / _SAMPLING / _LOSSES, set by cuda-kernels/CMakeLists.txt from the files present).
// Prints max abs / rel errors and one PASS/FAIL line per check; exits 1 on any failure, 2 without a GPU.
//
// Shape legend: B = batch, T = time, C = channels, V = vocab, ld = row stride of logits, N = rows,
//               G = groups, K = responses per group; M/N/K also name GEMM sizes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/rng.h"
#include "jalign/jalign.h"
#include "jalign_cuda.h"
#if defined(JALIGN_HAVE_CPU_CORE) || defined(JALIGN_HAVE_CPU_SAMPLING) || defined(JALIGN_HAVE_CPU_LOSSES)
#include "cpu/cpu_kernels.h"
#endif

namespace jc = jalign::cuda;
using std::vector;

// ------------------------------------------------------------------------------------------ utilities

#define CK(call)                                                                                     \
  do {                                                                                               \
    int e_ = (int)(call);                                                                            \
    if (e_ != 0) {                                                                                   \
      std::fprintf(stderr, "%s:%d: %s failed: %s (%d)\n", __FILE__, __LINE__, #call, jc::error_string(e_), e_); \
      std::exit(1);                                                                                  \
    }                                                                                                \
  } while (0)

static int g_failures = 0;
static int g_checks = 0;
static cudaStream_t g_stream = nullptr;

static void sync() { CK(cudaStreamSynchronize(g_stream)); }

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) { CK(cudaMalloc((void**)&p, sizeof(T) * (count ? count : 1))); }
  explicit Dev(const vector<T>& h) : Dev(h.size()) { up(h); }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void up(const vector<T>& h) { CK(cudaMemcpy(p, h.data(), sizeof(T) * h.size(), cudaMemcpyHostToDevice)); }
  vector<T> down() const {
    sync();
    vector<T> h(n);
    CK(cudaMemcpy(h.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost));
    return h;
  }
};

static std::mt19937_64 g_rng(20261130);
static vector<float> randn(size_t n, float sd = 1.0f, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, sd);
  vector<float> v(n);
  for (auto& x : v) x = d(g_rng);
  return v;
}
static vector<float> randu(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  vector<float> v(n);
  for (auto& x : v) x = d(g_rng);
  return v;
}
static vector<int32_t> randi(size_t n, int32_t lo, int32_t hi) {  // [lo, hi]
  std::uniform_int_distribution<int32_t> d(lo, hi);
  vector<int32_t> v(n);
  for (auto& x : v) x = d(g_rng);
  return v;
}

// |got - ref| <= atol + rtol * |ref| elementwise.
template <typename G, typename R>
static bool check(const std::string& name, const vector<G>& got, const vector<R>& ref, double atol, double rtol) {
  ++g_checks;
  double max_abs = 0.0, max_rel = 0.0;
  size_t worst = 0;
  bool ok = got.size() == ref.size();
  for (size_t i = 0; ok && i < got.size(); ++i) {
    const double g = (double)got[i], r = (double)ref[i];
    const double a = std::fabs(g - r);
    const double rel = a / std::max(std::fabs(r), 1e-30);
    if (!(a <= atol + rtol * std::fabs(r))) {  // NaN fails too
      if (ok) worst = i;
      ok = false;
    }
    if (a > max_abs || std::isnan(a)) {
      max_abs = a;
      if (ok) worst = i;
    }
    if (std::fabs(r) > atol) max_rel = std::max(max_rel, rel);
  }
  std::printf("%s %-44s n=%-8zu max_abs=%.3e max_rel=%.3e", ok ? "PASS" : "FAIL", name.c_str(), got.size(), max_abs,
              max_rel);
  if (!ok && worst < got.size() && worst < ref.size())
    std::printf("  [first bad i=%zu got=%.8g ref=%.8g]", worst, (double)got[worst], (double)ref[worst]);
  std::printf("\n");
  if (!ok) ++g_failures;
  return ok;
}
static bool check_true(const std::string& name, bool ok, const std::string& detail = "") {
  ++g_checks;
  std::printf("%s %-44s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
  if (!ok) ++g_failures;
  return ok;
}
template <typename T>
static vector<double> to_d(const vector<T>& v) {
  return vector<double>(v.begin(), v.end());
}

// ------------------------------------------------------------------------------- double references

static void ref_matmul(vector<double>& out, const vector<float>& a, const vector<float>& b, const float* bias,
                       int64_t M, int64_t N, int64_t K, bool ta, bool tb, bool acc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double av = ta ? a[k * M + i] : a[i * K + k];
        const double bv = tb ? b[j * K + k] : b[k * N + j];
        s += av * bv;
      }
      if (bias) s += bias[j];
      out[i * N + j] = (acc ? out[i * N + j] : 0.0) + s;
    }
}

static void ref_layernorm_fwd(vector<double>& out, vector<double>& mean, vector<double>& rstd,
                              const vector<double>& x, const vector<double>& w, const vector<double>& b, int64_t N,
                              int64_t C, double eps) {
  for (int64_t i = 0; i < N; ++i) {
    double m = 0.0;
    for (int64_t c = 0; c < C; ++c) m += x[i * C + c];
    m /= C;
    double v = 0.0;
    for (int64_t c = 0; c < C; ++c) v += (x[i * C + c] - m) * (x[i * C + c] - m);
    v /= C;
    const double rs = 1.0 / std::sqrt(v + eps);
    mean[i] = m;
    rstd[i] = rs;
    for (int64_t c = 0; c < C; ++c) out[i * C + c] = (x[i * C + c] - m) * rs * w[c] + b[c];
  }
}
// Gradients of L = sum out * G (accumulated into dx, dw, db).
static void ref_layernorm_bwd(vector<double>& dx, vector<double>& dw, vector<double>& db, const vector<double>& G,
                              const vector<double>& x, const vector<double>& w, const vector<double>& mean,
                              const vector<double>& rstd, int64_t N, int64_t C) {
  for (int64_t i = 0; i < N; ++i) {
    double a = 0.0, bsum = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      const double n = (x[i * C + c] - mean[i]) * rstd[i];
      const double dn = G[i * C + c] * w[c];
      a += dn;
      bsum += dn * n;
      dw[c] += G[i * C + c] * n;
      db[c] += G[i * C + c];
    }
    a /= C;
    bsum /= C;
    for (int64_t c = 0; c < C; ++c) {
      const double n = (x[i * C + c] - mean[i]) * rstd[i];
      const double dn = G[i * C + c] * w[c];
      dx[i * C + c] += (dn - a - n * bsum) * rstd[i];
    }
  }
}

static double ref_gelu(double x) {
  const double s = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(s * (x + 0.044715 * x * x * x)));
}
static double ref_gelu_grad(double x) {
  const double s = std::sqrt(2.0 / M_PI);
  const double u = s * (x + 0.044715 * x * x * x);
  const double th = std::tanh(u);
  return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * s * (1.0 + 3.0 * 0.044715 * x * x);
}

// Row log-softmax over the first V columns of x (stride ld).
static void ref_log_softmax(vector<double>& lp, const float* x, int64_t V) {
  double m = -INFINITY;
  for (int64_t j = 0; j < V; ++j) m = std::max(m, (double)x[j]);
  double s = 0.0;
  for (int64_t j = 0; j < V; ++j) s += std::exp((double)x[j] - m);
  const double lse = m + std::log(s);
  lp.resize(V);
  for (int64_t j = 0; j < V; ++j) lp[j] = (double)x[j] - lse;
}

static uint16_t ref_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);  // quiet NaN, same sign
  const uint32_t lower = u & 0xffffu, upper = u >> 16;
  uint32_t r = upper;
  if (lower > 0x8000u || (lower == 0x8000u && (upper & 1u))) r += 1;  // ties to even
  return (uint16_t)r;
}

struct PpoParams {
  float clip_eps, dual_clip, entropy_coef, kl_coef;
  int kl_estimator;
};
// Double reference of the PPO loss. Returns the metrics; fills logp and dlogits (if non-null).
static vector<double> ref_ppo(vector<double>* dlogits, vector<double>* logp_out, const vector<float>& logits,
                              const vector<int32_t>& tok, const vector<float>& old, const vector<float>& adv,
                              const vector<float>* ref, const vector<float>& mask, int64_t N, int64_t V, int64_t ld,
                              const PpoParams& P) {
  vector<double> met(JALIGN_PPO_METRICS, 0.0);
  double msum = 0.0;
  for (int64_t i = 0; i < N; ++i) msum += mask[i];
  const double inv = msum > 0 ? 1.0 / msum : 0.0;
  met[JALIGN_PPO_TOKENS] = msum;
  if (dlogits) dlogits->assign(N * ld, 0.0);
  if (logp_out) logp_out->assign(N, 0.0);
  vector<double> lp;
  for (int64_t i = 0; i < N; ++i) {
    ref_log_softmax(lp, &logits[i * ld], V);
    double H = 0.0;
    for (int64_t j = 0; j < V; ++j) H -= std::exp(lp[j]) * lp[j];
    const double logp = lp[tok[i]];
    if (logp_out) (*logp_out)[i] = logp;
    const double A = adv[i];
    const double ratio = std::exp(logp - old[i]);
    const double rc = std::min(std::max(ratio, 1.0 - P.clip_eps), 1.0 + P.clip_eps);
    const double pg1 = -A * ratio, pg2 = -A * rc;
    double pg = std::max(pg1, pg2);
    double dpg = pg2 > pg1 ? 0.0 : -A * ratio;
    double clipped = pg2 > pg1 ? 1.0 : 0.0;
    if (P.dual_clip > 1.0f && A < 0 && -A * P.dual_clip < pg) {  // the dual clip counts as clipped too
      pg = -A * P.dual_clip;
      dpg = 0.0;
      clipped = 1.0;
    }
    double kl = 0.0, dkl = 0.0;
    if (ref) {
      const double r = (*ref)[i];
      if (P.kl_estimator == 3) {
        kl = std::exp(r - logp) - 1.0 - (r - logp);
        dkl = 1.0 - std::exp(r - logp);
      } else {
        kl = logp - r;
        dkl = 1.0;
      }
    }
    const double w = mask[i] * inv;
    met[JALIGN_PPO_LOSS] += w * (pg - P.entropy_coef * H + P.kl_coef * kl);
    met[JALIGN_PPO_PG_LOSS] += w * pg;
    met[JALIGN_PPO_ENTROPY] += w * H;
    met[JALIGN_PPO_KL_REF] += w * kl;
    met[JALIGN_PPO_CLIP_FRAC] += w * clipped;
    met[JALIGN_PPO_APPROX_KL] += w * 0.5 * (logp - old[i]) * (logp - old[i]);
    met[JALIGN_PPO_RATIO_MEAN] += w * ratio;
    if (dlogits && w != 0.0) {
      const double g = dpg + P.kl_coef * dkl;
      for (int64_t j = 0; j < V; ++j) {
        const double p = std::exp(lp[j]);
        (*dlogits)[i * ld + j] = w * (g * ((j == tok[i]) - p) + P.entropy_coef * p * (lp[j] + H));
      }
    }
  }
  return met;
}

static double ref_value_loss(vector<double>* dv, double* clipfrac, const vector<float>& v, const vector<float>& o,
                             const vector<float>& R, const vector<float>& mask, int64_t N, double clip) {
  double msum = 0.0;
  for (int64_t i = 0; i < N; ++i) msum += mask[i];
  const double inv = msum > 0 ? 1.0 / msum : 0.0;
  double loss = 0.0, cf = 0.0;
  if (dv) dv->assign(N, 0.0);
  for (int64_t i = 0; i < N; ++i) {
    const double d = (double)v[i] - o[i];
    const bool outside = d > clip || d < -clip;
    const double vc = outside ? o[i] + (d > 0 ? clip : -clip) : (double)v[i];  // = old + clamp(v - old)
    const double l1 = ((double)v[i] - R[i]) * ((double)v[i] - R[i]), l2 = (vc - R[i]) * (vc - R[i]);
    const bool c = outside && l2 > l1;
    loss += mask[i] * 0.5 * (c ? l2 : l1);
    cf += c ? mask[i] : 0.0;
    if (dv) (*dv)[i] = c ? 0.0 : mask[i] * inv * (v[i] - (double)R[i]);
  }
  if (clipfrac) *clipfrac = cf * inv;
  return loss * inv;
}

static double ref_ranking(vector<double>* dr, double* acc, const vector<double>& r, const vector<int32_t>& ord,
                          const vector<float>* margins, int64_t G, int64_t K) {
  const double P = (double)G * K * (K - 1) / 2;
  double loss = 0.0, a = 0.0;
  if (dr) dr->assign(G * K, 0.0);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t x = 0; x < K; ++x)
      for (int64_t y = x + 1; y < K; ++y) {
        const int32_t i = ord[g * K + x], j = ord[g * K + y];
        const double d = r[g * K + i] - r[g * K + j] - (margins ? (*margins)[g] : 0.0);
        loss += std::log1p(std::exp(-d));
        a += r[g * K + i] > r[g * K + j] ? 1.0 : 0.0;
        const double s = 1.0 / (1.0 + std::exp(d));  // sigmoid(-d)
        if (dr) {
          (*dr)[g * K + i] -= s / P;
          (*dr)[g * K + j] += s / P;
        }
      }
  if (acc) *acc = a / P;
  return loss / P;
}

// -------------------------------------------------------------------------------------------- tests

static void test_matmul() {
  struct Case {
    int64_t M, N, K;
  };
  const Case cases[] = {{131, 77, 259}, {1, 300, 64}, {257, 129, 33}, {5, 3, 1}};
  for (const Case& cs : cases)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int variant = 0; variant < 2; ++variant) {  // 0: plain, 1: bias + accumulate
          const int64_t M = cs.M, N = cs.N, K = cs.K;
          auto a = randn(M * K), b = randn(K * N), bias = randn(N), out0 = randn(M * N);
          const bool acc = variant == 1;
          const float* biasp = variant == 1 ? bias.data() : nullptr;
          vector<double> ref(to_d(out0));
          ref_matmul(ref, a, b, biasp, M, N, K, ta, tb, acc);
          Dev<float> da(a), db(b), dbias(bias), dout(out0);
          CK(jc::matmul(dout.p, da.p, db.p, biasp ? dbias.p : nullptr, M, N, K, ta, tb, acc, g_stream));
          char name[96];
          std::snprintf(name, sizeof name, "matmul M%ld N%ld K%ld ta%d tb%d %s", (long)M, (long)N, (long)K, ta, tb,
                        acc ? "bias+acc" : "plain");
          const double tol = 1e-5 * std::sqrt((double)K) * 4;
          check(name, dout.down(), ref, tol, 1e-5);
#ifdef JALIGN_HAVE_CPU_CORE
          vector<float> cpu(out0);
          jalign::cpu::matmul(cpu.data(), a.data(), b.data(), biasp, M, N, K, ta, tb, acc);
          check(std::string(name) + " vs cpu", dout.down(), cpu, tol, 1e-5);
#endif
        }
}

static void test_bias_backward() {
  const int64_t M = 301, N = 70;
  auto dout = randn(M * N), db0 = randn(N);
  vector<double> ref(to_d(db0));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) ref[j] += dout[i * N + j];
  Dev<float> d_dout(dout), d_db(db0);
  CK(jc::bias_backward(d_db.p, d_dout.p, M, N, g_stream));
  check("bias_backward (accumulates)", d_db.down(), ref, 1e-4, 1e-5);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> cpu(db0);
  jalign::cpu::bias_backward(cpu.data(), dout.data(), M, N);
  check("bias_backward vs cpu", d_db.down(), cpu, 1e-4, 1e-5);
#endif
}

static void test_embedding() {
  const int64_t B = 3, T = 17, C = 45, V = 50, maxT = 40, pos = 5;
  auto tokens = randi(B * T, 0, 9);  // few distinct tokens: many repeats in the backward scatter
  tokens[3] = V - 1;
  auto wte = randn(V * C), wpe = randn(maxT * C), dout = randn(B * T * C);
  auto dwte0 = randn(V * C), dwpe0 = randn(maxT * C);
  vector<double> out(B * T * C), dwte(to_d(dwte0)), dwpe(to_d(dwpe0));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t r = b * T + t;
        out[r * C + c] = (double)wte[tokens[r] * C + c] + wpe[(t + pos) * C + c];
        dwte[tokens[r] * C + c] += dout[r * C + c];
        dwpe[(t + pos) * C + c] += dout[r * C + c];
      }
  Dev<int32_t> dt(tokens);
  Dev<float> dwte_(wte), dwpe_(wpe), dout_(dout), dout_fwd(B * T * C), dgw(dwte0), dgp(dwpe0);
  CK(jc::embedding_forward(dout_fwd.p, dt.p, dwte_.p, dwpe_.p, B, T, C, pos, g_stream));
  check("embedding_forward", dout_fwd.down(), out, 1e-6, 1e-6);
  CK(jc::embedding_backward(dgw.p, dgp.p, dout_.p, dt.p, B, T, C, pos, g_stream));
  check("embedding_backward dwte", dgw.down(), dwte, 1e-5, 1e-5);
  check("embedding_backward dwpe", dgp.down(), dwpe, 1e-5, 1e-5);
  {  // many rows, few distinct tokens: the dwte sums are bit-identical from run to run
    const int64_t B2 = 4, T2 = 150, C2 = 64, V2 = 3000;
    auto tok2 = randi(B2 * T2, 0, 40);
    for (int64_t r = 0; r < B2 * T2; r += 3) tok2[r] = 2 * (int32_t)V2 / 3;  // one very frequent token
    auto g2 = randn(B2 * T2 * C2), w0 = randn(V2 * C2);
    vector<double> ref2(to_d(w0));
    for (int64_t r = 0; r < B2 * T2; ++r)
      for (int64_t c = 0; c < C2; ++c) ref2[tok2[r] * C2 + c] += g2[r * C2 + c];
    Dev<int32_t> dt2(tok2);
    Dev<float> dg2(g2), dw2(w0);
    CK(jc::embedding_backward(dw2.p, nullptr, dg2.p, dt2.p, B2, T2, C2, 0, g_stream));
    auto first = dw2.down();
    check("embedding_backward dwte, frequent token", first, ref2, 1e-5, 1e-5);
    dw2.up(w0);
    CK(jc::embedding_backward(dw2.p, nullptr, dg2.p, dt2.p, B2, T2, C2, 0, g_stream));
    check_true("embedding_backward dwte deterministic", dw2.down() == first);
  }
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> cout_(B * T * C), cw(dwte0), cp(dwpe0);
  jalign::cpu::embedding_forward(cout_.data(), tokens.data(), wte.data(), wpe.data(), B, T, C, pos);
  jalign::cpu::embedding_backward(cw.data(), cp.data(), dout.data(), tokens.data(), B, T, C, pos);
  check("embedding_forward vs cpu", dout_fwd.down(), cout_, 1e-6, 1e-6);
  check("embedding_backward dwte vs cpu", dgw.down(), cw, 1e-5, 1e-5);
  check("embedding_backward dwpe vs cpu", dgp.down(), cp, 1e-5, 1e-5);
#endif
}

static void test_layernorm() {
  // Finite differences of the reference on a small case first.
  {
    const int64_t N = 3, C = 7;
    auto xf = randn(N * C, 2.0f, 0.5f), wf = randn(C), bf = randn(C), Gf = randn(N * C);
    vector<double> x(to_d(xf)), w(to_d(wf)), b(to_d(bf)), G(to_d(Gf));
    vector<double> out(N * C), mean(N), rstd(N), dx(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
    ref_layernorm_fwd(out, mean, rstd, x, w, b, N, C, 1e-5);
    ref_layernorm_bwd(dx, dw, db, G, x, w, mean, rstd, N, C);
    auto loss = [&](const vector<double>& xx, const vector<double>& ww, const vector<double>& bb) {
      vector<double> o(N * C), m(N), r(N);
      ref_layernorm_fwd(o, m, r, xx, ww, bb, N, C, 1e-5);
      double s = 0.0;
      for (int64_t i = 0; i < N * C; ++i) s += o[i] * G[i];
      return s;
    };
    const double h = 1e-6;
    vector<double> fdx(N * C), fdw(C), fdb(C);
    for (int64_t i = 0; i < N * C; ++i) {
      auto xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      fdx[i] = (loss(xp, w, b) - loss(xm, w, b)) / (2 * h);
    }
    for (int64_t c = 0; c < C; ++c) {
      auto wp = w, wm = w, bp = b, bm = b;
      wp[c] += h;
      wm[c] -= h;
      bp[c] += h;
      bm[c] -= h;
      fdw[c] = (loss(x, wp, b) - loss(x, wm, b)) / (2 * h);
      fdb[c] = (loss(x, w, bp) - loss(x, w, bm)) / (2 * h);
    }
    check("layernorm reference dinp vs finite diff", dx, fdx, 1e-6, 1e-5);
    check("layernorm reference dweight vs finite diff", dw, fdw, 1e-6, 1e-5);
    check("layernorm reference dbias vs finite diff", db, fdb, 1e-6, 1e-5);
  }
  const int64_t N = 37, C = 771;
  auto xf = randn(N * C, 3.0f, 1.5f), wf = randn(C), bf = randn(C), Gf = randn(N * C);
  auto dx0 = randn(N * C), dw0 = randn(C), db0 = randn(C);
  vector<double> x(to_d(xf)), w(to_d(wf)), b(to_d(bf)), G(to_d(Gf));
  vector<double> out(N * C), mean(N), rstd(N), dx(to_d(dx0)), dw(to_d(dw0)), db(to_d(db0));
  ref_layernorm_fwd(out, mean, rstd, x, w, b, N, C, 1e-5);
  ref_layernorm_bwd(dx, dw, db, G, x, w, mean, rstd, N, C);
  Dev<float> d_x(xf), d_w(wf), d_b(bf), d_out(N * C), d_mean(N), d_rstd(N), d_G(Gf), d_dx(dx0), d_dw(dw0), d_db(db0);
  CK(jc::layernorm_forward(d_out.p, d_mean.p, d_rstd.p, d_x.p, d_w.p, d_b.p, N, C, 1e-5f, g_stream));
  check("layernorm_forward out", d_out.down(), out, 1e-4, 1e-4);
  check("layernorm_forward mean", d_mean.down(), mean, 1e-5, 1e-5);
  check("layernorm_forward rstd", d_rstd.down(), rstd, 1e-5, 1e-4);
  CK(jc::layernorm_backward(d_dx.p, d_dw.p, d_db.p, d_G.p, d_x.p, d_w.p, d_mean.p, d_rstd.p, N, C, g_stream));
  check("layernorm_backward dinp (accumulates)", d_dx.down(), dx, 1e-4, 1e-4);
  check("layernorm_backward dweight (accumulates)", d_dw.down(), dw, 1e-4, 1e-4);
  check("layernorm_backward dbias (accumulates)", d_db.down(), db, 1e-4, 1e-4);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> co(N * C), cm(N), cr(N), cdx(dx0), cdw(dw0), cdb(db0);
  jalign::cpu::layernorm_forward(co.data(), cm.data(), cr.data(), xf.data(), wf.data(), bf.data(), N, C, 1e-5f);
  jalign::cpu::layernorm_backward(cdx.data(), cdw.data(), cdb.data(), Gf.data(), xf.data(), wf.data(), cm.data(),
                                  cr.data(), N, C);
  check("layernorm_forward vs cpu", d_out.down(), co, 1e-4, 1e-4);
  check("layernorm_backward dinp vs cpu", d_dx.down(), cdx, 1e-4, 1e-4);
  check("layernorm_backward dweight vs cpu", d_dw.down(), cdw, 1e-4, 1e-4);
  check("layernorm_backward dbias vs cpu", d_db.down(), cdb, 1e-4, 1e-4);
#endif
}

static void test_gelu() {
  {  // reference gradient vs finite differences
    vector<double> fd, an;
    for (double x = -6.0; x <= 6.0; x += 0.37) {
      const double h = 1e-6;
      fd.push_back((ref_gelu(x + h) - ref_gelu(x - h)) / (2 * h));
      an.push_back(ref_gelu_grad(x));
    }
    check("gelu reference grad vs finite diff", an, fd, 1e-7, 1e-6);
  }
  const int64_t n = 10007;
  auto x = randu(n, -8.0f, 8.0f), g = randn(n), d0 = randn(n);
  x[0] = 0.0f;
  x[1] = 30.0f;
  x[2] = -30.0f;
  vector<double> out(n), dx(to_d(d0));
  for (int64_t i = 0; i < n; ++i) {
    out[i] = ref_gelu(x[i]);
    dx[i] += ref_gelu_grad(x[i]) * g[i];
  }
  Dev<float> dxv(x), dg(g), dout(n), ddx(d0);
  CK(jc::gelu_forward(dout.p, dxv.p, n, g_stream));
  CK(jc::gelu_backward(ddx.p, dxv.p, dg.p, n, g_stream));
  check("gelu_forward", dout.down(), out, 1e-6, 1e-5);
  check("gelu_backward (accumulates)", ddx.down(), dx, 1e-5, 1e-5);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> co(n), cd(d0);
  jalign::cpu::gelu_forward(co.data(), x.data(), n);
  jalign::cpu::gelu_backward(cd.data(), x.data(), g.data(), n);
  check("gelu_forward vs cpu", dout.down(), co, 1e-6, 1e-5);
  check("gelu_backward vs cpu", ddx.down(), cd, 1e-5, 1e-5);
#endif
}

// ---------------------------------------------------------------------------------- Llama-family ops

static void test_rmsnorm() {
  const int64_t N = 37, C = 771;
  const float eps = 1e-6f;
  auto xf = randn(N * C, 2.0f, 0.5f), wf = randn(C), Gf = randn(N * C), dx0 = randn(N * C), dw0 = randn(C);
  vector<double> out(N * C), rstd(N), dx(to_d(dx0)), dw(to_d(dw0));
  for (int64_t i = 0; i < N; ++i) {
    double ss = 0.0, dot = 0.0;
    for (int64_t c = 0; c < C; ++c) ss += (double)xf[i * C + c] * xf[i * C + c];
    const double r = 1.0 / std::sqrt(ss / C + eps);
    rstd[i] = r;
    for (int64_t c = 0; c < C; ++c) dot += (double)Gf[i * C + c] * wf[c] * xf[i * C + c] * r;
    for (int64_t c = 0; c < C; ++c) {
      const double xh = xf[i * C + c] * r;
      out[i * C + c] = xh * wf[c];
      dx[i * C + c] += r * ((double)Gf[i * C + c] * wf[c] - xh * dot / C);
      dw[c] += Gf[i * C + c] * xh;
    }
  }
  Dev<float> d_x(xf), d_w(wf), d_out(N * C), d_rstd(N), d_G(Gf), d_dx(dx0), d_dw(dw0);
  CK(jc::rmsnorm_forward(d_out.p, d_rstd.p, d_x.p, d_w.p, N, C, eps, g_stream));
  check("rmsnorm_forward out", d_out.down(), out, 1e-5, 1e-5);
  check("rmsnorm_forward rstd", d_rstd.down(), rstd, 0, 1e-6);
  CK(jc::rmsnorm_backward(d_dx.p, d_dw.p, d_G.p, d_x.p, d_w.p, d_rstd.p, N, C, g_stream));
  check("rmsnorm_backward dinp (accumulates)", d_dx.down(), dx, 1e-5, 1e-4);
  check("rmsnorm_backward dweight (accumulates)", d_dw.down(), dw, 1e-4, 1e-4);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> co(N * C), cr(N), cdx(dx0), cdw(dw0);
  jalign::cpu::rmsnorm_forward(co.data(), cr.data(), xf.data(), wf.data(), N, C, eps);
  jalign::cpu::rmsnorm_backward(cdx.data(), cdw.data(), Gf.data(), xf.data(), wf.data(), cr.data(), N, C);
  check("rmsnorm_forward vs cpu", d_out.down(), co, 1e-5, 1e-5);
  check("rmsnorm_backward dinp vs cpu", d_dx.down(), cdx, 1e-5, 1e-4);
  check("rmsnorm_backward dweight vs cpu", d_dw.down(), cdw, 1e-4, 1e-4);
#endif
}

// q (NH heads) and k (NKV heads) blocks of a fused (B,T,(NH+2*NKV)*HS) projection, positions left-padded and
// large. Reference: the fp32 angle (as HF forms it), cos/sin and the rotation in double; each output is a sum of
// two fp32 products with |cos|, |sin| <= 1, so the kernels may err by a few ulp of |x1| + |x2|, checked as
// 4 * 2^-24 * (|x1| + |x2|) per element.
static void test_rope() {
  const int64_t B = 3, T = 7, NH = 4, NKV = 2, HS = 18, half = HS / 2, ld = (NH + 2 * NKV) * HS;
  auto x = randn(B * T * ld);
  vector<int32_t> pos(B * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) pos[b * T + t] = t < b ? 1 : (int32_t)(t - b + 4000 * b);
  vector<float> inv(half);
  for (int64_t d = 0; d < half; ++d) inv[d] = (float)std::pow(500000.0, -2.0 * d / HS);
  Dev<float> dx(x), dinv(inv);
  Dev<int32_t> dpos(pos);
  CK(jc::rope(dx.p, dpos.p, dinv.p, ld, B, T, NH, HS, false, g_stream));
  CK(jc::rope(dx.p + NH * HS, dpos.p, dinv.p, ld, B, T, NKV, HS, false, g_stream));
  auto got = dx.down();
  int bad = 0, touched = 0;
  for (int64_t bt = 0; bt < B * T; ++bt)
    for (int64_t e = 0; e < ld; ++e) {
      const int64_t i = bt * ld + e;
      if (e >= (NH + NKV) * HS) {
        touched += std::memcmp(&got[i], &x[i], 4) != 0;
        continue;
      }
      const int64_t d = e % HS, dd = d % half, h0 = i - d;
      const double x1 = x[h0 + dd], x2 = x[h0 + dd + half];
      const float a = (float)pos[bt] * inv[dd];
      const double c = std::cos((double)a), sn = std::sin((double)a);
      const double ref = d < half ? x1 * c - x2 * sn : x2 * c + x1 * sn;
      bad += !(std::fabs(got[i] - ref) <= 4 * 0x1p-24 * (std::fabs(x1) + std::fabs(x2)));
    }
  check_true("rope forward q and k blocks vs reference", bad == 0, std::to_string(bad) + " elements off");
  check_true("rope leaves the v block untouched", touched == 0, std::to_string(touched) + " changed");
  CK(jc::rope(dx.p, dpos.p, dinv.p, ld, B, T, NH, HS, true, g_stream));
  CK(jc::rope(dx.p + NH * HS, dpos.p, dinv.p, ld, B, T, NKV, HS, true, g_stream));
  check("rope backward(forward(x)) == x", dx.down(), to_d(x), 1e-6, 1e-6);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> cx(x);
  jalign::cpu::rope(cx.data(), pos.data(), inv.data(), ld, B, T, NH, HS, false);
  jalign::cpu::rope(cx.data() + NH * HS, pos.data(), inv.data(), ld, B, T, NKV, HS, false);
  check("rope forward vs cpu", got, cx, 1e-6, 1e-6);
#endif
}

static void test_swiglu() {
  const int64_t N = 29, F = 133;
  auto gu = randn(N * 2 * F, 3.0f), g = randn(N * F), d0 = randn(N * 2 * F);
  gu[0] = 90.0f;
  gu[1] = -90.0f;
  gu[2] = 0.0f;
  vector<double> out(N * F), dgu(to_d(d0));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < F; ++j) {
      const double a = gu[i * 2 * F + j], u = gu[i * 2 * F + F + j], s = 1.0 / (1.0 + std::exp(-a));
      out[i * F + j] = a * s * u;
      dgu[i * 2 * F + j] += g[i * F + j] * u * (s + a * s * (1 - s));
      dgu[i * 2 * F + F + j] += g[i * F + j] * a * s;
    }
  Dev<float> d_gu(gu), d_g(g), d_out(N * F), d_dgu(d0);
  CK(jc::swiglu_forward(d_out.p, d_gu.p, N, F, g_stream));
  CK(jc::swiglu_backward(d_dgu.p, d_g.p, d_gu.p, N, F, g_stream));
  check("swiglu_forward", d_out.down(), out, 1e-6, 1e-5);
  check("swiglu_backward (accumulates)", d_dgu.down(), dgu, 1e-5, 1e-5);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> co(N * F), cd(d0);
  jalign::cpu::swiglu_forward(co.data(), gu.data(), N, F);
  jalign::cpu::swiglu_backward(cd.data(), g.data(), gu.data(), N, F);
  check("swiglu_forward vs cpu", d_out.down(), co, 1e-6, 1e-5);
  check("swiglu_backward vs cpu", d_dgu.down(), cd, 1e-5, 1e-5);
#endif
}

static void test_elementwise() {
  const int64_t n = 10003;
  for (int off = 0; off < 2; ++off) {  // off = 1: pointers not 16-byte aligned (scalar path)
    const int64_t m = n - off;
    auto a = randn(n), b = randn(n), y = randn(n);
    const float alpha = -0.37f;
    vector<double> add_ref(m), axpy_ref(m), scale_ref(m);
    for (int64_t i = 0; i < m; ++i) {
      add_ref[i] = (double)a[i + off] + b[i + off];
      axpy_ref[i] = (double)y[i + off] + (double)alpha * a[i + off];
      scale_ref[i] = (double)y[i + off] * alpha;
    }
    Dev<float> da(a), db(b), dy(y), dout(n);
    const std::string sfx = off ? " (misaligned)" : " (aligned)";
    CK(jc::add(dout.p + off, da.p + off, db.p + off, m, g_stream));
    auto o = dout.down();
    check("add" + sfx, vector<float>(o.begin() + off, o.end()), add_ref, 1e-6, 1e-6);
    CK(jc::add(da.p + off, da.p + off, db.p + off, m, g_stream));  // out aliases a
    o = da.down();
    check("add in place" + sfx, vector<float>(o.begin() + off, o.end()), add_ref, 1e-6, 1e-6);
    da.up(a);
    CK(jc::axpy(dy.p + off, da.p + off, alpha, m, g_stream));
    o = dy.down();
    check("axpy" + sfx, vector<float>(o.begin() + off, o.end()), axpy_ref, 1e-6, 1e-6);
    dy.up(y);
    CK(jc::scale(dy.p + off, alpha, m, g_stream));
    o = dy.down();
    check("scale" + sfx, vector<float>(o.begin() + off, o.end()), scale_ref, 1e-6, 1e-6);
#ifdef JALIGN_HAVE_CPU_CORE
    vector<float> cy(y);
    jalign::cpu::axpy(cy.data() + off, a.data() + off, alpha, m);
    dy.up(y);
    CK(jc::axpy(dy.p + off, da.p + off, alpha, m, g_stream));
    check("axpy vs cpu" + sfx, dy.down(), cy, 1e-6, 1e-6);
#endif
  }
  // sum of squares: one float written; several sizes (one block, many blocks, capped block count).
  for (int64_t m : {int64_t(1), int64_t(1000), int64_t(1000003), int64_t(9000001)}) {
    auto x = randn(m);
    double ref = 0.0;
    for (float v : x) ref += (double)v * v;
    Dev<float> dx(x), dout(1);
    CK(jc::sum_squares(dout.p, dx.p, m, g_stream));
    auto got = dout.down();
    check("sum_squares n=" + std::to_string(m), got, vector<double>{ref}, 1e-6, 1e-6);
    CK(jc::sum_squares(dout.p, dx.p, m, g_stream));
    check_true("sum_squares deterministic n=" + std::to_string(m), dout.down()[0] == got[0]);
#ifdef JALIGN_HAVE_CPU_CORE
    check("sum_squares vs cpu n=" + std::to_string(m), got, vector<double>{jalign::cpu::sum_squares(x.data(), m)},
          1e-6, 1e-6);
#endif
  }
}

static void test_gather_scatter() {
  const int64_t Nrows = 50, n = 77, C = 33;
  auto inp = randn(Nrows * C), dout = randn(n * C), d0 = randn(Nrows * C);
  auto idx = randi(n, 0, Nrows - 1);
  idx[0] = idx[1] = idx[2] = 7;  // repeats
  vector<double> g(n * C), s(to_d(d0));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < C; ++c) {
      g[i * C + c] = inp[idx[i] * C + c];
      s[idx[i] * C + c] += dout[i * C + c];
    }
  Dev<float> dinp(inp), ddout(dout), dg(n * C), ds(d0);
  Dev<int32_t> didx(idx);
  CK(jc::gather_rows(dg.p, dinp.p, didx.p, n, C, g_stream));
  CK(jc::scatter_add_rows(ds.p, ddout.p, didx.p, n, C, g_stream));
  check("gather_rows", dg.down(), g, 0.0, 0.0);
  auto first = ds.down();
  check("scatter_add_rows (accumulates)", first, s, 1e-5, 1e-5);
  ds.up(d0);
  CK(jc::scatter_add_rows(ds.p, ddout.p, didx.p, n, C, g_stream));
  check_true("scatter_add_rows deterministic", ds.down() == first);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> cg(n * C), cs(d0);
  jalign::cpu::gather_rows(cg.data(), inp.data(), idx.data(), n, C);
  jalign::cpu::scatter_add_rows(cs.data(), dout.data(), idx.data(), n, C);
  check("gather_rows vs cpu", dg.down(), cg, 0.0, 0.0);
  check("scatter_add_rows vs cpu", ds.down(), cs, 1e-5, 1e-5);
#endif
}

static void test_crossentropy() {
  const int64_t N = 29, V = 1001, ld = 1024;
  auto logits = randn(N * ld, 3.0f);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = V; j < ld; ++j) logits[i * ld + j] = 1e30f;  // padding must never be read into the loss
  auto targets = randi(N, 0, V - 1);
  targets[3] = -1;
  targets[10] = -100;
  targets[11] = V - 1;
  auto dloss = randu(N, 0.1f, 2.0f);
  vector<double> loss(N, 0.0), dl(N * ld, 0.0), lp;
  for (int64_t i = 0; i < N; ++i) {
    if (targets[i] < 0) continue;
    ref_log_softmax(lp, &logits[i * ld], V);
    loss[i] = -lp[targets[i]];
    for (int64_t j = 0; j < V; ++j) dl[i * ld + j] = (std::exp(lp[j]) - (j == targets[i])) * dloss[i];
  }
  {  // reference gradient vs finite differences of sum_i dloss_i * loss_i on row 0
    const int64_t i = 0;
    vector<double> fd, an;
    for (int64_t j = 0; j < V; j += 97) {
      auto f = [&](double delta) {
        vector<float> row(logits.begin() + i * ld, logits.begin() + i * ld + V);
        vector<double> xr(row.begin(), row.end());
        xr[j] += delta;
        double m = *std::max_element(xr.begin(), xr.end()), s = 0.0;
        for (double v : xr) s += std::exp(v - m);
        return dloss[i] * (m + std::log(s) - xr[targets[i]]);
      };
      fd.push_back((f(1e-6) - f(-1e-6)) / 2e-6);
      an.push_back(dl[i * ld + j]);
    }
    check("crossentropy reference grad vs finite diff", an, fd, 1e-6, 1e-5);
  }
  Dev<float> dlog(logits), dlos(N), dgrad(N * ld), ddl(dloss);
  Dev<int32_t> dt(targets);
  vector<float> junk(N * ld, 7.0f);
  dgrad.up(junk);  // dlogits is written, not accumulated
  CK(jc::crossentropy(dlos.p, dgrad.p, dlog.p, dt.p, ddl.p, N, V, ld, g_stream));
  check("crossentropy losses", dlos.down(), loss, 1e-5, 1e-5);
  check("crossentropy dlogits (padding zero)", dgrad.down(), dl, 1e-6, 1e-5);
  CK(jc::crossentropy(nullptr, dlog.p, dlog.p, dt.p, ddl.p, N, V, ld, g_stream));  // in place, no losses
  check("crossentropy dlogits in place", dlog.down(), dl, 1e-6, 1e-5);
  dlog.up(logits);
  CK(jc::crossentropy(dlos.p, nullptr, dlog.p, dt.p, nullptr, N, V, ld, g_stream));
  check("crossentropy losses only", dlos.down(), loss, 1e-5, 1e-5);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> cl(N), cg(N * ld);
  jalign::cpu::crossentropy(cl.data(), cg.data(), logits.data(), targets.data(), dloss.data(), N, V, ld);
  check("crossentropy losses vs cpu", dlos.down(), cl, 1e-5, 1e-5);
  CK(jc::crossentropy(dlos.p, dgrad.p, dlog.p, dt.p, ddl.p, N, V, ld, g_stream));
  check("crossentropy dlogits vs cpu", dgrad.down(), cg, 1e-6, 1e-5);
#endif
}

static void test_adamw() {
  const int64_t n = 5003;
  auto p = randn(n), g = randn(n), m = randn(n, 0.1f), v = randu(n, 0.0f, 0.5f);
  const float lr = 3e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, gs = 0.5f;
  const int64_t step = 7;
  vector<double> rp(n), rm(n), rv(n);
  const double bc1 = 1.0 - std::pow((double)b1, (double)step), bc2 = 1.0 - std::pow((double)b2, (double)step);
  for (int64_t i = 0; i < n; ++i) {
    const double gg = (double)g[i] * gs;
    rm[i] = b1 * (double)m[i] + (1.0 - b1) * gg;
    rv[i] = b2 * (double)v[i] + (1.0 - b2) * gg * gg;
    const double mh = rm[i] / bc1, vh = rv[i] / bc2;
    rp[i] = p[i] - lr * (mh / (std::sqrt(vh) + eps) + wd * (double)p[i]);
  }
  Dev<float> dp(p), dg(g), dm(m), dv(v);
  CK(jc::adamw(dp.p, dg.p, dm.p, dv.p, n, lr, b1, b2, eps, wd, step, gs, g_stream));
  check("adamw params", dp.down(), rp, 1e-6, 1e-5);
  check("adamw m", dm.down(), rm, 1e-7, 1e-5);
  check("adamw v", dv.down(), rv, 1e-7, 1e-5);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<float> cp(p), cm(m), cv(v);
  jalign::cpu::adamw(cp.data(), g.data(), cm.data(), cv.data(), n, lr, b1, b2, eps, wd, step, gs);
  check("adamw params vs cpu", dp.down(), cp, 1e-6, 1e-5);
#endif
}

static void test_bf16() {
  vector<float> x = randn(4099, 100.0f);
  auto bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  // Ties (lower half exactly 0x8000) with even and odd upper halves, just below/above ties, specials.
  for (uint32_t u : {0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0xbf808000u, 0xbf818000u, 0x7f7fffffu,
                     0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00001u, 0xffc12345u, 0x7f800001u, 0x00000001u,
                     0x80008000u, 0x00018000u, 0x00000000u, 0x80000000u})
    x.push_back(bits(u));
  const int64_t n = (int64_t)x.size();
  vector<uint16_t> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = ref_bf16(x[i]);
  Dev<float> dx(x), dback(n);
  Dev<uint16_t> dh(n);
  CK(jc::convert_f32_to_bf16(dh.p, dx.p, n, g_stream));
  auto h = dh.down();
  check("convert_f32_to_bf16 (bit exact, RNE, specials)", h, ref, 0.0, 0.0);
  CK(jc::convert_bf16_to_f32(dback.p, dh.p, n, g_stream));
  auto back = dback.down();
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &back[i], 4);
    ok = ok && u == ((uint32_t)h[i] << 16);
  }
  check_true("convert_bf16_to_f32 (bit exact)", ok);
#ifdef JALIGN_HAVE_CPU_CORE
  vector<uint16_t> ch(n);
  jalign::cpu::convert_f32_to_bf16(ch.data(), x.data(), n);
  check("convert_f32_to_bf16 vs cpu", h, ch, 0.0, 0.0);
#endif
}

// ---------------------------------------------------------------------------------------- sampling

struct SampleRef {
  vector<char> kept;     // reference kept set
  vector<double> prob;   // renormalised probability over the kept set (0 outside)
  int32_t argmax = 0;
  double margin = 0.0;   // relative distance of the cut to the nearest decision boundary (small: ambiguous row)
};

// Plain sort-based reference of the filters: temperature, top-k, top-p (on the top-k set), min-p.
static SampleRef ref_sample(const float* x, int64_t V, float temp, int32_t k, float p, float mp) {
  SampleRef r;
  r.kept.assign(V, 0);
  r.prob.assign(V, 0.0);
  r.argmax = 0;
  for (int64_t j = 1; j < V; ++j)
    if (x[j] > x[r.argmax]) r.argmax = (int32_t)j;
  r.margin = 1.0;
  if (!(temp > 0.0f)) {
    r.kept[r.argmax] = 1;
    r.prob[r.argmax] = 1.0;
    return r;
  }
  vector<int32_t> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return x[a] > x[b]; });
  const double m = x[idx[0]];
  vector<double> e(V);
  for (int64_t j = 0; j < V; ++j) e[j] = std::exp(((double)x[j] - m) / temp);
  int64_t keep = V;
  if (k > 0 && k < V) {
    keep = k;
    r.margin = std::min(r.margin, std::fabs((double)x[idx[k - 1]] - x[idx[k]]) * 1e3);  // exact ties only
  }
  if (p < 1.0f) {
    double tot = 0.0;
    for (int64_t q = 0; q < keep; ++q) tot += e[idx[q]];
    double run = 0.0;
    int64_t cut = keep;
    for (int64_t q = 0; q < keep; ++q) {
      run += e[idx[q]];
      if (run >= p * tot) {
        cut = q + 1;
        // ambiguous when the cumulative mass is within rounding of the target on either side
        r.margin = std::min(r.margin, std::fabs(run - p * tot) / tot * 1e3);
        r.margin = std::min(r.margin, std::fabs(run - e[idx[q]] - p * tot) / tot * 1e3);
        break;
      }
    }
    keep = cut;
  }
  if (mp > 0.0f) {
    const double thr = m + temp * std::log((double)mp);
    int64_t cut = 0;
    while (cut < keep && x[idx[cut]] >= thr) ++cut;
    if (cut < 1) cut = 1;
    for (int64_t q = 0; q < keep; ++q) r.margin = std::min(r.margin, std::fabs((double)x[idx[q]] - thr) * 1e3);
    keep = cut;
  }
  double tot = 0.0;
  for (int64_t q = 0; q < keep; ++q) tot += e[idx[q]];
  for (int64_t q = 0; q < keep; ++q) {
    r.kept[idx[q]] = 1;
    r.prob[idx[q]] = e[idx[q]] / tot;
  }
  return r;
}

static void test_sampling() {
  const int64_t B = 96, V = 5003, ld = 5120;
  auto logits = randn(B * ld, 2.5f);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = V; j < ld; ++j) logits[b * ld + j] = 1e30f;  // padding must be ignored
    if (b % 7 == 3) logits[b * ld + (b * 37) % V] = 25.0f;       // a peaked row
  }
  logits[5 * ld + 17] = -INFINITY;  // masked-out tokens
  const int64_t empty_row = 13;     // every token masked out: id 0, log-probs -inf
  for (int64_t j = 0; j < V; ++j) logits[empty_row * ld + j] = -INFINITY;
  vector<float> temp(B), topp(B), minp(B);
  vector<int32_t> topk(B);
  vector<uint64_t> seeds(B);
  for (int64_t b = 0; b < B; ++b) {
    const int mode = (int)(b % 8);
    temp[b] = mode == 0 ? 0.0f : (b % 3 == 0 ? 0.7f : 1.3f);
    topk[b] = mode == 2 || mode == 6 ? (int32_t)(1 + (b * 13) % 200) : (mode == 7 ? (int32_t)(V + 5) : 0);
    topp[b] = mode == 3 || mode == 6 ? 0.5f + 0.05f * (float)(b % 9) : 1.0f;
    minp[b] = mode == 4 || mode == 6 ? 0.02f + 0.01f * (float)(b % 5) : 0.0f;
    if (b == 9) topk[b] = 1;    // top-k 1 == greedy
    if (b == 11) topp[b] = 0.0f;  // top-p 0 keeps the top token
    seeds[b] = 1000 + (uint64_t)b * 7919;
  }
  Dev<float> dlog(logits), dt(temp), dp(topp), dmp(minp), dls(B), dlr(B);
  Dev<int32_t> dk(topk), dids(B);
  Dev<uint64_t> ds(seeds);
  const uint64_t offset = 42;
  CK(jc::sample(dids.p, dls.p, dlr.p, dlog.p, B, V, ld, dt.p, dk.p, dp.p, dmp.p, ds.p, offset, g_stream));
  auto ids = dids.down();
  auto ls = dls.down();
  auto lr = dlr.down();
  int bad_kept = 0, bad_greedy = 0, ambiguous = 0;
  vector<double> got_ls, ref_ls, got_lr, ref_lr;
  vector<SampleRef> refs(B);
  check_true("sample row of -inf logits: id 0, log-probs -inf",
             ids[empty_row] == 0 && ls[empty_row] == -INFINITY && lr[empty_row] == -INFINITY);
  for (int64_t b = 0; b < B; ++b) {
    const float* x = &logits[b * ld];
    refs[b] = ref_sample(x, V, temp[b], topk[b], topp[b], minp[b]);
    if (b == empty_row) {
      refs[b].margin = 0.0;  // excluded from the comparisons below
      continue;
    }
    const SampleRef& r = refs[b];
    const int32_t id = ids[b];
    if (id < 0 || id >= V) {
      ++bad_kept;
      std::printf("  row %ld: id %d out of range\n", (long)b, id);
      continue;
    }
    if (!(temp[b] > 0.0f) && id != r.argmax) ++bad_greedy;
    if (!r.kept[id]) {
      if (r.margin < 1e-3) {
        ++ambiguous;
      } else {
        ++bad_kept;
        std::printf("  row %ld: id %d (logit %.5f) outside the reference kept set\n", (long)b, id, x[id]);
      }
      continue;
    }
    vector<double> lp;
    ref_log_softmax(lp, x, V);
    got_lr.push_back(lr[b]);
    ref_lr.push_back(lp[id]);
    if (r.margin >= 1e-3) {
      got_ls.push_back(ls[b]);
      ref_ls.push_back(temp[b] > 0.0f ? std::log(r.prob[id]) : 0.0);
    }
  }
  check_true("sample ids inside the reference kept set", bad_kept == 0,
             std::to_string(bad_kept) + " bad, " + std::to_string(ambiguous) + " ambiguous rows skipped");
  check_true("sample greedy == argmax", bad_greedy == 0, std::to_string(bad_greedy) + " mismatches");
  check("sample logp_raw", got_lr, ref_lr, 1e-4, 1e-5);
  check("sample logp_sampled", got_ls, ref_ls, 1e-4, 1e-4);
  // Same inputs, same stream position: same ids. Another offset: a different stream.
  CK(jc::sample(dids.p, nullptr, nullptr, dlog.p, B, V, ld, dt.p, dk.p, dp.p, dmp.p, ds.p, offset, g_stream));
  check_true("sample reproducible for equal (seed, offset)", dids.down() == ids);
  // Defaults (all parameter arrays NULL): temperature 1, no filters, seed 0.
  CK(jc::sample(dids.p, nullptr, dlr.p, dlog.p, B, V, ld, nullptr, nullptr, nullptr, nullptr, nullptr, 7, g_stream));
  {
    auto id2 = dids.down();
    bool ok = true;
    for (int64_t b = 0; b < B; ++b)
      ok = ok && id2[b] >= 0 && id2[b] < V && (b == empty_row || logits[b * ld + id2[b]] != -INFINITY);
    check_true("sample with default parameters", ok);
  }
#ifdef JALIGN_HAVE_CPU_SAMPLING
  {
    vector<int32_t> cids(B);
    vector<float> cls(B), clr(B);
    jalign::cpu::sample(cids.data(), cls.data(), clr.data(), logits.data(), B, V, ld, temp.data(), topk.data(),
                        topp.data(), minp.data(), seeds.data(), offset);
    int agree = 0, comparable = 0, cpu_outside = 0;
    for (int64_t b = 0; b < B; ++b) {
      if (refs[b].margin < 1e-3) continue;
      ++comparable;
      if (cids[b] == ids[b]) ++agree;
      if (cids[b] < 0 || cids[b] >= V || !refs[b].kept[cids[b]]) ++cpu_outside;
    }
    // Both backends draw u = rng_uniform(seed, offset, row, 0) and invert the CDF in vocabulary order; ids can
    // still differ where u falls within rounding of a CDF step, so the agreement is reported, not required.
    std::printf("INFO sample vs cpu: %d of %d unambiguous rows give the same id; %d cpu ids outside the kept set\n",
                agree, comparable, cpu_outside);
    check_true("sample cpu/cuda agreement >= 90% of unambiguous rows", agree * 10 >= comparable * 9);
  }
#endif
  // Statistics: one distribution, many rows (each row draws its own stream); frequencies vs probabilities.
  {
#ifdef JALIGN_CUDA_EMULATION
    const int64_t R = 300, Vs = 61, lds = 64;  // the CPU emulation of the kernels is far slower
#else
    const int64_t R = 40000, Vs = 61, lds = 64;
#endif
    auto row = randn(Vs, 1.5f);
    vector<float> many(R * lds, 0.0f);
    for (int64_t b = 0; b < R; ++b) std::copy(row.begin(), row.end(), many.begin() + b * lds);
    const float t = 0.9f, p = 0.85f, mp = 0.01f;
    const int32_t k = 20;
    SampleRef r = ref_sample(row.data(), Vs, t, k, p, mp);
    vector<float> vt(R, t), vp(R, p), vmp(R, mp);
    vector<int32_t> vk(R, k);
    vector<uint64_t> vs(R, 123456789ull);
    Dev<float> dm(many), dvt(vt), dvp(vp), dvmp(vmp);
    Dev<int32_t> dvk(vk), dout(R);
    Dev<uint64_t> dvs(vs);
    CK(jc::sample(dout.p, nullptr, nullptr, dm.p, R, Vs, lds, dvt.p, dvk.p, dvp.p, dvmp.p, dvs.p, 0, g_stream));
    auto out = dout.down();
    vector<double> freq(Vs, 0.0);
    int outside = 0;
    for (int32_t id : out) {
      if (id < 0 || id >= Vs || !r.kept[id]) {
        ++outside;
        continue;
      }
      freq[id] += 1.0 / R;
    }
    double worst = 0.0;
    bool ok = outside == 0;
    for (int64_t j = 0; j < Vs; ++j) {
      const double sd = std::sqrt(r.prob[j] * (1.0 - r.prob[j]) / R);
      const double z = std::fabs(freq[j] - r.prob[j]) / std::max(sd, 1e-12);
      if (r.prob[j] > 0.0) worst = std::max(worst, z);
      if (std::fabs(freq[j] - r.prob[j]) > 5.0 * sd + 1e-4) ok = false;
    }
    char buf[128];
    std::snprintf(buf, sizeof buf, "%d outside kept set, worst |z| = %.2f (limit 5)", outside, worst);
    check_true("sample frequencies match renormalised probs", ok, buf);
  }
}

// ------------------------------------------------------------------------------------------ losses

static void test_ppo() {
  const int64_t N = 23, V = 517, ld = 520;
  auto logits = randn(N * ld, 2.0f);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = V; j < ld; ++j) logits[i * ld + j] = 1e30f;
  auto tokens = randi(N, 0, V - 1);
  tokens[4] = V - 1;
  auto adv = randn(N);
  auto mask = vector<float>(N, 1.0f);
  mask[2] = mask[9] = mask[17] = 0.0f;
  mask[5] = 0.5f;
  vector<float> old(N), ref(N);
  {
    vector<double> lp;
    for (int64_t i = 0; i < N; ++i) {
      ref_log_softmax(lp, &logits[i * ld], V);
      old[i] = (float)lp[tokens[i]] + randn(1, 0.3f)[0];  // ratios spread across the clip range
      ref[i] = (float)lp[tokens[i]] + randn(1, 0.5f)[0];
    }
  }
  const PpoParams cases[] = {{0.2f, 0.0f, 0.01f, 0.05f, 1}, {0.2f, 3.0f, 0.0f, 0.1f, 3}, {0.1f, 1.5f, 0.02f, 0.0f, 1}};
  int ci = 0;
  for (const PpoParams& P : cases) {
    const bool with_ref = ci != 2;
    const std::string tag = " case" + std::to_string(ci++);
    vector<double> dl, lpo;
    auto met = ref_ppo(&dl, &lpo, logits, tokens, old, adv, with_ref ? &ref : nullptr, mask, N, V, ld, P);
    {  // reference gradient vs finite differences of the total loss, on a few logits
      vector<double> fd, an;
      for (int64_t i : {int64_t(0), int64_t(5), int64_t(12)})
        for (int64_t j : {int64_t(0), int64_t(tokens[i]), int64_t(V / 2), int64_t(V - 1)}) {
          auto lg = logits;
          const double h = 1e-3;  // logits are float: a larger step, the loss is smooth here
          lg[i * ld + j] = logits[i * ld + j] + (float)h;
          const double hp = (double)lg[i * ld + j] - logits[i * ld + j];
          const double lpv = ref_ppo(nullptr, nullptr, lg, tokens, old, adv, with_ref ? &ref : nullptr, mask, N, V,
                                     ld, P)[JALIGN_PPO_LOSS];
          lg[i * ld + j] = logits[i * ld + j] - (float)h;
          const double hm = logits[i * ld + j] - (double)lg[i * ld + j];
          const double lmv = ref_ppo(nullptr, nullptr, lg, tokens, old, adv, with_ref ? &ref : nullptr, mask, N, V,
                                     ld, P)[JALIGN_PPO_LOSS];
          fd.push_back((lpv - lmv) / (hp + hm));
          an.push_back(dl[i * ld + j]);
        }
      check("ppo reference grad vs finite diff" + tag, an, fd, 2e-6, 2e-3);
    }
    Dev<float> dlog(logits), dold(old), dadv(adv), dref(ref), dmask(mask), dmet(JALIGN_PPO_METRICS), dlp(N),
        dg(N * ld);
    Dev<int32_t> dtok(tokens);
    dg.up(vector<float>(N * ld, 5.0f));
    dmet.up(vector<float>(JALIGN_PPO_METRICS, 9.0f));  // the launcher zeroes the metrics first
    CK(jc::ppo_loss(dmet.p, dlp.p, dg.p, dlog.p, dtok.p, dold.p, dadv.p, with_ref ? dref.p : nullptr, dmask.p, N, V,
                    ld, P.clip_eps, P.dual_clip, P.entropy_coef, P.kl_coef, P.kl_estimator, g_stream));
    check("ppo metrics" + tag, dmet.down(), met, 2e-5, 1e-4);
    check("ppo logp" + tag, dlp.down(), lpo, 1e-5, 1e-5);
    check("ppo dlogits" + tag, dg.down(), dl, 1e-6, 1e-4);
    CK(jc::ppo_loss(dmet.p, nullptr, dlog.p, dlog.p, dtok.p, dold.p, dadv.p, with_ref ? dref.p : nullptr, dmask.p, N,
                    V, ld, P.clip_eps, P.dual_clip, P.entropy_coef, P.kl_coef, P.kl_estimator, g_stream));
    check("ppo dlogits in place" + tag, dlog.down(), dl, 1e-6, 1e-4);
    check("ppo metrics (in-place call)" + tag, dmet.down(), met, 2e-5, 1e-4);
#ifdef JALIGN_HAVE_CPU_LOSSES
    vector<float> cmet(JALIGN_PPO_METRICS), clp(N), cg(N * ld);
    jalign::cpu::ppo_loss(cmet.data(), clp.data(), cg.data(), logits.data(), tokens.data(), old.data(), adv.data(),
                          with_ref ? ref.data() : nullptr, mask.data(), N, V, ld, P.clip_eps, P.dual_clip,
                          P.entropy_coef, P.kl_coef, P.kl_estimator);
    check("ppo metrics vs cpu" + tag, dmet.down(), cmet, 2e-5, 1e-4);
    check("ppo dlogits vs cpu" + tag, dlog.down(), cg, 1e-6, 1e-4);
#endif
  }
}

static void test_value_loss() {
  const int64_t N = 1001;
  auto v = randn(N), o = randn(N), R = randn(N);
  auto mask = randu(N, 0.0f, 1.0f);
  for (int64_t i = 0; i < N; i += 5) mask[i] = 0.0f;
  const float clip = 0.2f;
  vector<double> dv;
  double cf = 0.0;
  const double loss = ref_value_loss(&dv, &cf, v, o, R, mask, N, clip);
  {  // finite differences of the reference
    vector<double> fd, an;
    for (int64_t i = 1; i < N; i += 50) {
      auto vp = v, vm = v;
      const float h = 1e-3f;
      vp[i] += h;
      vm[i] -= h;
      const double d = ((double)vp[i] - vm[i]);
      fd.push_back((ref_value_loss(nullptr, nullptr, vp, o, R, mask, N, clip) -
                    ref_value_loss(nullptr, nullptr, vm, o, R, mask, N, clip)) / d);
      an.push_back(dv[i]);
    }
    check("value_loss reference grad vs finite diff", an, fd, 1e-6, 1e-3);
  }
  Dev<float> dvv(v), dov(o), dR(R), dm(mask), dmet(JALIGN_VALUE_METRICS), dd(N);
  dd.up(vector<float>(N, 3.0f));
  CK(jc::value_loss(dmet.p, dd.p, dvv.p, dov.p, dR.p, dm.p, N, clip, g_stream));
  check("value_loss metrics", dmet.down(), vector<double>{loss, cf}, 1e-6, 1e-5);
  check("value_loss dvalues (written)", dd.down(), dv, 1e-7, 1e-5);
#ifdef JALIGN_HAVE_CPU_LOSSES
  vector<float> cm(JALIGN_VALUE_METRICS), cd(N);
  jalign::cpu::value_loss(cm.data(), cd.data(), v.data(), o.data(), R.data(), mask.data(), N, clip);
  check("value_loss metrics vs cpu", dmet.down(), cm, 1e-6, 1e-5);
  check("value_loss dvalues vs cpu", dd.down(), cd, 1e-7, 1e-5);
#endif
}

static void test_ranking_loss() {
  for (int64_t K : {int64_t(2), int64_t(5)}) {
    const int64_t G = 37;
    auto r = randn(G * K);
    auto margins = randu(G, 0.0f, 0.5f);
    vector<int32_t> ord(G * K);
    for (int64_t g = 0; g < G; ++g) {
      std::iota(ord.begin() + g * K, ord.begin() + (g + 1) * K, 0);
      std::shuffle(ord.begin() + g * K, ord.begin() + (g + 1) * K, g_rng);
    }
    for (int with_margin = 0; with_margin < 2; ++with_margin) {
      const vector<float>* mp = with_margin ? &margins : nullptr;
      const std::string tag = " K=" + std::to_string(K) + (with_margin ? " margins" : "");
      vector<double> dr;
      double acc = 0.0;
      const double loss = ref_ranking(&dr, &acc, to_d(r), ord, mp, G, K);
      {
        vector<double> fd, an;
        for (int64_t i = 0; i < G * K; i += 7) {
          auto rp = to_d(r), rm = to_d(r);
          rp[i] += 1e-6;
          rm[i] -= 1e-6;
          fd.push_back((ref_ranking(nullptr, nullptr, rp, ord, mp, G, K) -
                        ref_ranking(nullptr, nullptr, rm, ord, mp, G, K)) / 2e-6);
          an.push_back(dr[i]);
        }
        check("ranking reference grad vs finite diff" + tag, an, fd, 1e-7, 1e-5);
      }
      auto d0 = randn(G * K);
      vector<double> dref(to_d(d0));
      for (int64_t i = 0; i < G * K; ++i) dref[i] += dr[i];
      Dev<float> dr_(r), dm(margins), dl(1), da(1), dd(d0);
      Dev<int32_t> dord(ord);
      CK(jc::ranking_loss(dl.p, da.p, dd.p, dr_.p, dord.p, mp ? dm.p : nullptr, G, K, g_stream));
      check("ranking_loss loss" + tag, dl.down(), vector<double>{loss}, 1e-6, 1e-5);
      check("ranking_loss accuracy" + tag, da.down(), vector<double>{acc}, 1e-6, 1e-6);
      check("ranking_loss drewards (accumulates)" + tag, dd.down(), dref, 1e-7, 1e-5);
#ifdef JALIGN_HAVE_CPU_LOSSES
      float cl = 0.0f, ca = 0.0f;
      vector<float> cd(d0);
      jalign::cpu::ranking_loss(&cl, &ca, cd.data(), r.data(), ord.data(), mp ? margins.data() : nullptr, G, K);
      check("ranking_loss loss vs cpu" + tag, dl.down(), vector<float>{cl}, 1e-6, 1e-5);
      check("ranking_loss drewards vs cpu" + tag, dd.down(), cd, 1e-7, 1e-5);
#endif
    }
  }
}

// Model-sized shapes (GPT-2 small widths, a 50k and a 128k vocabulary): grid-stride loops, many elements per
// thread, every radix digit of the sampler in use.
static void test_model_sizes() {
  {  // matmul, two transpose combinations of a linear layer's forward and weight gradient
    const int64_t M = 512, N = 768, K = 768;
    for (int combo = 0; combo < 2; ++combo) {
      const bool ta = combo == 1, tb = combo == 0;
      auto a = randn(M * K), b = randn(K * N), bias = randn(N);
      vector<double> ref(M * N, 0.0);
      ref_matmul(ref, a, b, bias.data(), M, N, K, ta, tb, false);
      Dev<float> da(a), db(b), dbias(bias), dout(M * N);
      CK(jc::matmul(dout.p, da.p, db.p, dbias.p, M, N, K, ta, tb, false, g_stream));
      check("matmul 512x768x768 ta" + std::to_string(ta) + " tb" + std::to_string(tb), dout.down(), ref,
            4e-5 * std::sqrt((double)K), 1e-5);
    }
  }
  {  // layernorm over (4096, 768)
    const int64_t N = 4096, C = 768;
    auto xf = randn(N * C, 2.0f, 0.3f), wf = randn(C), bf = randn(C), Gf = randn(N * C);
    vector<double> x(to_d(xf)), w(to_d(wf)), b(to_d(bf)), G(to_d(Gf));
    vector<double> out(N * C), mean(N), rstd(N), dx(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
    ref_layernorm_fwd(out, mean, rstd, x, w, b, N, C, 1e-5);
    ref_layernorm_bwd(dx, dw, db, G, x, w, mean, rstd, N, C);
    Dev<float> d_x(xf), d_w(wf), d_b(bf), d_out(N * C), d_mean(N), d_rstd(N), d_G(Gf), d_dx(vector<float>(N * C, 0.0f)),
        d_dw(vector<float>(C, 0.0f)), d_db(vector<float>(C, 0.0f));
    CK(jc::layernorm_forward(d_out.p, d_mean.p, d_rstd.p, d_x.p, d_w.p, d_b.p, N, C, 1e-5f, g_stream));
    CK(jc::layernorm_backward(d_dx.p, d_dw.p, d_db.p, d_G.p, d_x.p, d_w.p, d_mean.p, d_rstd.p, N, C, g_stream));
    check("layernorm_forward 4096x768", d_out.down(), out, 1e-4, 1e-4);
    check("layernorm_backward dinp 4096x768", d_dx.down(), dx, 1e-4, 1e-4);
    check("layernorm_backward dweight 4096x768", d_dw.down(), dw, 2e-3, 1e-4);
    check("layernorm_backward dbias 4096x768", d_db.down(), db, 2e-3, 1e-4);
  }
  {  // sum of squares of 50M values (the block count is capped: many elements per thread)
    const int64_t n = 50000017;
    auto x = randu(n, -1.0f, 1.0f);
    double ref = 0.0;
    for (float v : x) ref += (double)v * v;
    Dev<float> dx(x), dout(1);
    CK(jc::sum_squares(dout.p, dx.p, n, g_stream));
    check("sum_squares n=50000017", dout.down(), vector<double>{ref}, 1e-6, 1e-6);
  }
  const int64_t V = 50257, ld = 50304;
  {  // cross-entropy over a GPT-2 vocabulary
    const int64_t N = 16;
    auto logits = randn(N * ld, 4.0f);
    auto targets = randi(N, 0, V - 1);
    targets[5] = -1;
    auto dloss = randu(N, 0.5f, 1.5f);
    vector<double> loss(N, 0.0), dl(N * ld, 0.0), lp;
    for (int64_t i = 0; i < N; ++i) {
      if (targets[i] < 0) continue;
      ref_log_softmax(lp, &logits[i * ld], V);
      loss[i] = -lp[targets[i]];
      for (int64_t j = 0; j < V; ++j) dl[i * ld + j] = (std::exp(lp[j]) - (j == targets[i])) * dloss[i];
    }
    Dev<float> dlog(logits), dlos(N), ddl(dloss);
    Dev<int32_t> dt(targets);
    CK(jc::crossentropy(dlos.p, dlog.p, dlog.p, dt.p, ddl.p, N, V, ld, g_stream));
    check("crossentropy losses V=50257", dlos.down(), loss, 2e-5, 1e-5);
    check("crossentropy dlogits in place V=50257", dlog.down(), dl, 1e-7, 1e-4);
  }
  {  // PPO loss over a GPT-2 vocabulary
    const int64_t N = 16;
    auto logits = randn(N * ld, 3.0f);
    auto tokens = randi(N, 0, V - 1);
    auto adv = randn(N);
    vector<float> mask(N, 1.0f), old(N), ref(N);
    mask[3] = 0.0f;
    vector<double> lp;
    for (int64_t i = 0; i < N; ++i) {
      ref_log_softmax(lp, &logits[i * ld], V);
      old[i] = (float)lp[tokens[i]] + randn(1, 0.3f)[0];
      ref[i] = (float)lp[tokens[i]] + randn(1, 0.3f)[0];
    }
    const PpoParams P{0.2f, 3.0f, 0.01f, 0.05f, 3};
    vector<double> dl, lpo;
    auto met = ref_ppo(&dl, &lpo, logits, tokens, old, adv, &ref, mask, N, V, ld, P);
    Dev<float> dlog(logits), dold(old), dadv(adv), dref(ref), dmask(mask), dmet(JALIGN_PPO_METRICS), dlp(N);
    Dev<int32_t> dtok(tokens);
    CK(jc::ppo_loss(dmet.p, dlp.p, dlog.p, dlog.p, dtok.p, dold.p, dadv.p, dref.p, dmask.p, N, V, ld, P.clip_eps,
                    P.dual_clip, P.entropy_coef, P.kl_coef, P.kl_estimator, g_stream));
    check("ppo metrics V=50257", dmet.down(), met, 1e-4, 1e-4);
    check("ppo logp V=50257", dlp.down(), lpo, 2e-5, 1e-5);
    check("ppo dlogits in place V=50257", dlog.down(), dl, 1e-8, 1e-3);
  }
  {  // sampling over a 128k vocabulary: greedy, top-k, top-p, min-p and all three
    const int64_t B = 20, Vb = 128256;
    auto logits = randn(B * Vb, 3.0f);
    vector<float> temp(B), topp(B, 1.0f), minp(B, 0.0f);
    vector<int32_t> topk(B, 0);
    vector<uint64_t> seeds(B);
    for (int64_t b = 0; b < B; ++b) {
      const int mode = (int)(b % 5);
      temp[b] = mode == 0 ? 0.0f : 0.8f;
      if (mode == 1 || mode == 4) topk[b] = 50;
      if (mode == 2 || mode == 4) topp[b] = 0.9f;
      if (mode == 3 || mode == 4) minp[b] = 0.05f;
      seeds[b] = 77 + (uint64_t)b;
    }
    Dev<float> dlog(logits), dt(temp), dp(topp), dmp(minp), dls(B), dlr(B);
    Dev<int32_t> dk(topk), dids(B);
    Dev<uint64_t> ds(seeds);
    CK(jc::sample(dids.p, dls.p, dlr.p, dlog.p, B, Vb, Vb, dt.p, dk.p, dp.p, dmp.p, ds.p, 3, g_stream));
    auto ids = dids.down();
    auto ls = dls.down();
    int bad = 0;
    vector<double> got, want;
    for (int64_t b = 0; b < B; ++b) {
      SampleRef r = ref_sample(&logits[b * Vb], Vb, temp[b], topk[b], topp[b], minp[b]);
      if (ids[b] < 0 || ids[b] >= Vb || (!r.kept[ids[b]] && r.margin >= 1e-3)) {
        ++bad;
        continue;
      }
      if (r.kept[ids[b]] && r.margin >= 1e-3) {
        got.push_back(ls[b]);
        want.push_back(temp[b] > 0.0f ? std::log(r.prob[ids[b]]) : 0.0);
      }
    }
    check_true("sample V=128256 ids inside the reference kept set", bad == 0, std::to_string(bad) + " bad");
    check("sample V=128256 logp_sampled", got, want, 2e-4, 1e-4);
  }
}

static void test_runtime() {
  void* s = nullptr;
  CK(jc::stream_create(&s));
  void* p = nullptr;
  CK(jc::malloc_device(&p, 1000));
  vector<float> h(250), back(250, 1.0f);
  std::iota(h.begin(), h.end(), 0.0f);
  CK(jc::memcpy_async(p, h.data(), 1000, JALIGN_MEMCPY_HOST_TO_DEVICE, s));
  CK(jc::memset_zero_async(p, 400, s));
  CK(jc::memcpy_async(back.data(), p, 1000, JALIGN_MEMCPY_DEVICE_TO_HOST, s));
  CK(jc::stream_synchronize(s));
  bool ok = true;
  for (int i = 0; i < 250; ++i) ok = ok && back[i] == (i < 100 ? 0.0f : (float)i);
  check_true("runtime malloc/memcpy/memset/stream", ok);
  check_true("runtime error_string", std::string(jc::error_string(0)).size() > 0 &&
                                         jc::memcpy_async(p, p, 4, 99, s) != 0);
  CK(jc::free_device(p));
  CK(jc::stream_destroy(s));
}

int main(int argc, char** argv) {
  const int devices = jc::device_count();
  std::printf("jalign CUDA op tests: %d CUDA device(s)\n", devices);
#if !defined(JALIGN_HAVE_CPU_CORE)
  std::printf("NOTE: CPU core kernels not built: core ops are compared with the double references only\n");
#endif
#if !defined(JALIGN_HAVE_CPU_SAMPLING)
  std::printf("NOTE: CPU sampler not built: sampling is compared with the double reference only\n");
#endif
#if !defined(JALIGN_HAVE_CPU_LOSSES)
  std::printf("NOTE: CPU losses not built: losses are compared with the double references only\n");
#endif
  if (devices <= 0) {
    std::printf("no CUDA device: nothing was run\n");
    return 2;
  }
  CK(jc::set_device(0));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device 0: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  void* s = nullptr;
  CK(jc::stream_create(&s));
  g_stream = (cudaStream_t)s;

  // Arguments, if any, name the tests to run (e.g. `test_cuda_ops rmsnorm rope swiglu`); none: all.
  struct Test {
    const char* name;
    void (*run)();
  };
  const Test tests[] = {
      {"runtime", test_runtime},
      {"matmul", test_matmul},
      {"bias_backward", test_bias_backward},
      {"embedding", test_embedding},
      {"layernorm", test_layernorm},
      {"gelu", test_gelu},
      {"rmsnorm", test_rmsnorm},
      {"rope", test_rope},
      {"swiglu", test_swiglu},
      {"elementwise", test_elementwise},
      {"gather_scatter", test_gather_scatter},
      {"crossentropy", test_crossentropy},
      {"adamw", test_adamw},
      {"bf16", test_bf16},
      {"sampling", test_sampling},
      {"ppo", test_ppo},
      {"value_loss", test_value_loss},
      {"ranking_loss", test_ranking_loss},
      {"model_sizes", test_model_sizes},
  };
  for (const Test& t : tests) {
    bool wanted = argc <= 1;
    for (int a = 1; a < argc; ++a) wanted = wanted || std::strcmp(argv[a], t.name) == 0;
    if (wanted) t.run();
  }

  CK(cudaGetLastError());
  CK(jc::stream_destroy(s));
  std::printf("%s: %d of %d checks failed\n", g_failures ? "FAILED" : "ALL PASSED", g_failures, g_checks);
  return g_failures ? 1 : 0;
}
