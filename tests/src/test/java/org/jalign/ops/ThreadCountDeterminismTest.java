package org.jalign.ops;

import static org.jalign.ops.CpuOps.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.jalign.backend.CpuBackend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU kernels give the same bits whatever the thread count (1, 2 or 3 OpenMP threads): GEMM panels, the
 * attention backward's dQ partials, the RMSNorm weight-gradient partials and the gradient-norm sum are laid out by the shape and the machine, never by
 * the current thread count. A run repeated with another {@code OMP_NUM_THREADS} reproduces its numbers.
 */
class ThreadCountDeterminismTest {

  static final int[] THREADS = {1, 2, 3};

  @AfterEach
  void restoreDefaultThreads() {
    CpuBackend.setNumThreads(0);
  }

  /** Runs the computation under each thread count and checks every result is bit-identical to the first. */
  static void sameBitsForEveryThreadCount(String what, Supplier<float[]> run) {
    List<float[]> results = new ArrayList<>();
    for (int n : THREADS) {
      CpuBackend.setNumThreads(n);
      assertEquals(n, CpuBackend.numThreads());
      results.add(run.get());
      // The same thread count twice: no dynamic scheduling may leak into the result either.
      results.add(run.get());
    }
    for (int i = 1; i < results.size(); i++) {
      assertArrayEquals(results.get(0), results.get(i),
          what + ": run " + i + " (" + THREADS[i / 2] + " threads) differs from 1 thread");
    }
  }

  @ParameterizedTest(name = "M={0} N={1} K={2} ta={3} tb={4}")
  @CsvSource({"300,257,200,false,false", "64,1000,64,false,true", "1000,96,333,true,false", "517,517,64,true,true"})
  void gemmIsIndependentOfTheThreadCount(int m, int n, int k, boolean ta, boolean tb) {
    SplittableRandom r = new SplittableRandom(m * 31L + n * 7L + k);
    float[] a = Ref.randn(r, m * k, 1), b = Ref.randn(r, k * n, 1), bias = Ref.randn(r, n, 1);
    sameBitsForEveryThreadCount("matmul " + m + "x" + n + "x" + k, () -> {
      try (Scope s = Scope.open()) {
        Tensor out = CPU.zeros(DType.F32, m, n);
        CPU.matmul(out, CPU.fromArray(a, ta ? k : m, ta ? m : k), CPU.fromArray(b, tb ? n : k, tb ? k : n),
            CPU.fromArray(bias, n), ta, tb, false);
        return out.toFloatArray();
      }
    });
  }

  @ParameterizedTest(name = "B={0} NH={1} T={2} HS={3}")
  @CsvSource({"1,1,300,64", "1,2,517,32", "2,1,200,48", "4,4,130,64"})
  void attentionBackwardIsIndependentOfTheThreadCount(int bsz, int nh, int t, int hs) {
    int c = nh * hs;
    SplittableRandom r = new SplittableRandom(bsz * 1000L + nh * 100L + t + hs);
    float[] q = Ref.randn(r, bsz * t * c, 1), k = Ref.randn(r, bsz * t * c, 1), v = Ref.randn(r, bsz * t * c, 1);
    float[] dout = Ref.randn(r, bsz * t * c, 1);
    sameBitsForEveryThreadCount("attention backward B=" + bsz + " NH=" + nh + " T=" + t, () -> {
      try (Scope s = Scope.open()) {
        Tensor tq = CPU.fromArray(q, bsz, t, c), tk = CPU.fromArray(k, bsz, t, c), tv = CPU.fromArray(v, bsz, t, c);
        Tensor out = CPU.zeros(DType.F32, bsz, t, c), lse = CPU.zeros(DType.F32, bsz, nh, t);
        CPU.attentionForward(out, lse, tq, tk, tv, nh, null, null);
        Tensor dq = CPU.zeros(DType.F32, bsz, t, c), dk = CPU.zeros(DType.F32, bsz, t, c);
        Tensor dv = CPU.zeros(DType.F32, bsz, t, c);
        CPU.attentionBackward(dq, dk, dv, CPU.fromArray(dout, bsz, t, c), out, lse, tq, tk, tv, nh, null, null);
        float[] all = new float[4 * bsz * t * c];
        int off = 0;
        for (Tensor x : new Tensor[] {out, dq, dk, dv}) {
          float[] f = x.toFloatArray();
          System.arraycopy(f, 0, all, off, f.length);
          off += f.length;
        }
        return all;
      }
    });
  }

