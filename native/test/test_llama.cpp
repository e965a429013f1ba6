// Native test of the Llama-family ops (RMSNorm, RoPE, SwiGLU) through the C ABI against double-precision
// references, plus their argument checks. Build and run: native/test/run-tests.sh (also under ASan/UBSan).
//
// Shape legend: B = batch, T = time, C = channels, N = rows, H = heads, HS = head size, F = intermediate width.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "jalign/jalign.h"

using std::vector;
static int failures = 0;
#define EXPECT(cond, ...)                                  \
  do {                                                     \
    if (!(cond)) {                                         \
      std::printf("  FAIL %s:%d: ", __FILE__, __LINE__);   \
      std::printf(__VA_ARGS__);                            \
      std::printf("\n");                                   \
      failures++;                                          \
    }                                                      \
  } while (0)

static std::mt19937 rng(2026);
static vector<float> randn(size_t n, float sd = 1.0f) {
  std::normal_distribution<float> d(0.0f, sd);
  vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Counts elements outside atol + rtol*|ref| and prints the first few.
static int count_off(const char* what, const vector<float>& got, const vector<double>& ref, double atol, double rtol) {
  int bad = 0;
  for (size_t i = 0; i < got.size(); i++) {
    if (!(std::fabs(got[i] - ref[i]) <= atol + rtol * std::fabs(ref[i]))) {
      if (bad++ < 3) std::printf("  %s[%zu] = %.9g, want %.9g\n", what, i, got[i], ref[i]);
    }
  }
  return bad;
}

static void test_rmsnorm(jalign_ctx* ctx, int64_t N, int64_t C) {
  auto x = randn(N * C, 2.0f), w = randn(C), g = randn(N * C), dx0 = randn(N * C), dw0 = randn(C);
  const float eps = 1e-6f;
  vector<float> out(N * C), rstd(N), dx(dx0), dw(dw0);
  EXPECT(jalign_rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, eps, ctx) == JALIGN_OK, "%s",
         jalign_last_error());
  EXPECT(jalign_rmsnorm_backward(dx.data(), dw.data(), g.data(), x.data(), w.data(), rstd.data(), N, C, ctx) ==
             JALIGN_OK, "%s", jalign_last_error());
  vector<double> ro(N * C), rr(N), rdx(dx0.begin(), dx0.end()), rdw(dw0.begin(), dw0.end());
  for (int64_t i = 0; i < N; i++) {
    double ss = 0;
    for (int64_t c = 0; c < C; c++) ss += (double)x[i * C + c] * x[i * C + c];
    const double r = 1.0 / std::sqrt(ss / C + eps);
    rr[i] = r;
    double dot = 0;
    for (int64_t c = 0; c < C; c++) dot += (double)g[i * C + c] * w[c] * x[i * C + c] * r;
    for (int64_t c = 0; c < C; c++) {
      const double xh = x[i * C + c] * r;
      ro[i * C + c] = xh * w[c];
      rdx[i * C + c] += r * (g[i * C + c] * (double)w[c] - xh * dot / C);
      rdw[c] += g[i * C + c] * xh;
    }
  }
  EXPECT(count_off("rmsnorm out", out, ro, 1e-5, 1e-5) == 0, "rmsnorm forward N=%lld C=%lld", (long long)N,
         (long long)C);
  EXPECT(count_off("rmsnorm rstd", rstd, rr, 0, 1e-6) == 0, "rmsnorm rstd");
  EXPECT(count_off("rmsnorm dinp", dx, rdx, 1e-5, 1e-4) == 0, "rmsnorm dinp");
  EXPECT(count_off("rmsnorm dweight", dw, rdw, 1e-4, 1e-4) == 0, "rmsnorm dweight");
  // The weight gradient has the same bits at 1, 2 and 3 threads.
  const int saved = omp_get_max_threads();
  vector<float> first;
  for (int threads = 1; threads <= 3; threads++) {
    omp_set_num_threads(threads);
    vector<float> dxt(N * C, 0.0f), dwt(C, 0.0f);
    jalign_rmsnorm_backward(dxt.data(), dwt.data(), g.data(), x.data(), w.data(), rstd.data(), N, C, ctx);
    dwt.insert(dwt.end(), dxt.begin(), dxt.end());
    if (threads == 1) first = dwt;
    EXPECT(std::memcmp(first.data(), dwt.data(), first.size() * 4) == 0, "rmsnorm backward differs at %d threads",
           threads);
  }
  omp_set_num_threads(saved);
}

