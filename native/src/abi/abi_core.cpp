// C ABI of the core training ops: argument checks, then dispatch to the CPU kernel or the CUDA launcher.
#include <cmath>

#include "abi/abi_common.h"
#include "cpu/cpu_kernels.h"

using jalign::fail;

namespace {
constexpr int64_t kIntMax = 2147483647;

// On a CPU context, int32 ids must lie in [0, limit) (negative allowed when allow_neg, meaning "ignore").
int check_ids_cpu(const char* fn, const char* what, const int32_t* ids, int64_t n, int64_t limit, bool allow_neg,
                  const jalign_ctx* ctx) {
  if (jalign::on_cuda(ctx)) return JALIGN_OK;  // device memory: the Java layer checks ids before upload
  for (int64_t i = 0; i < n; i++) {
    int32_t t = ids[i];
    if (t >= limit || (t < 0 && !allow_neg))
      return fail(JALIGN_ERR_INVALID_ARG, "%s: %s[%lld] = %d is outside [0, %lld)", fn, what, (long long)i, t,
                  (long long)limit);
  }
  return JALIGN_OK;
}
}  // namespace

#define JRETURN_IF(status) \
  do {                     \
    int _s = (status);     \
    if (_s) return _s;     \
  } while (0)

extern "C" {

int jalign_matmul(float* out, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
                  int trans_a, int trans_b, int accumulate, jalign_ctx* ctx) {
  const char* fn = "jalign_matmul";
  JCHECK_CTX(fn, ctx);
  JCHECK_PTR(fn, out);
  JCHECK_POS(fn, M);
  JCHECK_POS(fn, N);
  JCHECK_NONNEG(fn, K);
  JCHECK(M <= kIntMax && N <= kIntMax && K <= kIntMax, "%s: M, N, K must be < 2^31 (got %lld, %lld, %lld)", fn,
         (long long)M, (long long)N, (long long)K);
  JCHECK(K == 0 || (a && b), "%s: a and b must not be NULL", fn);
  int64_t n_out;
  JCHECK_PRODUCT(fn, n_out, M, N);
  (void)n_out;
  JCHECK(out != a && out != b, "%s: out must not alias a or b", fn);
  JDISPATCH(fn, ctx,
            jalign::cuda::matmul(out, a, b, bias, M, N, K, trans_a != 0, trans_b != 0, accumulate != 0, ctx->stream),
            jalign::cpu::matmul(out, a, b, bias, M, N, K, trans_a != 0, trans_b != 0, accumulate != 0));
}

int jalign_bias_backward(float* dbias, const float* dout, int64_t M, int64_t N, jalign_ctx* ctx) {
  const char* fn = "jalign_bias_backward";
  JCHECK_CTX(fn, ctx);
  JCHECK_PTR(fn, dbias);
  JCHECK_PTR(fn, dout);
  JCHECK_POS(fn, M);
  JCHECK_POS(fn, N);
  int64_t n;
  JCHECK_PRODUCT(fn, n, M, N);
  (void)n;
  JDISPATCH(fn, ctx, jalign::cuda::bias_backward(dbias, dout, M, N, ctx->stream),
            jalign::cpu::bias_backward(dbias, dout, M, N));
}

static int check_embedding(const char* fn, const void* out, const int32_t* tokens, const void* wte, const void* wpe,
                           int64_t B, int64_t T, int64_t C, int64_t V, int64_t maxT, int64_t pos_offset,
                           const jalign_ctx* ctx) {
  JCHECK_CTX(fn, ctx);
  JCHECK(out && tokens && wte && wpe, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, B);
  JCHECK_POS(fn, T);
  JCHECK_POS(fn, C);
  JCHECK_POS(fn, V);
  JCHECK_POS(fn, maxT);
  JCHECK(pos_offset >= 0 && pos_offset + T <= maxT, "%s: positions [%lld, %lld) exceed the %lld position rows", fn,
         (long long)pos_offset, (long long)(pos_offset + T), (long long)maxT);
  int64_t n;
  JCHECK_PRODUCT(fn, n, B, T, C);
  JCHECK_PRODUCT(fn, n, V, C);
  return check_ids_cpu(fn, "tokens", tokens, B * T, V, false, ctx);
}

int jalign_embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int64_t B,
                             int64_t T, int64_t C, int64_t V, int64_t maxT, int64_t pos_offset, jalign_ctx* ctx) {
  const char* fn = "jalign_embedding_forward";
  JRETURN_IF(check_embedding(fn, out, tokens, wte, wpe, B, T, C, V, maxT, pos_offset, ctx));
  JDISPATCH(fn, ctx, jalign::cuda::embedding_forward(out, tokens, wte, wpe, B, T, C, pos_offset, ctx->stream),
            jalign::cpu::embedding_forward(out, tokens, wte, wpe, B, T, C, pos_offset));
}

