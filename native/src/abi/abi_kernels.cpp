// C ABI of the headline kernels: attention, sampling and the RL losses.
#include <cmath>
#include <vector>

#include "abi/abi_common.h"
#include "cpu/cpu_kernels.h"

using jalign::fail;

#define JRETURN_IF(status) \
  do {                     \
    int _s = (status);     \
    if (_s) return _s;     \
  } while (0)

namespace {

// Query / key-value head counts and the row stride: NH, NKV > 0, NH % NKV == 0, ld >= NH*HS, and for a fused
// projection (k = q + NH*HS, v = k + NKV*HS, element size esz) ld >= (NH + 2*NKV)*HS.
int check_heads(const char* fn, const void* q, const void* k, const void* v, size_t esz, int64_t ld, int64_t NH,
                int64_t NKV, int64_t HS) {
  JCHECK_POS(fn, NH);
  JCHECK_POS(fn, NKV);
  JCHECK_POS(fn, HS);
  JCHECK(NH <= (int64_t(1) << 24) && NKV <= NH, "%s: NKV (%lld) must be <= NH (%lld) <= 2^24", fn, (long long)NKV,
         (long long)NH);
  JCHECK(NH % NKV == 0, "%s: NH (%lld) must be a multiple of NKV (%lld)", fn, (long long)NH, (long long)NKV);
  int64_t c;
  JCHECK_PRODUCT(fn, c, NH + 2 * NKV, HS);
  JCHECK(ld >= NH * HS, "%s: ld (%lld) must be >= NH*HS (%lld)", fn, (long long)ld, (long long)(NH * HS));
  const uintptr_t qa = (uintptr_t)q, ka = (uintptr_t)k, va = (uintptr_t)v;
  if (q && k && v && ka == qa + (uintptr_t)(NH * HS) * esz && va == ka + (uintptr_t)(NKV * HS) * esz)
    JCHECK(ld >= c, "%s: ld (%lld) of the fused projection must be >= (NH + 2*NKV)*HS (%lld)", fn, (long long)ld,
           (long long)c);
  return JALIGN_OK;
}

int check_attention(const char* fn, const void* out, const void* q, const void* k, const void* v, size_t esz,
                    int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                    const int32_t* kv_end, const jalign_ctx* ctx) {
  JCHECK_CTX(fn, ctx);
  JCHECK(out && q && k && v, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, B);
  JCHECK_POS(fn, T);
  JCHECK_POS(fn, NH);
  JCHECK_POS(fn, HS);
  JCHECK(HS <= 256, "%s: head size %lld exceeds 256", fn, (long long)HS);
  JRETURN_IF(check_heads(fn, q, k, v, esz, ld, NH, NKV, HS));
  int64_t e;
  JCHECK_PRODUCT(fn, e, B, T, ld);
  (void)e;
  if (!jalign::on_cuda(ctx)) {
    for (int64_t b = 0; b < B; b++) {
      int64_t s = kv_start ? kv_start[b] : 0, en = kv_end ? kv_end[b] : T;
      JCHECK(s >= 0 && s <= en && en <= T, "%s: row %lld has kv range [%lld, %lld) outside [0, %lld]", fn,
             (long long)b, (long long)s, (long long)en, (long long)T);
    }
  }
  return JALIGN_OK;
}

// Elements spanned by a (B, T, C) view with leading dimension ld.
int64_t span(int64_t B, int64_t T, int64_t ld, int64_t C) { return (B * T - 1) * ld + C; }

std::vector<float> to_f32(const uint16_t* p, int64_t n) {
  std::vector<float> f((size_t)n);
  jalign::cpu::convert_bf16_to_f32(f.data(), p, n);
  return f;
}

}  // namespace

