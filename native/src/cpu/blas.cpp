#include "cpu/blas.h"

#include <dlfcn.h>

#include <atomic>
#include <mutex>

namespace jalign {
namespace blas {

namespace {
// CBLAS enums (values fixed by the CBLAS standard).
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using sgemm_fn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                          int);
using set_threads_fn = void (*)(int);
using get_threads_fn = int (*)(void);

std::atomic<sgemm_fn> g_sgemm{nullptr};
set_threads_fn g_set_threads = nullptr;
get_threads_fn g_get_threads = nullptr;
std::mutex g_mu;
}  // namespace

bool load(const char* path, std::string* err) {
  std::lock_guard<std::mutex> lock(g_mu);
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    *err = std::string("cannot open BLAS library: ") + dlerror();
    return false;
  }
  auto f = reinterpret_cast<sgemm_fn>(dlsym(h, "cblas_sgemm"));
  if (!f) {
    *err = std::string("no cblas_sgemm in ") + path;
    return false;
  }
  g_set_threads = reinterpret_cast<set_threads_fn>(dlsym(h, "openblas_set_num_threads"));
  g_get_threads = reinterpret_cast<get_threads_fn>(dlsym(h, "openblas_get_num_threads"));
  g_sgemm.store(f);
  return true;
}

bool loaded() { return g_sgemm.load() != nullptr; }

bool set_threads(int n) {
  if (!g_set_threads) return false;
  g_set_threads(n);
  return true;
}

bool sgemm(bool trans_a, bool trans_b, long M, long N, long K, float alpha, const float* A, long lda, const float* B,
           long ldb, float beta, float* C, long ldc) {
  sgemm_fn f = g_sgemm.load();
  if (!f) return false;
  // jalign owns the threads (OpenMP splits the work); OpenBLAS runs single-threaded in each caller.
  if (g_get_threads && g_set_threads && g_get_threads() != 1) g_set_threads(1);
  f(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda, B,
    (int)ldb, beta, C, (int)ldc);
  return true;
}

}  // namespace blas
}  // namespace jalign
