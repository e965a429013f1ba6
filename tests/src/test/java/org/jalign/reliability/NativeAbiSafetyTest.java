package org.jalign.reliability;

import static org.jalign.bindings.JalignNative.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.IntSupplier;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.jalign.bindings.JalignNative;
import org.jalign.bindings.JalignNative.jalign_ctx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every C ABI entry point, called through the raw JavaCPP bindings with NULL pointers, negative sizes,
 * overflowing sizes (products past 2^63) and out-of-range ids, returns JALIGN_ERR_INVALID_ARG with a message and
 * the JVM keeps running. One test per family of entry points. The buffers passed alongside a bad size are real and
 * small, so an entry point that skipped its checks would touch memory it does not own (caught under ASan in the
 * native suite, and usually as a crash here).
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = query heads, NKV = key/value heads, HS = head size,
 * V = vocab, N = rows.
 */
class NativeAbiSafetyTest {
  static final int INVALID = 1; // JALIGN_ERR_INVALID_ARG
  static final long NEG = -1;
  static final long HUGE = 1L << 40; // products of two or three of these overflow int64

  static jalign_ctx ctx;
  static FloatPointer f;
  static FloatPointer f2;
  static IntPointer ids;
  static ShortPointer s;
  static LongPointer seeds;

  @BeforeAll
  static void setUp() {
    ctx = jalign_ctx_create(-1);
    assertNotNull(ctx);
    f = new FloatPointer(1 << 14).zero();
    f2 = new FloatPointer(1 << 14).zero();
    ids = new IntPointer(1 << 10).zero();
    s = new ShortPointer(1 << 14).zero();
    seeds = new LongPointer(64).zero();
  }

  @AfterAll
  static void tearDown() {
    jalign_ctx_destroy(ctx);
    for (Pointer p : new Pointer[] {f, f2, ids, s, seeds}) p.close();
  }

  static void rejected(String what, IntSupplier call) {
    int st = call.getAsInt();
    assertEquals(INVALID, st, what + " returned status " + st);
    String msg = jalign_last_error().getString();
    assertFalse(msg == null || msg.isBlank(), what + " set no error message");
  }

  @Test
  void contextAndRuntime() {
    assertNull(jalign_ctx_create(-7), "device -7 must not make a context");
    assertFalse(jalign_last_error().getString().isBlank());
    assertNull(jalign_ctx_create(1 << 20), "a device that does not exist must not make a context");
    assertTrue(jalign_ctx_synchronize(null) != 0, "synchronize(NULL)");
    jalign_ctx_destroy(null); // a no-op, never a crash
    assertEquals(0, jalign_set_num_threads(-5)); // documented: n <= 0 restores the default
    assertTrue(jalign_get_num_threads() > 0);
    assertTrue(jalign_set_blas_library("/nonexistent/libopenblas.so") != 0, "loading a missing BLAS library");
  }

  @Test
  void memory() {
    assertNull(jalign_alloc(-1L, ctx), "SIZE_MAX bytes"); // size_t: 2^64 - 1
    assertFalse(jalign_last_error().getString().isBlank());
    assertNull(jalign_alloc(1L << 62, ctx), "2^62 bytes");
    assertNull(jalign_alloc(64, null), "NULL context");
    jalign_free(null, ctx); // a no-op
    rejected("memcpy NULL dst", () -> jalign_memcpy(null, f, 16, 0, ctx));
    rejected("memcpy NULL src", () -> jalign_memcpy(f, null, 16, 0, ctx));
    rejected("memcpy bad kind", () -> jalign_memcpy(f, f2, 16, 99, ctx));
    rejected("memset NULL", () -> jalign_memset_zero(null, 16, ctx));
    rejected("f32->bf16 NULL", () -> jalign_convert_f32_to_bf16(null, f, 4, ctx));
    rejected("f32->bf16 n<0", () -> jalign_convert_f32_to_bf16(s, f, NEG, ctx));
    rejected("bf16->f32 NULL", () -> jalign_convert_bf16_to_f32(f, null, 4, ctx));
    rejected("bf16->f32 n<0", () -> jalign_convert_bf16_to_f32(f, s, NEG, ctx));
  }

