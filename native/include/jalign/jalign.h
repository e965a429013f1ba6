/*
 * jalign C ABI — the one flat interface between the Java layer and the native kernels.
 *
 * Conventions (hold for every entry point):
 *  - extern "C", plain pointers and sizes; status-code returns (JALIGN_OK == 0).
 *  - On failure the thread-local message from jalign_last_error() says what was wrong.
 *  - Argument order: outputs, inputs, sizes, scalars, then the context last.
 *  - Every entry point checks its arguments (NULL pointers, non-positive or overflowing sizes,
 *    out-of-range ids) and returns JALIGN_ERR_INVALID_ARG instead of crashing.
 *  - All tensors are row-major and contiguous unless a leading dimension ("ld") is given.
 *  - Memory lives on the context's device: host memory for a CPU context (device == -1),
 *    device memory of CUDA device i for a CUDA context (device == i).
 *  - Backward entry points ACCUMULATE (+=) into every gradient output; callers zero first.
 *
 * Shape legend: B = batch, T = time, C = channels, NH = heads, HS = head size (C = NH*HS),
 *               V = vocab, Vp = padded vocab (row stride of logits), N = rows (B*T).
 */
#ifndef JALIGN_H
#define JALIGN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JALIGN_OK 0
#define JALIGN_ERR_INVALID_ARG 1
#define JALIGN_ERR_UNSUPPORTED 2
#define JALIGN_ERR_CUDA 3
#define JALIGN_ERR_OUT_OF_MEMORY 4
#define JALIGN_ERR_INTERNAL 5

#define JALIGN_MEMCPY_HOST_TO_DEVICE 1
#define JALIGN_MEMCPY_DEVICE_TO_HOST 2
#define JALIGN_MEMCPY_DEVICE_TO_DEVICE 3

/* Number of floats written by jalign_ppo_loss into its metrics output. */
#define JALIGN_PPO_METRICS 8
/* Indices into the PPO metrics output. */
#define JALIGN_PPO_LOSS 0        /* total loss: pg - entropy_coef*entropy + kl_coef*kl (masked mean) */
#define JALIGN_PPO_PG_LOSS 1     /* clipped surrogate loss (masked mean) */
#define JALIGN_PPO_ENTROPY 2     /* mean entropy of the full distribution */
#define JALIGN_PPO_KL_REF 3      /* mean KL to the reference (k1 or k3 estimator); 0 without ref */
#define JALIGN_PPO_CLIP_FRAC 4   /* fraction of tokens where the clipped branch was taken */
#define JALIGN_PPO_APPROX_KL 5   /* mean 0.5*(logp_new - logp_old)^2 */
#define JALIGN_PPO_RATIO_MEAN 6  /* mean exp(logp_new - logp_old) */
#define JALIGN_PPO_TOKENS 7      /* sum of the mask */

/* Number of floats written by jalign_value_loss into its metrics output. */
#define JALIGN_VALUE_METRICS 2   /* [0] loss, [1] clip fraction */

/* ---------------------------------------------------------------- library, errors, contexts */

/* Message of the last failed call on this thread ("" if none). Never NULL. */
const char* jalign_last_error(void);
/* Version string, e.g. "0.1.0". */
const char* jalign_version(void);
/* Human-readable build report: compiler, SIMD level, OpenMP, whether CUDA was compiled in, archs. */
const char* jalign_build_info(void);
/* 1 if the CUDA kernels were compiled into this library, else 0. */
int jalign_cuda_compiled(void);
/* Number of usable CUDA devices (0 when CUDA is not compiled in or no driver/GPU is present). Never fails. */
int jalign_cuda_device_count(void);
/* Threads used by CPU kernels (OpenMP); n <= 0 restores the default. */
int jalign_set_num_threads(int n);
int jalign_get_num_threads(void);
/* Hands the library the path of a loaded OpenBLAS shared library; GEMM uses its cblas_sgemm.
 * Without it (or if loading fails) jalign_matmul on the CPU uses a built-in blocked kernel. */
