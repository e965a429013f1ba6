package org.jalign.ops;

import static org.jalign.ops.CpuOps.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.jalign.backend.PpoLossConfig;
import org.jalign.backend.PpoMetrics;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fused PPO policy loss and clipped value loss through the Backend API against Java double references written from
 * the definitions; dlogits and dvalues by central finite differences of the references.
 */
class PpoLossTest {

  /** Inputs of one PPO case: logits (n, vp), first v columns real. */
  record Case(int n, int v, int vp, float[] logits, int[] tokens, float[] oldLogp, float[] adv, float[] ref,
      float[] mask) {}

  static Case makeCase(long seed, int n, int v, int vp) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] logits = Ref.randn(r, n * vp, 1.5);
    int[] tokens = new int[n];
    float[] old = new float[n], adv = new float[n], ref = new float[n], mask = new float[n];
    double[] ratios = {0.5, 0.7, 0.95, 1.05, 1.4, 4.0}; // away from the clip kinks (0.8, 1.2, dual clip 3)
    for (int i = 0; i < n; i++) {
      tokens[i] = (i * 7 + 3) % v;
      double lp = logp(logits, i, vp, v, tokens[i]);
      old[i] = (float) (lp - Math.log(ratios[i % 6]));
      adv[i] = (float) ((i % 2 == 0 ? 1 : -1) * (0.3 + Math.abs(Ref.gauss(r))));
      ref[i] = (float) (lp + 0.3 * Ref.gauss(r));
      mask[i] = i % 5 == 4 ? 0f : (i % 3 == 1 ? 0.5f : 1f);
    }
    return new Case(n, v, vp, logits, tokens, old, adv, ref, mask);
  }

  static double logp(float[] x, int row, int vp, int v, int tok) {
    double m = Double.NEGATIVE_INFINITY, s = 0;
    for (int j = 0; j < v; j++) m = Math.max(m, x[row * vp + j]);
    for (int j = 0; j < v; j++) s += Math.exp(x[row * vp + j] - m);
    return x[row * vp + tok] - m - Math.log(s);
  }

  /** Reference metrics (the JALIGN_PPO_* order) at logits x (double). */
  static double[] reference(Case c, double[] x, PpoLossConfig cfg, boolean useRef) {
    double msum = 0;
    for (float m : c.mask) msum += m;
    double[] out = new double[8];
    for (int i = 0; i < c.n; i++) {
      double m = Double.NEGATIVE_INFINITY, s = 0;
      for (int j = 0; j < c.v; j++) m = Math.max(m, x[i * c.vp + j]);
      for (int j = 0; j < c.v; j++) s += Math.exp(x[i * c.vp + j] - m);
      double lse = m + Math.log(s), h = 0;
      for (int j = 0; j < c.v; j++) {
        double lp = x[i * c.vp + j] - lse;
        h -= Math.exp(lp) * lp;
      }
      double lp = x[i * c.vp + c.tokens[i]] - lse;
      double a = c.adv[i], ratio = Math.exp(lp - c.oldLogp[i]);
      double rc = Math.min(Math.max(ratio, 1 - cfg.clipEps()), 1 + cfg.clipEps());
      double pg = Math.max(-a * ratio, -a * rc);
      boolean clipped = -a * rc > -a * ratio;
      if (cfg.dualClip() > 1 && a < 0 && pg > -a * cfg.dualClip()) {
        pg = -a * cfg.dualClip();
        clipped = true;
      }
      double kl = 0;
      if (useRef) {
        double d = c.ref[i] - lp;
        kl = cfg.klEstimator() == 3 ? Math.exp(d) - 1 - d : -d;
      }
      double w = c.mask[i] / msum;
      out[0] += w * (pg - cfg.entropyCoef() * h + cfg.klCoef() * kl);
      out[1] += w * pg;
      out[2] += w * h;
      out[3] += w * kl;
      out[4] += w * (clipped ? 1 : 0);
      out[5] += w * 0.5 * (lp - c.oldLogp[i]) * (lp - c.oldLogp[i]);
      out[6] += w * ratio;
    }
    out[7] = msum;
    return out;
  }

  static float[] metricsArray(PpoMetrics m) {
    return new float[] {m.loss(), m.pgLoss(), m.entropy(), m.klRef(), m.clipFrac(), m.approxKl(), m.ratioMean(),
        m.tokens()};
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3})
  void metricsAndGradientMatchTheReference(int variant) {
    PpoLossConfig cfg = switch (variant) {
      case 0 -> new PpoLossConfig(0.2f, 0f, 0.01f, 0.05f, 1);
      case 1 -> new PpoLossConfig(0.2f, 0f, 0.3f, 0.1f, 3);
      case 2 -> new PpoLossConfig(0.2f, 3f, 0.05f, 0f, 3);
      default -> new PpoLossConfig(0.2f, 2f, 0f, 0.2f, 1);
    };
    boolean useRef = variant != 2;
    Case c = makeCase(10 + variant, 12, 13, variant == 3 ? 16 : 13);
    try (Scope s = Scope.open()) {
      Tensor logits = CPU.fromArray(c.logits, c.n, c.vp);
      Tensor dlogits = CPU.fromArray(filled(c.n * c.vp, 9f), c.n, c.vp); // WRITTEN: the 9s must go
      Tensor logpOut = CPU.zeros(DType.F32, c.n);
      PpoMetrics m = CPU.ppoLoss(logpOut, dlogits, logits, CPU.fromArray(c.tokens, c.n), CPU.fromArray(c.oldLogp, c.n),
          CPU.fromArray(c.adv, c.n), useRef ? CPU.fromArray(c.ref, c.n) : null, CPU.fromArray(c.mask, c.n), c.v, cfg);
      double[] x = Ref.toDouble(c.logits);
      Ref.assertClose("metrics", reference(c, x, cfg, useRef), metricsArray(m), 2e-6, 2e-5);
      double[] lp = new double[c.n];
      for (int i = 0; i < c.n; i++) lp[i] = logp(c.logits, i, c.vp, c.v, c.tokens[i]);
      Ref.assertClose("logp", lp, logpOut.toFloatArray(), 1e-5, 1e-5);
      double[] fd = new double[c.n * c.vp];
      for (int i = 0; i < c.n; i++) {
        for (int j = 0; j < c.v; j++) {
          int at = i * c.vp + j;
          double h = 1e-5, x0 = x[at];
          x[at] = x0 + h;
          double lossP = reference(c, x, cfg, useRef)[0];
          x[at] = x0 - h;
          double lossM = reference(c, x, cfg, useRef)[0];
          x[at] = x0;
          fd[at] = (lossP - lossM) / (2 * h); // padding columns stay 0
        }
      }
      Ref.assertClose("dlogits vs finite differences", fd, dlogits.toFloatArray(), 2e-6, 1e-4);

      // In place: dlogits == logits gives the same gradient.
      Tensor inPlace = CPU.fromArray(c.logits, c.n, c.vp);
      PpoMetrics m2 = CPU.ppoLoss(null, inPlace, inPlace, CPU.fromArray(c.tokens, c.n), CPU.fromArray(c.oldLogp, c.n),
          CPU.fromArray(c.adv, c.n), useRef ? CPU.fromArray(c.ref, c.n) : null, CPU.fromArray(c.mask, c.n), c.v, cfg);
      assertArrayEquals(dlogits.toFloatArray(), inPlace.toFloatArray());
      assertEquals(m, m2);
    }
  }

  @Test
  void largeVocabularyMatchesTheReference() {
    Case c = makeCase(99, 6, 50257, 50304);
    PpoLossConfig cfg = new PpoLossConfig(0.2f, 0f, 0.02f, 0.05f, 3);
    try (Scope s = Scope.open()) {
      PpoMetrics m = CPU.ppoLoss(null, null, CPU.fromArray(c.logits, c.n, c.vp), CPU.fromArray(c.tokens, c.n),
          CPU.fromArray(c.oldLogp, c.n), CPU.fromArray(c.adv, c.n), CPU.fromArray(c.ref, c.n),
          CPU.fromArray(c.mask, c.n), c.v, cfg);
      Ref.assertClose("metrics", reference(c, Ref.toDouble(c.logits), cfg, true), metricsArray(m), 1e-5, 1e-5);
    }
  }

  @Test
  void ppoBadArgumentsAreRejected() {
    Case c = makeCase(5, 4, 7, 8);
    PpoLossConfig cfg = PpoLossConfig.defaults();
    try (Scope s = Scope.open()) {
      Tensor logits = CPU.fromArray(c.logits, c.n, c.vp);
      Tensor tok = CPU.fromArray(c.tokens, c.n), old = CPU.fromArray(c.oldLogp, c.n);
      Tensor adv = CPU.fromArray(c.adv, c.n), mask = CPU.fromArray(c.mask, c.n);
      Tensor badTok = CPU.fromArray(new int[] {0, 1, 7, 2}, c.n);
      assertThrows(IllegalArgumentException.class, () -> CPU.ppoLoss(null, null, logits, badTok, old, adv, null, mask, 7, cfg));
      assertThrows(IllegalArgumentException.class, () -> CPU.ppoLoss(null, null, logits, tok, old, adv, null, mask, 9, cfg));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.ppoLoss(null, null, logits, tok, CPU.zeros(DType.F32, 3), adv, null, mask, 7, cfg));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.ppoLoss(null, CPU.zeros(DType.F32, 4, 7), logits, tok, old, adv, null, mask, 7, cfg));
      assertThrows(IllegalArgumentException.class, () -> CPU.ppoLoss(null, null, logits, tok, old, adv, null, mask, 7, null));
      assertThrows(IllegalArgumentException.class, () -> CPU.ppoLoss(null, null, logits, tok, old, null, null, mask, 7, cfg));
      assertThrows(IllegalArgumentException.class, () -> new PpoLossConfig(0f, 0f, 0f, 0f, 3));
      assertThrows(IllegalArgumentException.class, () -> new PpoLossConfig(0.2f, 0.5f, 0f, 0f, 3));
      assertThrows(IllegalArgumentException.class, () -> new PpoLossConfig(0.2f, 0f, 0f, 0f, 2));
    }
  }

  // ------------------------------------------------------------------ value loss

  static double valueRef(double[] v, float[] old, float[] ret, float[] mask, double clip, double[] frac) {
    double ms = 0, loss = 0, f = 0;
    for (float m : mask) ms += m;
    for (int i = 0; i < v.length; i++) {
      double vc = old[i] + Math.min(Math.max(v[i] - old[i], -clip), clip);
      double l1 = (v[i] - ret[i]) * (v[i] - ret[i]), l2 = (vc - ret[i]) * (vc - ret[i]);
      loss += mask[i] / ms * 0.5 * Math.max(l1, l2);
      f += mask[i] / ms * (l2 > l1 ? 1 : 0);
    }
    if (frac != null) frac[0] = f;
    return loss;
  }

  @Test
  void valueLossMatchesTheReferenceAndFiniteDifferences() {
    SplittableRandom r = new SplittableRandom(21);
    int n = 30;
    float clip = 0.2f;
    float[] v = new float[n], old = new float[n], ret = new float[n], mask = new float[n];
    for (int i = 0; i < n; i++) {
      old[i] = (float) Ref.gauss(r);
      double d;
      do d = 0.6 * Ref.gauss(r); while (Math.abs(Math.abs(d) - clip) < 1e-3);
      v[i] = old[i] + (float) d;
      double vc = old[i] + Math.min(Math.max(d, -clip), clip);
      do ret[i] = (float) (old[i] + Ref.gauss(r));
      while (Math.abs(d) > clip && Math.abs(Math.abs(v[i] - ret[i]) - Math.abs(vc - ret[i])) < 1e-3);
      mask[i] = i % 7 == 2 ? 0f : 1f;
    }
    try (Scope s = Scope.open()) {
      Tensor dv = CPU.fromArray(filled(n, 3f), n);
      float[] res = CPU.valueLoss(dv, CPU.fromArray(v, n), CPU.fromArray(old, n), CPU.fromArray(ret, n),
          CPU.fromArray(mask, n), clip);
      double[] vd = Ref.toDouble(v), frac = new double[1];
      double loss = valueRef(vd, old, ret, mask, clip, frac);
      assertEquals(loss, res[0], 1e-6);
      assertEquals(frac[0], res[1], 1e-6);
      double[] fd = new double[n];
      for (int i = 0; i < n; i++) {
        double h = 1e-6, x0 = vd[i];
        vd[i] = x0 + h;
        double lp = valueRef(vd, old, ret, mask, clip, null);
        vd[i] = x0 - h;
        double lm = valueRef(vd, old, ret, mask, clip, null);
        vd[i] = x0;
        fd[i] = (lp - lm) / (2 * h);
      }
      Ref.assertClose("dvalues vs finite differences", fd, dv.toFloatArray(), 1e-6, 1e-4);
      Tensor t = CPU.fromArray(v, n);
      assertThrows(IllegalArgumentException.class, () -> CPU.valueLoss(null, t, t, t, t, 0f));
      assertThrows(IllegalArgumentException.class, () -> CPU.valueLoss(null, t, t, t, CPU.zeros(DType.F32, 3), 0.2f));
      assertThrows(IllegalArgumentException.class, () -> CPU.valueLoss(null, t, t, t, t, Float.NaN));
    }
  }

  static float[] filled(int n, float v) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, v);
    return a;
  }
}