static void test_rope(jalign_ctx* ctx) {
  const int64_t B = 2, T = 5, H = 3, HS = 10, half = HS / 2, ld = 4 * H * HS + 3, off = H * HS + 1;
  auto buf = randn(B * T * ld);
  vector<float> inv(half);
  for (int64_t d = 0; d < half; d++) inv[d] = (float)std::pow(10000.0, -2.0 * d / HS);
  vector<int32_t> pos(B * T);
  for (int64_t i = 0; i < B * T; i++) pos[i] = (int32_t)(i % T) * 997 - (i / T) * 2;  // large and negative too
  vector<float> y(buf);
  EXPECT(jalign_rope_forward(y.data() + off, pos.data(), inv.data(), ld, B, T, H, HS, ctx) == JALIGN_OK, "%s",
         jalign_last_error());
  // Reference: the fp32 angle (as HF forms it), cos/sin and the rotation in double. Each output is a sum of two
  // products of fp32 values with |cos|, |sin| <= 1, so its error is a few ulp of |x1| + |x2|.
  int bad = 0, outside = 0;
  for (int64_t bt = 0; bt < B * T; bt++)
    for (int64_t e = 0; e < ld; e++) {
      const int64_t k = e - off;
      const double got = y[bt * ld + e];
      if (k < 0 || k >= H * HS) {
        outside += got != buf[bt * ld + e];
        continue;
      }
      const int64_t h = k / HS, d = k % HS, dd = d % half;
      const float a = (float)pos[bt] * inv[dd];
      const double c = std::cos((double)a), s = std::sin((double)a);
      const double x1 = buf[bt * ld + off + h * HS + dd], x2 = buf[bt * ld + off + h * HS + dd + half];
      const double ref = d < half ? x1 * c - x2 * s : x2 * c + x1 * s;
      if (!(std::fabs(got - ref) <= 4 * 0x1p-24 * (std::fabs(x1) + std::fabs(x2)) + 1e-30)) bad++;
    }
  EXPECT(bad == 0, "rope forward: %d elements off the reference", bad);
  EXPECT(outside == 0, "rope touched %d elements outside its heads", outside);
  // The backward rotates back: forward then backward restores the input to a few ulp.
  EXPECT(jalign_rope_backward(y.data() + off, pos.data(), inv.data(), ld, B, T, H, HS, ctx) == JALIGN_OK, "%s",
         jalign_last_error());
  double worst = 0;
  for (size_t i = 0; i < y.size(); i++) worst = std::fmax(worst, std::fabs(y[i] - buf[i]));
  EXPECT(worst < 1e-5, "rope backward(forward(x)) differs from x by %g", worst);
}

static void test_swiglu(jalign_ctx* ctx, int64_t N, int64_t F) {
  auto gu = randn(N * 2 * F, 3.0f), g = randn(N * F), d0 = randn(N * 2 * F);
  gu[0] = 90.0f;
  gu[1] = -90.0f;
  gu[2] = 0.0f;
  vector<float> out(N * F), dgu(d0);
  EXPECT(jalign_swiglu_forward(out.data(), gu.data(), N, F, ctx) == JALIGN_OK, "%s", jalign_last_error());
  EXPECT(jalign_swiglu_backward(dgu.data(), g.data(), gu.data(), N, F, ctx) == JALIGN_OK, "%s", jalign_last_error());
  vector<double> ro(N * F), rd(d0.begin(), d0.end());
  for (int64_t i = 0; i < N; i++)
    for (int64_t j = 0; j < F; j++) {
      const double a = gu[i * 2 * F + j], u = gu[i * 2 * F + F + j], s = 1.0 / (1.0 + std::exp(-a));
      ro[i * F + j] = a * s * u;
      rd[i * 2 * F + j] += g[i * F + j] * u * (s + a * s * (1 - s));
      rd[i * 2 * F + F + j] += g[i * F + j] * a * s;
    }
  EXPECT(count_off("swiglu out", out, ro, 1e-6, 1e-5) == 0, "swiglu forward N=%lld F=%lld", (long long)N,
         (long long)F);
  EXPECT(count_off("swiglu dgu", dgu, rd, 1e-5, 1e-5) == 0, "swiglu backward N=%lld F=%lld", (long long)N,
         (long long)F);
  // Each element comes out bit-identical when computed alone (vector lanes and the scalar tail agree).
  int moved = 0;
  for (int64_t j = 0; j < F; j++) {
    float pair[2] = {gu[j], gu[F + j]}, one = 0, dpair[2] = {d0[j], d0[F + j]};
    jalign_swiglu_forward(&one, pair, 1, 1, ctx);
    jalign_swiglu_backward(dpair, &g[j], pair, 1, 1, ctx);
    if (std::memcmp(&one, &out[j], 4) || std::memcmp(&dpair[0], &dgu[j], 4) || std::memcmp(&dpair[1], &dgu[F + j], 4))
      moved++;
  }
  EXPECT(moved == 0, "swiglu: %d elements differ when computed alone", moved);
}

