package org.jalign.train.reward;

import static org.jalign.train.AlignFixtures.CPU;
import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.jalign.train.AlignFixtures.tiny;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PairwiseExample;
import org.jalign.data.RankingExample;
import org.jalign.model.Gpt;
import org.jalign.train.AlignFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reward model: all ranking pairs, exact gradients, learning a synthetic preference, save/load. */
class RewardTrainerTest {
  @AfterAll
  static void noLeaks() {
    assertEquals(org.jalign.train.AlignFixtures.backendOwnBytes(), org.jalign.train.AlignFixtures.CPU.liveBytes(),
        "native memory left allocated");
  }

  @TempDir Path dir;
  static final ChatTemplate TMPL = new ChatTemplate(TOK);

  static int[] ids(String prompt, String response) {
    return TMPL.render(prompt, response, TINY.contextLength(), ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD).ids();
  }

  static double logSigmoid(double x) {
    return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
  }

  static List<RankedGroup> mixedGroups() {
    return List.of(
        RankedGroup.of(new RankingExample("q1", List.of("aa", "bbb", "c", "dddd"), List.of(2, 0, 3, 1))),
        RankedGroup.of(new RankingExample("q2", List.of("x", "yy", "zzz"), List.of(1, 2, 0))),
        RankedGroup.of(new PairwiseExample("q3", "good", "bad", 0.75)),
        RankedGroup.of(new RankingExample("q4", List.of("e", "ff", "g", "hh"), List.of(3, 2, 1, 0))));
  }

  @Test
  void kWayRankingsUseEveryPairOfEveryGroup() {
    try (Gpt base = tiny(21); RewardModel rm = RewardModel.fromPolicy(base, 5)) {
      List<RankedGroup> groups = mixedGroups();
      RewardTrainer t = RewardTrainer.ofGroups(rm, TOK, new RewardConfig().out(null), groups, List.of());
      double loss = 0, right = 0;
      int pairs = 0;
      for (RankedGroup g : groups) {
        List<int[]> seqs = new ArrayList<>();
        for (String r : g.bestFirst()) seqs.add(ids(g.prompt(), r));
        float[] s = rm.score(seqs);
        for (int i = 0; i < s.length; i++) {
          for (int j = i + 1; j < s.length; j++) {
            loss -= logSigmoid((double) s[i] - s[j] - g.margin());
            right += s[i] > s[j] ? 1 : 0;
            pairs++;
          }
        }
      }
      assertEquals(6 + 3 + 1 + 6, pairs);
      double[] got = t.evaluate(groups);
      assertEquals(loss / pairs, got[0], 1e-5, "mean over all K(K-1)/2 pairs");
      assertEquals(right / pairs, got[1], 1e-6);
      rm.zeroGrad();
      double[] withGrad = t.lossAndGradient(groups);
      assertEquals(got[0], withGrad[0], 1e-6, "one forward per response gives the same loss");
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (Gpt base = tiny(22); RewardModel rm = RewardModel.fromPolicy(base, 6)) {
      List<RankedGroup> groups = mixedGroups();
      RewardTrainer t = RewardTrainer.ofGroups(rm, TOK, new RewardConfig().out(null), groups, List.of());
      rm.zeroGrad();
      t.lossAndGradient(groups);
      float[] headGrad = rm.head().grads().toFloatArray();
      float[] head0 = rm.head().paramsToArray();
      for (int i : new int[] {0, 5, 17, TINY.channels()}) {
        double fd = AlignFixtures.centralDiff(head0, i, 1e-2, rm.head()::loadParams, () -> t.evaluate(groups)[0]);
        assertEquals(fd, headGrad[i], 0.02 * Math.abs(fd) + 2e-4, "d loss / d head[" + i + "]");
      }
      AlignFixtures.assertTrunkGradients(rm.trunk(), 4, 5, () -> t.evaluate(groups)[0], "");
    }
  }

  /** Pairs where the chosen response contains the marker '#' and the rejected one does not. */
  static List<PairwiseExample> markerPairs(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<PairwiseExample> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String prompt = AlignFixtures.word(r, 2, 5);
      String good = AlignFixtures.word(r, 3, 8);
      int at = r.nextInt(good.length() + 1);
      good = good.substring(0, at) + "#" + good.substring(at);
      out.add(new PairwiseExample(prompt, good, AlignFixtures.word(r, 3, 9)));
    }
    return out;
  }

