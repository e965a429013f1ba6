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
 * gradients (accumulated), key padding, the fused QKV layout, finite differences, the KV cache, bad arguments.
 *
 * <p>Shape legend: B = batch, T = time, C = channels (NH*HS), NH = heads, HS = head size.
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
    float[] qkv = new float[rows * 3 * c];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(q, r * c, qkv, r * 3 * c, c);
      System.arraycopy(k, r * c, qkv, r * 3 * c + c, c);
      System.arraycopy(v, r * c, qkv, r * 3 * c + 2 * c, c);
    }
    return qkv;
  }

  /** Column block blk (0 = q, 1 = k, 2 = v) of a (rows, 3C) array. */
  static float[] block(float[] qkv, int blk, int rows, int c) {
    float[] x = new float[rows * c];
    for (int r = 0; r < rows; r++) System.arraycopy(qkv, r * 3 * c + blk * c, x, r * c, c);
    return x;
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
        CPU.attentionForwardQkv(out, lse, qkv, nh, st, en);
        float[] g0 = Ref.randn(r, rows * 3 * c, 1); // gradients accumulate onto these
        Tensor dqkv = CPU.fromArray(g0, b, t, 3 * c);
        CPU.attentionBackwardQkv(dqkv, tDout, out, lse, qkv, nh, st, en);
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
  @ParameterizedTest(name = "HS={0}")
  @CsvSource({"32", "64", "24"})
  void kvCacheDecodeMatchesFullAttention(int hs) {
    int b = 2, nh = 3, t = 40, maxT = 48, c = nh * hs, prefill = 9;
    int[] st = {0, 4}; // row 1 is left-padded by 4 positions
    SplittableRandom r = new SplittableRandom(5 + hs);
    float[] q = Ref.randn(r, b * t * c, 1), k = Ref.randn(r, b * t * c, 1), v = Ref.randn(r, b * t * c, 1);
    Result ref = reference(q, k, v, null, b, t, nh, hs, st, null);
    try (Scope s = Scope.open()) {
      Tensor kc = CPU.zeros(DType.F32, b, maxT, nh, hs), vc = CPU.zeros(DType.F32, b, maxT, nh, hs);
      Tensor tst = CPU.fromArray(st, b);
      int pos = 0;
      while (pos < t) {
        int tq = pos == 0 ? prefill : (pos >= 12 && pos < 18) ? 6 : 1;
        tq = Math.min(tq, t - pos);
        // q, k, v rows [pos, pos+tq) of both batch rows as a fused (B, tq, 3C) block.
        float[] blk = new float[b * tq * 3 * c];
        for (int bb = 0; bb < b; bb++) {
          for (int i = 0; i < tq; i++) {
            int src = (bb * t + pos + i) * c, dst = (bb * tq + i) * 3 * c;
            System.arraycopy(q, src, blk, dst, c);
            System.arraycopy(k, src, blk, dst + c, c);
            System.arraycopy(v, src, blk, dst + 2 * c, c);
          }
        }
        Tensor qkv = CPU.fromArray(blk, b, tq, 3 * c);
        Tensor out = CPU.zeros(DType.F32, b, tq, c);
        CPU.kvCacheAppend(kc, vc, qkv, nh, pos);
        if (pos == 0) {
          CPU.attentionForwardQkv(out, CPU.zeros(DType.F32, b, nh, tq), qkv, nh, tst, null);
        } else {
          CPU.attentionKvCache(out, qkv, kc, vc, nh, pos, tst);
        }
        double[] exp = new double[b * tq * c];
        for (int bb = 0; bb < b; bb++) {
          System.arraycopy(ref.out(), (bb * t + pos) * c, exp, bb * tq * c, tq * c);
        }
        Ref.assertClose("rows " + pos + ".." + (pos + tq - 1), exp, out.toFloatArray(), 2e-6, 2e-5);
        pos += tq;
      }
      float[] kcache = kc.toFloatArray();
      for (int bb = 0; bb < b; bb++) {
        for (int i = 0; i < t; i++) {
          for (int j = 0; j < c; j++) {
            assertTrue(kcache[(bb * maxT + i) * c + j] == k[(bb * t + i) * c + j], "cache row " + i);
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
      assertThrows(IllegalArgumentException.class, () -> CPU.kvCacheAppend(kc, vc, qkv, nh, 4));
      Tensor kcBad = CPU.zeros(DType.F32, b, 4, nh, hs * 2);
      assertThrows(IllegalArgumentException.class, () -> CPU.kvCacheAppend(kcBad, vc, qkv, nh, 0));
      Tensor o1 = CPU.zeros(DType.F32, b, 1, c);
      assertThrows(IllegalArgumentException.class, () -> CPU.attentionKvCache(o1, qkv, kc, vc, nh, -1, null));
    }
  }
}