  @Test
  void llamaOps() {
    rejected("rmsnorm NULL out", () -> jalign_rmsnorm_forward(null, f2, f, f, 4, 4, 1e-6f, ctx));
    rejected("rmsnorm NULL ctx", () -> jalign_rmsnorm_forward(f, null, f2, f2, 4, 4, 1e-6f, null));
    rejected("rmsnorm C=0", () -> jalign_rmsnorm_forward(f, null, f2, f2, 4, 0, 1e-6f, ctx));
    rejected("rmsnorm N<0", () -> jalign_rmsnorm_forward(f, null, f2, f2, NEG, 4, 1e-6f, ctx));
    rejected("rmsnorm N*C overflow", () -> jalign_rmsnorm_forward(f, null, f2, f2, HUGE, HUGE, 1e-6f, ctx));
    rejected("rmsnorm eps 0", () -> jalign_rmsnorm_forward(f, null, f2, f2, 4, 4, 0f, ctx));
    rejected("rmsnorm eps inf", () -> jalign_rmsnorm_forward(f, null, f2, f2, 4, 4, Float.POSITIVE_INFINITY, ctx));
    rejected("rmsnorm eps NaN", () -> jalign_rmsnorm_forward(f, null, f2, f2, 4, 4, Float.NaN, ctx));
    rejected("rmsnorm_backward NULL rstd", () -> jalign_rmsnorm_backward(f, f, f2, f2, f2, null, 4, 4, ctx));
    rejected("rmsnorm_backward overflow", () -> jalign_rmsnorm_backward(f, f2, f2, f2, f2, f2, HUGE, HUGE, ctx));
    rejected("rmsnorm_backward dinp == dout", () -> jalign_rmsnorm_backward(f, f2, f, f2, f2, f2, 4, 4, ctx));
    rejected("rope NULL x", () -> jalign_rope_forward(null, ids, f2, 8, 1, 2, 2, 4, ctx));
    rejected("rope NULL pos", () -> jalign_rope_forward(f, null, f2, 8, 1, 2, 2, 4, ctx));
    rejected("rope NULL inv_freq", () -> jalign_rope_backward(f, ids, null, 8, 1, 2, 2, 4, ctx));
    rejected("rope odd HS", () -> jalign_rope_forward(f, ids, f2, 10, 1, 2, 2, 5, ctx));
    rejected("rope HS=0", () -> jalign_rope_forward(f, ids, f2, 8, 1, 2, 2, 0, ctx));
    rejected("rope B<0", () -> jalign_rope_forward(f, ids, f2, 8, NEG, 2, 2, 4, ctx));
    rejected("rope ld < H*HS", () -> jalign_rope_forward(f, ids, f2, 7, 1, 2, 2, 4, ctx));
    rejected("rope H*HS overflow", () -> jalign_rope_forward(f, ids, f2, 8, 1, 2, HUGE, HUGE, ctx));
    rejected("rope B*T*ld overflow", () -> jalign_rope_backward(f, ids, f2, HUGE, HUGE, 2, 1, 4, ctx));
    rejected("rope NULL ctx", () -> jalign_rope_backward(f, ids, f2, 8, 1, 2, 2, 4, null));
    rejected("swiglu NULL", () -> jalign_swiglu_forward(null, f2, 4, 4, ctx));
    rejected("swiglu F=0", () -> jalign_swiglu_forward(f, f2, 4, 0, ctx));
    rejected("swiglu overflow", () -> jalign_swiglu_forward(f, f2, HUGE, HUGE, ctx));
    rejected("swiglu out == gu", () -> jalign_swiglu_forward(f, f, 4, 4, ctx));
    rejected("swiglu_backward NULL dout", () -> jalign_swiglu_backward(f, null, f2, 4, 4, ctx));
    rejected("swiglu_backward N<0", () -> jalign_swiglu_backward(f, f2, f2, NEG, 4, ctx));
    rejected("swiglu_backward dgu == gu", () -> jalign_swiglu_backward(f, f2, f, 4, 4, ctx));
  }