int jalign_set_blas_library(const char* path);
/* 1 when an OpenBLAS sgemm is in use. */
int jalign_blas_loaded(void);
/* Sets OpenBLAS's own thread count (for callers that use OpenBLAS directly, e.g. a baseline benchmark).
 * jalign_matmul itself always runs OpenBLAS single-threaded inside its own OpenMP panels. */
int jalign_blas_set_num_threads(int n);

typedef struct jalign_ctx jalign_ctx;
/* device == -1: CPU; device >= 0: CUDA device index (creates a stream). NULL on failure. */
jalign_ctx* jalign_ctx_create(int device);
void jalign_ctx_destroy(jalign_ctx* ctx);
int jalign_ctx_device(const jalign_ctx* ctx);
/* The cudaStream_t of a CUDA context (NULL for a CPU context). */
void* jalign_ctx_stream(const jalign_ctx* ctx);
/* Waits for all work queued on the context. */
int jalign_ctx_synchronize(jalign_ctx* ctx);

/* ---------------------------------------------------------------- memory */

/* 64-byte aligned allocation on the context's device. NULL on failure (message set). */
void* jalign_alloc(size_t bytes, jalign_ctx* ctx);
void jalign_free(void* ptr, jalign_ctx* ctx);
/* kind: JALIGN_MEMCPY_*; for a CPU context every kind is a host memcpy. */
int jalign_memcpy(void* dst, const void* src, size_t bytes, int kind, jalign_ctx* ctx);
int jalign_memset_zero(void* dst, size_t bytes, jalign_ctx* ctx);
/* Element conversions (n elements). bf16 is stored as uint16_t, rounded to nearest even. */
int jalign_convert_f32_to_bf16(uint16_t* out, const float* inp, int64_t n, jalign_ctx* ctx);
int jalign_convert_bf16_to_f32(float* out, const uint16_t* inp, int64_t n, jalign_ctx* ctx);

/* ---------------------------------------------------------------- core training ops (fp32) */

/* out(M,N) = op(a)(M,K) . op(b)(K,N) [+ bias(N)] [+ out if accumulate].
 * a is (M,K) or, with trans_a, (K,M); b is (K,N) or, with trans_b, (N,K). bias may be NULL. */
int jalign_matmul(float* out, const float* a, const float* b, const float* bias,
                  int64_t M, int64_t N, int64_t K, int trans_a, int trans_b, int accumulate,
                  jalign_ctx* ctx);
/* dbias(N) += sum over rows of dout(M,N). */
int jalign_bias_backward(float* dbias, const float* dout, int64_t M, int64_t N, jalign_ctx* ctx);

/* out(B,T,C) = wte[tokens[b,t]] + wpe[t + pos_offset]. tokens int32 in [0,V). maxT rows in wpe. */
int jalign_embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe,
                             int64_t B, int64_t T, int64_t C, int64_t V, int64_t maxT, int64_t pos_offset,
                             jalign_ctx* ctx);
/* dwte += scatter of dout by token; dwpe += sum over b of dout. */
int jalign_embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                              int64_t B, int64_t T, int64_t C, int64_t V, int64_t maxT, int64_t pos_offset,
                              jalign_ctx* ctx);

/* Per row of inp(N,C): out = (x - mean) * rstd * weight + bias; mean(N), rstd(N) saved (may be NULL). */
int jalign_layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                             const float* bias, int64_t N, int64_t C, float eps, jalign_ctx* ctx);
/* dinp, dweight, dbias accumulate. mean/rstd from the forward. */
int jalign_layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                              const float* weight, const float* mean, const float* rstd,
                              int64_t N, int64_t C, jalign_ctx* ctx);

/* GELU, tanh approximation. */
int jalign_gelu_forward(float* out, const float* inp, int64_t n, jalign_ctx* ctx);
int jalign_gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n, jalign_ctx* ctx);

