package org.jalign.bindings;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Opaque;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the jalign C ABI ({@code native/include/jalign/jalign.h}), one static method per entry point,
 * same names and argument order. This is the raw layer: it performs no checks of its own beyond the native ones.
 * Use {@code org.jalign.backend.Backend}, which validates every argument in Java first.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, HS = head size, V = vocab, N = rows.
 */
@Platform(
    include = "jalign/jalign.h",
    // JavaCPP emits these in reverse: -ljalign_native -lgomp -ldl -lrt -lpthread (static archive first).
    link = {"pthread", "rt", "dl", "gomp", "jalign_native"})
public final class JalignNative {
  private JalignNative() {}

  public static final int JALIGN_OK = 0;
  public static final int JALIGN_ERR_INVALID_ARG = 1;
  public static final int JALIGN_ERR_UNSUPPORTED = 2;
  public static final int JALIGN_ERR_CUDA = 3;
  public static final int JALIGN_ERR_OUT_OF_MEMORY = 4;
  public static final int JALIGN_ERR_INTERNAL = 5;
  public static final int JALIGN_MEMCPY_HOST_TO_DEVICE = 1;
  public static final int JALIGN_MEMCPY_DEVICE_TO_HOST = 2;
  public static final int JALIGN_MEMCPY_DEVICE_TO_DEVICE = 3;
  public static final int JALIGN_PPO_METRICS = 8;
  public static final int JALIGN_VALUE_METRICS = 2;

  /** Opaque context (device + stream). */
  @Opaque
  public static class jalign_ctx extends Pointer {
    public jalign_ctx() {
      super((Pointer) null);
    }

    public jalign_ctx(Pointer p) {
      super(p);
    }
  }

  // ---------------------------------------------------------------- library, errors, contexts
  public static native @Cast("const char*") BytePointer jalign_last_error();

  public static native @Cast("const char*") BytePointer jalign_version();

  public static native @Cast("const char*") BytePointer jalign_build_info();

  public static native int jalign_cuda_compiled();

  public static native int jalign_cuda_device_count();

  public static native int jalign_set_num_threads(int n);

  public static native int jalign_get_num_threads();

  public static native int jalign_set_blas_library(String path);

  public static native int jalign_blas_loaded();

  public static native int jalign_blas_set_num_threads(int n);

  public static native jalign_ctx jalign_ctx_create(int device);

  public static native void jalign_ctx_destroy(jalign_ctx ctx);

  public static native int jalign_ctx_device(@Const jalign_ctx ctx);

  public static native Pointer jalign_ctx_stream(@Const jalign_ctx ctx);

  public static native int jalign_ctx_synchronize(jalign_ctx ctx);

  // ---------------------------------------------------------------- memory
  public static native Pointer jalign_alloc(@Cast("size_t") long bytes, jalign_ctx ctx);

  public static native void jalign_free(Pointer ptr, jalign_ctx ctx);

  public static native int jalign_memcpy(Pointer dst, @Const Pointer src, @Cast("size_t") long bytes, int kind,
      jalign_ctx ctx);

  public static native int jalign_memset_zero(Pointer dst, @Cast("size_t") long bytes, jalign_ctx ctx);

  public static native int jalign_convert_f32_to_bf16(@Cast("uint16_t*") ShortPointer out,
      @Const FloatPointer inp, long n, jalign_ctx ctx);

  public static native int jalign_convert_bf16_to_f32(FloatPointer out, @Cast("const uint16_t*") ShortPointer inp,
      long n, jalign_ctx ctx);

  // ---------------------------------------------------------------- core ops
  public static native int jalign_matmul(FloatPointer out, @Const FloatPointer a, @Const FloatPointer b,
      @Const FloatPointer bias, long M, long N, long K, int trans_a, int trans_b, int accumulate, jalign_ctx ctx);

  public static native int jalign_bias_backward(FloatPointer dbias, @Const FloatPointer dout, long M, long N,
      jalign_ctx ctx);

  public static native int jalign_embedding_forward(FloatPointer out, @Cast("const int32_t*") IntPointer tokens,
      @Const FloatPointer wte, @Const FloatPointer wpe, long B, long T, long C, long V, long maxT, long pos_offset,
      jalign_ctx ctx);

