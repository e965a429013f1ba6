package org.jalign.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.jalign.backend.CpuBackend;
import org.jalign.backend.SamplingParams;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * Sampling one token per row of logits (B, V), logits ~ N(0, 3^2). The jalign CPU sampler (no vocabulary sort)
 * against two naive baselines in the same run, both plain Java parallelised over rows:
 * {@code sortTopP} (softmax, full sort, cumulative sum, cut at p, multinomial draw; the ratio baseline) and
 * {@code selectTopK} (quickselect of the k largest, softmax over them, draw).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class SamplingBench {
  static final float TOP_P = 0.9f;
  static final int TOP_K = 50;

  /** B x V. */
  @Param({"64x50304", "256x50304"})
  public String shape;

  int b;
  int v;
  CpuBackend cpu;
  Tensor logits;
  Tensor ids;
  Tensor logp;
  float[] host;
  SamplingParams topP;
  SamplingParams topK;
  SamplingParams combined;
  long offset;

  @Setup(Level.Trial)
  public void setup() {
    String[] s = shape.split("x");
    b = Integer.parseInt(s[0]);
    v = Integer.parseInt(s[1]);
    cpu = new CpuBackend();
    SplittableRandom r = new SplittableRandom(42);
    host = new float[b * v];
    for (int i = 0; i < host.length; i++) host[i] = (float) (3 * gauss(r));
    logits = cpu.fromArray(host, b, v);
    ids = cpu.zeros(DType.I32, b);
    logp = cpu.zeros(DType.F32, b);
    topP = SamplingParams.uniform(b, 1f, 0, TOP_P, 0f, 1);
    topK = SamplingParams.uniform(b, 1f, TOP_K, 1f, 0f, 1);
    combined = SamplingParams.uniform(b, 1f, TOP_K, TOP_P, 0.05f, 1);
  }

  static double gauss(SplittableRandom r) {
    return Math.sqrt(-2 * Math.log(Math.max(r.nextDouble(), 1e-300))) * Math.cos(2 * Math.PI * r.nextDouble());
  }

  @Benchmark
  public void jalignTopP() {
    cpu.sample(ids, logp, null, logits, v, topP, offset++);
  }

  @Benchmark
  public void jalignTopK() {
    cpu.sample(ids, logp, null, logits, v, topK, offset++);
  }

  @Benchmark
  public void jalignTopKTopPMinP() {
    cpu.sample(ids, logp, null, logits, v, combined, offset++);
  }

  /** Baseline: softmax, sort the whole vocabulary by probability, cumulative sum, cut at p, draw. */
  @Benchmark
  public void sortTopP(Blackhole bh) {
    long off = offset++;
    int[] out = new int[b];
    IntStream.range(0, b).parallel().forEach(row -> {
      int base = row * v;
      float m = Float.NEGATIVE_INFINITY;
      for (int j = 0; j < v; j++) m = Math.max(m, host[base + j]);
      double[] p = new double[v];
      double s = 0;
      for (int j = 0; j < v; j++) s += p[j] = Math.exp(host[base + j] - m);
      // Sort (probability, index) descending: key = -p bits (p >= 0 so bits order = value order) and index.
      long[] keys = new long[v];
      for (int j = 0; j < v; j++) keys[j] = ((long) Float.floatToIntBits((float) (p[j] / s)) << 32) | j;
      java.util.Arrays.sort(keys);
      double cum = 0;
      int n = 0;
      for (int i = v - 1; i >= 0; i--) {
        cum += p[(int) keys[i]] / s;
        n++;
        if (cum >= TOP_P) break;
      }
      double u = new SplittableRandom(off * 1_000_003L + row).nextDouble() * cum, c = 0;
      int id = (int) keys[v - n];
      for (int i = v - 1; i >= v - n; i--) {
        c += p[(int) keys[i]] / s;
        if (c > u) {
          id = (int) keys[i];
          break;
        }
      }
      out[row] = id;
    });
    bh.consume(out);
  }

  /** Baseline: quickselect of the k largest logits, softmax over them, draw. */
  @Benchmark
  public void selectTopK(Blackhole bh) {
    long off = offset++;
    int[] out = new int[b];
    IntStream.range(0, b).parallel().forEach(row -> {
      int base = row * v;
      int[] idx = new int[v];
      for (int j = 0; j < v; j++) idx[j] = j;
      int lo = 0, hi = v - 1, k = TOP_K - 1;
      SplittableRandom r = new SplittableRandom(row);
      while (lo < hi) { // quickselect: idx[0..k] end up the k+1... k largest
        float pivot = host[base + idx[lo + r.nextInt(hi - lo + 1)]];
        int i = lo, j = hi;
        while (i <= j) {
          while (host[base + idx[i]] > pivot) i++;
          while (host[base + idx[j]] < pivot) j--;
          if (i <= j) {
            int t = idx[i];
            idx[i++] = idx[j];
            idx[j--] = t;
          }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
      }
      float m = Float.NEGATIVE_INFINITY;
      for (int i = 0; i < TOP_K; i++) m = Math.max(m, host[base + idx[i]]);
      double[] e = new double[TOP_K];
      double s = 0;
      for (int i = 0; i < TOP_K; i++) s += e[i] = Math.exp(host[base + idx[i]] - m);
      double u = new SplittableRandom(off * 1_000_003L + row).nextDouble() * s, c = 0;
      int id = idx[TOP_K - 1];
      for (int i = 0; i < TOP_K; i++) {
        c += e[i];
        if (c > u) {
          id = idx[i];
          break;
        }
      }
      out[row] = id;
    });
    bh.consume(out);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    logits.close();
    ids.close();
    logp.close();
    cpu.close();
  }

  /** Bytes of logits each benchmark reads at least once: B*V*4 for the given shape. */
  public static double bytes(String shape) {
    String[] s = shape.split("x");
    return 4.0 * Long.parseLong(s[0]) * Long.parseLong(s[1]);
  }
}