  @Test
  void matmulAndElementwise() {
    rejected("matmul NULL", () -> jalign_matmul(null, null, null, null, 4, 4, 4, 0, 0, 0, ctx));
    rejected("matmul NULL ctx", () -> jalign_matmul(f, f2, f2, null, 4, 4, 4, 0, 0, 0, null));
    rejected("matmul M<0", () -> jalign_matmul(f, f2, f2, null, NEG, 4, 4, 0, 0, 0, ctx));
    rejected("matmul K=2^31", () -> jalign_matmul(f, f2, f2, null, 4, 4, 1L << 31, 0, 0, 0, ctx));
    rejected("matmul M*K overflow", () -> jalign_matmul(f, f2, f2, null, HUGE, 4, HUGE, 0, 0, 0, ctx));
    rejected("bias_backward NULL", () -> jalign_bias_backward(null, null, 4, 4, ctx));
    rejected("bias_backward overflow", () -> jalign_bias_backward(f, f2, HUGE, HUGE, ctx));
    rejected("gelu NULL", () -> jalign_gelu_forward(null, f, 4, ctx));
    rejected("gelu n<0", () -> jalign_gelu_forward(f, f2, NEG, ctx));
    rejected("gelu_backward NULL", () -> jalign_gelu_backward(f, null, f2, 4, ctx));
    rejected("gelu_backward n<0", () -> jalign_gelu_backward(f, f2, f2, Long.MIN_VALUE, ctx));
    rejected("add NULL", () -> jalign_add(f, null, f2, 4, ctx));
    rejected("add n<0", () -> jalign_add(f, f2, f2, NEG, ctx));
    rejected("axpy NULL", () -> jalign_axpy(null, f, 1f, 4, ctx));
    rejected("axpy n<0", () -> jalign_axpy(f, f2, 1f, NEG, ctx));
    rejected("scale NULL", () -> jalign_scale(null, 1f, 4, ctx));
    rejected("scale n<0", () -> jalign_scale(f, 1f, NEG, ctx));
    rejected("sum_squares NULL", () -> jalign_sum_squares(null, f, 4, ctx));
    rejected("sum_squares n<0", () -> jalign_sum_squares(f, f2, NEG, ctx));
    rejected("adamw NULL", () -> jalign_adamw(null, f2, f2, f2, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, 1f, ctx));
    rejected("adamw n<0", () -> jalign_adamw(f, f2, f2, f2, NEG, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, 1f, ctx));
    rejected("adamw step 0", () -> jalign_adamw(f, f2, f2, f2, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0, 1f, ctx));
  }