/* out = a + b (out may alias a or b). */
int jalign_add(float* out, const float* a, const float* b, int64_t n, jalign_ctx* ctx);
/* y += alpha * x. */
int jalign_axpy(float* y, const float* x, float alpha, int64_t n, jalign_ctx* ctx);
/* x *= alpha. */
int jalign_scale(float* x, float alpha, int64_t n, jalign_ctx* ctx);
/* out[0] = sum of x[i]^2 (accumulated in double on the CPU). out is one float in the context's memory. */
int jalign_sum_squares(float* out, const float* x, int64_t n, jalign_ctx* ctx);

/* out(n,C) = inp[idx[i]] for rows of inp(N,C); idx int32 in [0,N). */
int jalign_gather_rows(float* out, const float* inp, const int32_t* idx, int64_t n, int64_t N, int64_t C,
                       jalign_ctx* ctx);
/* dinp[idx[i]] += dout[i] (the backward of gather_rows). */
int jalign_scatter_add_rows(float* dinp, const float* dout, const int32_t* idx, int64_t n, int64_t N, int64_t C,
                            jalign_ctx* ctx);

/* Fused softmax + cross-entropy over logits(N, ld) (first V columns real, V <= ld).
 * losses(N) = -log softmax(logits[i])[targets[i]]; 0 where targets[i] < 0 (ignored).
 * If dlogits != NULL: dlogits[i] = (softmax(logits[i]) - onehot(targets[i])) * dloss[i] for the first V columns
 * and 0 in the padding columns; rows with targets < 0 get 0. dloss(N) is required with dlogits.
 * dlogits may be exactly logits (in place); no other overlap. dlogits is WRITTEN, not accumulated.
 * losses may be NULL when only the gradient is wanted. */
int jalign_crossentropy(float* losses, float* dlogits, const float* logits, const int32_t* targets,
                        const float* dloss, int64_t N, int64_t V, int64_t ld, jalign_ctx* ctx);

/* AdamW with bias correction, fp32 state; grads are multiplied by grad_scale first (for clipping).
 * step is the 1-based step number. Decoupled weight decay: p -= lr * weight_decay * p. */
int jalign_adamw(float* params, const float* grads, float* m, float* v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, int64_t step, float grad_scale, jalign_ctx* ctx);

/* ---------------------------------------------------------------- Llama-family ops (fp32) */

/* RMSNorm per row of inp(N,C): out = (x * rstd) * weight, rstd = 1 / sqrt(mean(x^2) + eps) computed in fp32
 * (Hugging Face LlamaRMSNorm). rstd(N) is saved for the backward (may be NULL). */
int jalign_rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C,
                           float eps, jalign_ctx* ctx);
/* dinp(N,C) and dweight(C) accumulate; rstd from the forward. On the CPU dweight has the same bits at any
 * thread count. */
int jalign_rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                            const float* rstd, int64_t N, int64_t C, jalign_ctx* ctx);

/* Rotary position embedding, rotate-half convention (HF apply_rotary_pos_emb), IN PLACE on x.
 * x: element [b, t, h, d] at x + b*T*ld + t*ld + h*HS + d for H heads (ld >= H*HS; for a fused projection pass
 * the address of the q or k block and its heads). For d < HS/2 the pair (x1, x2) = (x[d], x[d + HS/2]) becomes
 * (x1*cos - x2*sin, x2*cos + x1*sin), angle = pos[b,t] * inv_freq[d] formed in fp32 as HF does, cos and sin in
 * fp32. pos: int32 (B,T), any value (left padding: callers pass each token's position). inv_freq: (HS/2). HS even. */
int jalign_rope_forward(float* x, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T,
                        int64_t H, int64_t HS, jalign_ctx* ctx);
/* The backward: rotates the gradient dx (same layout) by -angle, IN PLACE (dx is transformed, not accumulated). */
int jalign_rope_backward(float* dx, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T,
                         int64_t H, int64_t HS, jalign_ctx* ctx);