  public static native int jalign_embedding_backward(FloatPointer dwte, FloatPointer dwpe, @Const FloatPointer dout,
      @Cast("const int32_t*") IntPointer tokens, long B, long T, long C, long V, long maxT, long pos_offset,
      jalign_ctx ctx);

  public static native int jalign_layernorm_forward(FloatPointer out, FloatPointer mean, FloatPointer rstd,
      @Const FloatPointer inp, @Const FloatPointer weight, @Const FloatPointer bias, long N, long C, float eps,
      jalign_ctx ctx);

  public static native int jalign_layernorm_backward(FloatPointer dinp, FloatPointer dweight, FloatPointer dbias,
      @Const FloatPointer dout, @Const FloatPointer inp, @Const FloatPointer weight, @Const FloatPointer mean,
      @Const FloatPointer rstd, long N, long C, jalign_ctx ctx);

  public static native int jalign_gelu_forward(FloatPointer out, @Const FloatPointer inp, long n, jalign_ctx ctx);

  public static native int jalign_gelu_backward(FloatPointer dinp, @Const FloatPointer inp, @Const FloatPointer dout,
      long n, jalign_ctx ctx);

  // ---------------------------------------------------------------- Llama-family ops
  public static native int jalign_rmsnorm_forward(FloatPointer out, FloatPointer rstd, @Const FloatPointer inp,
      @Const FloatPointer weight, long N, long C, float eps, jalign_ctx ctx);

  public static native int jalign_rmsnorm_backward(FloatPointer dinp, FloatPointer dweight, @Const FloatPointer dout,
      @Const FloatPointer inp, @Const FloatPointer weight, @Const FloatPointer rstd, long N, long C, jalign_ctx ctx);

  public static native int jalign_rope_forward(FloatPointer x, @Cast("const int32_t*") IntPointer pos,
      @Const FloatPointer inv_freq, long ld, long B, long T, long H, long HS, jalign_ctx ctx);

  public static native int jalign_rope_backward(FloatPointer dx, @Cast("const int32_t*") IntPointer pos,
      @Const FloatPointer inv_freq, long ld, long B, long T, long H, long HS, jalign_ctx ctx);

  public static native int jalign_swiglu_forward(FloatPointer out, @Const FloatPointer gu, long N, long F,
      jalign_ctx ctx);

  public static native int jalign_swiglu_backward(FloatPointer dgu, @Const FloatPointer dout, @Const FloatPointer gu,
      long N, long F, jalign_ctx ctx);

  public static native int jalign_add(FloatPointer out, @Const FloatPointer a, @Const FloatPointer b, long n,
      jalign_ctx ctx);

  public static native int jalign_axpy(FloatPointer y, @Const FloatPointer x, float alpha, long n, jalign_ctx ctx);

  public static native int jalign_scale(FloatPointer x, float alpha, long n, jalign_ctx ctx);

  public static native int jalign_sum_squares(FloatPointer out, @Const FloatPointer x, long n, jalign_ctx ctx);

  public static native int jalign_gather_rows(FloatPointer out, @Const FloatPointer inp,
      @Cast("const int32_t*") IntPointer idx, long n, long N, long C, jalign_ctx ctx);

  public static native int jalign_scatter_add_rows(FloatPointer dinp, @Const FloatPointer dout,
      @Cast("const int32_t*") IntPointer idx, long n, long N, long C, jalign_ctx ctx);

  public static native int jalign_crossentropy(FloatPointer losses, FloatPointer dlogits, @Const FloatPointer logits,
      @Cast("const int32_t*") IntPointer targets, @Const FloatPointer dloss, long N, long V, long ld, jalign_ctx ctx);

  public static native int jalign_adamw(FloatPointer params, @Const FloatPointer grads, FloatPointer m,
      FloatPointer v, long n, float lr, float beta1, float beta2, float eps, float weight_decay, long step,
      float grad_scale, jalign_ctx ctx);

  // ---------------------------------------------------------------- attention (NH query heads, NKV kv heads)
  public static native int jalign_attention_forward(FloatPointer out, FloatPointer lse, @Const FloatPointer q,
      @Const FloatPointer k, @Const FloatPointer v, long ld, long B, long T, long NH, long NKV, long HS,
      @Cast("const int32_t*") IntPointer kv_start, @Cast("const int32_t*") IntPointer kv_end, jalign_ctx ctx);