extern "C" {

int jalign_attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, int64_t ld,
                             int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                             const int32_t* kv_end, jalign_ctx* ctx) {
  const char* fn = "jalign_attention_forward";
  JRETURN_IF(check_attention(fn, out, q, k, v, sizeof(float), ld, B, T, NH, NKV, HS, kv_start, kv_end, ctx));
  JCHECK_PTR(fn, lse);
  JDISPATCH(fn, ctx,
            jalign::cuda::attention_forward(out, lse, q, k, v, ld, B, T, NH, NKV, HS, kv_start, kv_end, ctx->stream),
            jalign::cpu::attention_forward(out, lse, q, k, v, ld, B, T, NH, NKV, HS, kv_start, kv_end));
}

int jalign_attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                              const float* q, const float* k, const float* v, int64_t ld, int64_t B, int64_t T,
                              int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start, const int32_t* kv_end,
                              jalign_ctx* ctx) {
  const char* fn = "jalign_attention_backward";
  JRETURN_IF(check_attention(fn, out, q, k, v, sizeof(float), ld, B, T, NH, NKV, HS, kv_start, kv_end, ctx));
  JCHECK(dq && dk && dv && dout && lse, "%s: dq, dk, dv, dout and lse must not be NULL", fn);
  JDISPATCH(fn, ctx,
            jalign::cuda::attention_backward(dq, dk, dv, dout, out, lse, q, k, v, ld, B, T, NH, NKV, HS, kv_start,
                                             kv_end, ctx->stream),
            jalign::cpu::attention_backward(dq, dk, dv, dout, out, lse, q, k, v, ld, B, T, NH, NKV, HS, kv_start,
                                            kv_end));
}

int jalign_attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                                  int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                                  const int32_t* kv_start, const int32_t* kv_end, jalign_ctx* ctx) {
  const char* fn = "jalign_attention_forward_bf16";
  JRETURN_IF(check_attention(fn, out, q, k, v, sizeof(uint16_t), ld, B, T, NH, NKV, HS, kv_start, kv_end, ctx));
  JCHECK_PTR(fn, lse);
#ifdef JALIGN_WITH_CUDA
  if (jalign::on_cuda(ctx))
    JCUDA(fn, jalign::cuda::attention_forward_bf16(out, lse, q, k, v, ld, B, T, NH, NKV, HS, kv_start, kv_end,
                                                   ctx->stream));
#endif
  if (jalign::on_cuda(ctx)) return fail(JALIGN_ERR_UNSUPPORTED, "%s: this jalign build has no CUDA kernels", fn);
  JALIGN_GUARD_BEGIN
  const int64_t C = NH * HS, CK = NKV * HS, n = span(B, T, ld, C), nk = span(B, T, ld, CK);
  auto qf = to_f32(q, n), kf = to_f32(k, nk), vf = to_f32(v, nk);
  std::vector<float> of((size_t)(B * T * C));
  jalign::cpu::attention_forward(of.data(), lse, qf.data(), kf.data(), vf.data(), ld, B, T, NH, NKV, HS, kv_start,
                                 kv_end);
  jalign::cpu::convert_f32_to_bf16(out, of.data(), B * T * C);
  return JALIGN_OK;
  JALIGN_GUARD_END(fn)
}

