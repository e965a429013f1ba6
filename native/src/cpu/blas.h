// Run-time binding to an OpenBLAS shared library (the one the Java layer loaded from the
// org.bytedeco openblas preset). No link-time dependency: cblas_sgemm is looked up with dlsym.
#pragma once
#include <string>

namespace jalign {
namespace blas {

bool load(const char* path, std::string* err);
bool loaded();
// OpenBLAS's own thread count (false when no BLAS or no openblas_set_num_threads).
bool set_threads(int n);
// Row-major sgemm: C(M,N) = alpha * op(A) op(B) + beta * C, lda/ldb/ldc as in CBLAS. Single-threaded call
// (the caller owns the threads); returns false when no BLAS is loaded.
bool sgemm(bool trans_a, bool trans_b, long M, long N, long K, float alpha, const float* A, long lda,
           const float* B, long ldb, float beta, float* C, long ldc);

}  // namespace blas
}  // namespace jalign
