// Native test of the C ABI's argument checks and a few core kernels (no Java needed).
// Build and run: native/test/run-tests.sh (also under ASan/UBSan with JALIGN_SANITIZE=1).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "jalign/jalign.h"

static int failures = 0;
#define EXPECT(cond, ...)                  \
  do {                                     \
    if (!(cond)) {                         \
      std::printf("  FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);            \
      std::printf("\n");                   \
      failures++;                          \
    }                                      \
  } while (0)

int main() {
  jalign_ctx* ctx = jalign_ctx_create(-1);
  EXPECT(ctx != nullptr, "cpu context");
  // Argument checks: NULLs, negative and overflowing sizes, bad ids, never a crash.
  float buf[16] = {0};
  int32_t ids[4] = {0, 1, 2, 99};
  EXPECT(jalign_gelu_forward(nullptr, buf, 4, ctx) == JALIGN_ERR_INVALID_ARG, "null out");
  EXPECT(std::strstr(jalign_last_error(), "NULL") != nullptr, "message names NULL: %s", jalign_last_error());
  EXPECT(jalign_gelu_forward(buf, buf, -1, ctx) == JALIGN_ERR_INVALID_ARG, "negative n");
  EXPECT(jalign_gelu_forward(buf, buf, 4, nullptr) == JALIGN_ERR_INVALID_ARG, "null ctx");
  EXPECT(jalign_matmul(buf, buf + 4, buf + 8, nullptr, int64_t(1) << 40, int64_t(1) << 40, 2, 0, 0, 0, ctx) ==
             JALIGN_ERR_INVALID_ARG, "huge M, N");
  EXPECT(jalign_matmul(buf, buf, buf, nullptr, 2, 2, 2, 0, 0, 0, ctx) == JALIGN_ERR_INVALID_ARG, "aliasing");
  EXPECT(jalign_embedding_forward(buf, ids, buf, buf, 1, 4, 1, 10, 8, 0, ctx) == JALIGN_ERR_INVALID_ARG,
         "token 99 outside vocab 10");
  EXPECT(jalign_crossentropy(buf, nullptr, buf, ids, nullptr, 4, 3, 2, ctx) == JALIGN_ERR_INVALID_ARG, "ld < V");
  EXPECT(jalign_alloc(0, ctx) == nullptr, "zero-byte alloc refused");
  EXPECT(jalign_alloc(size_t(1) << 62, ctx) == nullptr, "absurd alloc refused");
  EXPECT(jalign_ctx_create(-7) == nullptr, "bad device");
#ifndef JALIGN_WITH_CUDA
  EXPECT(jalign_ctx_create(0) == nullptr, "no cuda context without CUDA");
  EXPECT(jalign_cuda_device_count() == 0, "no devices without CUDA");
#endif
  // A small matmul with bias and accumulate against a hand-computed result (built-in GEMM: no BLAS loaded).
  float a[6] = {1, 2, 3, 4, 5, 6};        // (2,3)
  float b[6] = {1, 0, 0, 1, 1, 1};        // (3,2)
  float bias[2] = {10, 20};
  float out[4] = {1, 1, 1, 1};
  EXPECT(jalign_matmul(out, a, b, bias, 2, 2, 3, 0, 0, 1, ctx) == JALIGN_OK, "matmul: %s", jalign_last_error());
  const float expect[4] = {1 + 10 + 4, 1 + 20 + 5, 1 + 10 + 10, 1 + 20 + 11};
  for (int i = 0; i < 4; i++) EXPECT(std::fabs(out[i] - expect[i]) < 1e-5f, "matmul[%d] = %g, want %g", i, out[i], expect[i]);
  // GELU forward and backward against the double-precision tanh formula, over a grid that reaches saturation on
  // both sides; every element must also come out bit-identical when computed alone (vector lanes and the scalar
  // tail agree).
  {
    const int n = 4001;
    std::vector<float> x(n), y(n), dy(n), dx(n), one(1), done(1);
    for (int i = 0; i < n; i++) {
      x[i] = -20.0f + 40.0f * i / (n - 1);
      dy[i] = 1.0f - 0.5f * (i % 3);
      dx[i] = 0.25f;
    }
    EXPECT(jalign_gelu_forward(y.data(), x.data(), n, ctx) == JALIGN_OK, "gelu: %s", jalign_last_error());
    EXPECT(jalign_gelu_backward(dx.data(), x.data(), dy.data(), n, ctx) == JALIGN_OK, "gelu bwd: %s",
           jalign_last_error());
    const double k = std::sqrt(2.0 / M_PI);
    int bad = 0, moved = 0;
    for (int i = 0; i < n; i++) {
      const double X = x[i], u = k * (X + 0.044715 * X * X * X), t = std::tanh(u);
      const double ref = 0.5 * X * (1 + t);
      const double dref = 0.25 + dy[i] * (0.5 * (1 + t) + 0.5 * X * (1 - t * t) * k * (1 + 3 * 0.044715 * X * X));
      const bool off = std::fabs(y[i] - ref) > 1e-6 + 1e-6 * std::fabs(ref) ||
                       std::fabs(dx[i] - dref) > 2e-6 + 2e-6 * std::fabs(dref);
      if (off) {
        if (bad++ < 3) std::printf("  gelu x=%g: %g (want %g), grad %g (want %g)\n", X, y[i], ref, dx[i], dref);
      }
      done[0] = 0.25f;
      jalign_gelu_forward(one.data(), &x[i], 1, ctx);
      jalign_gelu_backward(done.data(), &x[i], &dy[i], 1, ctx);
      if (std::memcmp(&one[0], &y[i], 4) != 0 || std::memcmp(&done[0], &dx[i], 4) != 0) moved++;
    }
    EXPECT(bad == 0, "gelu: %d of %d elements off the double-precision reference", bad, n);
    EXPECT(moved == 0, "gelu: %d elements differ when computed alone", moved);
    float nan_in = NAN, nan_out = 0;
    jalign_gelu_forward(&nan_out, &nan_in, 1, ctx);
    EXPECT(std::isnan(nan_out), "gelu(NaN) = %g, want NaN", nan_out);
  }
  // Memory round trip.
  void* p = jalign_alloc(1000, ctx);
  EXPECT(p != nullptr && (reinterpret_cast<uintptr_t>(p) % 64) == 0, "64-byte aligned alloc");
  EXPECT(jalign_memset_zero(p, 1000, ctx) == JALIGN_OK, "memset");
  jalign_free(p, ctx);
  jalign_ctx_destroy(ctx);
  std::printf("test_core: %s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