int jalign_attention_backward_bf16(uint16_t* dq, uint16_t* dk, uint16_t* dv, const uint16_t* dout, const uint16_t* out,
                                   const float* lse, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                                   int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                                   const int32_t* kv_start, const int32_t* kv_end, jalign_ctx* ctx) {
  const char* fn = "jalign_attention_backward_bf16";
  JRETURN_IF(check_attention(fn, out, q, k, v, sizeof(uint16_t), ld, B, T, NH, NKV, HS, kv_start, kv_end, ctx));
  JCHECK(dq && dk && dv && dout && lse, "%s: dq, dk, dv, dout and lse must not be NULL", fn);
#ifdef JALIGN_WITH_CUDA
  if (jalign::on_cuda(ctx))
    JCUDA(fn, jalign::cuda::attention_backward_bf16(dq, dk, dv, dout, out, lse, q, k, v, ld, B, T, NH, NKV, HS,
                                                    kv_start, kv_end, ctx->stream));
#endif
  if (jalign::on_cuda(ctx)) return fail(JALIGN_ERR_UNSUPPORTED, "%s: this jalign build has no CUDA kernels", fn);
  JALIGN_GUARD_BEGIN
  const int64_t C = NH * HS, CK = NKV * HS, n = span(B, T, ld, C), nk = span(B, T, ld, CK), nc = B * T * C;
  auto qf = to_f32(q, n), kf = to_f32(k, nk), vf = to_f32(v, nk);
  auto dqf = to_f32(dq, n), dkf = to_f32(dk, nk), dvf = to_f32(dv, nk);
  auto of = to_f32(out, nc), dof = to_f32(dout, nc);
  jalign::cpu::attention_backward(dqf.data(), dkf.data(), dvf.data(), dof.data(), of.data(), lse, qf.data(), kf.data(),
                                  vf.data(), ld, B, T, NH, NKV, HS, kv_start, kv_end);
  // Write back only the head slices (a fused dqkv buffer interleaves q, k and v columns).
  for (int64_t r = 0; r < B * T; r++) {
    jalign::cpu::convert_f32_to_bf16(dq + r * ld, dqf.data() + r * ld, C);
    jalign::cpu::convert_f32_to_bf16(dk + r * ld, dkf.data() + r * ld, CK);
    jalign::cpu::convert_f32_to_bf16(dv + r * ld, dvf.data() + r * ld, CK);
  }
  return JALIGN_OK;
  JALIGN_GUARD_END(fn)
}

int jalign_kvcache_append(float* k_cache, float* v_cache, const float* k, const float* v, int64_t ld, int64_t B,
                          int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                          jalign_ctx* ctx) {
  const char* fn = "jalign_kvcache_append";
  JCHECK_CTX(fn, ctx);
  JCHECK(k_cache && v_cache && k && v, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, B);
  JCHECK_POS(fn, Tq);
  JCHECK_POS(fn, NH);
  JCHECK_POS(fn, HS);
  JCHECK_POS(fn, maxT);
  JRETURN_IF(check_heads(fn, nullptr, k, v, sizeof(float), ld, NH, NKV, HS));
  JCHECK(pos >= 0 && pos + Tq <= maxT, "%s: positions [%lld, %lld) exceed the cache length %lld", fn, (long long)pos,
         (long long)(pos + Tq), (long long)maxT);
  int64_t e;
  JCHECK_PRODUCT(fn, e, B, maxT, NKV, HS);
  JCHECK_PRODUCT(fn, e, B, Tq, ld);
  (void)e;
  JDISPATCH(fn, ctx,
            jalign::cuda::kvcache_append(k_cache, v_cache, k, v, ld, B, Tq, NH, NKV, HS, maxT, pos, ctx->stream),
            jalign::cpu::kvcache_append(k_cache, v_cache, k, v, ld, B, Tq, NH, NKV, HS, maxT, pos));
}

int jalign_attention_kvcache(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t ld,
                             int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                             const int32_t* kv_start, jalign_ctx* ctx) {
  const char* fn = "jalign_attention_kvcache";
  JCHECK_CTX(fn, ctx);
  JCHECK(out && q && k_cache && v_cache, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, B);
  JCHECK_POS(fn, Tq);
  JCHECK_POS(fn, NH);
  JCHECK_POS(fn, HS);
  JCHECK_POS(fn, maxT);
  JCHECK(HS <= 256, "%s: head size %lld exceeds 256", fn, (long long)HS);
  JRETURN_IF(check_heads(fn, nullptr, nullptr, nullptr, sizeof(float), ld, NH, NKV, HS));
  JCHECK(pos >= 0 && pos + Tq <= maxT, "%s: positions [%lld, %lld) exceed the cache length %lld", fn, (long long)pos,
         (long long)(pos + Tq), (long long)maxT);
  int64_t e;
  JCHECK_PRODUCT(fn, e, B, maxT, NH, HS);
  JCHECK_PRODUCT(fn, e, B, Tq, ld);
  (void)e;
  if (!jalign::on_cuda(ctx) && kv_start) {
    for (int64_t b = 0; b < B; b++)
      JCHECK(kv_start[b] >= 0 && kv_start[b] <= pos, "%s: kv_start[%lld] = %d outside [0, %lld]", fn, (long long)b,
             kv_start[b], (long long)pos);
  }
  JDISPATCH(fn, ctx,
            jalign::cuda::attention_kvcache(out, q, k_cache, v_cache, ld, B, Tq, NH, NKV, HS, maxT, pos, kv_start,
                                            ctx->stream),
            jalign::cpu::attention_kvcache(out, q, k_cache, v_cache, ld, B, Tq, NH, NKV, HS, maxT, pos, kv_start));
}

