package org.jalign.train.reward;

import static org.jalign.train.AlignFixtures.CPU;
import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.jalign.train.AlignFixtures.tiny;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PairwiseExample;
import org.jalign.data.RankingExample;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.train.AlignFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reward model's likelihood gate: the term it adds against a plain CPU reference computation, exact gradients,
 * a frozen reference, save/load, and the refusals.
 */
class LikelihoodGateTest {
  @AfterAll
  static void noLeaks() {
    assertEquals(AlignFixtures.backendOwnBytes(), CPU.liveBytes(), "native memory left allocated");
  }

  @TempDir Path dir;
  static final ChatTemplate TMPL = new ChatTemplate(TOK);

  /** A rendered [prompt, response] and where its response starts (first trainable token). */
  record Seq(int[] ids, int start) {}

  static Seq seq(String prompt, String response) {
    ChatTemplate.Rendered r = TMPL.render(prompt, response, TINY.contextLength(),
        ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
    int st = 0;
    while (!r.trainable()[st]) st++;
    return new Seq(r.ids(), st);
  }

  static List<Seq> seqs() {
    return List.of(seq("p", "one"), seq("pq", "two#"), seq("what?", "three 3"), seq("x", "y"));
  }

  static List<int[]> ids(List<Seq> s) {
    return s.stream().map(Seq::ids).toList();
  }

  static int[] starts(List<Seq> s) {
    return s.stream().mapToInt(Seq::start).toArray();
  }

  static float[] randomGate(long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] g = new float[TINY.channels() + 1];
    for (int i = 0; i < g.length; i++) g[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
    return g;
  }

  static List<RankedGroup> groups() {
    return List.of(
        RankedGroup.of(new RankingExample("q1", List.of("aa", "bbb", "c", "dddd"), List.of(2, 0, 3, 1))),
        RankedGroup.of(new RankingExample("q2", List.of("x", "yy", "zzz"), List.of(1, 2, 0))),
        RankedGroup.of(new PairwiseExample("q3", "good", "bad", 0.75)));
  }

  @Test
  void aNewGateScoresExactlyLikeThePlainModel() {
    List<Seq> s = seqs();
    try (Gpt base = tiny(31); RewardModel plain = RewardModel.fromPolicy(base, 4);
        RewardModel gated = RewardModel.fromPolicy(base, 4, true)) {
      assertFalse(plain.hasLikelihoodGate());
      assertTrue(gated.hasLikelihoodGate());
      assertArrayEquals(plain.score(ids(s)), gated.score(ids(s), starts(s)));
      assertArrayEquals(base.paramsToArray(), gated.reference().paramsToArray(), "the reference is a copy of the SFT model");
    }
  }

  /** score = head(h_last) + Σ_{t ≥ start} (w·h_t + b) · max(log p_ref(x_t | x_&lt;t), floor), computed by hand. */
  @Test
  void gateTermMatchesAPlainComputation() {
    List<Seq> s = seqs();
    try (Gpt base = tiny(32); RewardModel rm = RewardModel.fromPolicy(base, 5, true)) {
      // a reference unlike the trunk, so the test tells them apart
      rm.reference().loadParams(scaled(base.paramsToArray(), 1.7f));
      float[] gate = randomGate(7, 0.5);
      rm.gate().loadParams(gate);
      float[] got = rm.score(ids(s), starts(s));
      float[] head = rm.head().paramsToArray();
      int c = TINY.channels();
      for (int i = 0; i < s.size(); i++) {
        int[] x = s.get(i).ids();
        int t = x.length, st = s.get(i).start();
        rm.trunk().forward(x, 1, t, null, null);
        float[] h = rm.trunk().hidden().toFloatArray();
        int[] in = Arrays.copyOf(x, t - 1);
        int[] tg = Arrays.copyOfRange(x, 1, t);
        float[] lp = rm.reference().tokenLogprobs(in, tg, 1, t - 1, null, null);
        double want = dot(h, (t - 1) * c, head, c) + head[c];
        for (int j = st; j < t; j++) {
          double g = dot(h, j * c, gate, c) + gate[c];
          want += g * Math.max(RewardModel.LOGPROB_FLOOR, lp[j - 1]);
        }
        assertEquals(want, got[i], 1e-3 * (1 + Math.abs(want)), "sequence " + i);
      }
      float[] alone = rm.score(List.of(s.get(2).ids()), new int[] {s.get(2).start()});
      assertEquals(got[2], alone[0], 1e-5, "a score does not depend on the rest of the batch");
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    try (Gpt base = tiny(33); RewardModel rm = RewardModel.fromPolicy(base, 6, true)) {
      rm.gate().loadParams(randomGate(8, 0.3));
      List<RankedGroup> groups = groups();
      RewardTrainer t = RewardTrainer.ofGroups(rm, TOK, new RewardConfig().out(null), groups, List.of());
      rm.zeroGrad();
      t.lossAndGradient(groups);
      float[] gateGrad = rm.gate().grads().toFloatArray();
      float[] gate0 = rm.gate().paramsToArray();
      for (int i : new int[] {0, 3, 11, TINY.channels()}) {
        double fd = AlignFixtures.centralDiff(gate0, i, 1e-2, rm.gate()::loadParams, () -> t.evaluate(groups)[0]);
        assertEquals(fd, gateGrad[i], 0.02 * Math.abs(fd) + 2e-4, "d loss / d gate[" + i + "]");
      }
      AlignFixtures.assertTrunkGradients(rm.trunk(), 4, 7, () -> t.evaluate(groups)[0], " through head and gate");
    }
  }

  @Test
  void trainingMovesTheGateAndLeavesTheReferenceFrozen() {
    try (Gpt base = tiny(34); RewardModel rm = RewardModel.fromPolicy(base, 7, true)) {
      float[] ref0 = rm.reference().paramsToArray();
      List<PairwiseExample> train = RewardTrainerTest.markerPairs(24, 3);
      RewardConfig cfg = new RewardConfig().batchSize(4).maxSteps(12).lr(3e-3f).seed(2).progress(false).out(null);
      RewardResult r = RewardTrainer.ofPairs(rm, TOK, cfg, train, RewardTrainerTest.markerPairs(8, 4)).train();
      assertTrue(Double.isFinite(r.heldoutPairAccuracy()));
      assertArrayEquals(ref0, rm.reference().paramsToArray(), "the reference never trains");
      float[] gate = rm.gate().paramsToArray();
      double norm = 0;
      for (float v : gate) norm += v * v;
      assertTrue(norm > 0, "the gate learnt from the rankings");
      assertNotEquals(1.0, rm.std(), "normalisation statistics were set");
    }
  }

  @Test
  void saveAndLoadKeepTheGateAndReference() throws Exception {
    Path p = dir.resolve("gated.ckpt");
    List<Seq> s = seqs();
    float[] raw;
    float[] viaInterface;
    int[] prompt = TMPL.renderPrompt("pq", 100, ChatTemplate.Truncation.REJECT);
    int[] response = Arrays.copyOfRange(s.get(1).ids(), prompt.length, s.get(1).ids().length);
    try (Gpt base = tiny(35); RewardModel rm = RewardModel.fromPolicy(base, 8, true)) {
      rm.reference().loadParams(scaled(base.paramsToArray(), 0.8f));
      rm.gate().loadParams(randomGate(9, 0.4));
      rm.setNormalization(0.5, 3.0);
      raw = rm.score(ids(s), starts(s));
      viaInterface = rm.score(List.of(prompt), List.of(response));
      assertEquals((raw[1] - 0.5) / 3.0, viaInterface[0], 1e-5, "prompt + response: the response starts after the prompt");
      rm.save(p, TOK);
    }
    try (RewardModel back = RewardModel.load(p, CPU)) {
      assertTrue(back.hasLikelihoodGate());
      assertArrayEquals(raw, back.score(ids(s), starts(s)));
      assertArrayEquals(viaInterface, back.score(List.of(prompt), List.of(response)));
    }
  }

  @Test
  void aCheckpointWithHalfAGateIsRefused() throws Exception {
    Path p = dir.resolve("half.ckpt");
    try (Gpt base = tiny(36); RewardModel rm = RewardModel.fromPolicy(base, 9, true)) {
      new Checkpoint.Writer(TINY).tensor(Checkpoint.PARAMS, rm.trunk().params())
          .tensor(RewardModel.HEAD, rm.head().params()).tensor(RewardModel.GATE, rm.gate().params()).write(p);
    }
    long live = CPU.liveBytes();
    IOException e = assertThrows(IOException.class, () -> RewardModel.load(p, CPU));
    assertTrue(e.getMessage().contains(RewardModel.REFERENCE), e.getMessage());
    assertEquals(live, CPU.liveBytes(), "nothing allocated is left behind");
  }

  @Test
  void badCallsAreRefusedWithAReason() {
    List<Seq> s = seqs();
    try (Gpt base = tiny(37); RewardModel rm = RewardModel.fromPolicy(base, 10, true)) {
      IllegalStateException noStarts = assertThrows(IllegalStateException.class, () -> rm.score(ids(s)));
      assertTrue(noStarts.getMessage().contains("likelihood gate"), noStarts.getMessage());
      int[] bad = starts(s);
      bad[2] = 0;
      IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> rm.score(ids(s), bad));
      assertTrue(zero.getMessage().contains("responseStarts[2] = 0"), zero.getMessage());
      bad[2] = s.get(2).ids().length;
      assertThrows(IllegalArgumentException.class, () -> rm.score(ids(s), bad));
      assertThrows(IllegalArgumentException.class, () -> rm.score(ids(s), new int[] {1}));
      IllegalArgumentException emptyPrompt = assertThrows(IllegalArgumentException.class,
          () -> rm.score(List.of(new int[0]), List.of(new int[] {5, 6})));
      assertTrue(emptyPrompt.getMessage().contains("prompt 0 is empty"), emptyPrompt.getMessage());
    }
    try (Gpt a = tiny(38); Gpt other = new Gpt(new org.jalign.model.GptConfig(1, 2, 32, 40, TOK.vocabSize()), CPU, 1);
        org.jalign.model.ScalarHead gate = new org.jalign.model.ScalarHead(CPU, 32, 0);
        RewardModel rm = RewardModel.fromPolicy(a, 1)) {
      IllegalArgumentException mismatch = assertThrows(IllegalArgumentException.class,
          () -> new RewardModel(rm.trunk(), rm.head(), other, gate));
      assertTrue(mismatch.getMessage().contains("configuration"), mismatch.getMessage());
    }
  }

  static float[] scaled(float[] a, float f) {
    float[] out = a.clone();
    for (int i = 0; i < out.length; i++) out[i] *= f;
    return out;
  }

  static double dot(float[] h, int off, float[] w, int c) {
    double s = 0;
    for (int k = 0; k < c; k++) s += (double) h[off + k] * w[k];
    return s;
  }
}
