package org.jalign.ops;

import static org.jalign.ops.CpuOps.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.jalign.model.RopeConfig;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RMSNorm, RoPE and SwiGLU vs Java double-precision references at awkward sizes; backward by central finite
 * differences of the reference and against the analytic gradient (accumulating into non-zero gradients).
 *
 * <p>Shape legend: B = batch, T = time, C = channels, N = rows, NH / NKV = query / key heads, HS = head size,
 * F = intermediate width.
 */
class LlamaOpsTest {

  // ------------------------------------------------------------------ RMSNorm

  /** {out, rstd} of HF's LlamaRMSNorm in double. */
  static double[][] rmsNormRef(float[] x, float[] w, int n, int c, double eps) {
    double[] out = new double[n * c], rstd = new double[n];
    for (int i = 0; i < n; i++) {
      double ss = 0;
      for (int j = 0; j < c; j++) ss += (double) x[i * c + j] * x[i * c + j];
      double r = 1 / Math.sqrt(ss / c + eps);
      for (int j = 0; j < c; j++) out[i * c + j] = x[i * c + j] * r * w[j];
      rstd[i] = r;
    }
    return new double[][] {out, rstd};
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 7, 33, 128, 769})
  void rmsNormForwardMatchesReference(int c) {
    int n = 5;
    SplittableRandom r = new SplittableRandom(c);
    float[] x = Ref.randn(r, n * c, 2), w = Ref.randn(r, c, 1);
    for (int i = 0; i < x.length; i++) x[i] += 1; // a mean away from 0: RMSNorm does not centre
    try (Scope s = Scope.open()) {
      Tensor out = CPU.zeros(DType.F32, n, c), rstd = CPU.zeros(DType.F32, n);
      CPU.rmsNormForward(out, rstd, CPU.fromArray(x, n, c), CPU.fromArray(w, c), 1e-6f);
      double[][] ref = rmsNormRef(x, w, n, c, 1e-6);
      Ref.assertClose("rmsnorm out", ref[0], out.toFloatArray(), 1e-5, 1e-5);
      Ref.assertClose("rmsnorm rstd", ref[1], rstd.toFloatArray(), 0, 1e-6);
      Tensor out2 = CPU.zeros(DType.F32, n, c);
      CPU.rmsNormForward(out2, null, CPU.fromArray(x, n, c), CPU.fromArray(w, c), 1e-6f); // rstd is optional
      assertArrayEquals(out.toFloatArray(), out2.toFloatArray());
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 5, 24})
  void rmsNormBackwardMatchesFiniteDifferences(int c) {
    int n = 3;
    SplittableRandom r = new SplittableRandom(200 + c);
    float[] x = Ref.randn(r, n * c, 1), w = Ref.randn(r, c, 1), g = Ref.randn(r, n * c, 1);
    try (Scope s = Scope.open()) {
      Tensor tx = CPU.fromArray(x, n, c), tw = CPU.fromArray(w, c);
      Tensor out = CPU.zeros(DType.F32, n, c), rstd = CPU.zeros(DType.F32, n);
      CPU.rmsNormForward(out, rstd, tx, tw, 1e-6f);
      Tensor dx = CPU.zeros(DType.F32, n, c), dw = CPU.zeros(DType.F32, c);
      CPU.rmsNormBackward(dx, dw, CPU.fromArray(g, n, c), tx, tw, rstd);
      DoubleSupplier loss = () -> dot(g, rmsNormRef(x, w, n, c, 1e-6)[0]);
      double[] fx = new double[n * c], fw = new double[c];
      for (int i = 0; i < n * c; i++) fx[i] = Ref.centralDiff(x, i, 1e-3, loss);
      for (int i = 0; i < c; i++) fw[i] = Ref.centralDiff(w, i, 1e-3, loss);
      Ref.assertClose("rmsnorm dinp", fx, dx.toFloatArray(), 2e-3, 2e-2);
      Ref.assertClose("rmsnorm dweight", fw, dw.toFloatArray(), 2e-3, 2e-2);
    }
  }

  @ParameterizedTest
  @CsvSource({"1,1", "37,7", "300,33", "64,769"})
  void rmsNormBackwardAccumulatesTheAnalyticGradient(int n, int c) {
    SplittableRandom r = new SplittableRandom(n * 1000L + c);
    float[] x = Ref.randn(r, n * c, 2), w = Ref.randn(r, c, 1), g = Ref.randn(r, n * c, 1);
    float[] dx0 = Ref.randn(r, n * c, 1), dw0 = Ref.randn(r, c, 1);
    double[] rstd = rmsNormRef(x, w, n, c, 1e-5)[1];
    double[] dxRef = Ref.toDouble(dx0), dwRef = Ref.toDouble(dw0);
    for (int i = 0; i < n; i++) {
      double m = 0; // mean(dn * xhat), dn = g * w
      for (int j = 0; j < c; j++) m += g[i * c + j] * (double) w[j] * x[i * c + j] * rstd[i];
      m /= c;
      for (int j = 0; j < c; j++) {
        double xh = x[i * c + j] * rstd[i];
        dxRef[i * c + j] += rstd[i] * (g[i * c + j] * (double) w[j] - xh * m);
        dwRef[j] += g[i * c + j] * xh;
      }
    }
    try (Scope s = Scope.open()) {
      Tensor tx = CPU.fromArray(x, n, c), tw = CPU.fromArray(w, c), trs = CPU.zeros(DType.F32, n);
      CPU.rmsNormForward(CPU.zeros(DType.F32, n, c), trs, tx, tw, 1e-5f);
      Tensor dx = CPU.fromArray(dx0, n, c), dw = CPU.fromArray(dw0, c);
      CPU.rmsNormBackward(dx, dw, CPU.fromArray(g, n, c), tx, tw, trs);
      Ref.assertClose("rmsnorm dinp", dxRef, dx.toFloatArray(), 1e-5, 1e-4);
      Ref.assertClose("rmsnorm dweight", dwRef, dw.toFloatArray(), 1e-4, 1e-4);
    }
  }

  // ------------------------------------------------------------------ RoPE

  /**
   * Reference rotation of one element of a head, in double from the fp32 angle that HF forms (fp32 pos * inv_freq).
   * The kernel's cos and sin are within an ulp of this angle's, and each output is a sum of two fp32 products
   * with |cos|, |sin| &lt;= 1, so it errs by at most about 3 ulp of |x1| + |x2| (1 from cos/sin, 1 from the
   * products, 1 from the sum): the tests allow 4 * 2^-24 * (|x1| + |x2|).
   */
  static double ropeRef(double x1, double x2, int pos, float invFreq, boolean first, int sign) {
    float a = (float) pos * invFreq;
    double c = Math.cos(a), s = sign * Math.sin(a);
    return first ? x1 * c - x2 * s : x2 * c + x1 * s;
  }

  static final double ULP_1 = Math.scalb(1.0, -24);

  @ParameterizedTest(name = "NH={0} NKV={1} HS={2}")
  @CsvSource({"1,1,2", "3,1,6", "4,2,64", "2,2,10"})
  void ropeRotatesQAndKBlocksOfAFusedProjection(int nh, int nkv, int hs) {
    int b = 2, t = 5, width = (nh + 2 * nkv) * hs; // q | k | v, as a fused projection
    SplittableRandom r = new SplittableRandom(nh * 100L + nkv * 10L + hs);
    float[] x = Ref.randn(r, b * t * width, 1);
    int[] pos = {0, 1, 2, 3, 8191, 1, 1, 0, 1, 2}; // row 1 left-padded as HF does it (pads at 1)
    float[] inv = new RopeConfig(500000, hs, new RopeConfig.Llama3Scaling(8, 1, 4, 8192)).invFreq();
    try (Scope s = Scope.open()) {
      Tensor tx = CPU.fromArray(x, b, t, width), tp = CPU.fromArray(pos, b, t), ti = CPU.fromArray(inv, hs / 2);
      CPU.ropeForward(tx, 0, nh, hs, tp, ti);
      CPU.ropeForward(tx, (long) nh * hs, nkv, hs, tp, ti);
      float[] got = tx.toFloatArray();
      int half = hs / 2;
      for (int bt = 0; bt < b * t; bt++) {
        for (int e = 0; e < width; e++) {
          int i = bt * width + e;
          if (e >= (nh + nkv) * hs) { // the v block is untouched
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(x[i])) fail("v element " + i + " changed");
            continue;
          }
          int d = e % hs, dd = d % half, h0 = bt * width + e - d;
          double x1 = x[h0 + dd], x2 = x[h0 + dd + half];
          double ref = ropeRef(x1, x2, pos[bt], inv[dd], d < half, 1);
          if (!(Math.abs(got[i] - ref) <= 4 * ULP_1 * (Math.abs(x1) + Math.abs(x2)))) {
            fail("rope element " + i + " (b,t=" + bt + ", d=" + d + ") is " + got[i] + ", expected " + ref);
          }
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 6, 16})
  void ropeBackwardMatchesFiniteDifferences(int hs) {
    int b = 1, t = 3, nh = 2, width = nh * hs;
    SplittableRandom r = new SplittableRandom(hs);
    float[] x = Ref.randn(r, b * t * width, 1), g = Ref.randn(r, b * t * width, 1), d0 = Ref.randn(r, b * t * width, 1);
    int[] pos = {5, 0, 1234};
    float[] inv = RopeConfig.of(10000, hs).invFreq();
    int half = hs / 2;
    DoubleSupplier loss = () -> {
      double l = 0;
      for (int i = 0; i < x.length; i++) {
        int bt = i / width, d = i % hs, dd = d % half, h0 = i - d;
        l += g[i] * ropeRef(x[h0 + dd], x[h0 + dd + half], pos[bt], inv[dd], d < half, 1);
      }
      return l;
    };
    double[] fd = new double[x.length];
    for (int i = 0; i < x.length; i++) fd[i] = Ref.centralDiff(x, i, 1e-3, loss);
    try (Scope s = Scope.open()) {
      Tensor dx = CPU.fromArray(g, b, t, width);
      CPU.ropeBackward(dx, 0, nh, hs, CPU.fromArray(pos, b, t), CPU.fromArray(inv, half));
      Ref.assertClose("rope backward", fd, dx.toFloatArray(), 1e-4, 1e-3);
      // Forward then backward gives the input back (to rounding).
      Tensor y = CPU.fromArray(d0, b, t, width);
      CPU.ropeForward(y, 0, nh, hs, CPU.fromArray(pos, b, t), CPU.fromArray(inv, half));
      CPU.ropeBackward(y, 0, nh, hs, CPU.fromArray(pos, b, t), CPU.fromArray(inv, half));
      Ref.assertClose("rope backward(forward(x))", d0, y.toFloatArray(), 1e-6, 1e-6);
    }
  }

  // ------------------------------------------------------------------ SwiGLU

  static double sigmoid(double v) {
    return 1 / (1 + Math.exp(-v));
  }

  static double[] swigluRef(float[] gu, int n, int f) {
    double[] out = new double[n * f];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < f; j++) {
        double a = gu[i * 2 * f + j];
        out[i * f + j] = a * sigmoid(a) * gu[i * 2 * f + f + j];
      }
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 8, 17, 100})
  void swigluForwardAndBackwardMatchReferences(int f) {
    int n = 4;
    SplittableRandom r = new SplittableRandom(f);
    float[] gu = Ref.randn(r, n * 2 * f, 3), g = Ref.randn(r, n * f, 1), d0 = Ref.randn(r, n * 2 * f, 1);
    gu[0] = 40; // saturated gates: sigmoid 1 and 0
    if (f > 1) gu[1] = -40;
    double[] dRef = Ref.toDouble(d0);
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < f; j++) {
        double a = gu[i * 2 * f + j], u = gu[i * 2 * f + f + j], sg = sigmoid(a);
        dRef[i * 2 * f + j] += g[i * f + j] * u * (sg + a * sg * (1 - sg));
        dRef[i * 2 * f + f + j] += g[i * f + j] * a * sg;
      }
    }
    try (Scope s = Scope.open()) {
      Tensor tgu = CPU.fromArray(gu, n, 2 * f), out = CPU.zeros(DType.F32, n, f);
      CPU.swigluForward(out, tgu);
      Ref.assertClose("swiglu out", swigluRef(gu, n, f), out.toFloatArray(), 1e-6, 1e-5);
      Tensor dgu = CPU.fromArray(d0, n, 2 * f);
      CPU.swigluBackward(dgu, CPU.fromArray(g, n, f), tgu);
      Ref.assertClose("swiglu dgu (accumulated)", dRef, dgu.toFloatArray(), 1e-5, 1e-5);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 5, 9})
  void swigluBackwardMatchesFiniteDifferences(int f) {
    int n = 2;
    SplittableRandom r = new SplittableRandom(50 + f);
    float[] gu = Ref.randn(r, n * 2 * f, 2), g = Ref.randn(r, n * f, 1);
    DoubleSupplier loss = () -> dot(g, swigluRef(gu, n, f));
    double[] fd = new double[gu.length];
    for (int i = 0; i < gu.length; i++) fd[i] = Ref.centralDiff(gu, i, 1e-3, loss);
    try (Scope s = Scope.open()) {
      Tensor dgu = CPU.zeros(DType.F32, n, 2 * f);
      CPU.swigluBackward(dgu, CPU.fromArray(g, n, f), CPU.fromArray(gu, n, 2 * f));
      Ref.assertClose("swiglu dgu", fd, dgu.toFloatArray(), 2e-3, 2e-2);
    }
  }

  static double dot(float[] a, double[] b) {
    double l = 0;
    for (int i = 0; i < a.length; i++) l += a[i] * b[i];
    return l;
  }
}
