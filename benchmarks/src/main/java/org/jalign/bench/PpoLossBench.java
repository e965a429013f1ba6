package org.jalign.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.jalign.backend.CpuBackend;
import org.jalign.backend.PpoLossConfig;
import org.jalign.backend.PpoMetrics;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * PPO policy loss forward + backward over logits (B*T, V): the fused jalign kernel (two reads of the logits, dlogits
 * written) against the straightforward way in the same run ({@code materialised}, the ratio baseline: log-softmax
 * materialised, gather, masked reductions, an entropy pass, then a separate backward pass; plain Java parallelised
 * over rows).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx6g"})
public class PpoLossBench {
  static final float CLIP = 0.2f;
  static final float ENT = 0.01f;
  static final float KL = 0.05f;

  /** B x T x V. */
  @Param({"8x128x256", "4x256x50304"})
  public String shape;

  int n;
  int v;
  CpuBackend cpu;
  Tensor logits;
  Tensor dlogits;
  Tensor tokens;
  Tensor oldLogp;
  Tensor adv;
  Tensor ref;
  Tensor mask;
  PpoLossConfig config;
  float[] hLogits;
  int[] hTokens;
  float[] hOld;
  float[] hAdv;
  float[] hRef;
  float[] hMask;
  float[] logsm;
  float[] hDlogits;

  @Setup(Level.Trial)
  public void setup() {
    String[] s = shape.split("x");
    int b = Integer.parseInt(s[0]), t = Integer.parseInt(s[1]);
    v = Integer.parseInt(s[2]);
    n = b * t;
    SplittableRandom r = new SplittableRandom(9);
    hLogits = new float[n * v];
    for (int i = 0; i < hLogits.length; i++) hLogits[i] = (float) (2 * SamplingBench.gauss(r));
    hTokens = new int[n];
    hOld = new float[n];
    hAdv = new float[n];
    hRef = new float[n];
    hMask = new float[n];
    for (int i = 0; i < n; i++) {
      hTokens[i] = r.nextInt(v);
      hOld[i] = (float) (-Math.log(v) + 0.1 * SamplingBench.gauss(r));
      hRef[i] = (float) (-Math.log(v) + 0.1 * SamplingBench.gauss(r));
      hAdv[i] = (float) SamplingBench.gauss(r);
      hMask[i] = (i % t) < t * 7 / 8 ? 1f : 0f; // padded tail of each response
    }
    cpu = new CpuBackend();
    logits = cpu.fromArray(hLogits, n, v);
    dlogits = cpu.zeros(org.jalign.tensor.DType.F32, n, v);
    tokens = cpu.fromArray(hTokens, n);
    oldLogp = cpu.fromArray(hOld, n);
    adv = cpu.fromArray(hAdv, n);
    ref = cpu.fromArray(hRef, n);
    mask = cpu.fromArray(hMask, n);
    config = new PpoLossConfig(CLIP, 0f, ENT, KL, 1);
    logsm = new float[n * v];
    hDlogits = new float[n * v];
  }

  @Benchmark
  public PpoMetrics fused() {
    return cpu.ppoLoss(null, dlogits, logits, tokens, oldLogp, adv, ref, mask, v, config);
  }

  /** Baseline: log-softmax materialised, gather, masked reductions, entropy pass, separate backward pass. */
  @Benchmark
  public void materialised(Blackhole bh) {
    IntStream.range(0, n).parallel().forEach(i -> { // log-softmax
      int base = i * v;
      float m = Float.NEGATIVE_INFINITY;
      for (int j = 0; j < v; j++) m = Math.max(m, hLogits[base + j]);
      double s = 0;
      for (int j = 0; j < v; j++) s += Math.exp(hLogits[base + j] - m);
      float lse = (float) (m + Math.log(s));
      for (int j = 0; j < v; j++) logsm[base + j] = hLogits[base + j] - lse;
    });
    float[] lp = new float[n], h = new float[n], g = new float[n];
    for (int i = 0; i < n; i++) lp[i] = logsm[i * v + hTokens[i]]; // gather
    IntStream.range(0, n).parallel().forEach(i -> { // entropy
      double e = 0;
      for (int j = 0; j < v; j++) e -= Math.exp(logsm[i * v + j]) * logsm[i * v + j];
      h[i] = (float) e;
    });
    double msum = 0, loss = 0;
    for (int i = 0; i < n; i++) msum += hMask[i];
    for (int i = 0; i < n; i++) { // masked reductions
      double w = hMask[i] / msum, a = hAdv[i], ratio = Math.exp(lp[i] - hOld[i]);
      double rc = Math.min(Math.max(ratio, 1 - CLIP), 1 + CLIP);
      loss += w * (Math.max(-a * ratio, -a * rc) - ENT * h[i] + KL * (lp[i] - hRef[i]));
      g[i] = (float) ((-a * rc > -a * ratio ? 0 : -a * ratio) + KL);
    }
    final double ms = msum;
    IntStream.range(0, n).parallel().forEach(i -> { // backward
      float w = (float) (hMask[i] / ms);
      for (int j = 0; j < v; j++) {
        float p = (float) Math.exp(logsm[i * v + j]);
        hDlogits[i * v + j] = w * (g[i] * ((j == hTokens[i] ? 1 : 0) - p) + ENT * p * (logsm[i * v + j] + h[i]));
      }
    });
    bh.consume(loss);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor t : new Tensor[] {logits, dlogits, tokens, oldLogp, adv, ref, mask}) t.close();
    cpu.close();
  }

  /** Bytes the fused kernel must move at least: read the logits, write dlogits. */
  public static double bytes(String shape) {
    String[] s = shape.split("x");
    return 8.0 * Long.parseLong(s[0]) * Long.parseLong(s[1]) * Long.parseLong(s[2]);
  }
}
