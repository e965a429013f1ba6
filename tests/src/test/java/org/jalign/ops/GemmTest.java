package org.jalign.ops;

import static org.jalign.ops.CpuOps.CPU;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.jalign.backend.NativeLibrary;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GemmTest {

  /** out(M,N) = op(a) op(b) + bias + (accumulate ? out0 : 0), in double. */
  static double[] reference(float[] a, float[] b, float[] bias, float[] out0, int m, int n, int k, boolean ta,
      boolean tb, boolean acc) {
    double[] out = new double[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = acc ? out0[i * n + j] : 0;
        if (bias != null) s += bias[j];
        for (int p = 0; p < k; p++) {
          double av = ta ? a[p * m + i] : a[i * k + p];
          double bv = tb ? b[j * k + p] : b[p * n + j];
          s += av * bv;
        }
        out[i * n + j] = s;
      }
    }
    return out;
  }

  @ParameterizedTest(name = "M={0} N={1} K={2}")
  @CsvSource({"1,1,1", "1,7,3", "7,13,5", "33,17,65", "64,64,64", "129,96,200", "300,257,33", "2,1000,17"})
  void matchesDoubleReferenceForAllTransposesBiasAndAccumulate(int m, int n, int k) {
    SplittableRandom r = new SplittableRandom(m * 1000L + n * 10L + k);
    for (int mode = 0; mode < 16; mode++) {
      boolean ta = (mode & 1) != 0, tb = (mode & 2) != 0, bias = (mode & 4) != 0, acc = (mode & 8) != 0;
      float[] a = Ref.randn(r, m * k, 1), b = Ref.randn(r, k * n, 1), bi = Ref.randn(r, n, 1);
      float[] o0 = Ref.randn(r, m * n, 1);
      try (Scope s = Scope.open()) {
        Tensor ta_ = CPU.fromArray(a, ta ? k : m, ta ? m : k);
        Tensor tb_ = CPU.fromArray(b, tb ? n : k, tb ? k : n);
        Tensor out = CPU.fromArray(o0, m, n);
        CPU.matmul(out, ta_, tb_, bias ? CPU.fromArray(bi, n) : null, ta, tb, acc);
        double[] exp = reference(a, b, bias ? bi : null, o0, m, n, k, ta, tb, acc);
        Ref.assertClose("matmul ta=" + ta + " tb=" + tb + " bias=" + bias + " acc=" + acc, exp, out.toFloatArray(),
            1e-4 * Math.sqrt(k), 1e-4);
      }
    }
  }

  @Test
  void usesOpenBlas() {
    assertTrue(NativeLibrary.blasPath() != null, "OpenBLAS from the bytedeco preset should be loaded");
  }

  @Test
  void rejectsMismatchedShapesAndAliasing() {
    try (Scope s = Scope.open()) {
      Tensor a = CPU.zeros(org.jalign.tensor.DType.F32, 4, 5);
      Tensor b = CPU.zeros(org.jalign.tensor.DType.F32, 6, 3);
      Tensor out = CPU.zeros(org.jalign.tensor.DType.F32, 4, 3);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> CPU.matmul(out, a, b, null, false, false, false));
      assertTrue(e.getMessage().contains("inner dimensions"), e.getMessage());
      Tensor sq = CPU.zeros(org.jalign.tensor.DType.F32, 4, 4);
      assertThrows(IllegalArgumentException.class, () -> CPU.matmul(sq, sq, sq, null, false, false, false));
      Tensor b2 = CPU.zeros(org.jalign.tensor.DType.F32, 5, 3);
      Tensor wrongBias = CPU.zeros(org.jalign.tensor.DType.F32, 4);
      assertThrows(IllegalArgumentException.class, () -> CPU.matmul(out, a, b2, wrongBias, false, false, false));
      Tensor ints = CPU.zeros(org.jalign.tensor.DType.I32, 4, 5);
      assertThrows(IllegalArgumentException.class, () -> CPU.matmul(out, ints, b2, null, false, false, false));
    }
  }
}
