// Library information, errors, contexts, memory and conversions.
#include <omp.h>
#include <cstdlib>
#include <cstring>
#include <string>

#include "abi/abi_common.h"
#include "cpu/blas.h"
#include "cpu/cpu_kernels.h"

namespace jalign {

static thread_local char g_last_error[1024] = {0};

int fail(int code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_last_error, sizeof(g_last_error), fmt, ap);
  va_end(ap);
  return code;
}

void clear_error() { g_last_error[0] = 0; }

bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  if (a < 0 || b < 0) return false;
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

}  // namespace jalign

using jalign::fail;

extern "C" {

const char* jalign_last_error(void) { return jalign::g_last_error; }

const char* jalign_version(void) { return "0.1.0"; }

const char* jalign_build_info(void) {
  static std::string info = [] {
    std::string s = "jalign 0.1.0; compiler g++ " __VERSION__;
    s += "; simd avx2+fma";
    s += __builtin_cpu_supports("avx512f") ? " (avx512f available at run time)" : " (no avx512f at run time)";
    s += "; openmp " + std::to_string(_OPENMP);
#ifdef JALIGN_WITH_CUDA
    s += "; cuda compiled in (sm_80, sm_90, compute_90 PTX)";
#else
    s += "; cuda not compiled in";
#endif
    return s;
  }();
  return info.c_str();
}

int jalign_cuda_compiled(void) {
#ifdef JALIGN_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

int jalign_cuda_device_count(void) {
#ifdef JALIGN_WITH_CUDA
  return jalign::cuda::device_count();
#else
  return 0;
#endif
}

int jalign_set_num_threads(int n) {
  static const int default_threads = omp_get_max_threads();
  omp_set_num_threads(n > 0 ? n : default_threads);
  return JALIGN_OK;
}

int jalign_get_num_threads(void) { return omp_get_max_threads(); }

int jalign_set_blas_library(const char* path) {
  if (path == nullptr) return fail(JALIGN_ERR_INVALID_ARG, "jalign_set_blas_library: path is NULL");
  std::string err;
  if (!jalign::blas::load(path, &err)) return fail(JALIGN_ERR_UNSUPPORTED, "jalign_set_blas_library: %s", err.c_str());
  return JALIGN_OK;
}

int jalign_blas_loaded(void) { return jalign::blas::loaded() ? 1 : 0; }

int jalign_blas_set_num_threads(int n) {
  if (n <= 0) return fail(JALIGN_ERR_INVALID_ARG, "jalign_blas_set_num_threads: n must be > 0, got %d", n);
  if (!jalign::blas::set_threads(n)) return fail(JALIGN_ERR_UNSUPPORTED, "jalign_blas_set_num_threads: no OpenBLAS loaded");
  return JALIGN_OK;
}

jalign_ctx* jalign_ctx_create(int device) {
  if (device < -1) {
    fail(JALIGN_ERR_INVALID_ARG, "jalign_ctx_create: device must be -1 (CPU) or a CUDA index >= 0, got %d", device);
    return nullptr;
  }
  if (device >= 0) {
#ifdef JALIGN_WITH_CUDA
    int count = jalign::cuda::device_count();
    if (device >= count) {
      fail(JALIGN_ERR_INVALID_ARG, "jalign_ctx_create: CUDA device %d requested but %d device(s) present", device,
           count);
      return nullptr;
    }
    int e = jalign::cuda::set_device(device);
    void* stream = nullptr;
    if (e == 0) e = jalign::cuda::stream_create(&stream);
    if (e != 0) {
      fail(JALIGN_ERR_CUDA, "jalign_ctx_create: CUDA error %d (%s)", e, jalign::cuda::error_string(e));
      return nullptr;
    }
    return new (std::nothrow) jalign_ctx{device, stream};
#else
    fail(JALIGN_ERR_UNSUPPORTED, "jalign_ctx_create: this jalign build has no CUDA kernels (device %d)", device);
    return nullptr;
#endif
  }
  jalign_ctx* ctx = new (std::nothrow) jalign_ctx{-1, nullptr};
  if (!ctx) fail(JALIGN_ERR_OUT_OF_MEMORY, "jalign_ctx_create: out of memory");
  return ctx;
}

void jalign_ctx_destroy(jalign_ctx* ctx) {
  if (!ctx) return;
#ifdef JALIGN_WITH_CUDA
  if (ctx->device >= 0 && ctx->stream) jalign::cuda::stream_destroy(ctx->stream);
#endif
  delete ctx;
}

int jalign_ctx_device(const jalign_ctx* ctx) { return ctx ? ctx->device : -2; }

void* jalign_ctx_stream(const jalign_ctx* ctx) { return ctx ? ctx->stream : nullptr; }

int jalign_ctx_synchronize(jalign_ctx* ctx) {
  JCHECK_CTX("jalign_ctx_synchronize", ctx);
#ifdef JALIGN_WITH_CUDA
  if (ctx->device >= 0) JCUDA("jalign_ctx_synchronize", jalign::cuda::stream_synchronize(ctx->stream));
#endif
  return JALIGN_OK;
}

void* jalign_alloc(size_t bytes, jalign_ctx* ctx) {
  if (!ctx) {
    fail(JALIGN_ERR_INVALID_ARG, "jalign_alloc: ctx is NULL");
    return nullptr;
  }
  if (bytes == 0 || bytes > (size_t(1) << 48)) {
    fail(JALIGN_ERR_INVALID_ARG, "jalign_alloc: bytes must be in [1, 2^48], got %zu", bytes);
    return nullptr;
  }
  if (ctx->device >= 0) {
#ifdef JALIGN_WITH_CUDA
    void* p = nullptr;
    int e = jalign::cuda::malloc_device(&p, bytes);
    if (e != 0) {
      fail(e == 2 ? JALIGN_ERR_OUT_OF_MEMORY : JALIGN_ERR_CUDA, "jalign_alloc: cudaMalloc of %zu bytes failed: %s",
           bytes, jalign::cuda::error_string(e));
      return nullptr;
    }
    return p;
#else
    fail(JALIGN_ERR_UNSUPPORTED, "jalign_alloc: this jalign build has no CUDA kernels");
    return nullptr;
#endif
  }
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail(JALIGN_ERR_OUT_OF_MEMORY, "jalign_alloc: could not allocate %zu bytes of host memory", bytes);
  return p;
}

void jalign_free(void* ptr, jalign_ctx* ctx) {
  if (!ptr || !ctx) return;
#ifdef JALIGN_WITH_CUDA
  if (ctx->device >= 0) {
    jalign::cuda::free_device(ptr);
    return;
  }
#endif
  std::free(ptr);
}

int jalign_memcpy(void* dst, const void* src, size_t bytes, int kind, jalign_ctx* ctx) {
  const char* fn = "jalign_memcpy";
  JCHECK_CTX(fn, ctx);
  JCHECK_PTR(fn, dst);
  JCHECK_PTR(fn, src);
  JCHECK(kind >= 1 && kind <= 3, "%s: kind must be 1..3, got %d", fn, kind);
  if (bytes == 0) return JALIGN_OK;
  JDISPATCH(fn, ctx, jalign::cuda::memcpy_async(dst, src, bytes, kind, ctx->stream), std::memmove(dst, src, bytes));
}

int jalign_memset_zero(void* dst, size_t bytes, jalign_ctx* ctx) {
  const char* fn = "jalign_memset_zero";
  JCHECK_CTX(fn, ctx);
  JCHECK_PTR(fn, dst);
  if (bytes == 0) return JALIGN_OK;
  JDISPATCH(fn, ctx, jalign::cuda::memset_zero_async(dst, bytes, ctx->stream), std::memset(dst, 0, bytes));
}

int jalign_convert_f32_to_bf16(uint16_t* out, const float* inp, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_convert_f32_to_bf16";
  JCHECK_CTX(fn, ctx);
  JCHECK_PTR(fn, out);
  JCHECK_PTR(fn, inp);
  JCHECK_POS(fn, n);
  JDISPATCH(fn, ctx, jalign::cuda::convert_f32_to_bf16(out, inp, n, ctx->stream),
            jalign::cpu::convert_f32_to_bf16(out, inp, n));
}

int jalign_convert_bf16_to_f32(float* out, const uint16_t* inp, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_convert_bf16_to_f32";
  JCHECK_CTX(fn, ctx);
  JCHECK_PTR(fn, out);
  JCHECK_PTR(fn, inp);
  JCHECK_POS(fn, n);
  JDISPATCH(fn, ctx, jalign::cuda::convert_bf16_to_f32(out, inp, n, ctx->stream),
            jalign::cpu::convert_bf16_to_f32(out, inp, n));
}

}  // extern "C"
