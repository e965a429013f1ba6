// Shared plumbing of the C ABI layer: the context struct, the thread-local error, argument checks.
// Every jalign_* entry point validates with JCHECK* before touching memory and never throws across
// the C boundary (JALIGN_GUARD turns a C++ exception into JALIGN_ERR_INTERNAL).
#pragma once
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>

#include "jalign/jalign.h"

struct jalign_ctx {
  int device;    // -1 = CPU, >= 0 = CUDA device index
  void* stream;  // cudaStream_t for CUDA contexts
};

namespace jalign {

// Records a formatted message as this thread's last error and returns code.
int fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void clear_error();

// Product of sizes with overflow detection; returns false when any is < 0 or the product overflows max.
bool checked_mul(int64_t a, int64_t b, int64_t* out);

inline bool on_cuda(const jalign_ctx* ctx) { return ctx->device >= 0; }

}  // namespace jalign

#define JCHECK(cond, ...)                                      \
  do {                                                         \
    if (!(cond)) return ::jalign::fail(JALIGN_ERR_INVALID_ARG, __VA_ARGS__); \
  } while (0)

#define JCHECK_CTX(fn, ctx) JCHECK((ctx) != nullptr, "%s: ctx is NULL", fn)
#define JCHECK_PTR(fn, p) JCHECK((p) != nullptr, "%s: %s is NULL", fn, #p)
#define JCHECK_POS(fn, n) JCHECK((n) > 0, "%s: %s must be > 0, got %lld", fn, #n, (long long)(n))
#define JCHECK_NONNEG(fn, n) JCHECK((n) >= 0, "%s: %s must be >= 0, got %lld", fn, #n, (long long)(n))

// Product of two or three sizes must not overflow; the element count is used for pointer arithmetic.
#define JCHECK_PRODUCT(fn, out, ...)                                                            \
  do {                                                                                          \
    int64_t _dims[] = {__VA_ARGS__};                                                            \
    int64_t _p = 1;                                                                             \
    for (int64_t _d : _dims) {                                                                  \
      if (!::jalign::checked_mul(_p, _d, &_p))                                                  \
        return ::jalign::fail(JALIGN_ERR_INVALID_ARG, "%s: size product overflows or is negative", fn); \
    }                                                                                           \
    if (_p > (int64_t(1) << 46))                                                                \
      return ::jalign::fail(JALIGN_ERR_INVALID_ARG, "%s: %lld elements exceed the 2^46 limit", fn, \
                            (long long)_p);                                                     \
    out = _p;                                                                                   \
    (void)(out);                                                                                \
  } while (0)

#define JALIGN_GUARD_BEGIN try {
#define JALIGN_GUARD_END(fn)                                                           \
  }                                                                                    \
  catch (const std::bad_alloc&) {                                                      \
    return ::jalign::fail(JALIGN_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);     \
  }                                                                                    \
  catch (const std::exception& e) {                                                    \
    return ::jalign::fail(JALIGN_ERR_INTERNAL, "%s: %s", fn, e.what());                \
  }                                                                                    \
  catch (...) {                                                                        \
    return ::jalign::fail(JALIGN_ERR_INTERNAL, "%s: unknown native error", fn);        \
  }

#ifdef JALIGN_WITH_CUDA
#include "jalign_cuda.h"
// Runs a CUDA launcher and maps its error code.
#define JCUDA(fn, call)                                                                      \
  do {                                                                                       \
    int _e = (call);                                                                         \
    if (_e != 0) return ::jalign::fail(JALIGN_ERR_CUDA, "%s: CUDA error %d (%s)", fn, _e,     \
                                       ::jalign::cuda::error_string(_e));                    \
    return JALIGN_OK;                                                                        \
  } while (0)
#define JDISPATCH(fn, ctx, cuda_call, cpu_stmt) \
  do {                                          \
    if (::jalign::on_cuda(ctx)) JCUDA(fn, cuda_call); \
    JALIGN_GUARD_BEGIN cpu_stmt; return JALIGN_OK; JALIGN_GUARD_END(fn) \
  } while (0)
#else
#define JDISPATCH(fn, ctx, cuda_call, cpu_stmt)                                                   \
  do {                                                                                            \
    if (::jalign::on_cuda(ctx))                                                                   \
      return ::jalign::fail(JALIGN_ERR_UNSUPPORTED, "%s: this jalign build has no CUDA kernels", fn); \
    JALIGN_GUARD_BEGIN cpu_stmt; return JALIGN_OK; JALIGN_GUARD_END(fn)                          \
  } while (0)
#endif
