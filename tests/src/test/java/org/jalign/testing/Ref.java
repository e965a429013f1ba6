package org.jalign.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/** Helpers for op tests: random inputs, tolerance checks (atol + rtol*|ref|), finite differences. */
public final class Ref {
  private Ref() {}

  public static float[] randn(SplittableRandom r, int n, double scale) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) (gauss(r) * scale);
    return a;
  }

  public static double gauss(SplittableRandom r) {
    double u1 = r.nextDouble(), u2 = r.nextDouble();
    return Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300))) * Math.cos(2 * Math.PI * u2);
  }

  public static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) d[i] = a[i];
    return d;
  }

  /** Fails with the worst index when |actual - expected| > atol + rtol*|expected| anywhere. */
  public static void assertClose(String what, double[] expected, float[] actual, double atol, double rtol) {
    if (expected.length != actual.length) {
      fail(what + ": length " + actual.length + " != expected " + expected.length);
    }
    int worst = -1;
    double worstExcess = 0, maxAbs = 0;
    for (int i = 0; i < expected.length; i++) {
      double err = Math.abs(actual[i] - expected[i]);
      if (!(err <= maxAbs)) maxAbs = Double.isNaN(err) ? Double.POSITIVE_INFINITY : Math.max(maxAbs, err);
      double excess = err - (atol + rtol * Math.abs(expected[i]));
      if (Double.isNaN(err) || excess > worstExcess) {
        worstExcess = Double.isNaN(err) ? Double.POSITIVE_INFINITY : excess;
        worst = i;
      }
    }
    if (worst >= 0) {
      fail(String.format("%s: element %d is %s, expected %s (max abs error %.3g, atol %.1g, rtol %.1g)", what, worst,
          actual[worst], expected[worst], maxAbs, atol, rtol));
    }
  }

  public static void assertClose(String what, float[] expected, float[] actual, double atol, double rtol) {
    assertClose(what, toDouble(expected), actual, atol, rtol);
  }

  /** Central difference of f with respect to x[i] (x is mutated and restored). */
  public static double centralDiff(float[] x, int i, double h, DoubleSupplier f) {
    float old = x[i];
    x[i] = (float) (old + h);
    double fp = f.getAsDouble();
    x[i] = (float) (old - h);
    double fm = f.getAsDouble();
    x[i] = old;
    return (fp - fm) / (2 * h);
  }
}