  @Test
  void embeddingLayernormGatherAndCrossEntropy() {
    // B=2, T=4, C=8, V=16, maxT=4
    rejected("embedding NULL", () -> jalign_embedding_forward(null, ids, f2, f2, 2, 4, 8, 16, 4, 0, ctx));
    rejected("embedding T>maxT", () -> jalign_embedding_forward(f, ids, f2, f2, 2, 8, 8, 16, 4, 0, ctx));
    rejected("embedding pos_offset<0", () -> jalign_embedding_forward(f, ids, f2, f2, 2, 4, 8, 16, 4, NEG, ctx));
    rejected("embedding overflow", () -> jalign_embedding_forward(f, ids, f2, f2, HUGE, HUGE, 8, 16, 4, 0, ctx));
    ids.put(5, 16); // id == V
    rejected("embedding id == V", () -> jalign_embedding_forward(f, ids, f2, f2, 2, 4, 8, 16, 4, 0, ctx));
    rejected("embedding_backward id == V", () -> jalign_embedding_backward(f, f2, f2, ids, 2, 4, 8, 16, 4, 0, ctx));
    ids.put(5, -3);
    rejected("embedding id < 0", () -> jalign_embedding_forward(f, ids, f2, f2, 2, 4, 8, 16, 4, 0, ctx));
    rejected("gather_rows idx < 0", () -> jalign_gather_rows(f, f2, ids, 8, 16, 8, ctx));
    rejected("scatter_add_rows idx < 0", () -> jalign_scatter_add_rows(f, f2, ids, 8, 16, 8, ctx));
    // a negative target is documented as "ignored", not an error
    ids.put(5, 0);
    rejected("embedding_backward NULL", () -> jalign_embedding_backward(null, null, f2, ids, 2, 4, 8, 16, 4, 0, ctx));
    rejected("layernorm NULL", () -> jalign_layernorm_forward(null, null, null, null, null, null, 8, 8, 1e-5f, ctx));
    rejected("layernorm N<0", () -> jalign_layernorm_forward(f, f2, f2, f2, f2, f2, NEG, 8, 1e-5f, ctx));
    rejected("layernorm overflow", () -> jalign_layernorm_forward(f, f2, f2, f2, f2, f2, HUGE, HUGE, 1e-5f, ctx));
    rejected("layernorm_backward NULL",
        () -> jalign_layernorm_backward(null, null, null, null, null, null, null, null, 8, 8, ctx));
    rejected("layernorm_backward C<0", () -> jalign_layernorm_backward(f, f2, f2, f2, f2, f2, f2, f2, 8, NEG, ctx));
    rejected("gather_rows NULL", () -> jalign_gather_rows(null, f2, ids, 8, 16, 8, ctx));
    rejected("gather_rows n<0", () -> jalign_gather_rows(f, f2, ids, NEG, 16, 8, ctx));
    ids.put(3, 16); // row id == N
    rejected("gather_rows idx == N", () -> jalign_gather_rows(f, f2, ids, 8, 16, 8, ctx));
    rejected("scatter_add_rows idx == N", () -> jalign_scatter_add_rows(f, f2, ids, 8, 16, 8, ctx));
    rejected("crossentropy target == V", () -> jalign_crossentropy(f, null, f2, ids, null, 8, 16, 16, ctx));
    ids.put(3, 0);
    rejected("crossentropy NULL", () -> jalign_crossentropy(null, null, null, ids, null, 8, 16, 16, ctx));
    rejected("crossentropy ld < V", () -> jalign_crossentropy(f, null, f2, ids, null, 8, 16, 8, ctx));
    rejected("crossentropy overflow", () -> jalign_crossentropy(f, null, f2, ids, null, HUGE, HUGE, HUGE, ctx));
  }

  @Test
  void attentionAndKvCache() {
    // B=1, T=4, NH=2, NKV=2, HS=4, ld = (NH + 2*NKV)*HS = 24
    rejected("attention NULL", () -> jalign_attention_forward(null, null, null, null, null, 24, 1, 4, 2, 2, 4, null,
        null, ctx));
    rejected("attention T<0", () -> jalign_attention_forward(f, f2, f2, f2, f2, 24, 1, NEG, 2, 2, 4, null, null,
        ctx));
    rejected("attention ld < NH*HS",
        () -> jalign_attention_forward(f, f2, f2, f2, f2, 2, 1, 4, 2, 2, 4, null, null, ctx));
    rejected("attention overflow",
        () -> jalign_attention_forward(f, f2, f2, f2, f2, HUGE, HUGE, HUGE, 2, 2, 4, null, null, ctx));
    ids.put(0, 5); // kv_end > T
    ids.put(1, 0);
    rejected("attention kv_start > T", () -> jalign_attention_forward(f, f2, f2, f2, f2, 24, 1, 4, 2, 2, 4, ids,
        null, ctx));
    rejected("attention_backward NULL", () -> jalign_attention_backward(null, null, null, null, null, null, null,
        null, null, 24, 1, 4, 2, 2, 4, null, null, ctx));
    rejected("attention_backward HS<0", () -> jalign_attention_backward(f, f, f, f2, f2, f2, f2, f2, f2, 24, 1, 4,
        2, 2, NEG, null, null, ctx));
    rejected("attention bf16 NULL", () -> jalign_attention_forward_bf16(null, null, null, null, null, 24, 1, 4, 2,
        2, 4, null, null, ctx));
    rejected("attention bf16 NH<0", () -> jalign_attention_forward_bf16(s, f, s, s, s, 24, 1, 4, NEG, 1, 4, null,
        null, ctx));
    rejected("attention_backward bf16 NULL", () -> jalign_attention_backward_bf16(null, null, null, null, null,
        null, null, null, null, 24, 1, 4, 2, 2, 4, null, null, ctx));
    ids.put(0, 0);
    rejected("kvcache_append NULL", () -> jalign_kvcache_append(null, null, f2, f2, 8, 1, 1, 2, 2, 4, 16, 0, ctx));
    rejected("kvcache_append pos+Tq > maxT",
        () -> jalign_kvcache_append(f, f, f2, f2, 8, 1, 4, 2, 2, 4, 16, 14, ctx));
    rejected("kvcache_append pos<0", () -> jalign_kvcache_append(f, f, f2, f2, 8, 1, 1, 2, 2, 4, 16, NEG, ctx));
    rejected("attention_kvcache NULL",
        () -> jalign_attention_kvcache(null, null, null, null, 8, 1, 1, 2, 2, 4, 16, 0, null, ctx));
    rejected("attention_kvcache pos+Tq > maxT",
        () -> jalign_attention_kvcache(f, f2, f2, f2, 8, 1, 4, 2, 2, 4, 16, 14, null, ctx));
    rejected("attention_kvcache overflow",
        () -> jalign_attention_kvcache(f, f2, f2, f2, 8, HUGE, 1, 2, 2, 4, HUGE, 0, null, ctx));
  }