int jalign_sample(int32_t* ids, float* logp_sampled, float* logp_raw, const float* logits, int64_t B, int64_t V,
                  int64_t ld, const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
                  const uint64_t* seeds, uint64_t offset, jalign_ctx* ctx) {
  const char* fn = "jalign_sample";
  JCHECK_CTX(fn, ctx);
  JCHECK(ids && logits, "%s: ids and logits must not be NULL", fn);
  JCHECK_POS(fn, B);
  JCHECK_POS(fn, V);
  JCHECK(V <= 2147483647, "%s: V must be < 2^31", fn);
  JCHECK(ld >= V, "%s: ld (%lld) must be >= V (%lld)", fn, (long long)ld, (long long)V);
  int64_t e;
  JCHECK_PRODUCT(fn, e, B, ld);
  (void)e;
  if (!jalign::on_cuda(ctx)) {
    for (int64_t b = 0; b < B; b++) {
      JCHECK(!temperature || std::isfinite(temperature[b]), "%s: temperature[%lld] is not finite", fn, (long long)b);
      JCHECK(!top_k || top_k[b] >= 0, "%s: top_k[%lld] = %d must be >= 0", fn, (long long)b, top_k[b]);
      JCHECK(!top_p || (top_p[b] > 0 && top_p[b] <= 1), "%s: top_p[%lld] = %g must be in (0, 1]", fn, (long long)b,
             top_p ? (double)top_p[b] : 0.0);
      JCHECK(!min_p || (min_p[b] >= 0 && min_p[b] <= 1), "%s: min_p[%lld] = %g must be in [0, 1]", fn, (long long)b,
             min_p ? (double)min_p[b] : 0.0);
      const float* row = logits + b * ld;
      bool any_finite = false;
      for (int64_t j = 0; j < V; j++) {
        JCHECK(!std::isnan(row[j]) && row[j] != INFINITY, "%s: logits[%lld, %lld] is %g", fn, (long long)b,
               (long long)j, (double)row[j]);
        any_finite |= std::isfinite(row[j]);
      }
      JCHECK(any_finite, "%s: row %lld of logits has no finite value", fn, (long long)b);
    }
  }
  JDISPATCH(fn, ctx,
            jalign::cuda::sample(ids, logp_sampled, logp_raw, logits, B, V, ld, temperature, top_k, top_p, min_p,
                                 seeds, offset, ctx->stream),
            jalign::cpu::sample(ids, logp_sampled, logp_raw, logits, B, V, ld, temperature, top_k, top_p, min_p, seeds,
                                offset));
}