/* SwiGLU on the fused gate/up projection gu(N, 2F) (gate = first F columns, up = last F):
 * out(N,F) = silu(gate) * up, silu(g) = g / (1 + exp(-g)). out must not overlap gu. */
int jalign_swiglu_forward(float* out, const float* gu, int64_t N, int64_t F, jalign_ctx* ctx);
/* dgu(N, 2F) accumulates: d gate += dout * up * silu'(gate), d up += dout * silu(gate). No overlaps. */
int jalign_swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F, jalign_ctx* ctx);

/* ---------------------------------------------------------------- attention */

/* Fused causal self-attention (flash style: online softmax, the T x T scores are never stored), with
 * grouped-query attention: NH query heads share NKV key/value heads (NKV > 0, NH % NKV == 0; query head h
 * reads kv head h / (NH/NKV), as if each kv head were repeated NH/NKV times; NKV == NH is multi-head attention,
 * NKV == 1 multi-query). K/V are never repeated in memory.
 * q, k, v: element [b, t, h, d] at base + b*T*ld + t*ld + h*HS + d, with NH heads in q and NKV heads in k, v
 * (one ld for all three, ld >= NH*HS). For a fused projection row of width (NH + 2*NKV)*HS pass q = qkv,
 * k = qkv + NH*HS, v = qkv + (NH+NKV)*HS, ld = (NH + 2*NKV)*HS (checked when the pointers are laid out so).
 * out(B,T,NH*HS) contiguous; lse(B,NH,T) the per-row logsumexp of the scaled scores (saved for backward).
 * Key padding: row b's valid keys/queries are [kv_start[b], kv_end[b]) (either array may be NULL:
 * start 0, end T). Query rows outside that range produce out = 0 and lse = 0.
 * Scale is 1/sqrt(HS). Query t attends to keys j with start <= j <= t. */
int jalign_attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                             int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                             const int32_t* kv_start, const int32_t* kv_end, jalign_ctx* ctx);
/* dq, dk, dv (same layout and ld as q, k, v) accumulate; dk/dv of a kv head sum over its NH/NKV query heads.
 * out and lse from the forward. */
int jalign_attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                              const float* lse, const float* q, const float* k, const float* v,
                              int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                              const int32_t* kv_start, const int32_t* kv_end, jalign_ctx* ctx);
/* bf16 variants (fp32 accumulation; lse is fp32). CUDA uses tensor cores; the CPU converts. */
int jalign_attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* q, const uint16_t* k,
                                  const uint16_t* v, int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV,
                                  int64_t HS, const int32_t* kv_start, const int32_t* kv_end, jalign_ctx* ctx);
int jalign_attention_backward_bf16(uint16_t* dq, uint16_t* dk, uint16_t* dv, const uint16_t* dout,
                                   const uint16_t* out, const float* lse, const uint16_t* q, const uint16_t* k,
                                   const uint16_t* v, int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV,
                                   int64_t HS, const int32_t* kv_start, const int32_t* kv_end, jalign_ctx* ctx);
/* Writes Tq new key/value rows into the caches k_cache/v_cache (B, maxT, NKV, HS) at positions
 * [pos, pos+Tq). k, v: element [b, t, h, d] at base + b*Tq*ld + t*ld + h*HS + d, h < NKV (as above). */
int jalign_kvcache_append(float* k_cache, float* v_cache, const float* k, const float* v, int64_t ld,
                          int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                          jalign_ctx* ctx);
/* Attention of Tq new queries (absolute positions pos..pos+Tq-1, already appended to the cache) against
 * the caches (B, maxT, NKV, HS): query i attends to keys j with kv_start[b] <= j <= pos + i. q layout as
 * above (ld, NH heads). out(B,Tq,NH*HS). kv_start may be NULL (0). */
int jalign_attention_kvcache(float* out, const float* q, const float* k_cache, const float* v_cache,
                             int64_t ld, int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT,
                             int64_t pos, const int32_t* kv_start, jalign_ctx* ctx);

/* ---------------------------------------------------------------- sampling */