  @Test
  void groupedQueryHeadCounts() {
    // NH=4 query heads over NKV kv heads, HS=4, B=1, T=4; fused rows of (NH + 2*NKV)*HS = 32 floats at NKV = 2
    FloatPointer k = new FloatPointer(f2).position(16), v = new FloatPointer(f2).position(24);
    FloatPointer lse = new FloatPointer(f).position(4096);
    assertEquals(0, jalign_attention_forward(f, lse, f2, k, v, 32, 1, 4, 4, 2, 4, null, null, ctx),
        "the valid grouped-query call");
    for (long nkv : new long[] {0, NEG, 3, 8}) { // not > 0, not dividing NH, more kv heads than query heads
      rejected("attention NKV=" + nkv, () -> jalign_attention_forward(f, f, f2, k, v, 32, 1, 4, 4, nkv, 4, null,
          null, ctx));
      assertTrue(jalign_last_error().getString().contains("NKV"), jalign_last_error().getString());
      rejected("attention_backward NKV=" + nkv, () -> jalign_attention_backward(f, f, f, f2, f2, f2, f2, k, v, 32,
          1, 4, 4, nkv, 4, null, null, ctx));
      rejected("attention bf16 NKV=" + nkv, () -> jalign_attention_forward_bf16(s, f, s, s, s, 32, 1, 4, 4, nkv, 4,
          null, null, ctx));
      rejected("attention_backward bf16 NKV=" + nkv, () -> jalign_attention_backward_bf16(s, s, s, s, s, f, s, s, s,
          32, 1, 4, 4, nkv, 4, null, null, ctx));
      rejected("kvcache_append NKV=" + nkv, () -> jalign_kvcache_append(f, f, k, v, 32, 1, 1, 4, nkv, 4, 16, 0,
          ctx));
      rejected("attention_kvcache NKV=" + nkv, () -> jalign_attention_kvcache(f, f2, f, f, 32, 1, 1, 4, nkv, 4, 16,
          0, null, ctx));
    }
    // k and v laid out as a fused projection after the 4 query heads: ld must cover (NH + 2*NKV)*HS = 32
    rejected("attention fused ld < (NH+2*NKV)*HS",
        () -> jalign_attention_forward(f, f, f2, k, v, 24, 1, 4, 4, 2, 4, null, null, ctx));
    assertTrue(jalign_last_error().getString().contains("NH + 2*NKV"), jalign_last_error().getString());
    rejected("attention_backward fused ld < (NH+2*NKV)*HS", () -> jalign_attention_backward(f, f, f, f2, f2, f2, f2,
        k, v, 24, 1, 4, 4, 2, 4, null, null, ctx));
    rejected("attention NH overflow", () -> jalign_attention_forward(f, f, f2, k, v, 32, 1, 4, HUGE, 1, 4, null,
        null, ctx));
  }

