// GEMM for the CPU backend: out(M,N) = op(a)(M,K) . op(b)(K,N) [+ bias] [+ out].
// One threading runtime owns the cores: OpenMP splits the output into column or row panels and each
// thread calls a single-threaded OpenBLAS sgemm on its panel (no OpenBLAS pthreads spinning next to
// OpenMP workers). Without OpenBLAS a blocked, vectorisable fallback runs.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu/blas.h"
#include "cpu/cpu_kernels.h"
#include "cpu/work_split.h"

namespace jalign {
namespace cpu {

namespace {

// Fallback panel kernel: out rows [m0,m1) x cols [n0,n1) += op(a) op(b).
void gemm_panel_fallback(float* out, const float* a, const float* b, int64_t M, int64_t N, int64_t K, bool ta,
                         bool tb, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t KB = 256;
  for (int64_t k0 = 0; k0 < K; k0 += KB) {
    int64_t k1 = std::min(K, k0 + KB);
    for (int64_t i = m0; i < m1; i++) {
      float* o = out + i * N;
      if (!tb) {
        for (int64_t k = k0; k < k1; k++) {
          float av = ta ? a[k * M + i] : a[i * K + k];
          const float* brow = b + k * N;
#pragma omp simd
          for (int64_t j = n0; j < n1; j++) o[j] += av * brow[j];
        }
      } else {
        for (int64_t j = n0; j < n1; j++) {
          const float* brow = b + j * K;
          float s = 0.f;
          if (!ta) {
            const float* arow = a + i * K;
#pragma omp simd reduction(+ : s)
            for (int64_t k = k0; k < k1; k++) s += arow[k] * brow[k];
          } else {
            for (int64_t k = k0; k < k1; k++) s += a[k * M + i] * brow[k];
          }
          o[j] += s;
        }
      }
    }
  }
}

}  // namespace

void matmul(float* out, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
            bool trans_a, bool trans_b, bool accumulate) {
  // Initialise out with the bias (or zero) unless accumulating; then every panel adds op(a) op(b).
  if (!accumulate) {
    if (bias) {
      for (int64_t i = 0; i < M; i++) std::memcpy(out + i * N, bias, sizeof(float) * N);
    } else {
      std::memset(out, 0, sizeof(float) * M * N);
    }
  } else if (bias) {
    for (int64_t i = 0; i < M; i++) {
      float* o = out + i * N;
#pragma omp simd
      for (int64_t j = 0; j < N; j++) o[j] += bias[j];
    }
  }
  if (K == 0) return;
  // Panels by shape and work_slots(), not by thread count: OpenBLAS may round a panel of another size
  // differently (another micro-kernel).
  const double flops = 2.0 * M * N * K;
  const int panels = flops < 2.0e6 ? 1 : work_slots();
  const bool split_rows = M >= N;
  const int64_t extent = split_rows ? M : N;
  const int64_t align = split_rows ? 8 : 16;
  int64_t chunk = (extent + panels - 1) / panels;
  chunk = (chunk + align - 1) / align * align;
  int64_t nchunks = (extent + chunk - 1) / chunk;
  const int threads = (int)std::min<int64_t>(nchunks, omp_get_max_threads());
  const bool use_blas = blas::loaded();
#pragma omp parallel for num_threads(threads) schedule(static, 1) if (threads > 1)
  for (int64_t c = 0; c < nchunks; c++) {
    int64_t lo = c * chunk, hi = std::min(extent, lo + chunk);
    int64_t m0 = split_rows ? lo : 0, m1 = split_rows ? hi : M;
    int64_t n0 = split_rows ? 0 : lo, n1 = split_rows ? N : hi;
    if (use_blas) {
      const float* ap = trans_a ? a + m0 : a + m0 * K;
      const float* bp = trans_b ? b + n0 * K : b + n0;
      blas::sgemm(trans_a, trans_b, m1 - m0, n1 - n0, K, 1.0f, ap, trans_a ? M : K, bp, trans_b ? K : N, 1.0f,
                  out + m0 * N + n0, N);
    } else {
      gemm_panel_fallback(out, a, b, M, N, K, trans_a, trans_b, m0, m1, n0, n1);
    }
  }
}

void bias_backward(float* dbias, const float* dout, int64_t M, int64_t N) {
  // Column sums; threads split the columns so no two write the same dbias entry.
#pragma omp parallel for schedule(static) if (M * N > 65536)
  for (int64_t j0 = 0; j0 < N; j0 += 64) {
    int64_t j1 = std::min(N, j0 + 64);
    float acc[64] = {0};
    for (int64_t i = 0; i < M; i++) {
      const float* row = dout + i * N;
#pragma omp simd
      for (int64_t j = j0; j < j1; j++) acc[j - j0] += row[j];
    }
    for (int64_t j = j0; j < j1; j++) dbias[j] += acc[j - j0];
  }
}

}  // namespace cpu
}  // namespace jalign
