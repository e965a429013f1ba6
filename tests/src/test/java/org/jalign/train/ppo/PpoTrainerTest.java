package org.jalign.train.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jalign.backend.CpuBackend;
import org.jalign.data.SftExample;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenSource;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.text.ByteTokenizer;
import org.jalign.text.Tokenizer;
import org.jalign.train.AlignFixtures;
import org.jalign.train.sft.SftConfig;
import org.jalign.train.sft.SftTrainer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PPO-RLHF on tiny models with a synthetic reward (the number of lowercase ASCII letters in the response):
 * the reward rises, the KL penalty holds the policy near the reference, resume is bit-identical, metrics are
 * finite, the first update of a batch is exactly on-policy, bad settings are refused; PPO-ptx keeps the policy a
 * language model of its pretraining text, and demonstrations mixed in keep their answers.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, V = vocab.
 */
class PpoTrainerTest {
  static final CpuBackend CPU = new CpuBackend();
  static final Tokenizer TOK = new ByteTokenizer();
  static final GptConfig CFG = new GptConfig(2, 2, 32, 32, TOK.vocabSize());
  static final List<String> PROMPTS = List.of("Q: hi", "Q: tell me", "Q: what?", "Q: why", "Q: 12", "Q: ok then");
  static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream());

  /** Count of lowercase letters a..z in each response. */
  static final RewardFunction LOWERCASE = (prompts, responses) -> {
    float[] s = new float[responses.size()];
    for (int i = 0; i < s.length; i++) {
      for (int id : responses.get(i)) if (id >= 'a' && id <= 'z') s[i]++;
    }
    return s;
  };

  static long baseline;

  /** The backend keeps a one-float scratch for reductions once used; count it in the baseline. */
  @BeforeAll
  static void warm() {
    try (org.jalign.tensor.Tensor t = CPU.zeros(org.jalign.tensor.DType.F32, 4)) {
      CPU.sumSquares(t);
    }
    baseline = CPU.liveBytes();
  }

  @AfterAll
  static void noLeaks() {
    assertEquals(baseline, CPU.liveBytes(), "native memory left allocated");
  }

  static PpoConfig.Builder base() {
    return PpoConfig.builder().batchSize(16).miniBatches(2).ppoEpochs(2).responseLength(8).lr(3e-3f)
        .criticLr(3e-3f).klCoef(0.05).seed(7).out(QUIET);
  }

  record Run(PpoResult result, float[] policy, float[] critic, float[] head) {}

  /** Pretraining text of the PPO-ptx tests: upper-case sentences, which the lower-case reward does not want. */
  static final TokenSource TEXT = AlignFixtures.SENTENCES;

  static Run run(PpoConfig cfg, Path saveAt, Path resumeFrom) {
    return run(cfg, saveAt, resumeFrom, null);
  }

  static Run run(PpoConfig cfg, Path saveAt, Path resumeFrom, TokenSource ptx) {
    try (Gpt policy = new Gpt(CFG, CPU, 11); Gpt ref = new Gpt(CFG, CPU, 11);
        PpoTrainer tr = new PpoTrainer(policy, ref, LOWERCASE, TOK, cfg, PROMPTS)) {
      if (ptx != null) tr.pretrainData(ptx);
      if (resumeFrom != null) tr.resume(resumeFrom);
      PpoResult r = tr.train();
      if (saveAt != null) tr.save(saveAt);
      return new Run(r, policy.paramsToArray(), tr.critic().paramsToArray(), tr.valueHead().paramsToArray());
    }
  }

  static double meanLast(List<Map<String, Double>> h, String key, int n) {
    double s = 0;
    for (int i = h.size() - n; i < h.size(); i++) s += h.get(i).get(key);
    return s / n;
  }

  static double meanFirst(List<Map<String, Double>> h, String key, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += h.get(i).get(key);
    return s / n;
  }

  @Test
  void rewardRisesWhileKlStaysBounded() {
    Run r = run(base().steps(40).klCoef(0.5).build(), null, null);
    List<Map<String, Double>> h = r.result().history();
    double start = meanFirst(h, "reward", 5), end = meanLast(h, "reward", 5);
    double kl = meanLast(h, "kl_to_ref", 5);
    System.out.printf("ppo lowercase: reward %.3f -> %.3f, kl %.3f%n", start, end, kl);
    assertTrue(end > start + 1.5, "reward " + start + " -> " + end);
    assertTrue(kl < 10.0, "KL to reference " + kl + " exceeds the bound 10 nats per response");
    assertEquals(h.get(h.size() - 1).get("reward"), r.result().rewardEnd());
    assertEquals(h.get(0).get("reward"), r.result().rewardStart());
  }

  @Test
  void klPenaltyHoldsThePolicyCloserToTheReference() {
    Run free = run(base().steps(25).klCoef(0).build(), null, null);
    Run held = run(base().steps(25).klCoef(1.0).build(), null, null);
    double kFree = meanLast(free.result().history(), "kl_to_ref", 5);
    double kHeld = meanLast(held.result().history(), "kl_to_ref", 5);
    System.out.printf("ppo kl: coef 0 -> %.3f, coef 1 -> %.3f%n", kFree, kHeld);
    assertTrue(kFree > kHeld * 1.5 && kFree > kHeld + 0.5, "KL without penalty " + kFree + ", with " + kHeld);
  }

  @Test
  void resumeContinuesBitIdentically(@TempDir Path dir) {
    PpoConfig full = base().steps(4).adaptiveKl(true).klTarget(0.5).klHorizon(100).build();
    Run straight = run(full, null, null);
    Path ck = dir.resolve("ppo.ckpt");
    Run first = run(full.toBuilder().steps(2).build(), ck, null);
    Run second = run(full, null, ck);
    assertArrayEquals(straight.policy(), second.policy());
    assertArrayEquals(straight.critic(), second.critic());
    assertArrayEquals(straight.head(), second.head());
    assertEquals(2, first.result().history().size());
    assertEquals(2, second.result().history().size());
    for (int i = 0; i < 2; i++) {
      Map<String, Double> a = straight.result().history().get(i + 2), b = second.result().history().get(i);
      for (String k : a.keySet()) {
        if (k.startsWith("seconds")) continue;
        assertEquals(a.get(k), b.get(k), "step " + (i + 2) + " " + k);
      }
    }
  }

  @Test
  void resumeWithPtxContinuesBitIdentically(@TempDir Path dir) {
    PpoConfig full = base().steps(4).ptxCoef(0.5f).ptxBatchSize(4).ptxSeqLen(16).build();
    Run straight = run(full, null, null, TEXT);
    Path ck = dir.resolve("ppo-ptx.ckpt");
    run(full.toBuilder().steps(2).build(), ck, null, TEXT);
    Run second = run(full, null, ck, TEXT);
    assertArrayEquals(straight.policy(), second.policy());
    for (int i = 0; i < 2; i++) {
      assertEquals(straight.result().history().get(i + 2).get("ptx_loss"), second.result().history().get(i)
          .get("ptx_loss"), "step " + (i + 2) + " ptx_loss");
    }
  }

  /** Mean next-token loss of the policy on a fixed set of windows of TEXT. */
  static double textLoss(float[] params) {
    try (Gpt m = new Gpt(CFG, CPU, 11)) {
      m.params().copyFrom(params);
      return AlignFixtures.textLoss(m, TEXT);
    }
  }

  @Test
  void ptxKeepsThePolicyALanguageModelOfItsPretrainingText() {
    PpoConfig plain = base().steps(20).klCoef(0.05).build();
    Run without = run(plain, null, null);
    Run with = run(plain.toBuilder().ptxCoef(1f).ptxBatchSize(8).ptxSeqLen(24).build(), null, null, TEXT);
    double lossWithout = textLoss(without.policy()), lossWith = textLoss(with.policy());
    List<Map<String, Double>> h = with.result().history();
    double ptxStart = meanFirst(h, "ptx_loss", 3), ptxEnd = meanLast(h, "ptx_loss", 3);
    System.out.printf("ppo-ptx: text loss without %.3f, with %.3f; ptx_loss %.3f -> %.3f%n", lossWithout, lossWith,
        ptxStart, ptxEnd);
    assertTrue(lossWith < lossWithout - 0.5, "text loss with ptx " + lossWith + ", without " + lossWithout);
    assertTrue(ptxEnd < ptxStart - 0.5, "ptx_loss " + ptxStart + " -> " + ptxEnd);
    assertTrue(!without.result().history().get(0).containsKey("ptx_loss"), "ptx_loss reported without PPO-ptx");
    // PPO still learns its own objective next to the language-model loss
    assertTrue(meanLast(h, "reward", 5) > meanFirst(h, "reward", 5), "reward did not rise with ptx");
  }

  /** Demonstrations of the demonstration tests: upper-case answers, which the lower-case reward does not want. */
  static final List<SftExample> DEMOS = List.of(SftExample.of("Q: hi", "OK."), SftExample.of("Q: why", "OK."),
      SftExample.of("Q: 12", "OK."));

  static Run runWithDemos(PpoConfig cfg, Path saveAt, Path resumeFrom) {
    try (Gpt policy = new Gpt(CFG, CPU, 11); Gpt ref = new Gpt(CFG, CPU, 11);
        PpoTrainer tr = new PpoTrainer(policy, ref, LOWERCASE, TOK, cfg, PROMPTS).demonstrations(DEMOS)) {
      if (resumeFrom != null) tr.resume(resumeFrom);
      PpoResult r = tr.train();
      if (saveAt != null) tr.save(saveAt);
      return new Run(r, policy.paramsToArray(), tr.critic().paramsToArray(), tr.valueHead().paramsToArray());
    }
  }

  /** Mean response-token loss on DEMOS of a policy with the given parameters. */
  static double demoLoss(float[] params) {
    try (Gpt m = new Gpt(CFG, CPU, 11)) {
      m.params().copyFrom(params);
      SftTrainer probe = new SftTrainer(m, TOK, new SftConfig().out(null), DEMOS, List.of());
      return probe.meanLoss(probe.renderedTrain());
    }
  }

  @Test
  void demonstrationsHoldTheirAnswersThroughPpo() {
    PpoConfig plain = base().steps(20).klCoef(0.05).build();
    Run without = run(plain, null, null);
    Run with = runWithDemos(plain.toBuilder().demoCoef(1f).demoBatchSize(2).build(), null, null);
    double lossWithout = demoLoss(without.policy()), lossWith = demoLoss(with.policy());
    List<Map<String, Double>> h = with.result().history();
    double demoStart = meanFirst(h, "demo_loss", 3), demoEnd = meanLast(h, "demo_loss", 3);
    System.out.printf("ppo demonstrations: their loss without %.3f, with %.3f; demo_loss %.3f -> %.3f%n", lossWithout,
        lossWith, demoStart, demoEnd);
    assertTrue(lossWith < 0.5 * lossWithout, "demonstration loss with them " + lossWith + ", without " + lossWithout);
    assertTrue(demoEnd < 0.5 * demoStart, "demo_loss " + demoStart + " -> " + demoEnd);
    assertTrue(!without.result().history().get(0).containsKey("demo_loss"), "demo_loss reported without them");
    assertTrue(meanLast(h, "reward", 5) > meanFirst(h, "reward", 5), "reward did not rise with demonstrations");
    // with demoCoef 0 the demonstrations are not used: the same run as without them
    Run off = runWithDemos(plain, null, null);
    assertArrayEquals(without.policy(), off.policy());
  }

  @Test
  void resumeWithDemonstrationsContinuesBitIdentically(@TempDir Path dir) {
    PpoConfig full = base().steps(4).demoCoef(0.5f).demoBatchSize(2).build();
    Run straight = runWithDemos(full, null, null);
    Path ck = dir.resolve("ppo-demo.ckpt");
    runWithDemos(full.toBuilder().steps(2).build(), ck, null);
    Run second = runWithDemos(full, null, ck);
    assertArrayEquals(straight.policy(), second.policy());
    for (int i = 0; i < 2; i++) {
      assertEquals(straight.result().history().get(i + 2).get("demo_loss"), second.result().history().get(i)
          .get("demo_loss"), "step " + (i + 2) + " demo_loss");
    }
  }

  @Test
  void scaledLossGradientIsTheScaleTimesTheGradient() {
    try (Gpt m = new Gpt(CFG, CPU, 5)) {
      TokenBatcher.Batch x = new TokenBatcher(TEXT, 2, 12, TokenBatcher.Order.RANDOM, 1).next();
      m.zeroGrad();
      float l1 = m.lossAndBackward(x.inputs(), x.targets(), null, 2, 12, null, null);
      float[] g1 = m.grads().toFloatArray();
      m.zeroGrad();
      float l3 = m.lossAndBackward(x.inputs(), x.targets(), null, 2, 12, null, null, 0.375f);
      float[] g3 = m.grads().toFloatArray();
      assertEquals(l1, l3, "the returned loss is not scaled");
      double maxAbs = 0;
      for (int i = 0; i < g1.length; i++) {
        assertEquals(0.375 * g1[i], g3[i], 1e-6 + 1e-4 * Math.abs(g1[i]), "grad " + i);
        maxAbs = Math.max(maxAbs, Math.abs(g1[i]));
      }
      assertTrue(maxAbs > 0, "zero gradient");
      assertMessage("gradScale must be finite and > 0", () -> m.lossAndBackward(x.inputs(), x.targets(), null, 2, 12,
          null, null, 0f));
    }
  }

  @Test
  void metricsAreFiniteAndTheFirstUpdateIsOnPolicy() {
    Run r = run(base().steps(3).ppoEpochs(1).miniBatches(1).build(), null, null);
    List<String> keys = List.of("step", "reward", "reward_raw", "kl_to_ref", "kl_coef", "non_score_reward",
        "entropy", "clip_frac", "approx_kl", "pg_loss", "value_loss", "value_clip_frac", "explained_variance",
        "response_length", "eos_fraction", "updates", "seconds_generate", "seconds_train");
    for (Map<String, Double> m : r.result().history()) {
      assertEquals(keys, new ArrayList<>(m.keySet()));
      for (Map.Entry<String, Double> e : m.entrySet()) {
        assertTrue(Double.isFinite(e.getValue()), e.getKey() + " = " + e.getValue());
      }
      // one update per batch, taken before any change to the policy: ratio 1, nothing clipped
      assertTrue(m.get("approx_kl") < 1e-9, "approx_kl " + m.get("approx_kl"));
      assertEquals(0.0, m.get("clip_frac"));
      assertTrue(m.get("entropy") > 0);
      assertTrue(m.get("response_length") >= 1 && m.get("response_length") <= 8);
    }
    // the reference equals the initial policy: KL 0 on the first batch
    assertEquals(0.0, r.result().history().get(0).get("kl_to_ref"), 1e-4);
  }

  @Test
  void approxKlBoundStopsTheEpochsEarly() {
    Run r = run(base().steps(3).ppoEpochs(8).miniBatches(4).lr(2e-2f).approxKlBound(1e-6).build(), null, null);
    for (Map<String, Double> m : r.result().history()) {
      assertTrue(m.get("updates") < 32, "updates " + m.get("updates"));
    }
  }

  @Test
  void explainedVarianceMatchesItsDefinition() {
    float[] v = {1, 2, 0, 3, 0, 0};
    float[] ret = {1.5f, 2.5f, 0, 2, 0, 0};
    int[] len = {2, 1};
    // residuals 0.5, 0.5, -1 (mean 0): var 1.5/3; returns 1.5, 2.5, 2 (mean 2): var 0.5/3
    assertEquals(1 - 1.5 / 0.5, PpoTrainer.explainedVariance(v, ret, len, 3), 1e-9);
  }

  @Test
  void badSettingsAreRefusedWithClearMessages() {
    assertMessage("batchSize must be > 0", () -> PpoConfig.builder().batchSize(0).build());
    assertMessage("miniBatches (3) must divide batchSize (8)", () -> PpoConfig.builder().miniBatches(3).build());
    assertMessage("clipRange must be in (0, 1)", () -> PpoConfig.builder().clipRange(1.5f).build());
    assertMessage("lambda must be in [0, 1]", () -> PpoConfig.builder().lambda(2).build());
    assertMessage("klCoef must be finite and >= 0", () -> PpoConfig.builder().klCoef(-1).build());
    assertMessage("temperature must be finite and > 0", () -> PpoConfig.builder().temperature(0).build());
    assertMessage("ptxCoef must be finite and >= 0", () -> PpoConfig.builder().ptxCoef(-0.1f).build());
    assertMessage("ptxSeqLen must be > 0", () -> PpoConfig.builder().ptxSeqLen(0).build());
    assertMessage("demoCoef must be finite and >= 0", () -> PpoConfig.builder().demoCoef(Float.NaN).build());
    assertMessage("demoBatchSize must be > 0", () -> PpoConfig.builder().demoBatchSize(0).build());
    try (Gpt policy = new Gpt(CFG, CPU, 1); Gpt ref = new Gpt(CFG, CPU, 1)) {
      assertMessage("leaves no room for a prompt", () -> new PpoTrainer(policy, ref, LOWERCASE, TOK,
          base().responseLength(32).build(), PROMPTS));
      assertMessage("prompts must be non-empty", () -> new PpoTrainer(policy, ref, LOWERCASE, TOK, base().build(),
          List.of()));
      assertMessage("separate, frozen model", () -> new PpoTrainer(policy, policy, LOWERCASE, TOK, base().build(),
          PROMPTS));
      try (PpoTrainer tr = new PpoTrainer(policy, ref, LOWERCASE, TOK, base().ptxCoef(0.5f).build(), PROMPTS)) {
        assertMessage("no pretraining data was given", tr::train);
      }
      try (PpoTrainer tr = new PpoTrainer(policy, ref, LOWERCASE, TOK, base().demoCoef(0.5f).build(), PROMPTS)) {
        assertMessage("no demonstrations were given", tr::train);
        assertMessage("no demonstrations", () -> tr.demonstrations(List.of()));
        assertMessage("demonstration 0: the prompt is", () -> tr.demonstrations(List.of(SftExample.of(
            "a prompt far longer than the tiny model's context of thirty-two tokens", "OK."))));
      }
      try (PpoTrainer tr = new PpoTrainer(policy, ref, LOWERCASE, TOK, base().ptxSeqLen(64).build(), PROMPTS)) {
        assertMessage("exceeds the model's context length", () -> tr.pretrainData(TEXT));
      }
      RewardFunction wrong = (p, r) -> new float[1];
      try (PpoTrainer tr = new PpoTrainer(policy, ref, wrong, TOK, base().steps(1).build(), PROMPTS)) {
        assertMessage("returned 1 scores for 16 responses", tr::train);
      }
    }
  }

  static void assertMessage(String part, org.junit.jupiter.api.function.Executable ex) {
    RuntimeException e = assertThrows(RuntimeException.class, ex);
    assertTrue(e.getMessage() != null && e.getMessage().contains(part), "message: " + e.getMessage());
  }
}
