package org.jalign.backend;

import static org.jalign.backend.NativeLibrary.check;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.jalign.bindings.JalignNative;
import org.jalign.bindings.JalignNative.jalign_ctx;
import org.jalign.tensor.DType;
import org.jalign.tensor.Device;
import org.jalign.tensor.Tensor;

/**
 * The shared implementation of {@link Backend} over the jalign C ABI: Java-side validation, then one native call
 * on this backend's context. {@link CpuBackend} and {@link CudaBackend} differ only in the device, host
 * transfers and (for CUDA) GEMM.
 */
public abstract class NativeBackend implements Backend {
  protected final Device device;
  protected final jalign_ctx ctx;
  private final AtomicLong liveBytes = new AtomicLong();
  private boolean closed;
  /** One-float scratch for scalar reductions, in the context's memory. */
  private Tensor scratch;

  protected NativeBackend(Device device) {
    NativeLibrary.load();
    this.device = device;
    jalign_ctx c = JalignNative.jalign_ctx_create(device.index());
    if (c == null || c.isNull()) {
      throw new JalignException(JalignNative.JALIGN_ERR_UNSUPPORTED,
          "cannot create a " + device + " context: " + JalignNative.jalign_last_error().getString());
    }
    this.ctx = c;
  }

  @Override
  public Device device() {
    return device;
  }

  @Override
  public String name() {
    return device.toString();
  }

  /** The native context (for advanced interop). */
  public jalign_ctx context() {
    checkBackendOpen();
    return ctx;
  }

  protected void checkBackendOpen() {
    if (closed) throw new IllegalStateException("backend " + name() + " is closed");
  }

  // ================================================================== memory

