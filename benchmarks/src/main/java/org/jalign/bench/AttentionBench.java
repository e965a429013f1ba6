package org.jalign.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.jalign.backend.CpuBackend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Fused causal self-attention on the CPU (flash style: tiles, online softmax, no T x T buffer) beside a naive
 * baseline in the same run that materialises the T x T scores of each head: S = Q K^T and O = P V (and the four
 * backward products) through jalign's OpenBLAS GEMM, the causal softmax and dS = P (dP - D) in Java. The
 * baseline gets its inputs already in head-major (B*NH, T, HS) layout (not timed).
 *
 * <p>Shapes "B,NH,T,HS". Work counted for both (causal): forward 4*B*T^2*NH*HS/2 FLOPs, backward 2.5x that.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class AttentionBench {
  @Param({"8,6,256,64", "4,12,1024,64"})
  public String shape;

  /** "forward" or "forward+backward". */
  @Param({"forward", "forward+backward"})
  public String pass;

  CpuBackend cpu;
  int b;
  int nh;
  int t;
  int hs;
  // fused path: (B,T,C)
  Tensor q;
  Tensor k;
  Tensor v;
  Tensor out;
  Tensor lse;
  Tensor dout;
  Tensor dq;
  Tensor dk;
  Tensor dv;
  // naive path: head-major (B*NH, T, HS) inputs and outputs, one head's (T,T) scores
  Tensor qh;
  Tensor kh;
  Tensor vh;
  Tensor outh;
  Tensor douth;
  Tensor dqh;
  Tensor dkh;
  Tensor dvh;
  Tensor scores;
  Tensor dscores;

  @Setup(Level.Trial)
  public void setup() {
    String[] s = shape.split(",");
    b = Integer.parseInt(s[0]);
    nh = Integer.parseInt(s[1]);
    t = Integer.parseInt(s[2]);
    hs = Integer.parseInt(s[3]);
    int c = nh * hs;
    cpu = new CpuBackend();
    SplittableRandom r = new SplittableRandom(3);
    float[] qa = GemmBench.random(r, b * t * c), ka = GemmBench.random(r, b * t * c);
    float[] va = GemmBench.random(r, b * t * c), ga = GemmBench.random(r, b * t * c);
    q = cpu.fromArray(qa, b, t, c);
    k = cpu.fromArray(ka, b, t, c);
    v = cpu.fromArray(va, b, t, c);
    dout = cpu.fromArray(ga, b, t, c);
    out = cpu.zeros(DType.F32, b, t, c);
    lse = cpu.zeros(DType.F32, b, nh, t);
    dq = cpu.zeros(DType.F32, b, t, c);
    dk = cpu.zeros(DType.F32, b, t, c);
    dv = cpu.zeros(DType.F32, b, t, c);
    qh = cpu.fromArray(headMajor(qa), b * nh, t, hs);
    kh = cpu.fromArray(headMajor(ka), b * nh, t, hs);
    vh = cpu.fromArray(headMajor(va), b * nh, t, hs);
    douth = cpu.fromArray(headMajor(ga), b * nh, t, hs);
    outh = cpu.zeros(DType.F32, b * nh, t, hs);
    dqh = cpu.zeros(DType.F32, b * nh, t, hs);
    dkh = cpu.zeros(DType.F32, b * nh, t, hs);
    dvh = cpu.zeros(DType.F32, b * nh, t, hs);
    scores = cpu.zeros(DType.F32, t, t);
    dscores = cpu.zeros(DType.F32, t, t);
  }

  /** (B,T,NH,HS) -> (B,NH,T,HS). */
  float[] headMajor(float[] x) {
    float[] y = new float[x.length];
    for (int bb = 0; bb < b; bb++) {
      for (int i = 0; i < t; i++) {
        for (int h = 0; h < nh; h++) {
          System.arraycopy(x, ((bb * t + i) * nh + h) * hs, y, ((bb * nh + h) * t + i) * hs, hs);
        }
      }
    }
    return y;
  }

  @Benchmark
  public void fused() {
    cpu.attentionForward(out, lse, q, k, v, nh, null, null);
    if (pass.equals("forward+backward")) {
      cpu.attentionBackward(dq, dk, dv, dout, out, lse, q, k, v, nh, null, null);
    }
  }

  @Benchmark
  public void naive() {
    boolean backward = pass.equals("forward+backward");
    double scale = 1 / Math.sqrt(hs);
    for (int bh = 0; bh < b * nh; bh++) {
      Tensor qi = qh.row(bh), ki = kh.row(bh), vi = vh.row(bh), oi = outh.row(bh);
      // S = Q K^T (all T x T), causal softmax in Java, O = P V.
      cpu.matmul(scores, qi, ki, null, false, true, false);
      float[] p = scores.toFloatArray();
      for (int i = 0; i < t; i++) {
        double mx = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= i; j++) mx = Math.max(mx, p[i * t + j] * scale);
        double sum = 0;
        for (int j = 0; j <= i; j++) {
          double e = Math.exp(p[i * t + j] * scale - mx);
          p[i * t + j] = (float) e;
          sum += e;
        }
        for (int j = 0; j < t; j++) p[i * t + j] = j <= i ? (float) (p[i * t + j] / sum) : 0f;
      }
      scores.copyFrom(p);
      cpu.matmul(oi, scores, vi, null, false, false, false);
      if (!backward) continue;
      Tensor gi = douth.row(bh);
      // dV = P^T dO; dP = dO V^T; dS = P (dP - rowsum(P dP)) * scale; dQ = dS K; dK = dS^T Q.
      cpu.matmul(dvh.row(bh), scores, gi, null, true, false, true);
      cpu.matmul(dscores, gi, vi, null, false, true, false);
      float[] dp = dscores.toFloatArray();
      for (int i = 0; i < t; i++) {
        double d = 0;
        for (int j = 0; j <= i; j++) d += (double) p[i * t + j] * dp[i * t + j];
        for (int j = 0; j < t; j++) dp[i * t + j] = j <= i ? (float) (p[i * t + j] * (dp[i * t + j] - d) * scale) : 0f;
      }
      dscores.copyFrom(dp);
      cpu.matmul(dqh.row(bh), dscores, ki, null, false, false, true);
      cpu.matmul(dkh.row(bh), dscores, qi, null, true, false, true);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor x : new Tensor[] {q, k, v, out, lse, dout, dq, dk, dv, qh, kh, vh, outh, douth, dqh, dkh, dvh,
        scores, dscores}) {
      x.close();
    }
    cpu.close();
  }

  /** Causal FLOPs of one op: forward 4*B*T^2*NH*HS/2, backward 2.5x the forward. */
  public static double flops(String shape, String pass) {
    String[] s = shape.split(",");
    double bb = Double.parseDouble(s[0]), h = Double.parseDouble(s[1]), tt = Double.parseDouble(s[2]);
    double d = Double.parseDouble(s[3]);
    double fwd = 4 * bb * tt * tt * h * d / 2;
    return pass.equals("forward") ? fwd : 3.5 * fwd;
  }
}
