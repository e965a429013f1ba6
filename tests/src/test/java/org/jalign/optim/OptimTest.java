package org.jalign.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.jalign.backend.CpuBackend;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;

/** AdamW, gradient clipping and the learning-rate schedule against hand-computed values and a double reference. */
class OptimTest {
  static final CpuBackend CPU = new CpuBackend();

  @Test
  void defaultsAreDocumented() {
    AdamWConfig c = AdamWConfig.defaults();
    assertEquals(0.9f, c.beta1());
    assertEquals(0.95f, c.beta2());
    assertEquals(1e-8f, c.eps());
    assertEquals(0.1f, c.weightDecay());
    assertThrows(IllegalArgumentException.class, () -> new AdamWConfig(1e-3f, 1f, 0.95f, 1e-8f, 0f));
    assertThrows(IllegalArgumentException.class, () -> new AdamWConfig(-1f, 0.9f, 0.95f, 1e-8f, 0f));
  }

  @Test
  void firstStepByHand() {
    // step 1: m = (1-b1) g, v = (1-b2) g^2, mhat = g, vhat = g^2 -> update = g/(|g|+eps) = sign(g)
    // p = 2 - 0.1*(1 + 0.5*2) = 1.8 for g = 3 (scaled 0.5 -> 1.5), lr 0.1, wd 0.5
    try (Scope s = Scope.open(); AdamW opt = new AdamW(CPU, 2, new AdamWConfig(0.1f, 0.9f, 0.95f, 1e-8f, 0.5f))) {
      Tensor p = CPU.fromArray(new float[] {2f, -1f}, 2);
      Tensor g = CPU.fromArray(new float[] {3f, -4f}, 2);
      opt.step(p, g, 0.1f, 0.5f);
      float[] out = p.toFloatArray();
      assertEquals(1.8, out[0], 1e-6);
      assertEquals(-1 - 0.1 * (-1 + 0.5 * -1), out[1], 1e-6);
      assertEquals(1, opt.stepCount());
      assertEquals(0.1 * 1.5, opt.m().toFloatArray()[0], 1e-6);
      assertEquals(0.05 * 2.25, opt.v().toFloatArray()[0], 1e-6);
    }
  }

  @Test
  void manyStepsMatchDoubleReferenceWithDecayRanges() {
    int n = 37;
    SplittableRandom r = new SplittableRandom(5);
    float[] p0 = Ref.randn(r, n, 1);
    AdamWConfig cfg = new AdamWConfig(0.01f, 0.9f, 0.95f, 1e-8f, 0.1f);
    double[] p = Ref.toDouble(p0), m = new double[n], v = new double[n];
    try (Scope s = Scope.open(); AdamW opt = new AdamW(CPU, n, cfg)) {
      opt.setDecayRanges(List.of(new AdamW.Range(0, 10, true), new AdamW.Range(10, 7, false),
          new AdamW.Range(17, 20, true)));
      assertEquals(3, opt.decayRanges().size());
      Tensor tp = CPU.fromArray(p0, n);
      for (int step = 1; step <= 5; step++) {
        float[] g = Ref.randn(r, n, 1);
        float lr = 0.01f * step, scale = 0.7f;
        opt.step(tp, CPU.fromArray(g, n), lr, scale);
        for (int i = 0; i < n; i++) {
          double gi = (double) g[i] * scale;
          m[i] = 0.9 * m[i] + 0.1 * gi;
          v[i] = 0.95 * v[i] + 0.05 * gi * gi;
          double mh = m[i] / (1 - Math.pow(0.9, step)), vh = v[i] / (1 - Math.pow(0.95, step));
          double wd = (i >= 10 && i < 17) ? 0 : 0.1;
          p[i] -= lr * (mh / (Math.sqrt(vh) + 1e-8) + wd * p[i]);
        }
      }
      Ref.assertClose("adamw params", p, tp.toFloatArray(), 1e-5, 1e-5);
      Ref.assertClose("adamw m", m, opt.m().toFloatArray(), 1e-6, 1e-5);
      Ref.assertClose("adamw v", v, opt.v().toFloatArray(), 1e-6, 1e-5);
    }
  }

  @Test
  void decayRangesMustCoverTheBuffer() {
    try (AdamW opt = new AdamW(CPU, 10, AdamWConfig.defaults())) {
      assertThrows(IllegalArgumentException.class, () -> opt.setDecayRanges(List.of(new AdamW.Range(0, 5, true))));
      assertThrows(IllegalArgumentException.class,
          () -> opt.setDecayRanges(List.of(new AdamW.Range(0, 5, true), new AdamW.Range(6, 4, false))));
      try (Scope s = Scope.open()) {
        Tensor wrong = CPU.fromArray(new float[9], 9);
        assertThrows(IllegalArgumentException.class, () -> opt.step(wrong, wrong, 0.1f, 1f));
      }
    }
  }

  @Test
  void globalNormAndClipScale() {
    try (Scope s = Scope.open()) {
      Tensor a = CPU.fromArray(new float[] {3f, 0f}, 2);
      Tensor b = CPU.fromArray(new float[] {4f, 12f}, 2);
      double norm = GradClip.globalNorm(CPU, a, b);
      assertEquals(13.0, norm, 1e-9);
      assertEquals(1f, GradClip.clipScale(norm, 20));
      assertEquals(1f, GradClip.clipScale(norm, 0));
      assertEquals(1.0 / 13, GradClip.clipScale(norm, 1), 1e-7);
      Tensor bad = CPU.fromArray(new float[] {Float.NaN}, 1);
      assertTrue(Double.isNaN(GradClip.globalNorm(CPU, a, bad)));
      assertTrue(Float.isNaN(GradClip.clipScale(Double.POSITIVE_INFINITY, 1)));
    }
  }

  @Test
  void scheduleByHand() {
    LrSchedule s = new LrSchedule(1.0, 0.1, 4, 14);
    assertEquals(0.25, s.lr(0), 1e-12);
    assertEquals(1.0, s.lr(3), 1e-12);
    assertEquals(1.0, s.lr(4), 1e-12); // start of the cosine
    assertEquals(0.55, s.lr(9), 1e-12); // half-way: min + 0.5 (max - min)
    assertEquals(0.1 + 0.5 * (1 + Math.cos(Math.PI * 0.8)) * 0.9, s.lr(12), 1e-12);
    assertEquals(0.1, s.lr(14), 1e-12);
    assertEquals(0.1, s.lr(1000), 1e-12);
    for (long i = 4; i < 14; i++) assertTrue(s.lr(i + 1) <= s.lr(i));
    assertEquals(3e-4, LrSchedule.constant(3e-4).lr(0), 0);
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 2, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 0, 5, 4));
  }
}
