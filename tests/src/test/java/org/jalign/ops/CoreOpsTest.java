package org.jalign.ops;

import static org.jalign.ops.CpuOps.CPU;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Core training ops vs Java double-precision references at awkward sizes; backward by finite differences. */
class CoreOpsTest {

  // ------------------------------------------------------------------ embedding

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 17, 64})
  void embeddingForwardAndBackward(int c) {
    int b = 3, t = 5, v = 11, maxT = 9, off = 2;
    SplittableRandom r = new SplittableRandom(c);
    float[] wte = Ref.randn(r, v * c, 1), wpe = Ref.randn(r, maxT * c, 1), dout = Ref.randn(r, b * t * c, 1);
    int[] tok = new int[b * t];
    for (int i = 0; i < tok.length; i++) tok[i] = r.nextInt(v);
    tok[0] = tok[1]; // repeated token: the scatter must add both
    try (Scope s = Scope.open()) {
      Tensor tokens = CPU.fromArray(tok, b, t);
      Tensor tWte = CPU.fromArray(wte, v, c), tWpe = CPU.fromArray(wpe, maxT, c);
      Tensor out = CPU.zeros(DType.F32, b, t, c);
      CPU.embeddingForward(out, tokens, tWte, tWpe, off);
      double[] exp = new double[b * t * c];
      double[] dwteExp = new double[v * c], dwpeExp = new double[maxT * c];
      for (int i = 0; i < b * t; i++) {
        int pos = i % t + off;
        for (int j = 0; j < c; j++) {
          exp[i * c + j] = wte[tok[i] * c + j] + (double) wpe[pos * c + j];
          dwteExp[tok[i] * c + j] += dout[i * c + j];
          dwpeExp[pos * c + j] += dout[i * c + j];
        }
      }
      Ref.assertClose("embedding forward", exp, out.toFloatArray(), 1e-6, 1e-6);
      Tensor dwte = CPU.zeros(DType.F32, v, c), dwpe = CPU.zeros(DType.F32, maxT, c);
      CPU.embeddingBackward(dwte, dwpe, CPU.fromArray(dout, b, t, c), tokens, off);
      Ref.assertClose("dwte", dwteExp, dwte.toFloatArray(), 1e-5, 1e-5);
      Ref.assertClose("dwpe", dwpeExp, dwpe.toFloatArray(), 1e-5, 1e-5);
    }
  }

  @Test
  void embeddingRejectsOutOfVocabTokensAndPositions() {
    try (Scope s = Scope.open()) {
      Tensor wte = CPU.zeros(DType.F32, 10, 4), wpe = CPU.zeros(DType.F32, 8, 4);
      Tensor out = CPU.zeros(DType.F32, 1, 3, 4);
      Tensor bad = CPU.fromArray(new int[] {1, 10, 2}, 1, 3);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> CPU.embeddingForward(out, bad, wte, wpe, 0));
      assertTrue(e.getMessage().contains("10"), e.getMessage());
      Tensor neg = CPU.fromArray(new int[] {1, -1, 2}, 1, 3);
      assertThrows(IllegalArgumentException.class, () -> CPU.embeddingForward(out, neg, wte, wpe, 0));
      Tensor ok = CPU.fromArray(new int[] {1, 2, 3}, 1, 3);
      e = assertThrows(IllegalArgumentException.class, () -> CPU.embeddingForward(out, ok, wte, wpe, 6));
      assertTrue(e.getMessage().contains("context"), e.getMessage());
    }
  }

  // ------------------------------------------------------------------ layernorm

  static double[][] layerNormRef(float[] x, float[] w, float[] bias, int n, int c, double eps) {
    double[] out = new double[n * c], mean = new double[n], rstd = new double[n];
    for (int i = 0; i < n; i++) {
      double m = 0;
      for (int j = 0; j < c; j++) m += x[i * c + j];
      m /= c;
      double v = 0;
      for (int j = 0; j < c; j++) v += (x[i * c + j] - m) * (x[i * c + j] - m);
      v /= c;
      double rs = 1 / Math.sqrt(v + eps);
      for (int j = 0; j < c; j++) out[i * c + j] = (x[i * c + j] - m) * rs * w[j] + bias[j];
      mean[i] = m;
      rstd[i] = rs;
    }
    return new double[][] {out, mean, rstd};
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 7, 33, 128, 769})
  void layerNormForwardMatchesReference(int c) {
    int n = 5;
    SplittableRandom r = new SplittableRandom(c);
    float[] x = Ref.randn(r, n * c, 2), w = Ref.randn(r, c, 1), bias = Ref.randn(r, c, 1);
    for (int i = 0; i < x.length; i++) x[i] += 3; // offset mean
    try (Scope s = Scope.open()) {
      Tensor out = CPU.zeros(DType.F32, n, c), mean = CPU.zeros(DType.F32, n), rstd = CPU.zeros(DType.F32, n);
      CPU.layerNormForward(out, mean, rstd, CPU.fromArray(x, n, c), CPU.fromArray(w, c), CPU.fromArray(bias, c),
          1e-5f);
      double[][] ref = layerNormRef(x, w, bias, n, c, 1e-5);
      Ref.assertClose("layernorm out", ref[0], out.toFloatArray(), 2e-4, 2e-4);
      Ref.assertClose("layernorm mean", ref[1], mean.toFloatArray(), 1e-5, 1e-5);
      Ref.assertClose("layernorm rstd", ref[2], rstd.toFloatArray(), 1e-4, 1e-3);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 5, 24})
  void layerNormBackwardMatchesFiniteDifferences(int c) {
    int n = 3;
    SplittableRandom r = new SplittableRandom(100 + c);
    float[] x = Ref.randn(r, n * c, 1), w = Ref.randn(r, c, 1), bias = Ref.randn(r, c, 1);
    float[] g = Ref.randn(r, n * c, 1); // loss = sum(g * out)
    try (Scope s = Scope.open()) {
      Tensor tx = CPU.fromArray(x, n, c), tw = CPU.fromArray(w, c), tb = CPU.fromArray(bias, c);
      Tensor out = CPU.zeros(DType.F32, n, c), mean = CPU.zeros(DType.F32, n), rstd = CPU.zeros(DType.F32, n);
      CPU.layerNormForward(out, mean, rstd, tx, tw, tb, 1e-5f);
      Tensor dx = CPU.zeros(DType.F32, n, c), dw = CPU.zeros(DType.F32, c), db = CPU.zeros(DType.F32, c);
      CPU.layerNormBackward(dx, dw, db, CPU.fromArray(g, n, c), tx, tw, mean, rstd);
      java.util.function.DoubleSupplier loss = () -> {
        double[] o = layerNormRef(x, w, bias, n, c, 1e-5)[0];
        double l = 0;
        for (int i = 0; i < o.length; i++) l += g[i] * o[i];
        return l;
      };
      double[] fx = new double[n * c], fw = new double[c], fb = new double[c];
      for (int i = 0; i < n * c; i++) fx[i] = Ref.centralDiff(x, i, 1e-3, loss);
      for (int i = 0; i < c; i++) fw[i] = Ref.centralDiff(w, i, 1e-3, loss);
      for (int i = 0; i < c; i++) fb[i] = Ref.centralDiff(bias, i, 1e-3, loss);
      Ref.assertClose("dinp", fx, dx.toFloatArray(), 2e-3, 2e-2);
      Ref.assertClose("dweight", fw, dw.toFloatArray(), 2e-3, 2e-2);
      Ref.assertClose("dbias", fb, db.toFloatArray(), 2e-3, 2e-2);
    }
  }

  // ------------------------------------------------------------------ gelu + elementwise

  static double gelu(double x) {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 15, 16, 17, 100_003})
  void geluForwardBackward(int n) {
    SplittableRandom r = new SplittableRandom(n);
    float[] x = Ref.randn(r, n, 3), g = Ref.randn(r, n, 1), acc = Ref.randn(r, n, 1);
    try (Scope s = Scope.open()) {
      Tensor tx = CPU.fromArray(x, n), out = CPU.zeros(DType.F32, n);
      CPU.geluForward(out, tx);
      double[] exp = new double[n], dexp = new double[n];
      for (int i = 0; i < n; i++) {
        exp[i] = gelu(x[i]);
        double h = 1e-3;
        dexp[i] = acc[i] + g[i] * (gelu(x[i] + h) - gelu(x[i] - h)) / (2 * h);
      }
      Ref.assertClose("gelu", exp, out.toFloatArray(), 1e-5, 1e-5);
      Tensor dx = CPU.fromArray(acc, n); // backward accumulates
      CPU.geluBackward(dx, tx, CPU.fromArray(g, n));
      Ref.assertClose("gelu backward", dexp, dx.toFloatArray(), 1e-4, 1e-3);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 31, 65_537})
  void addAxpyScaleSumSquares(int n) {
    SplittableRandom r = new SplittableRandom(n);
    float[] a = Ref.randn(r, n, 1), b = Ref.randn(r, n, 1);
    try (Scope s = Scope.open()) {
      Tensor ta = CPU.fromArray(a, n), tb = CPU.fromArray(b, n), out = CPU.zeros(DType.F32, n);
      CPU.add(out, ta, tb);
      double[] e1 = new double[n], e2 = new double[n], e3 = new double[n];
      double ss = 0;
      for (int i = 0; i < n; i++) {
        e1[i] = (double) a[i] + b[i];
        e2[i] = a[i] + 0.5 * b[i];
        e3[i] = e2[i] * -2;
        ss += (double) a[i] * a[i];
      }
      Ref.assertClose("add", e1, out.toFloatArray(), 1e-6, 1e-6);
      assertEquals(ss, CPU.sumSquares(ta), 1e-4 * ss + 1e-6, "sumSquares");
      CPU.axpy(ta, tb, 0.5f);
      Ref.assertClose("axpy", e2, ta.toFloatArray(), 1e-6, 1e-6);
      CPU.scale(ta, -2f);
      Ref.assertClose("scale", e3, ta.toFloatArray(), 1e-6, 1e-6);
      CPU.add(ta, ta, tb); // in place is allowed
    }
  }

  @Test
  void gatherAndScatterRows() {
    int n = 6, rows = 9, c = 5;
    SplittableRandom r = new SplittableRandom(3);
    float[] inp = Ref.randn(r, rows * c, 1), g = Ref.randn(r, n * c, 1);
    int[] idx = {8, 0, 3, 3, 7, 1};
    try (Scope s = Scope.open()) {
      Tensor ti = CPU.fromArray(inp, rows, c), out = CPU.zeros(DType.F32, n, c), tidx = CPU.fromArray(idx, n);
      CPU.gatherRows(out, ti, tidx);
      double[] exp = new double[n * c], dexp = new double[rows * c];
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < c; j++) {
          exp[i * c + j] = inp[idx[i] * c + j];
          dexp[idx[i] * c + j] += g[i * c + j];
        }
      }
      Ref.assertClose("gather", exp, out.toFloatArray(), 0, 0);
      Tensor d = CPU.zeros(DType.F32, rows, c);
      CPU.scatterAddRows(d, CPU.fromArray(g, n, c), tidx);
      Ref.assertClose("scatter_add", dexp, d.toFloatArray(), 1e-6, 1e-6);
      Tensor badIdx = CPU.fromArray(new int[] {0, 9, 0, 0, 0, 0}, n);
      assertThrows(IllegalArgumentException.class, () -> CPU.gatherRows(out, ti, badIdx));
    }
  }

  // ------------------------------------------------------------------ cross-entropy

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 7, 64, 1000})
  void crossEntropyLossesAndGradient(int v) {
    int n = 6, ld = v + (v % 3); // padded rows
    SplittableRandom r = new SplittableRandom(v);
    float[] logits = Ref.randn(r, n * ld, 3);
    int[] tgt = new int[n];
    float[] dloss = new float[n];
    for (int i = 0; i < n; i++) {
      tgt[i] = r.nextInt(v);
      dloss[i] = (float) r.nextDouble();
    }
    tgt[2] = -1; // ignored position
    double[] losses = new double[n], dl = new double[n * ld];
    for (int i = 0; i < n; i++) {
      double mx = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < v; j++) mx = Math.max(mx, logits[i * ld + j]);
      double z = 0;
      for (int j = 0; j < v; j++) z += Math.exp(logits[i * ld + j] - mx);
      if (tgt[i] < 0) continue;
      losses[i] = mx + Math.log(z) - logits[i * ld + tgt[i]];
      for (int j = 0; j < v; j++) {
        dl[i * ld + j] = (Math.exp(logits[i * ld + j] - mx) / z - (j == tgt[i] ? 1 : 0)) * dloss[i];
      }
    }
    try (Scope s = Scope.open()) {
      Tensor tl = CPU.fromArray(logits, n, ld), tt = CPU.fromArray(tgt, n), td = CPU.fromArray(dloss, n);
      Tensor out = CPU.zeros(DType.F32, n), dlogits = CPU.zeros(DType.F32, n, ld);
      CPU.crossEntropy(out, dlogits, tl, tt, td, v);
      Ref.assertClose("ce losses", losses, out.toFloatArray(), 1e-5, 1e-5);
      Ref.assertClose("ce dlogits", dl, dlogits.toFloatArray(), 1e-6, 1e-5);
      // in place: dlogits written over logits
      CPU.crossEntropy(out, tl, tl, tt, td, v);
      Ref.assertClose("ce losses (in place)", losses, out.toFloatArray(), 1e-5, 1e-5);
      Ref.assertClose("ce dlogits (in place)", dl, tl.toFloatArray(), 1e-6, 1e-5);
      Tensor badT = CPU.fromArray(new int[] {0, 0, 0, 0, 0, v}, n);
      assertThrows(IllegalArgumentException.class, () -> CPU.crossEntropy(out, null, dlogits, badT, null, v));
      assertThrows(IllegalArgumentException.class, () -> CPU.crossEntropy(out, dlogits, tl, tt, null, v));
    }
  }

  @Test
  void crossEntropyIsStableForLargeLogits() {
    float[] logits = {1000f, -1000f, 999f};
    try (Scope s = Scope.open()) {
      Tensor out = CPU.zeros(DType.F32, 1);
      CPU.crossEntropy(out, null, CPU.fromArray(logits, 1, 3), CPU.fromArray(new int[] {2}, 1), null, 3);
      assertEquals(Math.log(1 + Math.exp(-1)) + 1, out.item(), 1e-4);
    }
  }

  // ------------------------------------------------------------------ AdamW

  @ParameterizedTest
  @ValueSource(ints = {1, 17, 70_001})
  void adamwMatchesReferenceOverSteps(int n) {
    SplittableRandom r = new SplittableRandom(n);
    float[] p = Ref.randn(r, n, 1);
    double[] pd = Ref.toDouble(p), md = new double[n], vd = new double[n];
    float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, scale = 0.5f;
    try (Scope s = Scope.open()) {
      Tensor tp = CPU.fromArray(p, n), tm = CPU.zeros(DType.F32, n), tv = CPU.zeros(DType.F32, n);
      for (int step = 1; step <= 3; step++) {
        float[] g = Ref.randn(r, n, 1);
        CPU.adamw(tp, CPU.fromArray(g, n), tm, tv, lr, b1, b2, eps, wd, step, scale);
        for (int i = 0; i < n; i++) {
          double gi = g[i] * (double) scale;
          md[i] = b1 * md[i] + (1 - b1) * gi;
          vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;
          double mh = md[i] / (1 - Math.pow(b1, step)), vh = vd[i] / (1 - Math.pow(b2, step));
          pd[i] -= lr * (mh / (Math.sqrt(vh) + eps) + wd * pd[i]);
        }
      }
      Ref.assertClose("adamw params", pd, tp.toFloatArray(), 1e-5, 1e-4);
      Ref.assertClose("adamw m", md, tm.toFloatArray(), 1e-6, 1e-4);
      assertThrows(IllegalArgumentException.class,
          () -> CPU.adamw(tp, tm, tm, tv, lr, b1, b2, eps, wd, 0, 1f)); // step 0
      assertThrows(IllegalArgumentException.class,
          () -> CPU.adamw(tp, tm, tm, tv, Float.NaN, b1, b2, eps, wd, 1, 1f));
    }
  }

  // ------------------------------------------------------------------ bf16

  @Test
  void bf16ConversionRoundsToNearestEven() {
    float[] x = {1.0f, Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000), -2.5f,
        Float.intBitsToFloat(0x3f80c000), Float.NaN, Float.POSITIVE_INFINITY, 1e-40f};
    try (Scope s = Scope.open()) {
      Tensor f = CPU.fromArray(x, x.length), h = CPU.zeros(DType.BF16, x.length), back = CPU.zeros(DType.F32, x.length);
      CPU.convert(h, f);
      CPU.convert(back, h);
      float[] y = back.toFloatArray();
      assertEquals(1.0f, y[0]);
      assertEquals(1.0f, y[1]); // tie -> even (0x3f80)
      assertEquals(Float.intBitsToFloat(0x3f820000), y[2]); // tie -> even (0x3f82)
      assertEquals(-2.5f, y[3]);
      assertEquals(Float.intBitsToFloat(0x3f810000), y[4]); // above half -> up
      assertTrue(Float.isNaN(y[5]));
      assertEquals(Float.POSITIVE_INFINITY, y[6]);
      assertThrows(IllegalArgumentException.class, () -> CPU.convert(back, f));
    }
  }
}