int jalign_embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int64_t B,
                              int64_t T, int64_t C, int64_t V, int64_t maxT, int64_t pos_offset, jalign_ctx* ctx) {
  const char* fn = "jalign_embedding_backward";
  JRETURN_IF(check_embedding(fn, dout, tokens, dwte, dwpe, B, T, C, V, maxT, pos_offset, ctx));
  JDISPATCH(fn, ctx, jalign::cuda::embedding_backward(dwte, dwpe, dout, tokens, B, T, C, pos_offset, ctx->stream),
            jalign::cpu::embedding_backward(dwte, dwpe, dout, tokens, B, T, C, pos_offset));
}

int jalign_layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                             const float* bias, int64_t N, int64_t C, float eps, jalign_ctx* ctx) {
  const char* fn = "jalign_layernorm_forward";
  JCHECK_CTX(fn, ctx);
  JCHECK(out && inp && weight && bias, "%s: out, inp, weight and bias must not be NULL", fn);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, C);
  JCHECK(eps > 0 && std::isfinite(eps), "%s: eps must be finite and > 0, got %g", fn, (double)eps);
  int64_t n;
  JCHECK_PRODUCT(fn, n, N, C);
  (void)n;
  JDISPATCH(fn, ctx, jalign::cuda::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps, ctx->stream),
            jalign::cpu::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps));
}

int jalign_layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                              const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                              jalign_ctx* ctx) {
  const char* fn = "jalign_layernorm_backward";
  JCHECK_CTX(fn, ctx);
  JCHECK(dinp && dweight && dbias && dout && inp && weight && mean && rstd, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, C);
  int64_t n;
  JCHECK_PRODUCT(fn, n, N, C);
  (void)n;
  JDISPATCH(fn, ctx,
            jalign::cuda::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, ctx->stream),
            jalign::cpu::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C));
}

#define UNARY_CHECKS(fn, p1, p2)  \
  JCHECK_CTX(fn, ctx);            \
  JCHECK(p1 && p2, "%s: a tensor argument is NULL", fn); \
  JCHECK_POS(fn, n);              \
  JCHECK(n <= (int64_t(1) << 46), "%s: n = %lld exceeds the 2^46 limit", fn, (long long)n)

int jalign_gelu_forward(float* out, const float* inp, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_gelu_forward";
  UNARY_CHECKS(fn, out, inp);
  JDISPATCH(fn, ctx, jalign::cuda::gelu_forward(out, inp, n, ctx->stream), jalign::cpu::gelu_forward(out, inp, n));
}

int jalign_gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_gelu_backward";
  UNARY_CHECKS(fn, dinp, inp);
  JCHECK_PTR(fn, dout);
  JDISPATCH(fn, ctx, jalign::cuda::gelu_backward(dinp, inp, dout, n, ctx->stream),
            jalign::cpu::gelu_backward(dinp, inp, dout, n));
}

int jalign_add(float* out, const float* a, const float* b, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_add";
  UNARY_CHECKS(fn, out, a);
  JCHECK_PTR(fn, b);
  JDISPATCH(fn, ctx, jalign::cuda::add(out, a, b, n, ctx->stream), jalign::cpu::add(out, a, b, n));
}

int jalign_axpy(float* y, const float* x, float alpha, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_axpy";
  UNARY_CHECKS(fn, y, x);
  JDISPATCH(fn, ctx, jalign::cuda::axpy(y, x, alpha, n, ctx->stream), jalign::cpu::axpy(y, x, alpha, n));
}

int jalign_scale(float* x, float alpha, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_scale";
  UNARY_CHECKS(fn, x, x);
  JDISPATCH(fn, ctx, jalign::cuda::scale(x, alpha, n, ctx->stream), jalign::cpu::scale(x, alpha, n));
}