int jalign_ppo_loss(float* metrics, float* logp_out, float* dlogits, const float* logits, const int32_t* tokens,
                    const float* old_logp, const float* advantages, const float* ref_logp, const float* mask,
                    int64_t N, int64_t V, int64_t ld, float clip_eps, float dual_clip, float entropy_coef,
                    float kl_coef, int kl_estimator, jalign_ctx* ctx) {
  const char* fn = "jalign_ppo_loss";
  JCHECK_CTX(fn, ctx);
  JCHECK(metrics && logits && tokens && old_logp && advantages && mask,
         "%s: metrics, logits, tokens, old_logp, advantages and mask must not be NULL", fn);
  JCHECK_POS(fn, N);
  JCHECK_POS(fn, V);
  JCHECK(ld >= V, "%s: ld (%lld) must be >= V (%lld)", fn, (long long)ld, (long long)V);
  int64_t e;
  JCHECK_PRODUCT(fn, e, N, ld);
  (void)e;
  JCHECK(clip_eps > 0 && clip_eps < 1, "%s: clip_eps must be in (0, 1), got %g", fn, (double)clip_eps);
  JCHECK(dual_clip == 0 || dual_clip > 1, "%s: dual_clip must be 0 (off) or > 1, got %g", fn, (double)dual_clip);
  JCHECK(std::isfinite(entropy_coef) && std::isfinite(kl_coef), "%s: coefficients must be finite", fn);
  JCHECK(kl_estimator == 1 || kl_estimator == 3, "%s: kl_estimator must be 1 or 3, got %d", fn, kl_estimator);
  if (!jalign::on_cuda(ctx)) {
    for (int64_t i = 0; i < N; i++)
      JCHECK(tokens[i] >= 0 && tokens[i] < V, "%s: tokens[%lld] = %d is outside [0, %lld)", fn, (long long)i,
             tokens[i], (long long)V);
  }
  JDISPATCH(fn, ctx,
            jalign::cuda::ppo_loss(metrics, logp_out, dlogits, logits, tokens, old_logp, advantages, ref_logp, mask, N,
                                   V, ld, clip_eps, dual_clip, entropy_coef, kl_coef, kl_estimator, ctx->stream),
            jalign::cpu::ppo_loss(metrics, logp_out, dlogits, logits, tokens, old_logp, advantages, ref_logp, mask, N,
                                  V, ld, clip_eps, dual_clip, entropy_coef, kl_coef, kl_estimator));
}

int jalign_value_loss(float* metrics, float* dvalues, const float* values, const float* old_values,
                      const float* returns, const float* mask, int64_t N, float clip, jalign_ctx* ctx) {
  const char* fn = "jalign_value_loss";
  JCHECK_CTX(fn, ctx);
  JCHECK(metrics && values && old_values && returns && mask, "%s: a tensor argument is NULL", fn);
  JCHECK_POS(fn, N);
  JCHECK(clip > 0 && std::isfinite(clip), "%s: clip must be finite and > 0, got %g", fn, (double)clip);
  JDISPATCH(fn, ctx, jalign::cuda::value_loss(metrics, dvalues, values, old_values, returns, mask, N, clip, ctx->stream),
            jalign::cpu::value_loss(metrics, dvalues, values, old_values, returns, mask, N, clip));
}

int jalign_ranking_loss(float* loss, float* accuracy, float* drewards, const float* rewards, const int32_t* order,
                        const float* margins, int64_t G, int64_t K, jalign_ctx* ctx) {
  const char* fn = "jalign_ranking_loss";
  JCHECK_CTX(fn, ctx);
  JCHECK(loss && accuracy && rewards && order, "%s: loss, accuracy, rewards and order must not be NULL", fn);
  JCHECK_POS(fn, G);
  JCHECK(K >= 2 && K <= 4096, "%s: K must be in [2, 4096], got %lld", fn, (long long)K);
  int64_t e;
  JCHECK_PRODUCT(fn, e, G, K);
  (void)e;
  if (!jalign::on_cuda(ctx)) {
    std::vector<char> seen((size_t)K);
    for (int64_t g = 0; g < G; g++) {
      std::fill(seen.begin(), seen.end(), 0);
      for (int64_t i = 0; i < K; i++) {
        int32_t o = order[g * K + i];
        JCHECK(o >= 0 && o < K && !seen[o], "%s: order of group %lld is not a permutation of 0..%lld", fn,
               (long long)g, (long long)(K - 1));
        seen[o] = 1;
      }
    }
  }
  JDISPATCH(fn, ctx, jalign::cuda::ranking_loss(loss, accuracy, drewards, rewards, order, margins, G, K, ctx->stream),
            jalign::cpu::ranking_loss(loss, accuracy, drewards, rewards, order, margins, G, K));
}

}  // extern "C"
