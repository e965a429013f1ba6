package org.jalign.rl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;

/** GAE vs a hand-worked example and the brute-force definition (discounted sum of TD residuals); whitening. */
class GaeTest {

  @Test
  void handWorkedExample() {
    // One response of 3 tokens, reward only at the end; gamma 0.9, lambda 0.8 (gamma*lambda = 0.72):
    //   delta2 = 1 + 0.9*0 - 0.7 = 0.3                A2 = 0.3
    //   delta1 = 0 + 0.9*0.7 - 0.6 = 0.03             A1 = 0.03 + 0.72*0.3 = 0.246
    //   delta0 = 0 + 0.9*0.6 - 0.5 = 0.04             A0 = 0.04 + 0.72*0.246 = 0.21712
    // returns = A + V = 0.71712, 0.846, 1.0; the padding position (t = 3) stays 0.
    float[] rewards = {0f, 0f, 1f, 0f};
    float[] values = {0.5f, 0.6f, 0.7f, 9f};
    Gae.Result r = Gae.compute(rewards, values, new int[] {3}, 1, 4, 0.9, 0.8);
    Ref.assertClose("advantages", new double[] {0.21712, 0.246, 0.3, 0}, r.advantages(), 1e-6, 1e-6);
    Ref.assertClose("returns", new double[] {0.71712, 0.846, 1.0, 0}, r.returns(), 1e-6, 1e-6);
  }

  /** A_t = sum_{l=0}^{L-1-t} (gamma*lambda)^l delta_{t+l}, with V after the last token = bootstrap (or 0). */
  static double[] bruteForce(float[] rw, float[] v, float[] boot, int[] len, int b, int t, double g, double l) {
    double[] adv = new double[b * t];
    for (int i = 0; i < b; i++) {
      int n = len[i];
      double[] delta = new double[n];
      for (int s = 0; s < n; s++) {
        double next = s + 1 < n ? v[i * t + s + 1] : (boot == null ? 0 : boot[i]);
        delta[s] = rw[i * t + s] + g * next - v[i * t + s];
      }
      for (int s = 0; s < n; s++) {
        double a = 0;
        for (int k = 0; s + k < n; k++) a += Math.pow(g * l, k) * delta[s + k];
        adv[i * t + s] = a;
      }
    }
    return adv;
  }

  @Test
  void matchesTheBruteForceDefinitionOnRaggedBatches() {
    SplittableRandom r = new SplittableRandom(3);
    int b = 6, t = 13;
    int[] len = {13, 0, 1, 7, 12, 5};
    float[] rw = Ref.randn(r, b * t, 1), v = Ref.randn(r, b * t, 1), boot = Ref.randn(r, b, 1);
    double[][] gl = {{1.0, 0.95}, {0.99, 0.9}, {0.5, 1.0}, {1.0, 0.0}, {0.0, 0.7}};
    for (double[] p : gl) {
      for (float[] bs : new float[][] {null, boot}) {
        Gae.Result res = Gae.compute(rw, v, bs, len, b, t, p[0], p[1]);
        double[] exp = bruteForce(rw, v, bs, len, b, t, p[0], p[1]);
        String what = "gamma " + p[0] + " lambda " + p[1] + (bs == null ? "" : " bootstrap");
        Ref.assertClose(what + " advantages", exp, res.advantages(), 1e-5, 1e-5);
        double[] ret = new double[b * t];
        for (int i = 0; i < b; i++) {
          for (int s = 0; s < len[i]; s++) ret[i * t + s] = exp[i * t + s] + v[i * t + s];
        }
        Ref.assertClose(what + " returns", ret, res.returns(), 1e-5, 1e-5);
      }
    }
  }

