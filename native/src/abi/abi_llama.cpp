// C ABI of the Llama-family ops (RMSNorm, RoPE, SwiGLU): argument checks, then the CPU kernel or the CUDA launcher.
#include <cmath>
#include <cstdint>

#include "abi/abi_common.h"
#include "cpu/cpu_kernels.h"

namespace {
// True when the float ranges [a, a+na) and [b, b+nb) share memory.
bool overlap(const float* a, int64_t na, const float* b, int64_t nb) {
  const uintptr_t a0 = (uintptr_t)a, a1 = a0 + (uintptr_t)na * sizeof(float);
  const uintptr_t b0 = (uintptr_t)b, b1 = b0 + (uintptr_t)nb * sizeof(float);
  return a0 < b1 && b0 < a1;
}

int check_rope(const char* fn, const float* x, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B,
               int64_t T, int64_t H, int64_t HS, const jalign_ctx* ctx) {
  JCHECK_CTX(fn, ctx);
  JCHECK(x && pos && inv_freq, "%s: x, pos and inv_freq must not be NULL", fn);
  JCHECK_POS(fn, B);
  JCHECK_POS(fn, T);
  JCHECK_POS(fn, H);
  JCHECK_POS(fn, HS);
  JCHECK(HS % 2 == 0, "%s: head size HS must be even, got %lld", fn, (long long)HS);
  int64_t e;
  JCHECK_PRODUCT(fn, e, H, HS);
  JCHECK(ld >= H * HS, "%s: ld (%lld) must be >= H*HS (%lld)", fn, (long long)ld, (long long)(H * HS));
  JCHECK_PRODUCT(fn, e, B, T, ld);
  (void)e;
  return JALIGN_OK;
}

int check_swiglu(const char* fn, const float* grad_or_out, const float* gu, int64_t N, int64_t F,
                 const jalign_ctx* ctx) {
  JCHECK_CTX(fn, ctx);
  JCHECK(grad_or_out && gu, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, F);
  int64_t e;
  JCHECK_PRODUCT(fn, e, N, F, 2);
  (void)e;
  return JALIGN_OK;
}
}  // namespace

#define JRETURN_IF(status) \
  do {                     \
    int _s = (status);     \
    if (_s) return _s;     \
  } while (0)

extern "C" {

int jalign_rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C,
                           float eps, jalign_ctx* ctx) {
  const char* fn = "jalign_rmsnorm_forward";
  JCHECK_CTX(fn, ctx);
  JCHECK(out && inp && weight, "%s: out, inp and weight must not be NULL", fn);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, C);
  JCHECK(eps > 0 && std::isfinite(eps), "%s: eps must be finite and > 0, got %g", fn, (double)eps);
  int64_t n;
  JCHECK_PRODUCT(fn, n, N, C);
  (void)n;
  JDISPATCH(fn, ctx, jalign::cuda::rmsnorm_forward(out, rstd, inp, weight, N, C, eps, ctx->stream),
            jalign::cpu::rmsnorm_forward(out, rstd, inp, weight, N, C, eps));
}

int jalign_rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                            const float* rstd, int64_t N, int64_t C, jalign_ctx* ctx) {
  const char* fn = "jalign_rmsnorm_backward";
  JCHECK_CTX(fn, ctx);
  JCHECK(dinp && dweight && dout && inp && weight && rstd, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, C);
  int64_t n;
  JCHECK_PRODUCT(fn, n, N, C);
  JCHECK(!overlap(dinp, n, dout, n) && !overlap(dinp, n, dweight, C), "%s: dinp must not overlap dout or dweight",
         fn);
  JDISPATCH(fn, ctx, jalign::cuda::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C, ctx->stream),
            jalign::cpu::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C));
}

int jalign_rope_forward(float* x, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T,
                        int64_t H, int64_t HS, jalign_ctx* ctx) {
  const char* fn = "jalign_rope_forward";
  JRETURN_IF(check_rope(fn, x, pos, inv_freq, ld, B, T, H, HS, ctx));
  JDISPATCH(fn, ctx, jalign::cuda::rope(x, pos, inv_freq, ld, B, T, H, HS, false, ctx->stream),
            jalign::cpu::rope(x, pos, inv_freq, ld, B, T, H, HS, false));
}

int jalign_rope_backward(float* dx, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T,
                         int64_t H, int64_t HS, jalign_ctx* ctx) {
  const char* fn = "jalign_rope_backward";
  JRETURN_IF(check_rope(fn, dx, pos, inv_freq, ld, B, T, H, HS, ctx));
  JDISPATCH(fn, ctx, jalign::cuda::rope(dx, pos, inv_freq, ld, B, T, H, HS, true, ctx->stream),
            jalign::cpu::rope(dx, pos, inv_freq, ld, B, T, H, HS, true));
}

int jalign_swiglu_forward(float* out, const float* gu, int64_t N, int64_t F, jalign_ctx* ctx) {
  const char* fn = "jalign_swiglu_forward";
  JRETURN_IF(check_swiglu(fn, out, gu, N, F, ctx));
  JCHECK(!overlap(out, N * F, gu, 2 * N * F), "%s: out must not overlap gu", fn);
  JDISPATCH(fn, ctx, jalign::cuda::swiglu_forward(out, gu, N, F, ctx->stream),
            jalign::cpu::swiglu_forward(out, gu, N, F));
}

int jalign_swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F, jalign_ctx* ctx) {
  const char* fn = "jalign_swiglu_backward";
  JRETURN_IF(check_swiglu(fn, dgu, gu, N, F, ctx));
  JCHECK_PTR(fn, dout);
  JCHECK(!overlap(dgu, 2 * N * F, gu, 2 * N * F) && !overlap(dgu, 2 * N * F, dout, N * F),
         "%s: dgu must not overlap gu or dout", fn);
  JDISPATCH(fn, ctx, jalign::cuda::swiglu_backward(dgu, dout, gu, N, F, ctx->stream),
            jalign::cpu::swiglu_backward(dgu, dout, gu, N, F));
}

}  // extern "C"
