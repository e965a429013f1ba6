package org.jalign.backend;

import org.jalign.tensor.DType;
import org.jalign.tensor.Device;
import org.jalign.tensor.Tensor;

/**
 * The compute interface every model and trainer is written against. Two implementations: {@link CpuBackend}
 * (C++ kernels, OpenMP, OpenBLAS GEMM) and {@link CudaBackend} (CUDA kernels + cuBLAS). Pick one with
 * {@link Backends#best()}.
 *
 * <p>Every method validates its arguments in Java before any native call: tensors non-null (unless marked
 * nullable), open, on this backend's device, of the right dtype and shape, and not overlapping where the op
 * forbids it. A bad argument throws {@link IllegalArgumentException} (or {@link IllegalStateException} for a
 * closed tensor) naming the argument and its value; a native failure throws {@link JalignException} with the
 * native message. Backward ops ACCUMULATE into gradient tensors (callers zero them first) unless stated.
 * A backend is not thread-safe: use one per thread, or synchronise.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, HS = head size, V = vocab, Vp = padded vocab
 * (row length of logits), N = rows. "Matrix view" of a tensor: rows = numel / last dimension, cols = last
 * dimension.
 */
public interface Backend extends AutoCloseable {

  Device device();

  /** "cpu" or "cuda:N". */
  String name();

  // ------------------------------------------------------------------ memory

  /** A new zero-filled tensor owned by the caller (or the innermost open Scope). */
  Tensor zeros(DType dtype, long... shape);

  /** A new F32 tensor holding {@code data}. */
  default Tensor fromArray(float[] data, long... shape) {
    Tensor t = zeros(DType.F32, shape);
    try {
      return t.copyFrom(data);
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  /** A new I32 tensor holding {@code data}. */
  default Tensor fromArray(int[] data, long... shape) {
    Tensor t = zeros(DType.I32, shape);
    try {
      return t.copyFrom(data);
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  void copyFromHost(Tensor dst, float[] src);

  void copyFromHost(Tensor dst, int[] src);

  void copyToHost(float[] dst, Tensor src);

  void copyToHost(int[] dst, Tensor src);

  /** dst = src (same dtype and element count, both on this backend). */
  void copy(Tensor dst, Tensor src);

  void zero(Tensor t);

  /** Frees a storage (called by {@link Tensor#close()}). */
  void free(Tensor.Storage storage);

  /** Waits for queued work (a no-op on the CPU). */
  void synchronize();

  /** Bytes currently allocated through this backend and not yet freed. */
  long liveBytes();

  // ------------------------------------------------------------------ core ops

  /**
   * out(M,N) = op(a)(M,K) op(b)(K,N) [+ bias(N)] [+ out when accumulate], on matrix views; a is (M,K) or with
   * transA (K,M); b is (K,N) or with transB (N,K). bias nullable. out must not overlap a or b.
   */
  void matmul(Tensor out, Tensor a, Tensor b, Tensor bias, boolean transA, boolean transB, boolean accumulate);

  /** dbias(N) += column sums of dout (matrix view (M,N)). */
  void biasBackward(Tensor dbias, Tensor dout);

  /** out(B,T,C) = wte(V,C)[tokens(B,T)] + wpe(maxT,C)[t + posOffset]. */
  void embeddingForward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, long posOffset);

  void embeddingBackward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, long posOffset);

  /** LayerNorm over the last dimension C of inp (N rows); mean/rstd (N) nullable (saved for backward). */
  void layerNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor inp, Tensor weight, Tensor bias, float eps);

  void layerNormBackward(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight,
      Tensor mean, Tensor rstd);

  /** GELU, tanh approximation. */
  void geluForward(Tensor out, Tensor inp);

  void geluBackward(Tensor dinp, Tensor inp, Tensor dout);

  // ------------------------------------------------------------------ Llama-family ops

  /**
   * RMSNorm over the last dimension C of inp (N rows): out = (x * rstd) * weight(C), rstd = 1 / sqrt(mean(x^2) +
   * eps) in fp32 (Hugging Face LlamaRMSNorm). rstd (N) nullable (saved for backward).
   */
  void rmsNormForward(Tensor out, Tensor rstd, Tensor inp, Tensor weight, float eps);

  /** dinp (N,C) and dweight (C) accumulate; dweight has the same bits at any CPU thread count. */
  void rmsNormBackward(Tensor dinp, Tensor dweight, Tensor dout, Tensor inp, Tensor weight, Tensor rstd);

  /**
   * Rotary position embedding (rotate-half), IN PLACE on {@code heads} heads of size {@code headSize} starting at
   * column {@code offset} of x (B,T,W): pairs (d, d + HS/2) of each head rotate by pos[b,t] * invFreq[d] (fp32
   * angle, as HF forms it). pos I32 (B,T): each token's position (left padding: not t); invFreq F32 (HS/2), see
   * {@link org.jalign.model.RopeConfig}. For a fused projection call it once for q and once for k.
   */
  void ropeForward(Tensor x, long offset, int heads, int headSize, Tensor pos, Tensor invFreq);

  /** The backward of {@link #ropeForward}: rotates the gradient dx by -angle, in place (not accumulated). */
  void ropeBackward(Tensor dx, long offset, int heads, int headSize, Tensor pos, Tensor invFreq);

  /** SwiGLU on the fused projection gu (N, 2F) (gate columns first, then up): out (N,F) = silu(gate) * up. */
  void swigluForward(Tensor out, Tensor gu);

  /** dgu (N, 2F) accumulates the gradient of {@link #swigluForward} for dout (N,F). */
  void swigluBackward(Tensor dgu, Tensor dout, Tensor gu);

  /** out = a + b (out may be a or b). */
  void add(Tensor out, Tensor a, Tensor b);

  /** y += alpha x. */
  void axpy(Tensor y, Tensor x, float alpha);

  /** x *= alpha. */
  void scale(Tensor x, float alpha);

  /** Sum of squares of x (for global gradient norms). */
  double sumSquares(Tensor x);

  /** out(n,C) = inp(N,C)[idx(n)]. */
  void gatherRows(Tensor out, Tensor inp, Tensor idx);

  /** dinp(N,C)[idx(n)] += dout(n,C). */
  void scatterAddRows(Tensor dinp, Tensor dout, Tensor idx);

  /**
   * Fused softmax + cross-entropy over logits (N, Vp) whose first {@code vocab} columns are real. losses(N)
   * (nullable) = -log p(target) (0 where target < 0). dlogits (nullable; may be the logits tensor itself) is
   * WRITTEN: (softmax - onehot) * dloss[i]; dloss(N) required with dlogits.
   */
  void crossEntropy(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, Tensor dloss, int vocab);

  /** One AdamW step (bias-corrected, decoupled weight decay); grads multiplied by gradScale first. */
  void adamw(Tensor params, Tensor grads, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
      float weightDecay, long step, float gradScale);

  /** Converts F32 to BF16 or BF16 to F32 (same element count). */
  void convert(Tensor out, Tensor inp);

  // ------------------------------------------------------------------ attention

  /**
   * Fused causal multi-head self-attention. q, k, v: (B,T,C) with C = nh * HS, F32 or all BF16; out (B,T,C) same
   * dtype; lse (B,nh,T) F32. kvStart/kvEnd: I32 (B), nullable: row b's valid positions are [kvStart[b], kvEnd[b]).
   */
  void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int nh, Tensor kvStart,
      Tensor kvEnd);