  @Test
  void learnsASyntheticPreferenceToHighHeldOutAccuracy() {
    try (Gpt base = tiny(23); RewardModel rm = RewardModel.fromPolicy(base, 7)) {
      float[] trunk0 = rm.trunk().paramsToArray();
      float[] head0 = rm.head().paramsToArray();
      RewardConfig cfg = new RewardConfig().lr(2e-3f).batchSize(16).maxSteps(120).evalEvery(40).out(null);
      RewardResult res = RewardTrainer.ofPairs(rm, TOK, cfg, markerPairs(160, 1), markerPairs(100, 2)).train();
      assertTrue(res.heldoutPairAccuracy() > 0.95, "held-out accuracy " + res.heldoutPairAccuracy());
      assertTrue(res.meanMargin() > 0, "margin " + res.meanMargin());
      for (Map<String, Double> m : res.history()) {
        for (var e : m.entrySet()) assertTrue(Double.isFinite(e.getValue()), e.getKey() + " = " + e.getValue());
      }
      double first = avg(res.history().subList(0, 10)), last = avg(res.history().subList(110, 120));
      assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
      assertTrue(res.history().get(39).containsKey("heldoutAccuracy"));
      assertFalse(Arrays.equals(trunk0, rm.trunk().paramsToArray()));
      assertFalse(Arrays.equals(head0, rm.head().paramsToArray()));
      assertTrue(res.rewardStd() > 0 && Double.isFinite(res.rewardMean()));
      assertEquals(res.rewardMean(), rm.mean());
      assertEquals(res.rewardStd(), rm.std());
    }
  }

  static double avg(List<Map<String, Double>> h) {
    return h.stream().mapToDouble(m -> m.get("loss")).average().orElseThrow();
  }

  @Test
  void fromPolicyCopiesTheTrunkAndScoresIgnorePadding() {
    try (Gpt base = tiny(24); RewardModel rm = RewardModel.fromPolicy(base, 8)) {
      assertArrayEquals(base.paramsToArray(), rm.trunk().paramsToArray());
      assertTrue(rm.trunk() != base);
      int[] a = ids("hi", "short"), b = ids("a longer prompt", "and a longer answer");
      float alone = rm.score(List.of(a))[0];
      float[] both = rm.score(List.of(a, b));
      assertEquals(alone, both[0], 1e-5, "a score does not depend on the padded batch");
      assertEquals(rm.score(List.of(b))[0], both[1], 1e-5);
    }
  }

  @Test
  void saveLoadKeepsScoresAndNormalisation() throws Exception {
    Path p = dir.resolve("rm.ckpt");
    List<int[]> seqs = List.of(ids("p", "one"), ids("pp", "two#"), ids("q", "three"));
    float[] raw, norm;
    try (Gpt base = tiny(25); RewardModel rm = RewardModel.fromPolicy(base, 9)) {
      rm.setNormalization(0.25, 2.0);
      raw = rm.score(seqs);
      norm = rm.scoreNormalized(seqs);
      for (int i = 0; i < raw.length; i++) assertEquals((raw[i] - 0.25) / 2.0, norm[i], 1e-6);
      rm.save(p, TOK);
    }
    try (RewardModel back = RewardModel.load(p, CPU)) {
      assertArrayEquals(raw, back.score(seqs));
      assertArrayEquals(norm, back.scoreNormalized(seqs));
      assertEquals(0.25, back.mean());
      assertEquals(2.0, back.std());
      int[] prompt = TMPL.renderPrompt("pp", 100, ChatTemplate.Truncation.REJECT);
      int[] whole = seqs.get(1);
      int[] response = Arrays.copyOfRange(whole, prompt.length, whole.length);
      float[] viaInterface = back.score(List.of(prompt), List.of(response));
      assertEquals(norm[1], viaInterface[0], 1e-6, "RewardFunction scores prompt + response, normalised");
    }
  }
}