  @Test
  void sampling() {
    // B=2, V=16
    rejected("sample NULL", () -> jalign_sample(null, null, null, null, 2, 16, 16, null, null, null, null, null, 0,
        ctx));
    rejected("sample V<0", () -> jalign_sample(ids, f, f, f2, 2, NEG, 16, null, null, null, null, null, 0, ctx));
    rejected("sample ld < V", () -> jalign_sample(ids, f, f, f2, 2, 16, 8, null, null, null, null, null, 0, ctx));
    rejected("sample overflow", () -> jalign_sample(ids, f, f, f2, HUGE, HUGE, HUGE, null, null, null, null, null, 0,
        ctx));
    IntPointer topK = new IntPointer(2).put(0, -4).put(1, 3);
    rejected("sample top_k < 0", () -> jalign_sample(ids, f, f, f2, 2, 16, 16, null, topK, null, null, null, 0,
        ctx));
    FloatPointer topP = new FloatPointer(2).put(0, 1.5f).put(1, Float.NaN);
    rejected("sample top_p outside (0, 1]", () -> jalign_sample(ids, f, f, f2, 2, 16, 16, null, null, topP, null,
        null, 0, ctx));
    topK.close();
    topP.close();
  }

  @Test
  void rlLosses() {
    // N=4, V=16; G=2, K=3
    rejected("ppo NULL", () -> jalign_ppo_loss(null, null, null, null, null, null, null, null, null, 4, 16, 16, 0.2f,
        0f, 0f, 0f, 1, ctx));
    rejected("ppo N<0", () -> jalign_ppo_loss(f, f, f, f2, ids, f2, f2, null, f2, NEG, 16, 16, 0.2f, 0f, 0f, 0f, 1,
        ctx));
    rejected("ppo overflow", () -> jalign_ppo_loss(f, f, f, f2, ids, f2, f2, null, f2, HUGE, HUGE, HUGE, 0.2f, 0f,
        0f, 0f, 1, ctx));
    rejected("ppo kl_estimator 2", () -> jalign_ppo_loss(f, f, f, f2, ids, f2, f2, f2, f2, 4, 16, 16, 0.2f, 0f, 0f,
        0.1f, 2, ctx));
    ids.put(2, 16);
    rejected("ppo token == V", () -> jalign_ppo_loss(f, f, f, f2, ids, f2, f2, null, f2, 4, 16, 16, 0.2f, 0f, 0f, 0f,
        1, ctx));
    ids.put(2, 0);
    rejected("value_loss NULL", () -> jalign_value_loss(null, null, null, null, null, null, 4, 0.2f, ctx));
    rejected("value_loss N<0", () -> jalign_value_loss(f, f, f2, f2, f2, f2, NEG, 0.2f, ctx));
    rejected("ranking NULL", () -> jalign_ranking_loss(null, null, null, null, null, null, 2, 3, ctx));
    rejected("ranking K<0", () -> jalign_ranking_loss(f, f, f, f2, ids, null, 2, NEG, ctx));
    rejected("ranking overflow", () -> jalign_ranking_loss(f, f, f, f2, ids, null, HUGE, HUGE, ctx));
    // order must be a permutation of 0..K-1 in each group
    IntPointer order = new IntPointer(6).put(0, 0).put(1, 1).put(2, 7).put(3, 0).put(4, 1).put(5, 2);
    rejected("ranking order id == 7", () -> jalign_ranking_loss(f, f, f, f2, order, null, 2, 3, ctx));
    order.close();
  }

  @Test
  void theLibraryStillWorksAfterwards() {
    FloatPointer x = new FloatPointer(4).put(new float[] {1, 2, 3, 4});
    FloatPointer out = new FloatPointer(1);
    assertEquals(0, JalignNative.jalign_sum_squares(out, x, 4, ctx));
    assertEquals(30f, out.get(0), 1e-6f);
    x.close();
    out.close();
  }
}