/* Samples one token per row of logits(B, ld) (first V columns real) without sorting the vocabulary.
 * Per-row parameters (each array may be NULL for its default):
 *   temperature (1.0; <= 0 means greedy), top_k (0 = off), top_p (1.0 = off), min_p (0.0 = off),
 *   seeds (0). Filters apply in the order temperature, top-k, top-p, min-p.
 * The random stream of row b is a counter-based generator keyed by (seeds[b], offset): the same
 * (seed, offset, logits, parameters) give the same token on the same backend.
 * Outputs: ids(B); logp_sampled(B) = log-probability of the id under the filtered, renormalised
 * distribution that was sampled; logp_raw(B) = log softmax(logits)[id] at temperature 1, unfiltered
 * (either logp output may be NULL). */
int jalign_sample(int32_t* ids, float* logp_sampled, float* logp_raw, const float* logits,
                  int64_t B, int64_t V, int64_t ld, const float* temperature, const int32_t* top_k,
                  const float* top_p, const float* min_p, const uint64_t* seeds, uint64_t offset,
                  jalign_ctx* ctx);

/* ---------------------------------------------------------------- RL losses */

/* Fused PPO policy loss from logits(N, ld) (first V columns real), N = B*T positions:
 * logp = log_softmax(logits)[tokens]; ratio = exp(logp - old_logp);
 * pg = max(-A*ratio, -A*clip(ratio, 1-eps, 1+eps)); with dual_clip > 1 and A < 0: pg = min(pg, -A*dual_clip);
 * entropy H of the full distribution; kl to ref_logp: k1 = logp - ref, k3 = exp(ref-logp) - 1 - (ref-logp)
 * (kl_estimator 1 or 3; ref_logp may be NULL: no KL term).
 * loss = sum_i mask_i * (pg_i - entropy_coef*H_i + kl_coef*kl_i) / sum_i mask_i.
 * metrics: JALIGN_PPO_METRICS floats in the context's memory (see JALIGN_PPO_*).
 * logp_out(N) (may be NULL): the new log-probs. dlogits (may be NULL; may alias logits) is WRITTEN with
 * d loss / d logits (0 in padding columns and masked rows). */
int jalign_ppo_loss(float* metrics, float* logp_out, float* dlogits, const float* logits, const int32_t* tokens,
                    const float* old_logp, const float* advantages, const float* ref_logp, const float* mask,
                    int64_t N, int64_t V, int64_t ld, float clip_eps, float dual_clip, float entropy_coef,
                    float kl_coef, int kl_estimator, jalign_ctx* ctx);

/* Clipped value loss: vc = old + clip(values - old, -clip, clip);
 * loss = sum_i mask_i * 0.5*max((values-returns)^2, (vc-returns)^2) / sum_i mask_i.
 * metrics: JALIGN_VALUE_METRICS floats; dvalues (may be NULL) is WRITTEN. */
int jalign_value_loss(float* metrics, float* dvalues, const float* values, const float* old_values,
                      const float* returns, const float* mask, int64_t N, float clip, jalign_ctx* ctx);

/* Reward-model ranking loss over G groups of K responses each. rewards(G,K);
 * order(G,K) int32: order[g,0] is the index (0..K-1) of the best response in group g, order[g,K-1] the worst
 * (a permutation of 0..K-1). For every pair (better i, worse j): l = -log sigmoid(r_i - r_j - margin[g])
 * (margins may be NULL: 0). loss[0] = mean over all G*K*(K-1)/2 pairs; accuracy[0] = fraction with r_i > r_j.
 * drewards (may be NULL) accumulates d loss / d rewards. loss and accuracy are one float each in the
 * context's memory. */
int jalign_ranking_loss(float* loss, float* accuracy, float* drewards, const float* rewards, const int32_t* order,
                        const float* margins, int64_t G, int64_t K, jalign_ctx* ctx);

#ifdef __cplusplus
}
#endif

#endif /* JALIGN_H */