  public static native int jalign_attention_backward(FloatPointer dq, FloatPointer dk, FloatPointer dv,
      @Const FloatPointer dout, @Const FloatPointer out, @Const FloatPointer lse, @Const FloatPointer q,
      @Const FloatPointer k, @Const FloatPointer v, long ld, long B, long T, long NH, long NKV, long HS,
      @Cast("const int32_t*") IntPointer kv_start, @Cast("const int32_t*") IntPointer kv_end, jalign_ctx ctx);

  public static native int jalign_attention_forward_bf16(@Cast("uint16_t*") ShortPointer out, FloatPointer lse,
      @Cast("const uint16_t*") ShortPointer q, @Cast("const uint16_t*") ShortPointer k,
      @Cast("const uint16_t*") ShortPointer v, long ld, long B, long T, long NH, long NKV, long HS,
      @Cast("const int32_t*") IntPointer kv_start, @Cast("const int32_t*") IntPointer kv_end, jalign_ctx ctx);

  public static native int jalign_attention_backward_bf16(@Cast("uint16_t*") ShortPointer dq,
      @Cast("uint16_t*") ShortPointer dk, @Cast("uint16_t*") ShortPointer dv,
      @Cast("const uint16_t*") ShortPointer dout, @Cast("const uint16_t*") ShortPointer out, @Const FloatPointer lse,
      @Cast("const uint16_t*") ShortPointer q, @Cast("const uint16_t*") ShortPointer k,
      @Cast("const uint16_t*") ShortPointer v, long ld, long B, long T, long NH, long NKV, long HS,
      @Cast("const int32_t*") IntPointer kv_start, @Cast("const int32_t*") IntPointer kv_end, jalign_ctx ctx);

  public static native int jalign_kvcache_append(FloatPointer k_cache, FloatPointer v_cache, @Const FloatPointer k,
      @Const FloatPointer v, long ld, long B, long Tq, long NH, long NKV, long HS, long maxT, long pos, jalign_ctx ctx);

  public static native int jalign_attention_kvcache(FloatPointer out, @Const FloatPointer q,
      @Const FloatPointer k_cache, @Const FloatPointer v_cache, long ld, long B, long Tq, long NH, long NKV, long HS,
      long maxT, long pos, @Cast("const int32_t*") IntPointer kv_start, jalign_ctx ctx);

  // ---------------------------------------------------------------- sampling
  public static native int jalign_sample(@Cast("int32_t*") IntPointer ids, FloatPointer logp_sampled,
      FloatPointer logp_raw, @Const FloatPointer logits, long B, long V, long ld, @Const FloatPointer temperature,
      @Cast("const int32_t*") IntPointer top_k, @Const FloatPointer top_p, @Const FloatPointer min_p,
      @Cast("const uint64_t*") LongPointer seeds, @Cast("uint64_t") long offset, jalign_ctx ctx);

  // ---------------------------------------------------------------- RL losses
  public static native int jalign_ppo_loss(FloatPointer metrics, FloatPointer logp_out, FloatPointer dlogits,
      @Const FloatPointer logits, @Cast("const int32_t*") IntPointer tokens, @Const FloatPointer old_logp,
      @Const FloatPointer advantages, @Const FloatPointer ref_logp, @Const FloatPointer mask, long N, long V,
      long ld, float clip_eps, float dual_clip, float entropy_coef, float kl_coef, int kl_estimator, jalign_ctx ctx);

  public static native int jalign_value_loss(FloatPointer metrics, FloatPointer dvalues, @Const FloatPointer values,
      @Const FloatPointer old_values, @Const FloatPointer returns, @Const FloatPointer mask, long N, float clip,
      jalign_ctx ctx);

  public static native int jalign_ranking_loss(FloatPointer loss, FloatPointer accuracy, FloatPointer drewards,
      @Const FloatPointer rewards, @Cast("const int32_t*") IntPointer order, @Const FloatPointer margins, long G,
      long K, jalign_ctx ctx);

  static {
    Loader.load();
  }
}