  @ParameterizedTest(name = "N={0} C={1}")
  @CsvSource({"1000,257", "40,4096", "17,3"})
  void rmsNormBackwardIsIndependentOfTheThreadCount(int n, int c) {
    SplittableRandom r = new SplittableRandom(n * 7L + c);
    float[] x = Ref.randn(r, n * c, 1), w = Ref.randn(r, c, 1), g = Ref.randn(r, n * c, 1);
    sameBitsForEveryThreadCount("rmsnorm backward N=" + n + " C=" + c, () -> {
      try (Scope s = Scope.open()) {
        Tensor tx = CPU.fromArray(x, n, c), tw = CPU.fromArray(w, c), rstd = CPU.zeros(DType.F32, n);
        CPU.rmsNormForward(CPU.zeros(DType.F32, n, c), rstd, tx, tw, 1e-5f);
        Tensor dx = CPU.zeros(DType.F32, n, c), dw = CPU.zeros(DType.F32, c);
        CPU.rmsNormBackward(dx, dw, CPU.fromArray(g, n, c), tx, tw, rstd);
        float[] all = new float[c + n * c];
        System.arraycopy(dw.toFloatArray(), 0, all, 0, c);
        System.arraycopy(dx.toFloatArray(), 0, all, c, n * c);
        return all;
      }
    });
  }

  /**
   * Grouped-query backward through the fused projection: a kv head's dK/dV sum over its group in the same order at
   * every thread count. B*NKV = 8 (the per-kv-head split on 2 cores) and 2 (the split over key tiles).
   */
  @ParameterizedTest(name = "B={0} NH={1} NKV={2} T={3} HS={4}")
  @CsvSource({"4,6,2,130,64", "2,4,1,300,32", "1,8,2,257,48"})
  void groupedQueryAttentionBackwardIsIndependentOfTheThreadCount(int bsz, int nh, int nkv, int t, int hs) {
    int c = nh * hs, ld = (nh + 2 * nkv) * hs;
    SplittableRandom r = new SplittableRandom(bsz * 1000L + nh * 100L + nkv * 10L + t + hs);
    float[] qkv = Ref.randn(r, bsz * t * ld, 1), dout = Ref.randn(r, bsz * t * c, 1);
    int[] st = new int[bsz];
    for (int i = 0; i < bsz; i++) st[i] = (i * 7) % Math.max(1, t / 3);
    sameBitsForEveryThreadCount("GQA backward B=" + bsz + " NH=" + nh + " NKV=" + nkv + " T=" + t, () -> {
      try (Scope s = Scope.open()) {
        Tensor tqkv = CPU.fromArray(qkv, bsz, t, ld), tst = CPU.fromArray(st, bsz);
        Tensor out = CPU.zeros(DType.F32, bsz, t, c), lse = CPU.zeros(DType.F32, bsz, nh, t);
        CPU.attentionForwardQkv(out, lse, tqkv, nh, nkv, tst, null);
        Tensor dqkv = CPU.zeros(DType.F32, bsz, t, ld);
        CPU.attentionBackwardQkv(dqkv, CPU.fromArray(dout, bsz, t, c), out, lse, tqkv, nh, nkv, tst, null);
        float[] o = out.toFloatArray(), g = dqkv.toFloatArray();
        float[] all = new float[o.length + g.length];
        System.arraycopy(o, 0, all, 0, o.length);
        System.arraycopy(g, 0, all, o.length, g.length);
        return all;
      }
    });
  }

  @Test
  void sumOfSquaresIsIndependentOfTheThreadCount() {
    SplittableRandom r = new SplittableRandom(5);
    float[] x = Ref.randn(r, 3_000_017, 1);
    sameBitsForEveryThreadCount("sumSquares", () -> {
      try (Scope s = Scope.open()) {
        double v = CPU.sumSquares(CPU.fromArray(x, x.length));
        return new float[] {(float) v, (float) (v - (float) v)};
      }
    });
  }
}
