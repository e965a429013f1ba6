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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Memory-bound core ops at GPT-2-small activation sizes (N = B*T = 2048 rows, C = 768, V = 50304 for the
 * cross-entropy). {@link RunBenchmarks} turns the times into GB/s from the bytes each op must move. The Llama-family
 * ops run on the same rows: RMSNorm over C (beside LayerNorm), RoPE over the q and k blocks of a fused (1, N, 3C)
 * projection (2*NH heads of HS = 64), SwiGLU on a fused gate/up projection (N, 4C), F = 2C (beside GELU).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class CoreOpsBench {
  static final int N = 2048;
  static final int C = 768;
  static final int CE_ROWS = 256;
  static final int V = 50304;
  static final int HS = 64;
  static final int NH = C / HS;

  CpuBackend cpu;
  Tensor x;
  Tensor y;
  Tensor w;
  Tensor bias;
  Tensor mean;
  Tensor rstd;
  Tensor dx;
  Tensor dw;
  Tensor db;
  Tensor logits;
  Tensor losses;
  Tensor targets;
  Tensor dloss;
  Tensor params;
  Tensor m;
  Tensor v;
  Tensor grads;
  Tensor pos;
  Tensor invFreq;
  Tensor dgu;

  @Setup(Level.Trial)
  public void setup() {
    cpu = new CpuBackend();
    SplittableRandom r = new SplittableRandom(3);
    x = cpu.fromArray(GemmBench.random(r, N * 4 * C), N, 4 * C);
    y = cpu.zeros(DType.F32, N, 4 * C);
    w = cpu.fromArray(GemmBench.random(r, C), C);
    bias = cpu.zeros(DType.F32, C);
    mean = cpu.zeros(DType.F32, N);
    rstd = cpu.zeros(DType.F32, N);
    dx = cpu.zeros(DType.F32, N, C);
    dw = cpu.zeros(DType.F32, C);
    db = cpu.zeros(DType.F32, C);
    logits = cpu.fromArray(GemmBench.random(r, CE_ROWS * V), CE_ROWS, V);
    losses = cpu.zeros(DType.F32, CE_ROWS);
    int[] t = new int[CE_ROWS];
    for (int i = 0; i < t.length; i++) t[i] = r.nextInt(V);
    targets = cpu.fromArray(t, CE_ROWS);
    float[] d = new float[CE_ROWS];
    java.util.Arrays.fill(d, 1f / CE_ROWS);
    dloss = cpu.fromArray(d, CE_ROWS);
    params = cpu.fromArray(GemmBench.random(r, 8_000_000), 8_000_000);
    m = cpu.zeros(DType.F32, 8_000_000);
    v = cpu.zeros(DType.F32, 8_000_000);
    grads = cpu.fromArray(GemmBench.random(r, 8_000_000), 8_000_000);
    int[] p = new int[N];
    for (int i = 0; i < N; i++) p[i] = i;
    pos = cpu.fromArray(p, 1, N);
    invFreq = cpu.fromArray(org.jalign.model.RopeConfig.of(10000, HS).invFreq(), HS / 2);
    dgu = cpu.zeros(DType.F32, N, 4 * C);
  }

  /** (N, C) slice of x. */
  Tensor xc() {
    return x.slice(0, N, C);
  }

  @Benchmark
  public void layerNormForward() {
    cpu.layerNormForward(y.slice(0, N, C), mean, rstd, xc(), w, bias, 1e-5f);
  }

  @Benchmark
  public void layerNormBackward() {
    cpu.layerNormBackward(dx, dw, db, y.slice(0, N, C), xc(), w, mean, rstd);
  }

  @Benchmark
  public void rmsNormForward() {
    cpu.rmsNormForward(y.slice(0, N, C), rstd, xc(), w, 1e-6f);
  }

  @Benchmark
  public void rmsNormBackward() {
    cpu.rmsNormBackward(dx, dw, y.slice(0, N, C), xc(), w, rstd);
  }

  /** In place on the q and k blocks (2*NH heads) of x viewed as a fused (1, N, 3C) projection. */
  @Benchmark
  public void ropeForward() {
    cpu.ropeForward(x.slice(0, 1, N, 3 * C), 0, 2 * NH, HS, pos, invFreq);
  }

  @Benchmark
  public void swigluForward() {
    cpu.swigluForward(y.slice(0, N, 2 * C), x);
  }

  @Benchmark
  public void swigluBackward() {
    cpu.swigluBackward(dgu, y.slice(0, N, 2 * C), x);
  }

  @Benchmark
  public void geluForward() {
    cpu.geluForward(y, x);
  }

  /** Fused softmax + cross-entropy with dlogits written in place over the logits. */
  @Benchmark
  public void crossEntropyForwardBackward() {
    cpu.crossEntropy(losses, logits, logits, targets, dloss, V);
  }

  @Benchmark
  public void adamw() {
    cpu.adamw(params, grads, m, v, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.0f, 1, 1f);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor t : new Tensor[] {x, y, w, bias, mean, rstd, dx, dw, db, logits, losses, targets, dloss, params, m,
        v, grads, pos, invFreq, dgu}) {
      t.close();
    }
    cpu.close();
  }

  /** Bytes each benchmark must read + write at minimum. */
  public static double bytes(String method) {
    switch (method) {
      case "layerNormForward": return 4.0 * N * C * 2;
      case "layerNormBackward": return 4.0 * N * C * 4; // dout, inp read twice-ish, dinp r/w: lower bound 4 passes
      case "rmsNormForward": return 4.0 * N * C * 2;
      case "rmsNormBackward": return 4.0 * N * C * 4; // dout, inp read; dinp read and written
      case "ropeForward": return 4.0 * N * 2 * C * 2; // q and k blocks read and written
      case "swigluForward": return 4.0 * N * (4 * C + 2 * C); // gu read, out written
      case "swigluBackward": return 4.0 * N * (4 * C + 2 * C + 8 * C); // gu, dout read; dgu read and written
      case "geluForward": return 4.0 * N * 4 * C * 2;
      case "crossEntropyForwardBackward": return 4.0 * CE_ROWS * V * 2; // read logits, write dlogits
      case "adamw": return 4.0 * 8_000_000 * 7; // p, g, m, v read; p, m, v written
      default: return Double.NaN;
    }
  }
}
