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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** K-wise ranking loss through the Backend API vs a Java double reference over all K(K-1)/2 pairs; gradients by FD. */
class RankingLossTest {

  /** {loss, accuracy}: mean over all pairs (better i, worse j) of -log sigmoid(r_i - r_j - margin). */
  static double[] reference(double[] r, int[] order, float[] margins, int g, int k) {
    double loss = 0, correct = 0, pairs = 0;
    for (int gi = 0; gi < g; gi++) {
      for (int a = 0; a < k; a++) {
        for (int b = a + 1; b < k; b++) {
          double ri = r[gi * k + order[gi * k + a]], rj = r[gi * k + order[gi * k + b]];
          double d = ri - rj - (margins == null ? 0 : margins[gi]);
          loss += Math.log1p(Math.exp(-d));
          correct += ri > rj ? 1 : 0;
          pairs++;
        }
      }
    }
    return new double[] {loss / pairs, correct / pairs};
  }

  static int[] randomOrders(SplittableRandom r, int g, int k) {
    int[] o = new int[g * k];
    for (int gi = 0; gi < g; gi++) {
      for (int i = 0; i < k; i++) o[gi * k + i] = i;
      for (int i = k - 1; i > 0; i--) {
        int j = r.nextInt(i + 1), t = o[gi * k + i];
        o[gi * k + i] = o[gi * k + j];
        o[gi * k + j] = t;
      }
    }
    return o;
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 5, 9})
  void lossAccuracyAndGradientMatchTheReference(int k) {
    int g = 6;
    SplittableRandom r = new SplittableRandom(k);
    float[] rewards = Ref.randn(r, g * k, 1.5);
    int[] order = randomOrders(r, g, k);
    float[] margins = new float[g];
    for (int i = 0; i < g; i++) margins[i] = 0.2f * i;
    for (float[] mg : new float[][] {null, margins}) {
      try (Scope s = Scope.open()) {
        Tensor dr = CPU.fromArray(PpoLossTest.filled(g * k, 1f), g, k); // accumulates onto the 1s
        float[] res = CPU.rankingLoss(dr, CPU.fromArray(rewards, g, k), CPU.fromArray(order, g, k),
            mg == null ? null : CPU.fromArray(mg, g));
        double[] x = Ref.toDouble(rewards);
        double[] ref = reference(x, order, mg, g, k);
        assertEquals(ref[0], res[0], 1e-6 + 1e-5 * ref[0], "loss");
        assertEquals(ref[1], res[1], 1e-6, "accuracy");
        double[] exp = new double[g * k];
        for (int i = 0; i < g * k; i++) {
          double h = 1e-6, x0 = x[i];
          x[i] = x0 + h;
          double lp = reference(x, order, mg, g, k)[0];
          x[i] = x0 - h;
          double lm = reference(x, order, mg, g, k)[0];
          x[i] = x0;
          exp[i] = 1 + (lp - lm) / (2 * h);
        }
        Ref.assertClose("drewards (accumulated) vs finite differences", exp, dr.toFloatArray(), 1e-6, 1e-5);
      }
    }
  }

  @Test
  void perfectRankingHasFullAccuracyAndExtremeGapsStayFinite() {
    try (Scope s = Scope.open()) {
      float[] res = CPU.rankingLoss(null, CPU.fromArray(new float[] {3f, 1f, 2f}, 1, 3),
          CPU.fromArray(new int[] {0, 2, 1}, 1, 3), null);
      assertEquals(1f, res[1]);
      float[] big = CPU.rankingLoss(null, CPU.fromArray(new float[] {200f, -200f}, 1, 2),
          CPU.fromArray(new int[] {1, 0}, 1, 2), null);
      assertEquals(400f, big[0], 1e-3);
      assertEquals(0f, big[1]);
    }
  }

  @Test
  void badArgumentsAreRejected() {
    try (Scope s = Scope.open()) {
      Tensor rw = CPU.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> CPU.rankingLoss(null, rw, CPU.fromArray(new int[] {0, 1, 2, 0, 0, 1}, 2, 3), null));
      assertTrue(e.getMessage().contains("permutation"), e.getMessage());
      assertThrows(IllegalArgumentException.class,
          () -> CPU.rankingLoss(null, rw, CPU.fromArray(new int[] {0, 1, 3, 0, 2, 1}, 2, 3), null));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.rankingLoss(null, rw, CPU.fromArray(new int[] {0, 1, 2, 0, 2, 1}, 3, 2), null));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.rankingLoss(null, CPU.fromArray(new float[] {1, 2}, 2, 1), CPU.fromArray(new int[] {0, 0}, 2, 1),
              null));
      Tensor ok = CPU.fromArray(new int[] {0, 1, 2, 2, 1, 0}, 2, 3);
      assertThrows(IllegalArgumentException.class, () -> CPU.rankingLoss(null, rw, ok, CPU.zeros(DType.F32, 3)));
      assertThrows(IllegalArgumentException.class, () -> CPU.rankingLoss(CPU.zeros(DType.F32, 5), rw, ok, null));
    }
  }
}