  /**
   * The same with a fused projection qkv (B,T,(nh+2*nkv)*HS): q (nh heads), k and v (nkv heads each) are its
   * three column blocks. Grouped-query attention: query head h reads kv head h / (nh/nkv) (nkv > 0 divides nh;
   * nkv = nh is multi-head attention, nkv = 1 multi-query). out (B,T,nh*HS).
   */
  void attentionForwardQkv(Tensor out, Tensor lse, Tensor qkv, int nh, int nkv, Tensor kvStart, Tensor kvEnd);

  /** Gradients accumulate into dq, dk, dv (shapes as q, k, v). */
  void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor out, Tensor lse, Tensor q, Tensor k,
      Tensor v, int nh, Tensor kvStart, Tensor kvEnd);

  /** Fused-projection backward: dqkv (shape of qkv) accumulates; a kv head's gradient sums over its group. */
  void attentionBackwardQkv(Tensor dqkv, Tensor dout, Tensor out, Tensor lse, Tensor qkv, int nh, int nkv,
      Tensor kvStart, Tensor kvEnd);

  /** Writes the k and v blocks of qkv (B,Tq,(nh+2*nkv)*HS) into caches (B,maxT,nkv,HS) at [pos, pos+Tq). */
  void kvCacheAppend(Tensor kCache, Tensor vCache, Tensor qkv, int nh, int nkv, long pos);

  /**
   * out(B,Tq,nh*HS) = attention of the q block of qkv (positions pos..) against the caches (B,maxT,nkv,HS);
   * kvStart (B) nullable.
   */
  void attentionKvCache(Tensor out, Tensor qkv, Tensor kCache, Tensor vCache, int nh, int nkv, long pos,
      Tensor kvStart);

  // ------------------------------------------------------------------ sampling

  /**
   * Samples ids(B) I32 from logits (B, Vp) (first {@code vocab} columns real) without sorting the vocabulary.
   * logpSampled/logpRaw (B) F32 nullable: log-prob under the filtered distribution / the raw softmax.
   */
  void sample(Tensor ids, Tensor logpSampled, Tensor logpRaw, Tensor logits, int vocab, SamplingParams params,
      long offset);

  // ------------------------------------------------------------------ RL losses

  /**
   * Fused PPO policy loss from logits (N, Vp) with N = B*T positions; tokens I32 (N); oldLogp, advantages,
   * mask (N) F32; refLogp (N) nullable. logpOut (N) nullable; dlogits nullable (may be logits), WRITTEN.
   */
  PpoMetrics ppoLoss(Tensor logpOut, Tensor dlogits, Tensor logits, Tensor tokens, Tensor oldLogp,
      Tensor advantages, Tensor refLogp, Tensor mask, int vocab, PpoLossConfig config);

  /** Clipped value loss; returns {loss, clipFraction}; dvalues (N) nullable, WRITTEN. */
  float[] valueLoss(Tensor dvalues, Tensor values, Tensor oldValues, Tensor returns, Tensor mask, float clip);

  /**
   * Ranking loss over G groups of K: rewards (G,K), order (G,K) I32 (best first, a permutation per group),
   * margins (G) nullable. Returns {loss, accuracy}; drewards (G,K) nullable, accumulates.
   */
  float[] rankingLoss(Tensor drewards, Tensor rewards, Tensor order, Tensor margins);

  /** Releases the backend's own resources (its context, scratch buffers). Tensors must be closed first. */
  @Override
  void close();
}
