// CUDA launchers of jalign (namespace jalign::cuda), compiled only when nvcc is present (JALIGN_WITH_CUDA).
// Each mirrors its jalign_* entry point in native/include/jalign/jalign.h: same argument order and
// semantics, with the cudaStream_t (as void*) last instead of the context. Pointers are device pointers.
// Each returns a cudaError_t value (0 = success); the ABI layer turns non-zero into JALIGN_ERR_CUDA with
// cudaGetErrorString in the message. Arguments were checked by the ABI layer.
#pragma once
#include <cstddef>
#include <cstdint>

namespace jalign {
namespace cuda {

// ---- runtime helpers (cuda-kernels/runtime.cu)
int device_count();                       // 0 when there is no driver or GPU; never fails
int set_device(int device);
int stream_create(void** stream);
int stream_destroy(void* stream);
int stream_synchronize(void* stream);
int malloc_device(void** ptr, size_t bytes);
int free_device(void* ptr);
int memcpy_async(void* dst, const void* src, size_t bytes, int kind, void* stream);  // kind: JALIGN_MEMCPY_*
int memset_zero_async(void* dst, size_t bytes, void* stream);
const char* error_string(int err);

// ---- core (cuda-kernels/core.cu); matmul uses a tiled SGEMM kernel (the Java CUDA backend prefers cuBLAS)
int matmul(float* out, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
           bool trans_a, bool trans_b, bool accumulate, void* stream);
int bias_backward(float* dbias, const float* dout, int64_t M, int64_t N, void* stream);
int embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int64_t B,
                      int64_t T, int64_t C, int64_t pos_offset, void* stream);
int embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int64_t B, int64_t T,
                       int64_t C, int64_t pos_offset, void* stream);
int layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int64_t N, int64_t C, float eps, void* stream);
int layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                       void* stream);
int gelu_forward(float* out, const float* inp, int64_t n, void* stream);
int gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n, void* stream);
int add(float* out, const float* a, const float* b, int64_t n, void* stream);
int axpy(float* y, const float* x, float alpha, int64_t n, void* stream);
int scale(float* x, float alpha, int64_t n, void* stream);
int sum_squares(float* out, const float* x, int64_t n, void* stream);  // out: one device float
int gather_rows(float* out, const float* inp, const int32_t* idx, int64_t n, int64_t C, void* stream);
int scatter_add_rows(float* dinp, const float* dout, const int32_t* idx, int64_t n, int64_t C, void* stream);
int crossentropy(float* losses, float* dlogits, const float* logits, const int32_t* targets, const float* dloss,
                 int64_t N, int64_t V, int64_t ld, void* stream);
int adamw(float* params, const float* grads, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
          float eps, float weight_decay, int64_t step, float grad_scale, void* stream);
int convert_f32_to_bf16(uint16_t* out, const float* inp, int64_t n, void* stream);
int convert_bf16_to_f32(float* out, const uint16_t* inp, int64_t n, void* stream);

// ---- Llama-family ops (cuda-kernels/llama.cu)
int rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C, float eps,
                    void* stream);
int rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     const float* rstd, int64_t N, int64_t C, void* stream);
// In place on x; inverse = false: jalign_rope_forward, true: jalign_rope_backward.
int rope(float* x, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T, int64_t H,
         int64_t HS, bool inverse, void* stream);
int swiglu_forward(float* out, const float* gu, int64_t N, int64_t F, void* stream);
int swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F, void* stream);

// ---- attention (cuda-kernels/attention.cu); NH query heads, NKV key/value heads (NH % NKV == 0)
int attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, int64_t ld,
                      int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                      const int32_t* kv_end, void* stream);
int attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                       const float* q, const float* k, const float* v, int64_t ld, int64_t B, int64_t T,
                       int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start, const int32_t* kv_end,
                       void* stream);
int attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                           int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                           const int32_t* kv_start, const int32_t* kv_end, void* stream);
int attention_backward_bf16(uint16_t* dq, uint16_t* dk, uint16_t* dv, const uint16_t* dout, const uint16_t* out,
                            const float* lse, const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t ld,
                            int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                            const int32_t* kv_end, void* stream);
int kvcache_append(float* k_cache, float* v_cache, const float* k, const float* v, int64_t ld, int64_t B,
                   int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos, void* stream);
int attention_kvcache(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t ld,
                      int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                      const int32_t* kv_start, void* stream);

// ---- sampling (cuda-kernels/sampling.cu)
int sample(int32_t* ids, float* logp_sampled, float* logp_raw, const float* logits, int64_t B, int64_t V,
           int64_t ld, const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
           const uint64_t* seeds, uint64_t offset, void* stream);

// ---- RL losses (cuda-kernels/losses.cu)
int ppo_loss(float* metrics, float* logp_out, float* dlogits, const float* logits, const int32_t* tokens,
             const float* old_logp, const float* advantages, const float* ref_logp, const float* mask, int64_t N,
             int64_t V, int64_t ld, float clip_eps, float dual_clip, float entropy_coef, float kl_coef,
             int kl_estimator, void* stream);
int value_loss(float* metrics, float* dvalues, const float* values, const float* old_values, const float* returns,
               const float* mask, int64_t N, float clip, void* stream);
int ranking_loss(float* loss, float* accuracy, float* drewards, const float* rewards, const int32_t* order,
                 const float* margins, int64_t G, int64_t K, void* stream);

}  // namespace cuda
}  // namespace jalign
