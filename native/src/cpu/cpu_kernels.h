// CPU kernels of jalign (namespace jalign::cpu).
// Each mirrors its jalign_* entry point in include/jalign/jalign.h minus the context: same argument order
// (outputs, inputs, sizes, scalars) and the same semantics. The ABI layer (src/abi) has already checked
// every argument, so these trust their inputs. Backward kernels accumulate (+=) into gradients unless the
// header says WRITTEN.
#pragma once
#include <cstdint>

namespace jalign {
namespace cpu {

// ---- core (src/cpu/core.cpp, src/cpu/gemm.cpp)
void matmul(float* out, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
            bool trans_a, bool trans_b, bool accumulate);
void bias_backward(float* dbias, const float* dout, int64_t M, int64_t N);
void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int64_t B,
                       int64_t T, int64_t C, int64_t pos_offset);
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int64_t B,
                        int64_t T, int64_t C, int64_t pos_offset);
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C);
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n);
void add(float* out, const float* a, const float* b, int64_t n);
void axpy(float* y, const float* x, float alpha, int64_t n);
void scale(float* x, float alpha, int64_t n);
double sum_squares(const float* x, int64_t n);
void gather_rows(float* out, const float* inp, const int32_t* idx, int64_t n, int64_t C);
void scatter_add_rows(float* dinp, const float* dout, const int32_t* idx, int64_t n, int64_t C);
void crossentropy(float* losses, float* dlogits, const float* logits, const int32_t* targets,
                  const float* dloss, int64_t N, int64_t V, int64_t ld);
void adamw(float* params, const float* grads, float* m, float* v, int64_t n, float lr, float beta1,
           float beta2, float eps, float weight_decay, int64_t step, float grad_scale);
void convert_f32_to_bf16(uint16_t* out, const float* inp, int64_t n);
void convert_bf16_to_f32(float* out, const uint16_t* inp, int64_t n);

// ---- Llama-family ops (src/cpu/llama.cpp)
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C,
                     float eps);
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t N, int64_t C);
// In place on x; inverse = false: jalign_rope_forward, true: jalign_rope_backward.
void rope(float* x, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T, int64_t H,
          int64_t HS, bool inverse);
void swiglu_forward(float* out, const float* gu, int64_t N, int64_t F);
void swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F);

// ---- attention (src/cpu/attention.cpp); NH query heads, NKV key/value heads (NH % NKV == 0)
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, int64_t ld,
                       int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                       const int32_t* kv_end);
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                        const float* q, const float* k, const float* v, int64_t ld, int64_t B, int64_t T,
                        int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start, const int32_t* kv_end);
void kvcache_append(float* k_cache, float* v_cache, const float* k, const float* v, int64_t ld, int64_t B,
                    int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos);
void attention_kvcache(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t ld,
                       int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                       const int32_t* kv_start);

// ---- sampling (src/cpu/sampling.cpp)
void sample(int32_t* ids, float* logp_sampled, float* logp_raw, const float* logits, int64_t B, int64_t V,
            int64_t ld, const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
            const uint64_t* seeds, uint64_t offset);

// ---- RL losses (src/cpu/losses.cpp)
void ppo_loss(float* metrics, float* logp_out, float* dlogits, const float* logits, const int32_t* tokens,
              const float* old_logp, const float* advantages, const float* ref_logp, const float* mask, int64_t N,
              int64_t V, int64_t ld, float clip_eps, float dual_clip, float entropy_coef, float kl_coef,
              int kl_estimator);
void value_loss(float* metrics, float* dvalues, const float* values, const float* old_values,
                const float* returns, const float* mask, int64_t N, float clip);
void ranking_loss(float* loss, float* accuracy, float* drewards, const float* rewards, const int32_t* order,
                  const float* margins, int64_t G, int64_t K);

}  // namespace cpu
}  // namespace jalign
