package org.jalign.ops;

import static org.jalign.ops.CpuOps.CPU;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Fused causal self-attention on the CPU vs a Java double-precision reference: values and lse, all three input
 * gradients (accumulated), key padding, the fused QKV layout, finite differences, the KV cache, bad arguments;
 * grouped-query and multi-query attention against the same reference run on K/V repeated per kv group (Hugging
 * Face's repeat_kv), with the repeated heads' gradients summed back onto their kv head.
 *
 * <p>Shape legend: B = batch, T = time, C = channels (NH*HS), NH = query heads, NKV = key/value heads, G = NH/NKV,
 * CK = NKV*HS, HS = head size.
 */
class AttentionTest {

  /** Reference results: out (B,T,C), lse (B,NH,T), and dq, dk, dv (B,T,C) when dout was given. */
  record Result(double[] out, double[] lse, double[] dq, double[] dk, double[] dv) {}

  /**
   * Query i of row b attends to keys j with st[b] <= j <= i; rows outside [st[b], en[b]) give out = 0, lse = 0.
   * q, k, v, dout: (B,T,C) contiguous. st / en may be null (0 / T).
   */
  static Result reference(float[] q, float[] k, float[] v, float[] dout, int b, int t, int nh, int hs, int[] st,
      int[] en) {
    int c = nh * hs;
    double scale = 1 / Math.sqrt(hs);
    double[] out = new double[b * t * c], lse = new double[b * nh * t];
    double[] dq = new double[b * t * c], dk = new double[b * t * c], dv = new double[b * t * c];
    for (int bb = 0; bb < b; bb++) {
      int s = st == null ? 0 : st[bb], e = en == null ? t : en[bb];
      for (int h = 0; h < nh; h++) {
        for (int i = s; i < e; i++) {
          int qi = (bb * t + i) * c + h * hs;
          double[] p = new double[i - s + 1];
          double mx = Double.NEGATIVE_INFINITY;
          for (int j = s; j <= i; j++) {
            int kj = (bb * t + j) * c + h * hs;
            double dot = 0;
            for (int d = 0; d < hs; d++) dot += (double) q[qi + d] * k[kj + d];
            p[j - s] = dot * scale;
            mx = Math.max(mx, p[j - s]);
          }
          double sum = 0;
          for (double x : p) sum += Math.exp(x - mx);
          double l = mx + Math.log(sum);
          lse[(bb * nh + h) * t + i] = l;
          for (int j = s; j <= i; j++) p[j - s] = Math.exp(p[j - s] - l);
          for (int j = s; j <= i; j++) {
            int vj = (bb * t + j) * c + h * hs;
            for (int d = 0; d < hs; d++) out[qi + d] += p[j - s] * v[vj + d];
          }
          if (dout == null) continue;
          // out_i = sum_j P_ij v_j, P = softmax(scores): dS_ij = P_ij (dP_ij - sum_l P_il dP_il).
          double[] dp = new double[i - s + 1];
          double dsum = 0;
          for (int j = s; j <= i; j++) {
            int vj = (bb * t + j) * c + h * hs;
            double x = 0;
            for (int d = 0; d < hs; d++) x += (double) dout[qi + d] * v[vj + d];
            dp[j - s] = x;
            dsum += p[j - s] * x;
          }
          for (int j = s; j <= i; j++) {
            int kj = (bb * t + j) * c + h * hs;
            double ds = p[j - s] * (dp[j - s] - dsum);
            for (int d = 0; d < hs; d++) {
              dq[qi + d] += scale * ds * k[kj + d];
              dk[kj + d] += scale * ds * q[qi + d];
              dv[kj + d] += p[j - s] * dout[qi + d];
            }
          }
        }
      }
    }
    return new Result(out, lse, dq, dk, dv);
  }

  /** (B,T,3C) from three (B,T,C) arrays. */
  static float[] fuse(float[] q, float[] k, float[] v, int rows, int c) {
    return fuse(q, k, v, rows, c, c);
  }

  /** (B,T,C+2*CK) from q (B,T,C) and k, v (B,T,CK). */
  static float[] fuse(float[] q, float[] k, float[] v, int rows, int c, int ck) {
    int ld = c + 2 * ck;
    float[] qkv = new float[rows * ld];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(q, r * c, qkv, r * ld, c);
      System.arraycopy(k, r * ck, qkv, r * ld + c, ck);
      System.arraycopy(v, r * ck, qkv, r * ld + c + ck, ck);
    }
    return qkv;
  }

  /** Column block blk (0 = q, 1 = k, 2 = v) of a (rows, 3C) array. */
  static float[] block(float[] qkv, int blk, int rows, int c) {
    return columns(qkv, rows, 3 * c, blk * c, c);
  }

  /** Columns [off, off+width) of a (rows, ld) array. */
  static float[] columns(float[] x, int rows, int ld, int off, int width) {
    float[] y = new float[rows * width];
    for (int r = 0; r < rows; r++) System.arraycopy(x, r * ld + off, y, r * width, width);
    return y;
  }

  /**
   * Hugging Face's repeat_kv on (rows, NKV, HS): (rows, NKV*G, HS) where head h is a copy of kv head h / G
   * (each kv head repeated G times in a row).
   */
  static float[] repeatKv(float[] x, int rows, int nkv, int g, int hs) {
    float[] y = new float[rows * nkv * g * hs];
    for (int r = 0; r < rows; r++) {
      for (int h = 0; h < nkv * g; h++) System.arraycopy(x, (r * nkv + h / g) * hs, y, (r * nkv * g + h) * hs, hs);
    }
    return y;
  }

  /** Gradient of repeatKv: dx (rows, NKV, HS) = sum over the G copies of each kv head. */
  static double[] sumRepeated(double[] dy, int rows, int nkv, int g, int hs) {
    double[] dx = new double[rows * nkv * hs];
    for (int r = 0; r < rows; r++) {
      for (int h = 0; h < nkv * g; h++) {
        for (int d = 0; d < hs; d++) dx[(r * nkv + h / g) * hs + d] += dy[(r * nkv * g + h) * hs + d];
      }
    }
    return dx;
  }

  /** The multi-head reference on K/V repeated to NH heads; dk, dv summed back to (B,T,CK). */
  static Result referenceGqa(float[] q, float[] k, float[] v, float[] dout, int b, int t, int nh, int nkv, int hs,
      int[] st, int[] en) {
    int g = nh / nkv, rows = b * t;
    Result r = reference(q, repeatKv(k, rows, nkv, g, hs), repeatKv(v, rows, nkv, g, hs), dout, b, t, nh, hs, st, en);
    return new Result(r.out(), r.lse(), r.dq(), sumRepeated(r.dk(), rows, nkv, g, hs),
        sumRepeated(r.dv(), rows, nkv, g, hs));
  }

  static double[] plus(float[] a, double[] b) {
    double[] x = new double[a.length];
    for (int i = 0; i < a.length; i++) x[i] = a[i] + b[i];
    return x;
  }

  /** pad: 0 none, 1 left (kvStart), 2 right (kvEnd), 3 both. */
  static int[][] padding(int b, int t, int pad) {
    int[] st = new int[b], en = new int[b];
    for (int i = 0; i < b; i++) {
      st[i] = (pad & 1) != 0 ? Math.min(t - 1, (i + 1) * (t / 5 + 1) % t) : 0;
      en[i] = (pad & 2) != 0 ? Math.max(st[i] + 1, t - (i + 1) * (t / 4 + 1) % t) : t;
    }
    return new int[][] {(pad & 1) != 0 ? st : null, (pad & 2) != 0 ? en : null};
  }

  @ParameterizedTest(name = "B={0} T={1} NH={2} HS={3} fused={4} pad={5}")
  @CsvSource({"1,1,1,16,false,0", "2,7,3,16,true,3", "2,64,2,32,false,1", "2,130,4,64,true,2", "1,257,1,64,false,0",
      "3,33,2,24,true,3", "2,65,8,64,false,3", "1,20,1,128,true,1"})
  void forwardAndBackwardMatchReference(int b, int t, int nh, int hs, boolean fused, int pad) {
    int c = nh * hs, rows = b * t;
    SplittableRandom r = new SplittableRandom(b * 1000003L + t * 1009L + nh * 31L + hs + pad);
    float[] q = Ref.randn(r, rows * c, 1), k = Ref.randn(r, rows * c, 1), v = Ref.randn(r, rows * c, 1);
    float[] dout = Ref.randn(r, rows * c, 1);
    int[][] pd = padding(b, t, pad);
    Result ref = reference(q, k, v, dout, b, t, nh, hs, pd[0], pd[1]);
    try (Scope s = Scope.open()) {
      Tensor st = pd[0] == null ? null : CPU.fromArray(pd[0], b);
      Tensor en = pd[1] == null ? null : CPU.fromArray(pd[1], b);
      Tensor out = CPU.fromArray(Ref.randn(r, rows * c, 1), b, t, c); // garbage: every element is written
      Tensor lse = CPU.fromArray(Ref.randn(r, b * nh * t, 1), b, nh, t);
      Tensor tDout = CPU.fromArray(dout, b, t, c);
      if (fused) {
        Tensor qkv = CPU.fromArray(fuse(q, k, v, rows, c), b, t, 3 * c);
        CPU.attentionForwardQkv(out, lse, qkv, nh, nh, st, en);
        float[] g0 = Ref.randn(r, rows * 3 * c, 1); // gradients accumulate onto these
        Tensor dqkv = CPU.fromArray(g0, b, t, 3 * c);
        CPU.attentionBackwardQkv(dqkv, tDout, out, lse, qkv, nh, nh, st, en);
        float[] g = dqkv.toFloatArray();
        Ref.assertClose("dq", plus(block(g0, 0, rows, c), ref.dq), block(g, 0, rows, c), 1e-5, 1e-4);
        Ref.assertClose("dk", plus(block(g0, 1, rows, c), ref.dk), block(g, 1, rows, c), 1e-5, 1e-4);
        Ref.assertClose("dv", plus(block(g0, 2, rows, c), ref.dv), block(g, 2, rows, c), 1e-5, 1e-4);
      } else {
        Tensor tq = CPU.fromArray(q, b, t, c), tk = CPU.fromArray(k, b, t, c), tv = CPU.fromArray(v, b, t, c);
        CPU.attentionForward(out, lse, tq, tk, tv, nh, st, en);
        float[] dq0 = Ref.randn(r, rows * c, 1), dk0 = Ref.randn(r, rows * c, 1), dv0 = Ref.randn(r, rows * c, 1);
        Tensor dq = CPU.fromArray(dq0, b, t, c), dk = CPU.fromArray(dk0, b, t, c), dv = CPU.fromArray(dv0, b, t, c);
        CPU.attentionBackward(dq, dk, dv, tDout, out, lse, tq, tk, tv, nh, st, en);
        Ref.assertClose("dq", plus(dq0, ref.dq), dq.toFloatArray(), 1e-5, 1e-4);
        Ref.assertClose("dk", plus(dk0, ref.dk), dk.toFloatArray(), 1e-5, 1e-4);
        Ref.assertClose("dv", plus(dv0, ref.dv), dv.toFloatArray(), 1e-5, 1e-4);
      }
      Ref.assertClose("out", ref.out, out.toFloatArray(), 2e-6, 2e-5);
      Ref.assertClose("lse", ref.lse, lse.toFloatArray(), 2e-6, 2e-5);
    }
  }

  /**
   * Grouped-query (NKV divides NH) and multi-query (NKV = 1) attention through the fused projection
   * (B,T,(NH+2*NKV)*HS), forward and accumulated backward. B*NKV at and above 4 per core picks the backward's
   * per-kv-head split, below it the split over key tiles.
   */
  @ParameterizedTest(name = "B={0} T={1} NH={2} NKV={3} HS={4} pad={5}")
  @CsvSource({"2,7,4,2,16,3", "2,64,4,2,32,1", "3,33,6,1,24,3", "2,130,6,1,64,2", "1,257,12,4,64,0",
      "2,65,8,2,64,3", "5,40,6,3,16,1", "8,20,4,2,32,3", "4,9,2,1,128,0"})
  void groupedQueryMatchesRepeatedKvReference(int b, int t, int nh, int nkv, int hs, int pad) {
    int c = nh * hs, ck = nkv * hs, ld = c + 2 * ck, rows = b * t;
    SplittableRandom r = new SplittableRandom(b * 1000003L + t * 1009L + nh * 31L + nkv * 7L + hs + pad);
    float[] q = Ref.randn(r, rows * c, 1), k = Ref.randn(r, rows * ck, 1), v = Ref.randn(r, rows * ck, 1);
    float[] dout = Ref.randn(r, rows * c, 1);
    int[][] pd = padding(b, t, pad);
    Result ref = referenceGqa(q, k, v, dout, b, t, nh, nkv, hs, pd[0], pd[1]);
    try (Scope s = Scope.open()) {
      Tensor st = pd[0] == null ? null : CPU.fromArray(pd[0], b);
      Tensor en = pd[1] == null ? null : CPU.fromArray(pd[1], b);
      Tensor out = CPU.fromArray(Ref.randn(r, rows * c, 1), b, t, c); // garbage: every element is written
      Tensor lse = CPU.fromArray(Ref.randn(r, b * nh * t, 1), b, nh, t);
      Tensor qkv = CPU.fromArray(fuse(q, k, v, rows, c, ck), b, t, ld);
      CPU.attentionForwardQkv(out, lse, qkv, nh, nkv, st, en);
      Ref.assertClose("out", ref.out, out.toFloatArray(), 2e-6, 2e-5);
      Ref.assertClose("lse", ref.lse, lse.toFloatArray(), 2e-6, 2e-5);
      float[] g0 = Ref.randn(r, rows * ld, 1); // gradients accumulate onto these
      Tensor dqkv = CPU.fromArray(g0, b, t, ld);
      CPU.attentionBackwardQkv(dqkv, CPU.fromArray(dout, b, t, c), out, lse, qkv, nh, nkv, st, en);
      float[] g = dqkv.toFloatArray();
      Ref.assertClose("dq", plus(columns(g0, rows, ld, 0, c), ref.dq), columns(g, rows, ld, 0, c), 1e-5, 1e-4);
      Ref.assertClose("dk", plus(columns(g0, rows, ld, c, ck), ref.dk), columns(g, rows, ld, c, ck), 1e-5, 1e-4);
      Ref.assertClose("dv", plus(columns(g0, rows, ld, c + ck, ck), ref.dv), columns(g, rows, ld, c + ck, ck),
          1e-5, 1e-4);
    }
  }

  /** The repeated-K/V reference itself: the single kv head of a multi-query model equals an MHA with equal heads. */
  @Test
  void repeatKvFollowsHuggingFaceOrder() {
    float[] x = {1, 2, 3, 4}; // rows = 1, NKV = 2, HS = 2
    float[] y = repeatKv(x, 1, 2, 3, 2);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, y);
  }

  /** Grouped-query backward of the fused projection vs central finite differences of the reference forward. */
  @ParameterizedTest(name = "NH={0} NKV={1}")
  @CsvSource({"4,2", "3,1"})
  void groupedQueryBackwardMatchesFiniteDifferences(int nh, int nkv) {
    int b = 1, t = 5, hs = 4, c = nh * hs, ck = nkv * hs, ld = c + 2 * ck, rows = b * t, n = rows * ld;
    int[] st = {1};
    SplittableRandom r = new SplittableRandom(91 + nh * 7 + nkv);
    float[] x = Ref.randn(r, n, 1), g = Ref.randn(r, rows * c, 1);
    try (Scope s = Scope.open()) {
      Tensor qkv = CPU.fromArray(x, b, t, ld), tst = CPU.fromArray(st, b);
      Tensor out = CPU.zeros(DType.F32, b, t, c), lse = CPU.zeros(DType.F32, b, nh, t);
      CPU.attentionForwardQkv(out, lse, qkv, nh, nkv, tst, null);
      Tensor dqkv = CPU.zeros(DType.F32, b, t, ld);
      CPU.attentionBackwardQkv(dqkv, CPU.fromArray(g, b, t, c), out, lse, qkv, nh, nkv, tst, null);
      java.util.function.DoubleSupplier loss = () -> { // loss = sum(g * out), through the reference forward
        double[] o = referenceGqa(columns(x, rows, ld, 0, c), columns(x, rows, ld, c, ck),
            columns(x, rows, ld, c + ck, ck), null, b, t, nh, nkv, hs, st, null).out();
        double l = 0;
        for (int i = 0; i < rows * c; i++) l += g[i] * o[i];
        return l;
      };
      double[] fd = new double[n];
      for (int i = 0; i < n; i++) fd[i] = Ref.centralDiff(x, i, 1e-3, loss);
      Ref.assertClose("dqkv vs finite differences", fd, dqkv.toFloatArray(), 2e-3, 2e-2);
    }
  }

  @ParameterizedTest(name = "HS={0}")
  @CsvSource({"4", "16"})
  void backwardMatchesFiniteDifferences(int hs) {
    int b = 1, t = 5, nh = 2, c = nh * hs, n = b * t * c;
    int[] st = {1};
    SplittableRandom r = new SplittableRandom(77 + hs);
    float[] q = Ref.randn(r, n, 1), k = Ref.randn(r, n, 1), v = Ref.randn(r, n, 1), g = Ref.randn(r, n, 1);
    try (Scope s = Scope.open()) {
      Tensor tq = CPU.fromArray(q, b, t, c), tk = CPU.fromArray(k, b, t, c), tv = CPU.fromArray(v, b, t, c);
      Tensor tst = CPU.fromArray(st, b);
      Tensor out = CPU.zeros(DType.F32, b, t, c), lse = CPU.zeros(DType.F32, b, nh, t);
      CPU.attentionForward(out, lse, tq, tk, tv, nh, tst, null);
      Tensor dq = CPU.zeros(DType.F32, b, t, c), dk = CPU.zeros(DType.F32, b, t, c), dv = CPU.zeros(DType.F32, b, t, c);
      CPU.attentionBackward(dq, dk, dv, CPU.fromArray(g, b, t, c), out, lse, tq, tk, tv, nh, tst, null);
      java.util.function.DoubleSupplier loss = () -> { // loss = sum(g * out), through the reference forward
        double[] o = reference(q, k, v, null, b, t, nh, hs, st, null).out();
        double l = 0;
        for (int i = 0; i < n; i++) l += g[i] * o[i];
        return l;
      };
      double[] fq = new double[n], fk = new double[n], fv = new double[n];
      for (int i = 0; i < n; i++) {
        fq[i] = Ref.centralDiff(q, i, 1e-3, loss);
        fk[i] = Ref.centralDiff(k, i, 1e-3, loss);
        fv[i] = Ref.centralDiff(v, i, 1e-3, loss);
      }
      Ref.assertClose("dq vs finite differences", fq, dq.toFloatArray(), 2e-3, 2e-2);
      Ref.assertClose("dk vs finite differences", fk, dk.toFloatArray(), 2e-3, 2e-2);
      Ref.assertClose("dv vs finite differences", fv, dv.toFloatArray(), 2e-3, 2e-2);
      // Padded query row 0 and its key get nothing.
      for (int d = 0; d < c; d++) {
        assertTrue(dq.toFloatArray()[d] == 0 && dk.toFloatArray()[d] == 0 && dv.toFloatArray()[d] == 0);
      }
    }
  }

  /**
   * Prefill through the fused forward, then decode steps (one token, then a chunk of 6) through the cache; every
   * cache output equals the rows of full causal attention with the same left padding.
   */
  @ParameterizedTest(name = "HS={0} NH={1} NKV={2}")
  @CsvSource({"32,3,3", "64,3,3", "24,3,3", "32,4,2", "64,6,1", "24,6,3"})
  void kvCacheDecodeMatchesFullAttention(int hs, int nh, int nkv) {
    int b = 2, t = 40, maxT = 48, c = nh * hs, ck = nkv * hs, ld = c + 2 * ck, prefill = 9;
    int[] st = {0, 4}; // row 1 is left-padded by 4 positions
    SplittableRandom r = new SplittableRandom(5 + hs + 11L * nh + nkv);
    float[] q = Ref.randn(r, b * t * c, 1), k = Ref.randn(r, b * t * ck, 1), v = Ref.randn(r, b * t * ck, 1);
    Result ref = referenceGqa(q, k, v, null, b, t, nh, nkv, hs, st, null);
    try (Scope s = Scope.open()) {
      Tensor kc = CPU.zeros(DType.F32, b, maxT, nkv, hs), vc = CPU.zeros(DType.F32, b, maxT, nkv, hs);
      Tensor tst = CPU.fromArray(st, b);
      int pos = 0;
      while (pos < t) {
        int tq = pos == 0 ? prefill : (pos >= 12 && pos < 18) ? 6 : 1;
        tq = Math.min(tq, t - pos);
        // q, k, v rows [pos, pos+tq) of both batch rows as a fused (B, tq, C+2*CK) block.
        float[] blk = new float[b * tq * ld];
        for (int bb = 0; bb < b; bb++) {
          for (int i = 0; i < tq; i++) {
            int row = bb * t + pos + i, dst = (bb * tq + i) * ld;
            System.arraycopy(q, row * c, blk, dst, c);
            System.arraycopy(k, row * ck, blk, dst + c, ck);
            System.arraycopy(v, row * ck, blk, dst + c + ck, ck);
          }
        }
        Tensor qkv = CPU.fromArray(blk, b, tq, ld);
        Tensor out = CPU.zeros(DType.F32, b, tq, c);
        CPU.kvCacheAppend(kc, vc, qkv, nh, nkv, pos);
        if (pos == 0) {
          CPU.attentionForwardQkv(out, CPU.zeros(DType.F32, b, nh, tq), qkv, nh, nkv, tst, null);
        } else {
          CPU.attentionKvCache(out, qkv, kc, vc, nh, nkv, pos, tst);
        }
        double[] exp = new double[b * tq * c];
        for (int bb = 0; bb < b; bb++) {
          System.arraycopy(ref.out(), (bb * t + pos) * c, exp, bb * tq * c, tq * c);
        }
        Ref.assertClose("rows " + pos + ".." + (pos + tq - 1), exp, out.toFloatArray(), 2e-6, 2e-5);
        pos += tq;
      }
      float[] kcache = kc.toFloatArray(), vcache = vc.toFloatArray();
      for (int bb = 0; bb < b; bb++) {
        for (int i = 0; i < t; i++) {
          for (int j = 0; j < ck; j++) {
            assertTrue(kcache[(bb * maxT + i) * ck + j] == k[(bb * t + i) * ck + j], "k cache row " + i);
            assertTrue(vcache[(bb * maxT + i) * ck + j] == v[(bb * t + i) * ck + j], "v cache row " + i);
          }
        }
      }
    }
  }

  @Test
  void badArgumentsRaiseIllegalArgumentException() {
    try (Scope s = Scope.open()) {
      int b = 2, t = 8, nh = 2, hs = 16, c = nh * hs;
      Tensor q = CPU.zeros(DType.F32, b, t, c), k = CPU.zeros(DType.F32, b, t, c), v = CPU.zeros(DType.F32, b, t, c);
      Tensor out = CPU.zeros(DType.F32, b, t, c), lse = CPU.zeros(DType.F32, b, nh, t);
      // heads that do not divide the channels
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> CPU.attentionForward(out, lse, q, k, v, 3, null, null));
      assertTrue(e.getMessage().contains("nh"), e.getMessage());
      // q, k, v of different shapes
      Tensor kShort = CPU.zeros(DType.F32, b, t - 1, c);
      assertThrows(IllegalArgumentException.class, () -> CPU.attentionForward(out, lse, q, kShort, v, nh, null, null));
      // lse of the wrong size
      Tensor lseBad = CPU.zeros(DType.F32, b, nh, t + 1);
      assertThrows(IllegalArgumentException.class, () -> CPU.attentionForward(out, lseBad, q, k, v, nh, null, null));
      // key ranges outside [0, T] or start > end
      Tensor stBad = CPU.fromArray(new int[] {0, 5}, b), enBad = CPU.fromArray(new int[] {8, 4}, b);
      e = assertThrows(IllegalArgumentException.class, () -> CPU.attentionForward(out, lse, q, k, v, nh, stBad, enBad));
      assertTrue(e.getMessage().contains("[5, 4)"), e.getMessage());
      Tensor enLong = CPU.fromArray(new int[] {8, 9}, b);
      assertThrows(IllegalArgumentException.class, () -> CPU.attentionForward(out, lse, q, k, v, nh, null, enLong));
      // output overlapping an input
      assertThrows(IllegalArgumentException.class, () -> CPU.attentionForward(q, lse, q, k, v, nh, null, null));
      // gradients of the wrong shape
      Tensor dqBad = CPU.zeros(DType.F32, b, t, c + 1);
      Tensor dk = CPU.zeros(DType.F32, b, t, c), dv = CPU.zeros(DType.F32, b, t, c), dout = CPU.zeros(DType.F32, b, t, c);
      assertThrows(IllegalArgumentException.class,
          () -> CPU.attentionBackward(dqBad, dk, dv, dout, out, lse, q, k, v, nh, null, null));
      // cache positions past maxT, cache of the wrong head layout
      Tensor qkv = CPU.zeros(DType.F32, b, 1, 3 * c);
      Tensor kc = CPU.zeros(DType.F32, b, 4, nh, hs), vc = CPU.zeros(DType.F32, b, 4, nh, hs);
      assertThrows(IllegalArgumentException.class, () -> CPU.kvCacheAppend(kc, vc, qkv, nh, nh, 4));
      Tensor kcBad = CPU.zeros(DType.F32, b, 4, nh, hs * 2);
      assertThrows(IllegalArgumentException.class, () -> CPU.kvCacheAppend(kcBad, vc, qkv, nh, nh, 0));
      Tensor o1 = CPU.zeros(DType.F32, b, 1, c);
      assertThrows(IllegalArgumentException.class, () -> CPU.attentionKvCache(o1, qkv, kc, vc, nh, nh, -1, null));
    }
  }

  @Test
  void badKvHeadCountsRaiseIllegalArgumentException() {
    try (Scope s = Scope.open()) {
      int b = 2, t = 8, nh = 4, hs = 16, c = nh * hs;
      Tensor out = CPU.zeros(DType.F32, b, t, c), lse = CPU.zeros(DType.F32, b, nh, t);
      Tensor qkv = CPU.zeros(DType.F32, b, t, c + 2 * 2 * hs); // NH = 4, NKV = 2
      for (int nkv : new int[] {0, -1, 3, 8}) { // not > 0, not dividing NH, more kv heads than query heads
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> CPU.attentionForwardQkv(out, lse, qkv, nh, nkv, null, null));
        assertTrue(e.getMessage().contains("nkv"), e.getMessage());
      }
      // a width that is not (NH + 2*NKV) * HS for the given head counts
      e2(() -> CPU.attentionForwardQkv(out, lse, CPU.zeros(DType.F32, b, t, c + 2 * 2 * hs + 1), nh, 2, null, null));
      e2(() -> CPU.attentionBackwardQkv(CPU.zeros(DType.F32, b, t, c + 4 * hs), CPU.zeros(DType.F32, b, t, c), out,
          lse, qkv, nh, 3, null, null));
      // caches must hold NKV heads
      Tensor kcMha = CPU.zeros(DType.F32, b, 16, nh, hs), vcMha = CPU.zeros(DType.F32, b, 16, nh, hs);
      Tensor row = CPU.zeros(DType.F32, b, 1, c + 4 * hs);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> CPU.kvCacheAppend(kcMha, vcMha, row, nh, 2, 0));
      assertTrue(e.getMessage().contains("NKV=2"), e.getMessage());
      Tensor kc = CPU.zeros(DType.F32, b, 16, 2, hs), vc = CPU.zeros(DType.F32, b, 16, 2, hs);
      e2(() -> CPU.attentionKvCache(CPU.zeros(DType.F32, b, 1, c), row, kc, vc, nh, 0, 0, null));
      e2(() -> CPU.kvCacheAppend(kc, vc, row, nh, 3, 0));
    }
  }

  private static void e2(org.junit.jupiter.api.function.Executable call) {
    assertThrows(IllegalArgumentException.class, call);
  }
}
