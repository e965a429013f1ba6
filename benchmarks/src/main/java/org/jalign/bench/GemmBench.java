package org.jalign.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.jalign.backend.CpuBackend;
import org.jalign.backend.NativeLibrary;
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
 * GEMM through jalign (OpenMP panels x single-threaded OpenBLAS) beside OpenBLAS called directly with all
 * threads, on the same off-heap buffers, in the same run. Work: 2*M*N*K FLOPs per op.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class GemmBench {
  /** "M,N,K": the square peak shape and a GPT-2-small QKV projection (B*T=512 rows). */
  @Param({"1024,1024,1024", "512,2304,768"})
  public String shape;

  CpuBackend cpu;
  Tensor a;
  Tensor b;
  Tensor out;
  int m;
  int n;
  int k;
  int threads;

  @Setup(Level.Trial)
  public void setup() {
    String[] s = shape.split(",");
    m = Integer.parseInt(s[0]);
    n = Integer.parseInt(s[1]);
    k = Integer.parseInt(s[2]);
    cpu = new CpuBackend();
    if (NativeLibrary.blasPath() == null) throw new IllegalStateException("OpenBLAS not loaded");
    threads = Runtime.getRuntime().availableProcessors();
    SplittableRandom r = new SplittableRandom(1);
    a = cpu.fromArray(random(r, m * k), m, k);
    b = cpu.fromArray(random(r, k * n), k, n);
    out = cpu.zeros(DType.F32, m, n);
  }

  static float[] random(SplittableRandom r, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() - 0.5);
    return x;
  }

  @Benchmark
  public void jalign() {
    cpu.matmul(out, a, b, null, false, false, false);
  }

  @Benchmark
  public void openblasDirect() {
    org.jalign.bindings.JalignNative.jalign_blas_set_num_threads(threads);
    FloatPointer pa = a.f32(), pb = b.f32(), po = out.f32();
    openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans,
        openblas_nolapack.CblasNoTrans, m, n, k, 1f, pa, k, pb, n, 0f, po, n);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    a.close();
    b.close();
    out.close();
    cpu.close();
  }

  /** FLOPs of one op for a shape string. */
  public static double flops(String shape) {
    String[] s = shape.split(",");
    return 2.0 * Double.parseDouble(s[0]) * Double.parseDouble(s[1]) * Double.parseDouble(s[2]);
  }
}