  @Override
  public Tensor zeros(DType dtype, long... shape) {
    checkBackendOpen();
    if (dtype == null) throw new IllegalArgumentException("dtype is null");
    if (shape == null) throw new IllegalArgumentException("shape is null");
    long n;
    try {
      n = Tensor.numelOf(shape);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " overflows a 64-bit element count");
    }
    if (n > (1L << 40)) {
      throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n
          + " elements, more than the 2^40 limit");
    }
    long bytes = Math.max(1, n) * dtype.bytes();
    Pointer p = JalignNative.jalign_alloc(bytes, ctx);
    if (p == null || p.isNull()) {
      String msg = JalignNative.jalign_last_error().getString();
      throw new JalignException(JalignNative.JALIGN_ERR_OUT_OF_MEMORY, "allocating " + dtype + Arrays.toString(shape)
          + " (" + bytes + " bytes) on " + name() + " failed: " + msg);
    }
    liveBytes.addAndGet(bytes);
    Tensor.Storage st = new Tensor.Storage(p, bytes);
    check(JalignNative.jalign_memset_zero(p, bytes, ctx));
    return new Tensor(this, st, 0, dtype, shape, true);
  }

  @Override
  public synchronized void free(Tensor.Storage storage) {
    JalignNative.jalign_free(storage.pointer(), ctx);
    long left = liveBytes.addAndGet(-storage.bytes());
    if (closed && left == 0 && !ctxDestroyed) destroyContext();
  }

  private boolean ctxDestroyed;

  private void destroyContext() {
    ctxDestroyed = true;
    JalignNative.jalign_ctx_destroy(ctx);
  }

  @Override
  public long liveBytes() {
    return liveBytes.get();
  }

  @Override
  public void copy(Tensor dst, Tensor src) {
    tensor("dst", dst, null);
    tensor("src", src, dst.dtype());
    sameNumel("dst", dst, "src", src);
    if (dst.address() == src.address()) return;
    noOverlap("dst", dst, "src", src);
    check(JalignNative.jalign_memcpy(ptr(dst), ptr(src), dst.bytes(), JalignNative.JALIGN_MEMCPY_DEVICE_TO_DEVICE,
        ctx));
  }

  @Override
  public void zero(Tensor t) {
    tensor("t", t, null);
    check(JalignNative.jalign_memset_zero(ptr(t), t.bytes(), ctx));
  }

  @Override
  public void synchronize() {
    checkBackendOpen();
    check(JalignNative.jalign_ctx_synchronize(ctx));
  }

  /** Raw pointer at the tensor's first element. */
  protected static Pointer ptr(Tensor t) {
    return new Pointer(t.storage().pointer()) {
      {
        address = t.address();
      }
    };
  }

  // ================================================================== validation helpers

  /** Checks non-null, open, on this device, and (when dtype != null) of that dtype. */
  protected Tensor tensor(String name, Tensor t, DType dtype) {
    checkBackendOpen();
    if (t == null) throw new IllegalArgumentException(name + " is null");
    t.checkOpen(name);
    if (!t.device().equals(device)) {
      throw new IllegalArgumentException(name + " is on " + t.device() + " but this backend runs on " + device);
    }
    if (dtype != null && t.dtype() != dtype) {
      throw new IllegalArgumentException(name + " has dtype " + t.dtype() + ", expected " + dtype);
    }
    return t;
  }

  /** As {@link #tensor} but null is allowed. */
  protected Tensor optional(String name, Tensor t, DType dtype) {
    return t == null ? null : tensor(name, t, dtype);
  }

  protected static void numel(String name, Tensor t, long expected) {
    if (t.numel() != expected) {
      throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + " (" + t.numel()
          + " elements), expected " + expected + " elements");
    }
  }

  protected static void sameNumel(String an, Tensor a, String bn, Tensor b) {
    if (a.numel() != b.numel()) {
      throw new IllegalArgumentException(an + " " + Arrays.toString(a.shape()) + " and " + bn + " "
          + Arrays.toString(b.shape()) + " must have the same number of elements");
    }
  }

  protected static boolean overlaps(Tensor a, Tensor b) {
    long a0 = a.address(), a1 = a0 + a.bytes();
    long b0 = b.address(), b1 = b0 + b.bytes();
    return a0 < b1 && b0 < a1;
  }

  protected static void noOverlap(String an, Tensor a, String bn, Tensor b) {
    if (a != null && b != null && overlaps(a, b)) {
      throw new IllegalArgumentException(an + " must not overlap " + bn);
    }
  }

  protected static long rows(Tensor t) {
    return t.rank() == 0 ? 1 : t.numel() / Math.max(1, t.dim(-1));
  }

  protected static long cols(Tensor t) {
    return t.rank() == 0 ? 1 : t.dim(-1);
  }

  protected static void positive(String name, long v) {
    if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
  }

  private static FloatPointer f32(Tensor t) {
    return t == null ? null : t.f32();
  }

  private static IntPointer i32(Tensor t) {
    return t == null ? null : t.i32();
  }

  private static ShortPointer bf16(Tensor t) {
    return t == null ? null : t.bf16();
  }

  // ================================================================== core ops

  @Override
  public void matmul(Tensor out, Tensor a, Tensor b, Tensor bias, boolean transA, boolean transB,
      boolean accumulate) {
    tensor("out", out, DType.F32);
    tensor("a", a, DType.F32);
    tensor("b", b, DType.F32);
    optional("bias", bias, DType.F32);
    long m = transA ? cols(a) : rows(a);
    long k = transA ? rows(a) : cols(a);
    long kb = transB ? cols(b) : rows(b);
    long n = transB ? rows(b) : cols(b);
    if (k != kb) {
      throw new IllegalArgumentException("matmul inner dimensions differ: op(a) is (" + m + "," + k + ") from a "
          + Arrays.toString(a.shape()) + ", op(b) is (" + kb + "," + n + ") from b " + Arrays.toString(b.shape()));
    }
    if (rows(out) != m || cols(out) != n) {
      throw new IllegalArgumentException("out has shape " + Arrays.toString(out.shape()) + ", expected (" + m + ","
          + n + ") rows x cols");
    }
    if (bias != null) numel("bias", bias, n);
    noOverlap("out", out, "a", a);
    noOverlap("out", out, "b", b);
    noOverlap("out", out, "bias", bias);
    gemm(out, a, b, bias, m, n, k, transA, transB, accumulate);
  }

  /** The GEMM itself, arguments already checked. */
  protected void gemm(Tensor out, Tensor a, Tensor b, Tensor bias, long m, long n, long k, boolean transA,
      boolean transB, boolean accumulate) {
    check(JalignNative.jalign_matmul(out.f32(), a.f32(), b.f32(), f32(bias), m, n, k, transA ? 1 : 0,
        transB ? 1 : 0, accumulate ? 1 : 0, ctx));
  }

  @Override
  public void biasBackward(Tensor dbias, Tensor dout) {
    tensor("dbias", dbias, DType.F32);
    tensor("dout", dout, DType.F32);
    numel("dbias", dbias, cols(dout));
    check(JalignNative.jalign_bias_backward(dbias.f32(), dout.f32(), rows(dout), cols(dout), ctx));
  }

  private long[] embeddingDims(Tensor x, Tensor tokens, Tensor wte, Tensor wpe, long posOffset) {
    if (tokens.rank() != 2) {
      throw new IllegalArgumentException("tokens must be (B,T), got " + Arrays.toString(tokens.shape()));
    }
    if (wte.rank() != 2 || wpe.rank() != 2) {
      throw new IllegalArgumentException("wte (V,C) and wpe (maxT,C) must be 2-D, got "
          + Arrays.toString(wte.shape()) + " and " + Arrays.toString(wpe.shape()));
    }
    long b = tokens.dim(0), t = tokens.dim(1), c = wte.dim(1), v = wte.dim(0), maxT = wpe.dim(0);
    if (wpe.dim(1) != c) throw new IllegalArgumentException("wpe has " + wpe.dim(1) + " channels, wte has " + c);
    numel("out", x, b * t * c);
    if (posOffset < 0 || posOffset + t > maxT) {
      throw new IllegalArgumentException("positions [" + posOffset + ", " + (posOffset + t) + ") exceed the "
          + maxT + " rows of wpe (context length)");
    }
    if (device.isCpu()) {
      int[] ids = tokens.toIntArray();
      for (int i = 0; i < ids.length; i++) {
        if (ids[i] < 0 || ids[i] >= v) {
          throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the vocab [0, "
              + v + ")");
        }
      }
    }
    return new long[] {b, t, c, v, maxT};
  }

  @Override
  public void embeddingForward(Tensor out, Tensor tokens, Tensor wte, Tensor wpe, long posOffset) {
    tensor("out", out, DType.F32);
    tensor("tokens", tokens, DType.I32);
    tensor("wte", wte, DType.F32);
    tensor("wpe", wpe, DType.F32);
    long[] d = embeddingDims(out, tokens, wte, wpe, posOffset);
    check(JalignNative.jalign_embedding_forward(out.f32(), tokens.i32(), wte.f32(), wpe.f32(), d[0], d[1], d[2],
        d[3], d[4], posOffset, ctx));
  }

  @Override
  public void embeddingBackward(Tensor dwte, Tensor dwpe, Tensor dout, Tensor tokens, long posOffset) {
    tensor("dwte", dwte, DType.F32);
    tensor("dwpe", dwpe, DType.F32);
    tensor("dout", dout, DType.F32);
    tensor("tokens", tokens, DType.I32);
    long[] d = embeddingDims(dout, tokens, dwte, dwpe, posOffset);
    noOverlap("dwte", dwte, "dwpe", dwpe);
    check(JalignNative.jalign_embedding_backward(dwte.f32(), dwpe.f32(), dout.f32(), tokens.i32(), d[0], d[1], d[2],
        d[3], d[4], posOffset, ctx));
  }

  @Override
  public void layerNormForward(Tensor out, Tensor mean, Tensor rstd, Tensor inp, Tensor weight, Tensor bias,
      float eps) {
    tensor("out", out, DType.F32);
    tensor("inp", inp, DType.F32);
    tensor("weight", weight, DType.F32);
    tensor("bias", bias, DType.F32);
    optional("mean", mean, DType.F32);
    optional("rstd", rstd, DType.F32);
    long n = rows(inp), c = cols(inp);
    sameNumel("out", out, "inp", inp);
    numel("weight", weight, c);
    numel("bias", bias, c);
    if (mean != null) numel("mean", mean, n);
    if (rstd != null) numel("rstd", rstd, n);
    if (!(eps > 0 && Float.isFinite(eps))) throw new IllegalArgumentException("eps must be finite and > 0, got " + eps);
    check(JalignNative.jalign_layernorm_forward(out.f32(), f32(mean), f32(rstd), inp.f32(), weight.f32(), bias.f32(),
        n, c, eps, ctx));
  }

  @Override
  public void layerNormBackward(Tensor dinp, Tensor dweight, Tensor dbias, Tensor dout, Tensor inp, Tensor weight,
      Tensor mean, Tensor rstd) {
    tensor("dinp", dinp, DType.F32);
    tensor("dweight", dweight, DType.F32);
    tensor("dbias", dbias, DType.F32);
    tensor("dout", dout, DType.F32);
    tensor("inp", inp, DType.F32);
    tensor("weight", weight, DType.F32);
    tensor("mean", mean, DType.F32);
    tensor("rstd", rstd, DType.F32);
    long n = rows(inp), c = cols(inp);
    sameNumel("dinp", dinp, "inp", inp);
    sameNumel("dout", dout, "inp", inp);
    numel("weight", weight, c);
    numel("dweight", dweight, c);
    numel("dbias", dbias, c);
    numel("mean", mean, n);
    numel("rstd", rstd, n);
    noOverlap("dinp", dinp, "dout", dout);
    check(JalignNative.jalign_layernorm_backward(dinp.f32(), dweight.f32(), dbias.f32(), dout.f32(), inp.f32(),
        weight.f32(), mean.f32(), rstd.f32(), n, c, ctx));
  }

  @Override
  public void geluForward(Tensor out, Tensor inp) {
    tensor("out", out, DType.F32);
    tensor("inp", inp, DType.F32);
    sameNumel("out", out, "inp", inp);
    check(JalignNative.jalign_gelu_forward(out.f32(), inp.f32(), inp.numel(), ctx));
  }

  @Override
  public void geluBackward(Tensor dinp, Tensor inp, Tensor dout) {
    tensor("dinp", dinp, DType.F32);
    tensor("inp", inp, DType.F32);
    tensor("dout", dout, DType.F32);
    sameNumel("dinp", dinp, "inp", inp);
    sameNumel("dout", dout, "inp", inp);
    check(JalignNative.jalign_gelu_backward(dinp.f32(), inp.f32(), dout.f32(), inp.numel(), ctx));
  }

  // ================================================================== Llama-family ops

  @Override
  public void rmsNormForward(Tensor out, Tensor rstd, Tensor inp, Tensor weight, float eps) {
    tensor("out", out, DType.F32);
    tensor("inp", inp, DType.F32);
    tensor("weight", weight, DType.F32);
    optional("rstd", rstd, DType.F32);
    long n = rows(inp), c = cols(inp);
    sameNumel("out", out, "inp", inp);
    numel("weight", weight, c);
    if (rstd != null) numel("rstd", rstd, n);
    if (!(eps > 0 && Float.isFinite(eps))) throw new IllegalArgumentException("eps must be finite and > 0, got " + eps);
    check(JalignNative.jalign_rmsnorm_forward(out.f32(), f32(rstd), inp.f32(), weight.f32(), n, c, eps, ctx));
  }

  @Override
  public void rmsNormBackward(Tensor dinp, Tensor dweight, Tensor dout, Tensor inp, Tensor weight, Tensor rstd) {
    tensor("dinp", dinp, DType.F32);
    tensor("dweight", dweight, DType.F32);
    tensor("dout", dout, DType.F32);
    tensor("inp", inp, DType.F32);
    tensor("weight", weight, DType.F32);
    tensor("rstd", rstd, DType.F32);
    long n = rows(inp), c = cols(inp);
    sameNumel("dinp", dinp, "inp", inp);
    sameNumel("dout", dout, "inp", inp);
    numel("weight", weight, c);
    numel("dweight", dweight, c);
    numel("rstd", rstd, n);
    noOverlap("dinp", dinp, "dout", dout);
    noOverlap("dinp", dinp, "dweight", dweight);
    check(JalignNative.jalign_rmsnorm_backward(dinp.f32(), dweight.f32(), dout.f32(), inp.f32(), weight.f32(),
        rstd.f32(), n, c, ctx));
  }

  @Override
  public void ropeForward(Tensor x, long offset, int heads, int headSize, Tensor pos, Tensor invFreq) {
    rope("x", x, offset, heads, headSize, pos, invFreq, false);
  }

  @Override
  public void ropeBackward(Tensor dx, long offset, int heads, int headSize, Tensor pos, Tensor invFreq) {
    rope("dx", dx, offset, heads, headSize, pos, invFreq, true);
  }

  private void rope(String name, Tensor x, long offset, int heads, int headSize, Tensor pos, Tensor invFreq,
      boolean backward) {
    tensor(name, x, DType.F32);
    tensor("pos", pos, DType.I32);
    tensor("invFreq", invFreq, DType.F32);
    if (x.rank() != 3) throw new IllegalArgumentException(name + " must be (B,T,W), got " + Arrays.toString(x.shape()));
    positive("heads", heads);
    positive("headSize", headSize);
    if (headSize % 2 != 0) throw new IllegalArgumentException("headSize must be even, got " + headSize);
    long b = x.dim(0), t = x.dim(1), width = x.dim(2);
    if (offset < 0 || offset + (long) heads * headSize > width) {
      throw new IllegalArgumentException("heads " + heads + " x headSize " + headSize + " at offset " + offset
          + " do not fit in the last dimension " + width + " of " + name);
    }
    if (pos.rank() != 2 || pos.dim(0) != b || pos.dim(1) != t) {
      throw new IllegalArgumentException("pos has shape " + Arrays.toString(pos.shape()) + ", expected (" + b + ","
          + t + ")");
    }
    numel("invFreq", invFreq, headSize / 2);
    noOverlap(name, x, "invFreq", invFreq);
    FloatPointer base = offsetF32(x, offset);
    if (backward) {
      check(JalignNative.jalign_rope_backward(base, pos.i32(), invFreq.f32(), width, b, t, heads, headSize, ctx));
    } else {
      check(JalignNative.jalign_rope_forward(base, pos.i32(), invFreq.f32(), width, b, t, heads, headSize, ctx));
    }
  }

  /** F, the intermediate width, of a fused gate/up projection gu (N, 2F). */
  private static long swigluWidth(Tensor gu) {
    if (gu.rank() < 1 || cols(gu) % 2 != 0) {
      throw new IllegalArgumentException("gu must be (N, 2F) with an even last dimension, got "
          + Arrays.toString(gu.shape()));
    }
    return cols(gu) / 2;
  }

  @Override
  public void swigluForward(Tensor out, Tensor gu) {
    tensor("out", out, DType.F32);
    tensor("gu", gu, DType.F32);
    long f = swigluWidth(gu), n = rows(gu);
    numel("out", out, n * f);
    noOverlap("out", out, "gu", gu);
    check(JalignNative.jalign_swiglu_forward(out.f32(), gu.f32(), n, f, ctx));
  }

  @Override
  public void swigluBackward(Tensor dgu, Tensor dout, Tensor gu) {
    tensor("dgu", dgu, DType.F32);
    tensor("dout", dout, DType.F32);
    tensor("gu", gu, DType.F32);
    long f = swigluWidth(gu), n = rows(gu);
    sameNumel("dgu", dgu, "gu", gu);
    numel("dout", dout, n * f);
    noOverlap("dgu", dgu, "gu", gu);
    noOverlap("dgu", dgu, "dout", dout);
    check(JalignNative.jalign_swiglu_backward(dgu.f32(), dout.f32(), gu.f32(), n, f, ctx));
  }

  @Override
  public void add(Tensor out, Tensor a, Tensor b) {
    tensor("out", out, DType.F32);
    tensor("a", a, DType.F32);
    tensor("b", b, DType.F32);
    sameNumel("out", out, "a", a);
    sameNumel("out", out, "b", b);
    check(JalignNative.jalign_add(out.f32(), a.f32(), b.f32(), out.numel(), ctx));
  }

  @Override
  public void axpy(Tensor y, Tensor x, float alpha) {
    tensor("y", y, DType.F32);
    tensor("x", x, DType.F32);
    sameNumel("y", y, "x", x);
    if (!Float.isFinite(alpha)) throw new IllegalArgumentException("alpha must be finite, got " + alpha);
    check(JalignNative.jalign_axpy(y.f32(), x.f32(), alpha, y.numel(), ctx));
  }

  @Override
  public void scale(Tensor x, float alpha) {
    tensor("x", x, DType.F32);
    if (!Float.isFinite(alpha)) throw new IllegalArgumentException("alpha must be finite, got " + alpha);
    check(JalignNative.jalign_scale(x.f32(), alpha, x.numel(), ctx));
  }

  @Override
  public double sumSquares(Tensor x) {
    tensor("x", x, DType.F32);
    if (scratch == null) scratch = withoutScope(() -> zeros(DType.F32, 1));
    check(JalignNative.jalign_sum_squares(scratch.f32(), x.f32(), x.numel(), ctx));
    return scratch.item();
  }

  /** Allocates outside any open Scope (for the backend's own long-lived buffers). */
  private static Tensor withoutScope(java.util.function.Supplier<Tensor> s) {
    try (org.jalign.tensor.Scope inner = org.jalign.tensor.Scope.open()) {
      return inner.detach(s.get());
    }
  }

  private long[] rowsDims(String outName, Tensor out, String inName, Tensor inp, Tensor idx) {
    if (idx.rank() != 1) throw new IllegalArgumentException("idx must be 1-D, got " + Arrays.toString(idx.shape()));
    long n = idx.numel(), c = cols(inp), rowsIn = rows(inp);
    if (cols(out) != c || rows(out) != n) {
      throw new IllegalArgumentException(outName + " has shape " + Arrays.toString(out.shape()) + ", expected ("
          + n + "," + c + ") for " + n + " indices into " + inName + " " + Arrays.toString(inp.shape()));
    }
    if (device.isCpu()) {
      int[] ids = idx.toIntArray();
      for (int i = 0; i < ids.length; i++) {
        if (ids[i] < 0 || ids[i] >= rowsIn) {
          throw new IllegalArgumentException("idx[" + i + "] = " + ids[i] + " is outside [0, " + rowsIn + ")");
        }
      }
    }
    return new long[] {n, rowsIn, c};
  }

  @Override
  public void gatherRows(Tensor out, Tensor inp, Tensor idx) {
    tensor("out", out, DType.F32);
    tensor("inp", inp, DType.F32);
    tensor("idx", idx, DType.I32);
    long[] d = rowsDims("out", out, "inp", inp, idx);
    noOverlap("out", out, "inp", inp);
    check(JalignNative.jalign_gather_rows(out.f32(), inp.f32(), idx.i32(), d[0], d[1], d[2], ctx));
  }

  @Override
  public void scatterAddRows(Tensor dinp, Tensor dout, Tensor idx) {
    tensor("dinp", dinp, DType.F32);
    tensor("dout", dout, DType.F32);
    tensor("idx", idx, DType.I32);
    long[] d = rowsDims("dout", dout, "dinp", dinp, idx);
    noOverlap("dinp", dinp, "dout", dout);
    check(JalignNative.jalign_scatter_add_rows(dinp.f32(), dout.f32(), idx.i32(), d[0], d[1], d[2], ctx));
  }

  private void checkVocab(Tensor logits, int vocab) {
    if (vocab <= 0 || vocab > cols(logits)) {
      throw new IllegalArgumentException("vocab " + vocab + " must be in [1, " + cols(logits)
          + "] (the last dimension of logits " + Arrays.toString(logits.shape()) + ")");
    }
  }

  private void checkTargets(String name, Tensor targets, int vocab, boolean allowNegative) {
    if (!device.isCpu()) return;
    int[] t = targets.toIntArray();
    for (int i = 0; i < t.length; i++) {
      if (t[i] >= vocab || (t[i] < 0 && !allowNegative)) {
        throw new IllegalArgumentException(name + "[" + i + "] = " + t[i] + " is outside the vocab [0, " + vocab + ")");
      }
    }
  }

  @Override
  public void crossEntropy(Tensor losses, Tensor dlogits, Tensor logits, Tensor targets, Tensor dloss, int vocab) {
    tensor("logits", logits, DType.F32);
    tensor("targets", targets, DType.I32);
    optional("losses", losses, DType.F32);
    optional("dlogits", dlogits, DType.F32);
    optional("dloss", dloss, DType.F32);
    if (losses == null && dlogits == null) {
      throw new IllegalArgumentException("at least one of losses and dlogits must be given");
    }
    long n = rows(logits);
    checkVocab(logits, vocab);
    numel("targets", targets, n);
    if (losses != null) {
      numel("losses", losses, n);
      noOverlap("losses", losses, "logits", logits);
    }
    if (dlogits != null) {
      if (dloss == null) throw new IllegalArgumentException("dloss is required when dlogits is given");
      numel("dloss", dloss, n);
      sameNumel("dlogits", dlogits, "logits", logits);
      if (dlogits.address() != logits.address()) noOverlap("dlogits", dlogits, "logits", logits);
      noOverlap("dlogits", dlogits, "dloss", dloss);
      noOverlap("dlogits", dlogits, "losses", losses);
    }
    checkTargets("targets", targets, vocab, true);
    check(JalignNative.jalign_crossentropy(f32(losses), f32(dlogits), logits.f32(), targets.i32(), f32(dloss), n,
        vocab, cols(logits), ctx));
  }

  @Override
  public void adamw(Tensor params, Tensor grads, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
      float weightDecay, long step, float gradScale) {
    tensor("params", params, DType.F32);
    tensor("grads", grads, DType.F32);
    tensor("m", m, DType.F32);
    tensor("v", v, DType.F32);
    sameNumel("grads", grads, "params", params);
    sameNumel("m", m, "params", params);
    sameNumel("v", v, "params", params);
    noOverlap("params", params, "grads", grads);
    noOverlap("m", m, "v", v);
    if (!(lr >= 0 && Float.isFinite(lr))) throw new IllegalArgumentException("lr must be finite and >= 0, got " + lr);
    if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1 must be in [0,1), got " + beta1);
    if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2 must be in [0,1), got " + beta2);
    if (!(eps > 0 && Float.isFinite(eps))) throw new IllegalArgumentException("eps must be finite and > 0, got " + eps);
    if (!(weightDecay >= 0 && Float.isFinite(weightDecay))) {
      throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
    }
    if (step < 1) throw new IllegalArgumentException("step is 1-based, got " + step);
    if (!Float.isFinite(gradScale)) throw new IllegalArgumentException("gradScale must be finite, got " + gradScale);
    check(JalignNative.jalign_adamw(params.f32(), grads.f32(), m.f32(), v.f32(), params.numel(), lr, beta1, beta2,
        eps, weightDecay, step, gradScale, ctx));
  }

  @Override
  public void convert(Tensor out, Tensor inp) {
    tensor("out", out, null);
    tensor("inp", inp, null);
    sameNumel("out", out, "inp", inp);
    if (inp.dtype() == DType.F32 && out.dtype() == DType.BF16) {
      check(JalignNative.jalign_convert_f32_to_bf16(out.bf16(), inp.f32(), inp.numel(), ctx));
    } else if (inp.dtype() == DType.BF16 && out.dtype() == DType.F32) {
      check(JalignNative.jalign_convert_bf16_to_f32(out.f32(), inp.bf16(), inp.numel(), ctx));
    } else {
      throw new IllegalArgumentException("convert supports F32->BF16 and BF16->F32, got " + inp.dtype() + "->"
          + out.dtype());
    }
  }

  // ================================================================== attention

  /** Validated attention geometry: B, T, NH (query heads), NKV (kv heads), HS, ld (row stride of q/k/v). */
  private record Geo(long b, long t, long nh, long nkv, long hs, long ld) {}

  /** Geometry of separate (B,T,C) q, k, v tensors (multi-head: nkv = nh). */
  private Geo attentionGeo(Tensor x, int nh, String name) {
    if (x.rank() != 3) {
      throw new IllegalArgumentException(name + " must be (B,T,C), got " + Arrays.toString(x.shape()));
    }
    if (nh <= 0) throw new IllegalArgumentException("nh must be > 0, got " + nh);
    long b = x.dim(0), t = x.dim(1), c = x.dim(2);
    if (c % nh != 0) throw new IllegalArgumentException("channels " + c + " not divisible by nh " + nh);
    long hs = c / nh;
    if (hs > 256) throw new IllegalArgumentException("head size " + hs + " exceeds 256");
    return new Geo(b, t, nh, nh, hs, c);
  }

  /** Geometry of a fused projection (B,T,(nh+2*nkv)*HS). */
  private Geo fusedGeo(Tensor x, int nh, int nkv, String name) {
    if (x.rank() != 3) {
      throw new IllegalArgumentException(name + " must be (B,T,(nh+2*nkv)*HS), got " + Arrays.toString(x.shape()));
    }
    if (nh <= 0) throw new IllegalArgumentException("nh must be > 0, got " + nh);
    if (nkv <= 0 || nkv > nh || nh % nkv != 0) {
      throw new IllegalArgumentException("nkv (kv heads) must be > 0 and divide nh " + nh + ", got " + nkv);
    }
    long b = x.dim(0), t = x.dim(1), width = x.dim(2);
    long heads = (long) nh + 2L * nkv;
    if (width % heads != 0) {
      throw new IllegalArgumentException(name + " last dimension " + width + " is not a multiple of nh+2*nkv = "
          + heads);
    }
    long hs = width / heads;
    if (hs > 256) throw new IllegalArgumentException("head size " + hs + " exceeds 256");
    return new Geo(b, t, nh, nkv, hs, width);
  }

  private void checkKvRange(Tensor kvStart, Tensor kvEnd, long b, long t) {
    optional("kvStart", kvStart, DType.I32);
    optional("kvEnd", kvEnd, DType.I32);
    if (kvStart != null) numel("kvStart", kvStart, b);
    if (kvEnd != null) numel("kvEnd", kvEnd, b);
    if (device.isCpu() && (kvStart != null || kvEnd != null)) {
      int[] s = kvStart == null ? new int[(int) b] : kvStart.toIntArray();
      int[] e = kvEnd == null ? null : kvEnd.toIntArray();
      for (int i = 0; i < b; i++) {
        long en = e == null ? t : e[i];
        if (s[i] < 0 || s[i] > en || en > t) {
          throw new IllegalArgumentException("row " + i + " has kv range [" + s[i] + ", " + en + ") outside [0, " + t
              + "]");
        }
      }
    }
  }

  private DType attentionDtype(Tensor x) {
    if (x.dtype() != DType.F32 && x.dtype() != DType.BF16) {
      throw new IllegalArgumentException("attention takes F32 or BF16 tensors, got " + x.dtype());
    }
    return x.dtype();
  }

  private static ShortPointer offsetBf16(Tensor t, long elems) {
    return t.bf16().position(t.offset() + elems);
  }

  private static FloatPointer offsetF32(Tensor t, long elems) {
    return t.f32().position(t.offset() + elems);
  }

  private void attnForward(Tensor out, Tensor lse, Tensor q, long qOff, Tensor k, long kOff, Tensor v, long vOff,
      Geo g, Tensor kvStart, Tensor kvEnd) {
    DType dt = attentionDtype(q);
    tensor("out", out, dt);
    tensor("lse", lse, DType.F32);
    numel("out", out, g.b * g.t * g.nh * g.hs);
    numel("lse", lse, g.b * g.nh * g.t);
    checkKvRange(kvStart, kvEnd, g.b, g.t);
    noOverlap("out", out, "q", q);
    noOverlap("out", out, "k", k);
    noOverlap("out", out, "v", v);
    noOverlap("lse", lse, "out", out);
    if (dt == DType.F32) {
      check(JalignNative.jalign_attention_forward(out.f32(), lse.f32(), offsetF32(q, qOff), offsetF32(k, kOff),
          offsetF32(v, vOff), g.ld, g.b, g.t, g.nh, g.nkv, g.hs, i32(kvStart), i32(kvEnd), ctx));
    } else {
      check(JalignNative.jalign_attention_forward_bf16(out.bf16(), lse.f32(), offsetBf16(q, qOff),
          offsetBf16(k, kOff), offsetBf16(v, vOff), g.ld, g.b, g.t, g.nh, g.nkv, g.hs, i32(kvStart), i32(kvEnd),
          ctx));
    }
  }

  @Override
  public void attentionForward(Tensor out, Tensor lse, Tensor q, Tensor k, Tensor v, int nh, Tensor kvStart,
      Tensor kvEnd) {
    tensor("q", q, null);
    DType dt = attentionDtype(q);
    tensor("k", k, dt);
    tensor("v", v, dt);
    Geo g = attentionGeo(q, nh, "q");
    if (!Arrays.equals(k.shape(), q.shape()) || !Arrays.equals(v.shape(), q.shape())) {
      throw new IllegalArgumentException("q, k, v must have the same shape, got " + Arrays.toString(q.shape()) + ", "
          + Arrays.toString(k.shape()) + ", " + Arrays.toString(v.shape()));
    }
    attnForward(out, lse, q, 0, k, 0, v, 0, g, kvStart, kvEnd);
  }

  @Override
  public void attentionForwardQkv(Tensor out, Tensor lse, Tensor qkv, int nh, int nkv, Tensor kvStart,
      Tensor kvEnd) {
    tensor("qkv", qkv, null);
    attentionDtype(qkv);
    Geo g = fusedGeo(qkv, nh, nkv, "qkv");
    long c = g.nh * g.hs, ck = g.nkv * g.hs;
    attnForward(out, lse, qkv, 0, qkv, c, qkv, c + ck, g, kvStart, kvEnd);
  }

  private void attnBackward(Tensor dq, long dqOff, Tensor dk, long dkOff, Tensor dv, long dvOff, Tensor dout,
      Tensor out, Tensor lse, Tensor q, long qOff, Tensor k, long kOff, Tensor v, long vOff, Geo g, Tensor kvStart,
      Tensor kvEnd) {
    DType dt = attentionDtype(q);
    tensor("dout", dout, dt);
    tensor("out", out, dt);
    tensor("lse", lse, DType.F32);
    numel("out", out, g.b * g.t * g.nh * g.hs);
    numel("dout", dout, g.b * g.t * g.nh * g.hs);
    numel("lse", lse, g.b * g.nh * g.t);
    checkKvRange(kvStart, kvEnd, g.b, g.t);
    for (Tensor in : new Tensor[] {dout, out, lse, q, k, v}) {
      noOverlap("dq", dq, "an input", in);
      noOverlap("dk", dk, "an input", in);
      noOverlap("dv", dv, "an input", in);
    }
    if (dt == DType.F32) {
      check(JalignNative.jalign_attention_backward(offsetF32(dq, dqOff), offsetF32(dk, dkOff), offsetF32(dv, dvOff),
          dout.f32(), out.f32(), lse.f32(), offsetF32(q, qOff), offsetF32(k, kOff), offsetF32(v, vOff), g.ld, g.b,
          g.t, g.nh, g.nkv, g.hs, i32(kvStart), i32(kvEnd), ctx));
    } else {
      check(JalignNative.jalign_attention_backward_bf16(offsetBf16(dq, dqOff), offsetBf16(dk, dkOff),
          offsetBf16(dv, dvOff), dout.bf16(), out.bf16(), lse.f32(), offsetBf16(q, qOff), offsetBf16(k, kOff),
          offsetBf16(v, vOff), g.ld, g.b, g.t, g.nh, g.nkv, g.hs, i32(kvStart), i32(kvEnd), ctx));
    }
  }

  @Override
  public void attentionBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor out, Tensor lse, Tensor q,
      Tensor k, Tensor v, int nh, Tensor kvStart, Tensor kvEnd) {
    tensor("q", q, null);
    DType dt = attentionDtype(q);
    tensor("k", k, dt);
    tensor("v", v, dt);
    tensor("dq", dq, dt);
    tensor("dk", dk, dt);
    tensor("dv", dv, dt);
    Geo g = attentionGeo(q, nh, "q");
    for (Tensor t : new Tensor[] {k, v, dq, dk, dv}) {
      if (!Arrays.equals(t.shape(), q.shape())) {
        throw new IllegalArgumentException("q, k, v, dq, dk, dv must all have shape " + Arrays.toString(q.shape())
            + ", got " + Arrays.toString(t.shape()));
      }
    }
    noOverlap("dq", dq, "dk", dk);
    noOverlap("dq", dq, "dv", dv);
    noOverlap("dk", dk, "dv", dv);
    attnBackward(dq, 0, dk, 0, dv, 0, dout, out, lse, q, 0, k, 0, v, 0, g, kvStart, kvEnd);
  }

  @Override
  public void attentionBackwardQkv(Tensor dqkv, Tensor dout, Tensor out, Tensor lse, Tensor qkv, int nh, int nkv,
      Tensor kvStart, Tensor kvEnd) {
    tensor("qkv", qkv, null);
    DType dt = attentionDtype(qkv);
    tensor("dqkv", dqkv, dt);
    Geo g = fusedGeo(qkv, nh, nkv, "qkv");
    if (!Arrays.equals(dqkv.shape(), qkv.shape())) {
      throw new IllegalArgumentException("dqkv must have the shape of qkv " + Arrays.toString(qkv.shape()) + ", got "
          + Arrays.toString(dqkv.shape()));
    }
    long c = g.nh * g.hs, ck = g.nkv * g.hs;
    attnBackward(dqkv, 0, dqkv, c, dqkv, c + ck, dout, out, lse, qkv, 0, qkv, c, qkv, c + ck, g, kvStart, kvEnd);
  }

  private long[] cacheDims(Tensor kCache, Tensor vCache, Geo g) {
    if (kCache.rank() != 4 || !Arrays.equals(kCache.shape(), vCache.shape())) {
      throw new IllegalArgumentException("kCache and vCache must both be (B,maxT,NKV,HS), got "
          + Arrays.toString(kCache.shape()) + " and " + Arrays.toString(vCache.shape()));
    }
    if (kCache.dim(0) != g.b || kCache.dim(2) != g.nkv || kCache.dim(3) != g.hs) {
      throw new IllegalArgumentException("cache shape " + Arrays.toString(kCache.shape()) + " does not match B=" + g.b
          + ", NKV=" + g.nkv + ", HS=" + g.hs);
    }
    return new long[] {kCache.dim(1)};
  }

  @Override
  public void kvCacheAppend(Tensor kCache, Tensor vCache, Tensor qkv, int nh, int nkv, long pos) {
    tensor("kCache", kCache, DType.F32);
    tensor("vCache", vCache, DType.F32);
    tensor("qkv", qkv, DType.F32);
    Geo g = fusedGeo(qkv, nh, nkv, "qkv");
    long maxT = cacheDims(kCache, vCache, g)[0];
    if (pos < 0 || pos + g.t > maxT) {
      throw new IllegalArgumentException("positions [" + pos + ", " + (pos + g.t) + ") exceed the cache length "
          + maxT);
    }
    noOverlap("kCache", kCache, "vCache", vCache);
    noOverlap("kCache", kCache, "qkv", qkv);
    noOverlap("vCache", vCache, "qkv", qkv);
    long c = g.nh * g.hs, ck = g.nkv * g.hs;
    check(JalignNative.jalign_kvcache_append(kCache.f32(), vCache.f32(), offsetF32(qkv, c), offsetF32(qkv, c + ck),
        g.ld, g.b, g.t, g.nh, g.nkv, g.hs, maxT, pos, ctx));
  }

  @Override
  public void attentionKvCache(Tensor out, Tensor qkv, Tensor kCache, Tensor vCache, int nh, int nkv, long pos,
      Tensor kvStart) {
    tensor("out", out, DType.F32);
    tensor("qkv", qkv, DType.F32);
    tensor("kCache", kCache, DType.F32);
    tensor("vCache", vCache, DType.F32);
    optional("kvStart", kvStart, DType.I32);
    Geo g = fusedGeo(qkv, nh, nkv, "qkv");
    long maxT = cacheDims(kCache, vCache, g)[0];
    numel("out", out, g.b * g.t * g.nh * g.hs);
    if (pos < 0 || pos + g.t > maxT) {
      throw new IllegalArgumentException("positions [" + pos + ", " + (pos + g.t) + ") exceed the cache length "
          + maxT);
    }
    if (kvStart != null) {
      numel("kvStart", kvStart, g.b);
      if (device.isCpu()) {
        int[] s = kvStart.toIntArray();
        for (int i = 0; i < s.length; i++) {
          if (s[i] < 0 || s[i] > pos) {
            throw new IllegalArgumentException("kvStart[" + i + "] = " + s[i] + " is outside [0, " + pos + "]");
          }
        }
      }
    }
    noOverlap("out", out, "qkv", qkv);
    noOverlap("out", out, "kCache", kCache);
    noOverlap("out", out, "vCache", vCache);
    check(JalignNative.jalign_attention_kvcache(out.f32(), qkv.f32(), kCache.f32(), vCache.f32(), g.ld, g.b, g.t,
        g.nh, g.nkv, g.hs, maxT, pos, i32(kvStart), ctx));
  }

  // ================================================================== sampling

  @Override
  public void sample(Tensor ids, Tensor logpSampled, Tensor logpRaw, Tensor logits, int vocab, SamplingParams params,
      long offset) {
    tensor("ids", ids, DType.I32);
    tensor("logits", logits, DType.F32);
    optional("logpSampled", logpSampled, DType.F32);
    optional("logpRaw", logpRaw, DType.F32);
    if (params == null) throw new IllegalArgumentException("params is null");
    checkVocab(logits, vocab);
    long b = rows(logits);
    numel("ids", ids, b);
    if (logpSampled != null) numel("logpSampled", logpSampled, b);
    if (logpRaw != null) numel("logpRaw", logpRaw, b);
    if (params.batch() != b) {
      throw new IllegalArgumentException("params are for batch " + params.batch() + " but logits have " + b + " rows");
    }
    noOverlap("ids", ids, "logits", logits);
    noOverlap("logpSampled", logpSampled, "logits", logits);
    noOverlap("logpRaw", logpRaw, "logits", logits);
    noOverlap("logpSampled", logpSampled, "ids", ids);
    noOverlap("logpRaw", logpRaw, "ids", ids);
    noOverlap("logpSampled", logpSampled, "logpRaw", logpRaw);
    // NaN / +inf logits and rows without a finite value are rejected by jalign_sample itself (on the CPU, in one
    // native pass, reported as IllegalArgumentException): no copy of the logits to the Java heap per call.
    try (Tensor t = upload(params.temperature);
        Tensor k = upload(params.topK);
        Tensor p = upload(params.topP);
        Tensor m = upload(params.minP);
        Tensor s = uploadLongs(params.seeds)) {
      check(JalignNative.jalign_sample(ids.i32(), f32(logpSampled), f32(logpRaw), logits.f32(), b, vocab,
          cols(logits), t.f32(), k.i32(), p.f32(), m.f32(), s.i64(), offset, ctx));
    }
  }

  private Tensor upload(float[] a) {
    return withoutScope(() -> fromArray(a, a.length));
  }

  private Tensor upload(int[] a) {
    return withoutScope(() -> fromArray(a, a.length));
  }

  private Tensor uploadLongs(long[] a) {
    Tensor t = withoutScope(() -> zeros(DType.I64, a.length));
    try (LongPointer host = new LongPointer(a)) {
      hostToTensor(t, host, (long) a.length * 8);
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
    return t;
  }

  /** Copies {@code bytes} from a host pointer into the tensor. */
  protected abstract void hostToTensor(Tensor dst, Pointer host, long bytes);

  // ================================================================== RL losses

  @Override
  public PpoMetrics ppoLoss(Tensor logpOut, Tensor dlogits, Tensor logits, Tensor tokens, Tensor oldLogp,
      Tensor advantages, Tensor refLogp, Tensor mask, int vocab, PpoLossConfig config) {
    tensor("logits", logits, DType.F32);
    tensor("tokens", tokens, DType.I32);
    tensor("oldLogp", oldLogp, DType.F32);
    tensor("advantages", advantages, DType.F32);
    tensor("mask", mask, DType.F32);
    optional("refLogp", refLogp, DType.F32);
    optional("logpOut", logpOut, DType.F32);
    optional("dlogits", dlogits, DType.F32);
    if (config == null) throw new IllegalArgumentException("config is null");
    checkVocab(logits, vocab);
    long n = rows(logits);
    numel("tokens", tokens, n);
    numel("oldLogp", oldLogp, n);
    numel("advantages", advantages, n);
    numel("mask", mask, n);
    if (refLogp != null) numel("refLogp", refLogp, n);
    if (logpOut != null) {
      numel("logpOut", logpOut, n);
      noOverlap("logpOut", logpOut, "logits", logits);
    }
    if (dlogits != null) {
      sameNumel("dlogits", dlogits, "logits", logits);
      if (dlogits.address() != logits.address()) noOverlap("dlogits", dlogits, "logits", logits);
    }
    checkTargets("tokens", tokens, vocab, false);
    float[] m = new float[JalignNative.JALIGN_PPO_METRICS];
    try (Tensor metrics = withoutScope(() -> zeros(DType.F32, JalignNative.JALIGN_PPO_METRICS))) {
      check(JalignNative.jalign_ppo_loss(metrics.f32(), f32(logpOut), f32(dlogits), logits.f32(), tokens.i32(),
          oldLogp.f32(), advantages.f32(), f32(refLogp), mask.f32(), n, vocab, cols(logits), config.clipEps(),
          config.dualClip(), config.entropyCoef(), config.klCoef(), config.klEstimator(), ctx));
      copyToHost(m, metrics);
    }
    return PpoMetrics.of(m);
  }

  @Override
  public float[] valueLoss(Tensor dvalues, Tensor values, Tensor oldValues, Tensor returns, Tensor mask,
      float clip) {
    tensor("values", values, DType.F32);
    tensor("oldValues", oldValues, DType.F32);
    tensor("returns", returns, DType.F32);
    tensor("mask", mask, DType.F32);
    optional("dvalues", dvalues, DType.F32);
    long n = values.numel();
    numel("oldValues", oldValues, n);
    numel("returns", returns, n);
    numel("mask", mask, n);
    if (dvalues != null) {
      numel("dvalues", dvalues, n);
      noOverlap("dvalues", dvalues, "values", values);
    }
    if (!(clip > 0 && Float.isFinite(clip))) throw new IllegalArgumentException("clip must be finite and > 0, got " + clip);
    float[] m = new float[JalignNative.JALIGN_VALUE_METRICS];
    try (Tensor metrics = withoutScope(() -> zeros(DType.F32, JalignNative.JALIGN_VALUE_METRICS))) {
      check(JalignNative.jalign_value_loss(metrics.f32(), f32(dvalues), values.f32(), oldValues.f32(), returns.f32(),
          mask.f32(), n, clip, ctx));
      copyToHost(m, metrics);
    }
    return m;
  }

  @Override
  public float[] rankingLoss(Tensor drewards, Tensor rewards, Tensor order, Tensor margins) {
    tensor("rewards", rewards, DType.F32);
    tensor("order", order, DType.I32);
    optional("margins", margins, DType.F32);
    optional("drewards", drewards, DType.F32);
    if (rewards.rank() != 2) {
      throw new IllegalArgumentException("rewards must be (G,K), got " + Arrays.toString(rewards.shape()));
    }
    long g = rewards.dim(0), k = rewards.dim(1);
    if (k < 2) throw new IllegalArgumentException("K must be >= 2 responses per group, got " + k);
    if (!Arrays.equals(order.shape(), rewards.shape())) {
      throw new IllegalArgumentException("order must have the shape of rewards " + Arrays.toString(rewards.shape())
          + ", got " + Arrays.toString(order.shape()));
    }
    if (margins != null) numel("margins", margins, g);
    if (drewards != null) {
      numel("drewards", drewards, g * k);
      noOverlap("drewards", drewards, "rewards", rewards);
    }
    if (device.isCpu()) {
      int[] o = order.toIntArray();
      for (int gi = 0; gi < g; gi++) {
        boolean[] seen = new boolean[(int) k];
        for (int i = 0; i < k; i++) {
          int v = o[(int) (gi * k + i)];
          if (v < 0 || v >= k || seen[v]) {
            throw new IllegalArgumentException("order of group " + gi + " is not a permutation of 0.." + (k - 1));
          }
          seen[v] = true;
        }
      }
    }
    float[] out = new float[2];
    try (Tensor res = withoutScope(() -> zeros(DType.F32, 2))) {
      check(JalignNative.jalign_ranking_loss(res.slice(0, 1).f32(), res.slice(1, 1).f32(), f32(drewards),
          rewards.f32(), order.i32(), f32(margins), g, k, ctx));
      copyToHost(out, res);
    }
    return out;
  }

  // ================================================================== lifecycle

  @Override
  public synchronized void close() {
    if (closed) return;
    if (scratch != null) scratch.close();
    closed = true;
    // Tensors still open keep the context alive until the last one is freed.
    if (liveBytes.get() == 0) destroyContext();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(" + name() + ")";
  }
}