int jalign_sum_squares(float* out, const float* x, int64_t n, jalign_ctx* ctx) {
  const char* fn = "jalign_sum_squares";
  UNARY_CHECKS(fn, out, x);
  JDISPATCH(fn, ctx, jalign::cuda::sum_squares(out, x, n, ctx->stream),
            out[0] = (float)jalign::cpu::sum_squares(x, n));
}

int jalign_gather_rows(float* out, const float* inp, const int32_t* idx, int64_t n, int64_t N, int64_t C,
                       jalign_ctx* ctx) {
  const char* fn = "jalign_gather_rows";
  JCHECK_CTX(fn, ctx);
  JCHECK(out && inp && idx, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, n);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, C);
  int64_t e;
  JCHECK_PRODUCT(fn, e, N, C);
  JCHECK_PRODUCT(fn, e, n, C);
  JRETURN_IF(check_ids_cpu(fn, "idx", idx, n, N, false, ctx));
  JDISPATCH(fn, ctx, jalign::cuda::gather_rows(out, inp, idx, n, C, ctx->stream),
            jalign::cpu::gather_rows(out, inp, idx, n, C));
}

int jalign_scatter_add_rows(float* dinp, const float* dout, const int32_t* idx, int64_t n, int64_t N, int64_t C,
                            jalign_ctx* ctx) {
  const char* fn = "jalign_scatter_add_rows";
  JCHECK_CTX(fn, ctx);
  JCHECK(dinp && dout && idx, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, n);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, C);
  int64_t e;
  JCHECK_PRODUCT(fn, e, N, C);
  JCHECK_PRODUCT(fn, e, n, C);
  JRETURN_IF(check_ids_cpu(fn, "idx", idx, n, N, false, ctx));
  JDISPATCH(fn, ctx, jalign::cuda::scatter_add_rows(dinp, dout, idx, n, C, ctx->stream),
            jalign::cpu::scatter_add_rows(dinp, dout, idx, n, C));
}

int jalign_crossentropy(float* losses, float* dlogits, const float* logits, const int32_t* targets, const float* dloss,
                        int64_t N, int64_t V, int64_t ld, jalign_ctx* ctx) {
  const char* fn = "jalign_crossentropy";
  JCHECK_CTX(fn, ctx);
  JCHECK(logits && targets, "%s: logits and targets must not be NULL", fn);
  JCHECK(losses || dlogits, "%s: at least one of losses and dlogits must be given", fn);
  JCHECK(!dlogits || dloss, "%s: dloss is required with dlogits", fn);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, V);
  JCHECK(ld >= V, "%s: ld (%lld) must be >= V (%lld)", fn, (long long)ld, (long long)V);
  int64_t e;
  JCHECK_PRODUCT(fn, e, N, ld);
  (void)e;
  JRETURN_IF(check_ids_cpu(fn, "targets", targets, N, V, true, ctx));
  JDISPATCH(fn, ctx, jalign::cuda::crossentropy(losses, dlogits, logits, targets, dloss, N, V, ld, ctx->stream),
            jalign::cpu::crossentropy(losses, dlogits, logits, targets, dloss, N, V, ld));
}

int jalign_adamw(float* params, const float* grads, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, int64_t step, float grad_scale, jalign_ctx* ctx) {
  const char* fn = "jalign_adamw";
  JCHECK_CTX(fn, ctx);
  JCHECK(params && grads && m && v, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, n);
  JCHECK(std::isfinite(lr) && lr >= 0, "%s: lr must be finite and >= 0, got %g", fn, (double)lr);
  JCHECK(beta1 >= 0 && beta1 < 1, "%s: beta1 must be in [0,1), got %g", fn, (double)beta1);
  JCHECK(beta2 >= 0 && beta2 < 1, "%s: beta2 must be in [0,1), got %g", fn, (double)beta2);
  JCHECK(eps > 0 && std::isfinite(eps), "%s: eps must be finite and > 0, got %g", fn, (double)eps);
  JCHECK(std::isfinite(weight_decay) && weight_decay >= 0, "%s: weight_decay must be >= 0, got %g", fn,
         (double)weight_decay);
  JCHECK(step >= 1, "%s: step is 1-based, got %lld", fn, (long long)step);
  JCHECK(std::isfinite(grad_scale), "%s: grad_scale must be finite, got %g", fn, (double)grad_scale);
  JDISPATCH(fn, ctx,
            jalign::cuda::adamw(params, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, step, grad_scale,
                                ctx->stream),
            jalign::cpu::adamw(params, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, step, grad_scale));
}

}  // extern "C"
