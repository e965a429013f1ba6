package org.jalign.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.jalign.backend.CpuBackend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * GPT model tests on small configurations: layout, initialisation, forward against a double-precision
 * reference, gradients of every parameter tensor by finite differences, padding, KV cache, overfitting, and
 * argument checks.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, V = vocab, Vp = padded vocab.
 */
class GptTest {
  static final CpuBackend CPU = new CpuBackend();
  /** V = 60 so that Vp = 64 has 4 padding rows. */
  static final GptConfig CFG = new GptConfig(2, 2, 16, 12, 60);

  @AfterAll
  static void leaks() {
    assertEquals(0, CPU.liveBytes(), "native memory left allocated");
  }

  /** Random parameters of a size that gives well-conditioned gradients; padded wte rows stay 0. */
  static float[] randomParams(GptConfig cfg, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] p = new float[(int) cfg.parameterCount()];
    for (ParamSpec s : cfg.paramSpecs()) {
      boolean lnWeight = s.name().matches("ln.w");
      boolean bias = s.name().endsWith("b") && !lnWeight;
      long n = s.name().equals("wte") ? (long) cfg.vocabSize() * cfg.channels() : s.numel();
      for (long i = 0; i < n; i++) {
        double z = Ref.gauss(r);
        p[(int) (s.offset() + i)] = (float) (lnWeight ? 1 + 0.1 * z : bias ? 0.05 * z : 0.15 * z);
      }
    }
    return p;
  }

  static int[] randomTokens(SplittableRandom r, int n, int vocab) {
    int[] t = new int[n];
    for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
    return t;
  }

  // ------------------------------------------------------------------ config

  @Test
  void configValidatesAndCountsParameters() {
    assertEquals(124_475_904L, GptConfig.gpt2Small().parameterCount());
    assertEquals(50304, GptConfig.gpt2Small().paddedVocab());
    assertEquals(64, GptConfig.tiny().paddedVocab());
    assertEquals(128, new GptConfig(1, 1, 8, 8, 65).paddedVocab());
    for (GptConfig c : List.of(GptConfig.tiny(), GptConfig.small(256), GptConfig.gpt2Small(), CFG)) {
      long off = 0;
      for (ParamSpec s : c.paramSpecs()) {
        assertEquals(off, s.offset(), s.name());
        off += s.numel();
      }
      assertEquals(c.parameterCount(), off);
      assertEquals(GptConfig.PARAM_NAMES.size(), c.paramSpecs().size());
    }
    GptConfig g = GptConfig.gpt2Small();
    assertEquals(6 * g.parameterCount() + 12L * 12 * 768 * 1024, g.flopsPerToken());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GptConfig(2, 3, 32, 16, 64));
    assertTrue(e.getMessage().contains("divisible"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new GptConfig(0, 2, 32, 16, 64));
    assertThrows(IllegalArgumentException.class, () -> new GptConfig(2, 2, 32, -1, 64));
    assertThrows(IllegalArgumentException.class, () -> new GptConfig(2, 2, 32, 16, 0));
  }

  @Test
  void initialisationIsDeterministicGpt2Style() {
    GptConfig cfg = new GptConfig(4, 2, 64, 32, 100);
    try (Gpt a = new Gpt(cfg, CPU, 7); Gpt b = new Gpt(cfg, CPU, 7); Gpt c = new Gpt(cfg, CPU, 8)) {
      float[] pa = a.paramsToArray();
      assertArrayEquals(pa, b.paramsToArray());
      assertNotEquals(Arrays.hashCode(pa), Arrays.hashCode(c.paramsToArray()));
      float[] wte = a.param("wte").toFloatArray();
      for (int i = 100 * 64; i < wte.length; i++) assertEquals(0f, wte[i], "padded wte row");
      assertEquals(0.02, std(Arrays.copyOf(wte, 100 * 64)), 0.002);
      assertEquals(0.02, std(a.param("qkvw").toFloatArray()), 0.002);
      assertEquals(0.02 / Math.sqrt(8), std(a.param("fcprojw").toFloatArray()), 0.0006);
      for (float f : a.param("ln2w").toFloatArray()) assertEquals(1f, f);
      for (float f : a.param("qkvb").toFloatArray()) assertEquals(0f, f);
      assertArrayEquals(new long[] {4, 3 * 64, 64}, a.param("qkvw").shape());
      assertEquals(cfg.parameterCount(), a.grads().numel());
    }
  }

  private static double std(float[] a) {
    double s = 0, s2 = 0;
    for (float f : a) {
      s += f;
      s2 += (double) f * f;
    }
    double m = s / a.length;
    return Math.sqrt(s2 / a.length - m * m);
  }

  // ------------------------------------------------------------------ forward vs reference

  @Test
  void forwardMatchesDoubleReference() {
    int b = 3, t = 10;
    SplittableRandom r = new SplittableRandom(1);
    int[] tokens = randomTokens(r, b * t, CFG.vocabSize());
    float[] params = randomParams(CFG, 2);
    int[] start = {0, 3, 1};
    int[] end = {10, 10, 7};
    try (Gpt m = new Gpt(CFG, CPU, 0)) {
      m.loadParams(params);
      for (int[][] range : new int[][][] {{null, null}, {start, end}, {start, null}, {null, end}}) {
        float[] got = m.forward(tokens, b, t, range[0], range[1]).toFloatArray();
        double[] want = RefGpt.forward(CFG, params, tokens, b, t, range[0], range[1]);
        int vp = CFG.paddedVocab();
        // compare only valid rows
        for (int row = 0; row < b; row++) {
          int s = range[0] == null ? 0 : range[0][row], e = range[1] == null ? t : range[1][row];
          for (int i = s; i < e; i++) {
            int o = (row * t + i) * vp;
            Ref.assertClose("logits row " + row + " t " + i, Arrays.copyOfRange(want, o, o + vp),
                Arrays.copyOfRange(got, o, o + vp), 2e-4, 2e-4);
          }
        }
        float[] h = m.hidden().toFloatArray();
        assertEquals(b * t * CFG.channels(), h.length);
      }
    }
  }

  @Test
  void paddedRowsGiveTheLogitsAndGradientsOfTheUnpaddedSequence() {
    int n = 7, t = 12, vp = CFG.paddedVocab();
    SplittableRandom r = new SplittableRandom(3);
    int[] seq = randomTokens(r, n + 1, CFG.vocabSize());
    float[] params = randomParams(CFG, 4);
    try (Gpt m = new Gpt(CFG, CPU, 0)) {
      m.loadParams(params);
      int[] in = Arrays.copyOf(seq, n);
      int[] tg = Arrays.copyOfRange(seq, 1, n + 1);
      float[] ref = m.forward(in, 1, n, null, null).toFloatArray();
      m.zeroGrad();
      float lossRef = m.lossAndBackward(in, tg, null, 1, n, null, null);
      float[] gradRef = m.grads().toFloatArray();

      // row 0 left-padded, row 1 right-padded, both with junk in the padding
      int[] tokens = randomTokens(r, 2 * t, CFG.vocabSize());
      int[] targets = new int[2 * t];
      Arrays.fill(targets, -1);
      int pad = t - n;
      System.arraycopy(in, 0, tokens, pad, n);
      System.arraycopy(tg, 0, targets, pad, n);
      System.arraycopy(in, 0, tokens, t, n);
      System.arraycopy(tg, 0, targets, t, n);
      int[] start = {pad, 0};
      int[] end = {t, n};
      float[] logits = m.forward(tokens, 2, t, start, end).toFloatArray();
      for (int i = 0; i < n; i++) {
        float[] want = Arrays.copyOfRange(ref, i * vp, (i + 1) * vp);
        Ref.assertClose("left-padded t=" + i, want, Arrays.copyOfRange(logits, (pad + i) * vp, (pad + i + 1) * vp),
            1e-5, 1e-4);
        Ref.assertClose("right-padded t=" + i, want, Arrays.copyOfRange(logits, (t + i) * vp, (t + i + 1) * vp),
            1e-5, 1e-4);
      }
      // loss over both rows = the same loss; gradient = 2 rows x (1/2 weight each) = the unpadded gradient
      m.zeroGrad();
      float loss = m.lossAndBackward(tokens, targets, null, 2, t, start, end);
      assertEquals(lossRef, loss, 1e-5);
      Ref.assertClose("grads of padded batch", gradRef, m.grads().toFloatArray(), 1e-6, 1e-3);
      // back to the smaller batch: activations reuse the larger storage and give the same results
      Ref.assertClose("smaller batch after a larger one", ref, m.forward(in, 1, n, null, null).toFloatArray(), 0, 0);
      m.zeroGrad();
      assertEquals(lossRef, m.lossAndBackward(in, tg, null, 1, n, null, null), 0f);
      Ref.assertClose("grads after shrinking", gradRef, m.grads().toFloatArray(), 0, 0);
    }
  }

  // ------------------------------------------------------------------ gradients by finite differences

  @Test
  void gradientsOfEveryParameterMatchFiniteDifferences() {
    gradCheck(false);
  }

  @Test
  void gradientsWithPaddedRowsMatchFiniteDifferences() {
    gradCheck(true);
  }

  private void gradCheck(boolean padded) {
    int b = 2, t = 8;
    SplittableRandom r = new SplittableRandom(padded ? 11 : 10);
    int[] tokens = randomTokens(r, b * t, CFG.vocabSize());
    int[] targets = randomTokens(r, b * t, CFG.vocabSize());
    targets[3] = -1;
    float[] weights = new float[b * t];
    for (int i = 0; i < weights.length; i++) weights[i] = 0.5f + r.nextFloat();
    int[] start = padded ? new int[] {2, 0} : null;
    int[] end = padded ? new int[] {8, 6} : null;
    if (padded) {
      for (int i : new int[] {0, 1, 14, 15}) targets[i] = -1;
    }
    float[] params = randomParams(CFG, padded ? 13 : 12);
    try (Gpt m = new Gpt(CFG, CPU, 0)) {
      m.loadParams(params);
      m.zeroGrad();
      float loss = m.lossAndBackward(tokens, targets, weights, b, t, start, end);
      assertEquals(loss(m, params, tokens, targets, weights, b, t, start, end), loss, 1e-5);
      float[] grads = m.grads().toFloatArray();
      List<String> failures = new ArrayList<>();
      for (ParamSpec s : CFG.paramSpecs()) {
        int off = (int) s.offset(), n = (int) s.numel();
        // the 3 largest analytic entries and 3 random ones
        List<Integer> picks = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
          int best = -1;
          for (int i = 0; i < n; i++) {
            if (picks.contains(off + i)) continue;
            if (best < 0 || Math.abs(grads[off + i]) > Math.abs(grads[best])) best = off + i;
          }
          picks.add(best);
        }
        for (int k = 0; k < 3; k++) picks.add(off + r.nextInt(n));
        for (int idx : picks) {
          double fd = Ref.centralDiff(params, idx, 1e-2,
              () -> loss(m, params, tokens, targets, weights, b, t, start, end));
          double an = grads[idx];
          if (Math.abs(fd - an) > 1e-4 + 0.03 * Math.abs(fd)) {
            failures.add(s.name() + "[" + (idx - off) + "]: analytic " + an + ", finite difference " + fd);
          }
        }
      }
      if (!failures.isEmpty()) fail("gradient mismatches:\n" + String.join("\n", failures));
      // padded vocabulary rows of wte never get a gradient
      for (int i = CFG.vocabSize() * CFG.channels(); i < CFG.paddedVocab() * CFG.channels(); i++) {
        assertEquals(0f, grads[i], "padded wte gradient");
      }
    }
  }

  /** Σ w_i·(-log p_i) / Σ w_i over targets >= 0, via tokenLogprobs (no gradient). */
  static double loss(Gpt m, float[] params, int[] tokens, int[] targets, float[] weights, int b, int t, int[] start,
      int[] end) {
    m.loadParams(params);
    float[] lp = m.tokenLogprobs(tokens, targets, b, t, start, end);
    double num = 0, den = 0;
    for (int i = 0; i < lp.length; i++) {
      if (targets[i] < 0) continue;
      double w = weights == null ? 1 : weights[i];
      num -= w * lp[i];
      den += w;
    }
    return num / den;
  }

  @Test
  void hiddenGradientAndScalarHeadMatchFiniteDifferences() {
    int b = 2, t = 6, c = CFG.channels();
    SplittableRandom r = new SplittableRandom(21);
    int[] tokens = randomTokens(r, b * t, CFG.vocabSize());
    int[] positions = {5, 2, 6 + 3, 6 + 5};
    float[] coef = {1f, -0.7f, 0.4f, 1.3f};
    float[] params = randomParams(CFG, 22);
    try (Gpt m = new Gpt(CFG, CPU, 0); ScalarHead head = new ScalarHead(m, 5)) {
      float[] hp = head.paramsToArray();
      for (int i = 0; i < hp.length; i++) hp[i] = (float) (0.3 * Ref.gauss(r));
      head.loadParams(hp);
      m.loadParams(params);
      m.zeroGrad();
      head.zeroGrad();
      m.forward(tokens, b, t, null, null);
      float[] values = head.forward(m.hidden(), positions);
      // objective J = Σ coef_i · value_i
      double j0 = 0;
      for (int i = 0; i < values.length; i++) j0 += coef[i] * values[i];
      Tensor dhidden = m.zeroedDhidden();
      assertArrayEquals(new long[] {b, t, c}, dhidden.shape());
      head.backward(coef, dhidden);
      m.backward(null, dhidden);
      float[] gm = m.grads().toFloatArray();
      float[] gh = head.grads().toFloatArray();
      // head parameters
      for (int i = 0; i < hp.length; i++) {
        final int k = i;
        double fd = Ref.centralDiff(hp, k, 1e-2, () -> {
          head.loadParams(hp);
          m.forward(tokens, b, t, null, null);
          float[] v = head.forward(m.hidden(), positions);
          double s = 0;
          for (int q = 0; q < v.length; q++) s += coef[q] * v[q];
          return s;
        });
        assertEquals(fd, gh[k], 2e-3 + 0.02 * Math.abs(fd), "head param " + k);
      }
      head.loadParams(hp);
      // a few model parameters through dhidden
      List<String> failures = new ArrayList<>();
      for (ParamSpec s : CFG.paramSpecs()) {
        int best = (int) s.offset();
        for (int i = (int) s.offset(); i < s.offset() + s.numel(); i++) {
          if (Math.abs(gm[i]) > Math.abs(gm[best])) best = i;
        }
        double fd = Ref.centralDiff(params, best, 1e-2, () -> {
          m.loadParams(params);
          m.forward(tokens, b, t, null, null);
          float[] v = head.forward(m.hidden(), positions);
          double sum = 0;
          for (int q = 0; q < v.length; q++) sum += coef[q] * v[q];
          return sum;
        });
        if (Math.abs(fd - gm[best]) > 2e-4 + 0.03 * Math.abs(fd)) {
          failures.add(s.name() + ": analytic " + gm[best] + ", finite difference " + fd);
        }
      }
      if (!failures.isEmpty()) fail("dhidden gradient mismatches:\n" + String.join("\n", failures));
      assertTrue(Math.abs(j0) > 0);
    }
  }

  // ------------------------------------------------------------------ KV cache

  @Test
  void kvCachedLogitsEqualFullRecomputation() {
    int b = 2, t = 12, prefill = 5, vp = CFG.paddedVocab();
    SplittableRandom r = new SplittableRandom(31);
    int[] tokens = randomTokens(r, b * t, CFG.vocabSize());
    try (Gpt m = new Gpt(CFG, CPU, 0)) {
      m.loadParams(randomParams(CFG, 32));
      for (int[] start : new int[][] {null, {0, 3}}) {
        float[] full = m.forward(tokens, b, t, start, null).toFloatArray();
        try (KvCache cache = m.newKvCache(b, t)) {
          int[] first = new int[b * prefill];
          for (int row = 0; row < b; row++) System.arraycopy(tokens, row * t, first, row * prefill, prefill);
          float[] got = m.forwardCached(cache, first, b, prefill, 0, start).toFloatArray();
          for (int row = 0; row < b; row++) {
            for (int i = start == null ? 0 : start[row]; i < prefill; i++) {
              Ref.assertClose("prefill row " + row + " t " + i,
                  Arrays.copyOfRange(full, (row * t + i) * vp, (row * t + i + 1) * vp),
                  Arrays.copyOfRange(got, (row * prefill + i) * vp, (row * prefill + i + 1) * vp), 1e-5, 1e-4);
            }
          }
          for (int pos = prefill; pos < t; pos++) {
            int[] step = {tokens[pos], tokens[t + pos]};
            float[] one = m.forwardCached(cache, step, b, 1, pos, start).toFloatArray();
            for (int row = 0; row < b; row++) {
              Ref.assertClose("cached row " + row + " pos " + pos,
                  Arrays.copyOfRange(full, (row * t + pos) * vp, (row * t + pos + 1) * vp),
                  Arrays.copyOfRange(one, row * vp, (row + 1) * vp), 1e-5, 1e-4);
            }
          }
          assertEquals(t, cache.length());
          // position past the end of the cache
          assertThrows(IllegalArgumentException.class, () -> m.forwardCached(cache, step2(), b, 1, t, null));
        }
      }
    }
  }

  private static int[] step2() {
    return new int[] {1, 2};
  }

  // ------------------------------------------------------------------ training

  @Test
  void aBatchOverfitsToNearZeroLoss() {
    GptConfig cfg = GptConfig.tiny();
    int b = 4, t = 16;
    SplittableRandom r = new SplittableRandom(41);
    int[] data = randomTokens(r, b * (t + 1), cfg.vocabSize());
    int[] tokens = new int[b * t], targets = new int[b * t];
    for (int row = 0; row < b; row++) {
      for (int i = 0; i < t; i++) {
        tokens[row * t + i] = data[row * (t + 1) + i];
        targets[row * t + i] = data[row * (t + 1) + i + 1];
      }
    }
    try (Gpt m = new Gpt(cfg, CPU, 42);
        Tensor mo = CPU.zeros(DType.F32, cfg.parameterCount());
        Tensor vo = CPU.zeros(DType.F32, cfg.parameterCount())) {
      float first = 0, last = 0;
      for (int step = 1; step <= 300; step++) {
        m.zeroGrad();
        last = m.lossAndBackward(tokens, targets, null, b, t, null, null);
        if (step == 1) first = last;
        CPU.adamw(m.params(), m.grads(), mo, vo, 3e-3f, 0.9f, 0.95f, 1e-8f, 0f, step, 1f);
      }
      assertEquals(Math.log(cfg.vocabSize()), first, 0.3, "initial loss near log V");
      assertTrue(last < 0.05, "loss after 300 steps: " + last);
    }
  }

  // ------------------------------------------------------------------ bad inputs

  @Test
  void badInputsGiveClearExceptions() {
    try (Gpt m = new Gpt(CFG, CPU, 0)) {
      int[] ok = new int[8];
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> m.forward(new int[] {1, 2, 60, 3}, 1, 4, null, null));
      assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> m.forward(new int[] {1, -2, 5, 3}, 1, 4, null, null));
      e = assertThrows(IllegalArgumentException.class, () -> m.forward(new int[13], 1, 13, null, null));
      assertTrue(e.getMessage().contains("context length"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> m.forward(ok, 2, 3, null, null));
      assertTrue(e.getMessage().contains("B*T"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> m.forward(ok, 2, 4, new int[] {5, 0}, null));
      assertTrue(e.getMessage().contains("row 0"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> m.forward(ok, 2, 4, new int[] {0}, null));
      assertThrows(IllegalArgumentException.class, () -> m.forward(ok, 2, 4, null, new int[] {4, 5}));
      e = assertThrows(IllegalArgumentException.class,
          () -> m.lossAndBackward(ok, new int[] {0, 0, 0, 0, 0, 0, 0, 60}, null, 2, 4, null, null));
      assertTrue(e.getMessage().contains("targets[7]"), e.getMessage());
      assertThrows(IllegalArgumentException.class,
          () -> m.lossAndBackward(ok, new int[8], new float[] {1, 1, 1, 1, 1, 1, 1, Float.NaN}, 2, 4, null, null));
      assertThrows(IllegalArgumentException.class, () -> m.param("nope"));
      assertThrows(IllegalArgumentException.class, () -> m.loadParams(new float[3]));
      assertThrows(IllegalArgumentException.class, () -> m.newKvCache(1, 13));
      try (Gpt fresh = new Gpt(CFG, CPU, 0)) {
        assertThrows(IllegalStateException.class, () -> fresh.backward(null, null));
        assertThrows(IllegalStateException.class, fresh::hidden);
      }
      m.forward(ok, 2, 4, null, null);
      try (Tensor wrong = CPU.zeros(DType.F32, 2, 4, 5)) {
        assertThrows(IllegalArgumentException.class, () -> m.backward(wrong, null));
      }
    }
    assertThrows(IllegalArgumentException.class, () -> new Gpt(new GptConfig(2, 4, 30, 16, 64), CPU, 0));
  }
}