static void test_argument_checks(jalign_ctx* ctx) {
  float f[64] = {0};
  int32_t p[8] = {0};
  const int64_t huge = int64_t(1) << 40;
  EXPECT(jalign_rmsnorm_forward(nullptr, f, f, f, 2, 4, 1e-6f, ctx) == JALIGN_ERR_INVALID_ARG, "rmsnorm NULL out");
  EXPECT(jalign_rmsnorm_forward(f, f, f + 8, f + 16, 2, 4, 0.0f, ctx) == JALIGN_ERR_INVALID_ARG, "eps 0");
  EXPECT(jalign_rmsnorm_forward(f, f, f + 8, f + 16, 2, 4, NAN, ctx) == JALIGN_ERR_INVALID_ARG, "eps NaN");
  EXPECT(std::strstr(jalign_last_error(), "eps") != nullptr, "message names eps: %s", jalign_last_error());
  EXPECT(jalign_rmsnorm_forward(f, f, f + 8, f + 16, huge, huge, 1e-6f, ctx) == JALIGN_ERR_INVALID_ARG, "overflow");
  EXPECT(jalign_rmsnorm_backward(f, f + 40, f + 8, f + 16, f + 24, nullptr, 2, 4, ctx) == JALIGN_ERR_INVALID_ARG,
         "rmsnorm backward NULL rstd");
  EXPECT(jalign_rmsnorm_backward(f, f + 40, f, f + 16, f + 24, f + 32, 2, 4, ctx) == JALIGN_ERR_INVALID_ARG,
         "dinp aliasing dout");
  EXPECT(jalign_rope_forward(f, p, f + 32, 8, 1, 2, 1, 7, ctx) == JALIGN_ERR_INVALID_ARG, "odd HS");
  EXPECT(std::strstr(jalign_last_error(), "even") != nullptr, "message says even: %s", jalign_last_error());
  EXPECT(jalign_rope_forward(f, p, f + 32, 3, 1, 2, 1, 4, ctx) == JALIGN_ERR_INVALID_ARG, "ld < H*HS");
  EXPECT(jalign_rope_forward(f, nullptr, f + 32, 8, 1, 2, 1, 4, ctx) == JALIGN_ERR_INVALID_ARG, "NULL pos");
  EXPECT(jalign_rope_backward(f, p, f + 32, huge, huge, 2, 1, 4, ctx) == JALIGN_ERR_INVALID_ARG, "overflow");
  EXPECT(jalign_rope_backward(f, p, f + 32, 8, 1, 0, 1, 4, ctx) == JALIGN_ERR_INVALID_ARG, "T = 0");
  EXPECT(jalign_swiglu_forward(f, f, 2, 4, ctx) == JALIGN_ERR_INVALID_ARG, "out aliasing gu");
  EXPECT(jalign_swiglu_forward(f, f + 32, -1, 4, ctx) == JALIGN_ERR_INVALID_ARG, "N < 0");
  EXPECT(jalign_swiglu_forward(f, f + 32, huge, huge, ctx) == JALIGN_ERR_INVALID_ARG, "overflow");
  EXPECT(jalign_swiglu_backward(f, nullptr, f + 32, 2, 4, ctx) == JALIGN_ERR_INVALID_ARG, "NULL dout");
  EXPECT(jalign_swiglu_backward(f, f + 8, f + 32, 2, 4, ctx) == JALIGN_ERR_INVALID_ARG, "dgu aliasing dout");
  EXPECT(jalign_swiglu_backward(f, f + 48, f + 16, 2, 4, nullptr) == JALIGN_ERR_INVALID_ARG, "NULL ctx");
}

int main() {
  jalign_ctx* ctx = jalign_ctx_create(-1);
  EXPECT(ctx != nullptr, "cpu context");
  for (int64_t C : {1, 7, 64, 771}) test_rmsnorm(ctx, 37, C);
  test_rmsnorm(ctx, 300, 33);
  test_rope(ctx);
  for (int64_t F : {1, 7, 8, 45}) test_swiglu(ctx, 13, F);
  test_argument_checks(ctx);
  jalign_ctx_destroy(ctx);
  std::printf("test_llama: %s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
