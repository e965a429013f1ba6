package org.jalign.train.dpo;

import static org.jalign.train.AlignFixtures.TOK;
import static org.jalign.train.AlignFixtures.tiny;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jalign.data.PairwiseExample;
import org.jalign.model.Gpt;
import org.jalign.train.AlignFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** DPO on a tiny model: exact gradients, a cached reference, a rising chosen-over-rejected margin. */
class DpoTrainerTest {
  @AfterAll
  static void noLeaks() {
    assertEquals(org.jalign.train.AlignFixtures.backendOwnBytes(), org.jalign.train.AlignFixtures.CPU.liveBytes(),
        "native memory left allocated");
  }


  /** Chosen answers are upper-case echoes, rejected ones lower-case. */
  static List<PairwiseExample> pairs(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<PairwiseExample> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String w = AlignFixtures.word(r, 2, 6);
      out.add(new PairwiseExample(w, w.toUpperCase(), AlignFixtures.word(r, 2, 6)));
    }
    return out;
  }

  static Gpt copyOf(Gpt g) {
    Gpt c = tiny(0);
    c.copyParamsFrom(g);
    return c;
  }

  @Test
  void startsAtLn2AndGradientsMatchFiniteDifferences() {
    try (Gpt policy = tiny(31); Gpt ref = copyOf(policy)) {
      List<PairwiseExample> train = pairs(5, 3);
      DpoTrainer t = new DpoTrainer(policy, ref, TOK, new DpoConfig().beta(0.5).out(null), train, List.of());
      double[] m0 = t.evaluate();
      assertEquals(Math.log(2), m0[0], 1e-5, "policy = reference: loss ln 2");
      assertEquals(0, m0[2], 1e-5, "and margin 0");
      // move the policy away from the reference so the gradient is not at the symmetric point
      float[] p0 = policy.paramsToArray();
      SplittableRandom r = new SplittableRandom(9);
      for (int i = 0; i < p0.length; i++) p0[i] += (float) (0.02 * (r.nextDouble() - 0.5));
      policy.loadParams(p0);
      policy.zeroGrad();
      double[] m = t.lossAndGradient(new int[] {0, 1, 2, 3, 4});
      assertEquals(t.evaluate()[0], m[0], 1e-5, "batch loss = mean over the pairs");
      float[] g = policy.grads().toFloatArray();
      Integer[] idx = new Integer[g.length];
      for (int i = 0; i < idx.length; i++) idx[i] = i;
      Arrays.sort(idx, (a, b) -> Float.compare(Math.abs(g[b]), Math.abs(g[a])));
      for (int k = 0; k < 5; k++) {
        int i = idx[k * 9];
        double eps = 1e-2;
        float[] p = p0.clone();
        p[i] = (float) (p0[i] + eps);
        policy.loadParams(p);
        double up = t.evaluate()[0];
        p[i] = (float) (p0[i] - eps);
        policy.loadParams(p);
        double down = t.evaluate()[0];
        double fd = (up - down) / (2 * eps);
        assertEquals(fd, g[i], 0.05 * Math.abs(fd) + 2e-4, "d loss / d param[" + i + "]");
      }
      assertEquals(10, t.referenceForwardRows(), "reference log-probs computed once");
    }
  }

  @Test
  void raisesTheChosenOverRejectedMargin() {
    try (Gpt policy = tiny(32); Gpt ref = copyOf(policy)) {
      float[] ref0 = ref.paramsToArray(), pol0 = policy.paramsToArray();
      List<PairwiseExample> train = pairs(32, 1), eval = pairs(16, 2);
      DpoConfig cfg = new DpoConfig().beta(0.1).lr(2e-3f).batchSize(8).maxSteps(40).evalEvery(10).out(null);
      DpoTrainer t = new DpoTrainer(policy, ref, TOK, cfg, train, eval);
      DpoResult r = t.train();
      assertEquals(0, r.marginStart(), 1e-4);
      assertTrue(r.meanMargin() > 0.5, "margin " + r.marginStart() + " -> " + r.meanMargin());
      assertTrue(r.rewardAccuracy() > 0.9, "accuracy " + r.rewardAccuracy());
      assertTrue(r.evalLossEnd() < 0.5 * r.evalLossStart(), "eval loss " + r.evalLossStart() + " -> " + r.evalLossEnd());
      double first = r.history().get(0).get("loss"), last = r.history().get(39).get("loss");
      assertTrue(last < 0.5 * first, "train loss " + first + " -> " + last);
      for (Map<String, Double> m : r.history()) {
        for (var e : m.entrySet()) assertTrue(Double.isFinite(e.getValue()), e.getKey() + " = " + e.getValue());
      }
      assertTrue(r.history().get(9).containsKey("evalMargin"));
      assertFalse(Arrays.equals(pol0, policy.paramsToArray()), "the policy changed");
      assertArrayEquals(ref0, ref.paramsToArray(), "the reference is frozen");
      assertEquals(2L * (32 + 16), t.referenceForwardRows(), "reference log-probs computed once and cached");
    }
  }

  @Test
  void rejectsASharedReference() {
    try (Gpt policy = tiny(33)) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> new DpoTrainer(policy, policy, TOK, new DpoConfig(), pairs(2, 1), List.of()));
      assertTrue(e.getMessage().contains("reference"), e.getMessage());
    }
  }
}