  @Test
  void lambdaOneIsMonteCarloAndLambdaZeroIsTheTdResidual() {
    SplittableRandom r = new SplittableRandom(8);
    int t = 9;
    float[] rw = Ref.randn(r, t, 1), v = Ref.randn(r, t, 1);
    double g = 0.97;
    Gae.Result mc = Gae.compute(rw, v, new int[] {t}, 1, t, g, 1.0);
    Gae.Result td = Gae.compute(rw, v, new int[] {t}, 1, t, g, 0.0);
    for (int s = 0; s < t; s++) {
      double ret = 0;
      for (int k = s; k < t; k++) ret += Math.pow(g, k - s) * rw[k];
      assertEquals(ret, mc.returns()[s], 1e-5, "Monte Carlo return at " + s);
      double next = s + 1 < t ? v[s + 1] : 0;
      assertEquals(rw[s] + g * next - v[s], td.advantages()[s], 1e-6, "TD residual at " + s);
    }
  }

  @Test
  void whiteningIsMaskedAndUnbiased() {
    SplittableRandom r = new SplittableRandom(11);
    int b = 4, t = 10;
    int[] len = {10, 3, 0, 6};
    float[] x = Ref.randn(r, b * t, 2);
    for (int i = 0; i < x.length; i++) x[i] += 5;
    float[] mask = Gae.mask(len, b, t);
    double n = 0, sum = 0;
    for (int i = 0; i < x.length; i++) {
      n += mask[i];
      sum += mask[i] * x[i];
    }
    double mean = sum / n, ss = 0;
    for (int i = 0; i < x.length; i++) ss += mask[i] * (x[i] - mean) * (x[i] - mean);
    double std = Math.sqrt(ss / (n - 1) + 1e-8);
    float[] shifted = x.clone(), kept = x.clone();
    Gae.whiten(shifted, len, b, t, true);
    Gae.whiten(kept, mask, false);
    double[] expShift = new double[x.length], expKept = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      if (mask[i] != 0) {
        expShift[i] = (x[i] - mean) / std;
        expKept[i] = (x[i] - mean) / std + mean;
      }
    }
    Ref.assertClose("whitened", expShift, shifted, 1e-5, 1e-5);
    Ref.assertClose("whitened, mean kept", expKept, kept, 1e-5, 1e-5);
    double m2 = 0, v2 = 0;
    for (int i = 0; i < x.length; i++) m2 += mask[i] * shifted[i];
    m2 /= n;
    for (int i = 0; i < x.length; i++) v2 += mask[i] * (shifted[i] - m2) * (shifted[i] - m2);
    assertEquals(0, m2, 1e-6);
    assertEquals(1, v2 / (n - 1), 1e-5);
    float[] none = {1f, 2f};
    Gae.whiten(none, new float[] {0f, 0f}, true);
    assertArrayEquals(new float[] {0f, 0f}, none);
  }

  @Test
  void badArgumentsAreRejected() {
    float[] a = new float[6];
    assertThrows(IllegalArgumentException.class, () -> Gae.compute(a, a, new int[] {3, 4}, 2, 3, 1, 0.95));
    assertThrows(IllegalArgumentException.class, () -> Gae.compute(a, a, new int[] {3, -1}, 2, 3, 1, 0.95));
    assertThrows(IllegalArgumentException.class, () -> Gae.compute(a, new float[5], new int[] {3, 3}, 2, 3, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> Gae.compute(a, a, new int[] {3}, 2, 3, 1, 1));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Gae.compute(a, a, new int[] {3, 3}, 2, 3, 1.5, 0.95));
    assertTrue(e.getMessage().contains("gamma"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Gae.compute(a, a, new int[] {3, 3}, 2, 3, 1, Double.NaN));
    assertThrows(IllegalArgumentException.class,
        () -> Gae.compute(a, a, new float[1], new int[] {3, 3}, 2, 3, 1, 0.9));
    assertThrows(IllegalArgumentException.class, () -> Gae.whiten(new float[3], new float[2], true));
    assertThrows(IllegalArgumentException.class, () -> Gae.whiten(new float[2], new float[] {1, -1}, true));
  }
}
