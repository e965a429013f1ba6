package org.jalign.train.rejection;

import static org.jalign.train.AlignFixtures.CPU;
import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.jalign.train.AlignFixtures.tiny;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ObjDoubleConsumer;
import org.jalign.data.ChatTemplate;
import org.jalign.data.SftExample;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.GenerationResult;
import org.jalign.generate.Generator;
import org.jalign.model.Gpt;
import org.jalign.text.Tokenizer;
import org.jalign.train.AlignFixtures;
import org.jalign.train.ppo.RewardFunction;
import org.jalign.train.sft.SftConfig;
import org.jalign.train.sft.SftTrainer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Best-of-n selection against a plain re-computation, the fine-tuning it drives, and the refusals. */
class RejectionSamplingTrainerTest {
  @AfterAll
  static void noLeaks() {
    assertEquals(AlignFixtures.backendOwnBytes(), CPU.liveBytes(), "native memory left allocated");
  }

  static final List<String> PROMPTS = List.of("ab", "hello", "x", "what is it", "zz top", "q");
  static final int MAX_NEW = 8;

  static GenerationConfig sampling(long seed) {
    int end = TOK.specialId(Tokenizer.END).orElseThrow();
    return GenerationConfig.builder().maxNewTokens(MAX_NEW).temperature(1f).seed(seed).stopTokenIds(end).build();
  }

  /** Rewards responses with many 'e' bytes and few tokens: a preference a random model rarely meets. */
  static final RewardFunction LIKES_E = (prompts, responses) -> {
    float[] out = new float[responses.size()];
    for (int i = 0; i < out.length; i++) {
      int e = 0;
      for (int t : responses.get(i)) if (t == 'e') e++;
      out[i] = e - 0.01f * responses.get(i).length;
    }
    return out;
  };

  /** Every prompt rendered as select() renders it, each repeated n times (prompt-major). */
  static List<int[]> repeatedPromptIds(int n) {
    ChatTemplate tmpl = new ChatTemplate(TOK);
    List<int[]> ids = new ArrayList<>();
    for (String p : PROMPTS) {
      int[] pid = tmpl.renderPrompt(p, TINY.contextLength() - MAX_NEW, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
      for (int j = 0; j < n; j++) ids.add(pid);
    }
    return ids;
  }

  @Test
  void picksTheHighestRewardOfEachPromptsSamples() {
    int n = 5;
    List<RejectionSamplingTrainer.Choice> got;
    try (Gpt policy = tiny(51)) {
      got = new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, n, sampling(9), new SftConfig()).select();
      // The same samples drawn directly, and the best chosen by hand.
      List<int[]> ids = repeatedPromptIds(n);
      GenerationResult r = new Generator(policy, TOK).generateIds(ids, sampling(9), null);
      List<RejectionSamplingTrainer.Choice> want = new ArrayList<>();
      for (int q = 0; q < PROMPTS.size(); q++) {
        int best = -1;
        float bestScore = 0;
        double sum = 0;
        int count = 0;
        for (int j = 0; j < n; j++) {
          GenerationResult.Sequence s = r.row(q * n + j);
          if (s.text().isBlank()) continue;
          float v = LIKES_E.score(List.of(ids.get(q * n + j)), List.of(s.generatedIds()))[0];
          sum += v;
          count++;
          if (best < 0 || v > bestScore) {
            best = q * n + j;
            bestScore = v;
          }
        }
        if (best >= 0) want.add(new RejectionSamplingTrainer.Choice(PROMPTS.get(q), r.row(best).text().strip(), bestScore,
            sum / count));
      }
      assertEquals(want.size(), got.size());
      for (int i = 0; i < want.size(); i++) {
        assertEquals(want.get(i).prompt(), got.get(i).prompt());
        assertEquals(want.get(i).response(), got.get(i).response(), "prompt " + want.get(i).prompt());
        assertEquals(want.get(i).reward(), got.get(i).reward(), 1e-6);
        assertEquals(want.get(i).meanReward(), got.get(i).meanReward(), 1e-5);
        assertTrue(got.get(i).reward() >= got.get(i).meanReward() - 1e-6, "the best is at least the mean");
      }
    }
  }

  @Test
  void fineTuningMovesThePolicyTowardsTheChosenResponses() {
    try (Gpt policy = tiny(52)) {
      float[] before = policy.paramsToArray();
      SftConfig sft = new SftConfig().batchSize(4).maxSteps(30).lr(3e-3f).seed(1).progress(false).out(null);
      RejectionSamplingTrainer t = new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 4, sampling(3), sft);
      RejectionSamplingTrainer.Result r = t.train();
      assertFalse(Arrays.equals(before, policy.paramsToArray()));
      assertEquals(PROMPTS.size() - r.chosen().size(), r.skippedPrompts());
      assertTrue(r.meanChosenReward() >= r.meanSampleReward(), r.meanChosenReward() + " vs " + r.meanSampleReward());
      double first = r.sft().history().get(0).get("loss");
      double last = r.sft().history().get(r.sft().history().size() - 1).get("loss");
      assertTrue(last < 0.7 * first, "the policy learnt its chosen responses: loss " + first + " -> " + last);
    }
  }

  @Test
  void theGreedyCandidateIsChosenUnlessASampleScoresHigher() {
    int n = 3;
    try (Gpt policy = tiny(55)) {
      ChatTemplate tmpl = new ChatTemplate(TOK);
      List<int[]> one = new ArrayList<>(), rep = new ArrayList<>();
      for (String p : PROMPTS) {
        int[] pid = tmpl.renderPrompt(p, TINY.contextLength() - MAX_NEW, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
        one.add(pid);
        for (int j = 0; j < n; j++) rep.add(pid);
      }
      Generator gen = new Generator(policy, TOK);
      GenerationResult greedy = gen.generateIds(one, sampling(12).toBuilder().temperature(0f).build(), null);
      GenerationResult samples = gen.generateIds(rep, sampling(12), null);
      // on the first half of the prompts the reward prefers the greedy response above all; elsewhere it counts
      // distinct tokens, which a sample usually has more of than a greedy (repetitive) response
      RewardFunction prefersGreedyOnFirstHalf = (prompts, responses) -> {
        float[] out = new float[responses.size()];
        for (int i = 0; i < out.length; i++) {
          int q = -1;
          for (int k = 0; k < one.size(); k++) if (Arrays.equals(one.get(k), prompts.get(i))) q = k;
          boolean isGreedy = q >= 0 && Arrays.equals(responses.get(i), greedy.row(q).generatedIds());
          out[i] = q < PROMPTS.size() / 2 && isGreedy ? 100f
              : (float) Arrays.stream(responses.get(i)).distinct().count();
        }
        return out;
      };
      List<RejectionSamplingTrainer.Choice> got = new RejectionSamplingTrainer(policy, TOK, prefersGreedyOnFirstHalf,
          PROMPTS, n, sampling(12), new SftConfig()).greedyCandidate(true).select();
      assertEquals(PROMPTS.size(), got.size(), "a non-blank greedy response leaves no prompt out");
      int fromSample = 0;
      for (int q = 0; q < PROMPTS.size(); q++) {
        float g = prefersGreedyOnFirstHalf.score(List.of(one.get(q)), List.of(greedy.row(q).generatedIds()))[0];
        float best = g;
        String bestText = greedy.row(q).text().strip();
        int bestLen = greedy.row(q).generatedIds().length;
        double sum = 0;
        int count = 0;
        for (int j = 0; j < n; j++) { // the same rule: higher reward, then shorter, then earlier (greedy first)
          GenerationResult.Sequence s = samples.row(q * n + j);
          if (s.text().isBlank()) continue;
          float v = prefersGreedyOnFirstHalf.score(List.of(one.get(q)), List.of(s.generatedIds()))[0];
          sum += v;
          count++;
          if (v > best || (v == best && s.generatedIds().length < bestLen)) {
            best = v;
            bestText = s.text().strip();
            bestLen = s.generatedIds().length;
          }
        }
        RejectionSamplingTrainer.Choice c = got.get(q);
        assertEquals(best, c.reward(), 1e-6, "prompt " + q);
        assertEquals(bestText, c.response(), "prompt " + q);
        assertTrue(c.reward() >= g, "the choice scores at least the greedy response");
        if (count > 0) assertEquals(sum / count, c.meanReward(), 1e-5, "the mean covers the samples only");
        if (q < PROMPTS.size() / 2) assertEquals(greedy.row(q).text().strip(), c.response(), "prompt " + q);
        if (!c.response().equals(greedy.row(q).text().strip())) fromSample++;
      }
      assertTrue(fromSample > 0, "where the reward prefers a sample, the sample is chosen");
    }
  }

  @Test
  void aGreedyMarginKeepsTheGreedyResponseUnlessASampleBeatsItByMore() {
    int n = 4;
    // distinct tokens: samples usually have more than a greedy (repetitive) response, by a few
    RewardFunction distinct = (prompts, responses) -> {
      float[] out = new float[responses.size()];
      for (int i = 0; i < out.length; i++) out[i] = (float) Arrays.stream(responses.get(i)).distinct().count();
      return out;
    };
    try (Gpt policy = tiny(58)) {
      List<int[]> one = repeatedPromptIds(1);
      Generator gen = new Generator(policy, TOK);
      GenerationResult greedy = gen.generateIds(one, sampling(14).toBuilder().temperature(0f).build(), null);
      GenerationResult samples = gen.generateIds(repeatedPromptIds(n), sampling(14), null);
      // the margin: half a point above the smallest lead a sample has over the greedy response of its prompt
      double smallestLead = Double.POSITIVE_INFINITY;
      for (int q = 0; q < PROMPTS.size(); q++) {
        float g = distinct.score(List.of(one.get(q)), List.of(greedy.row(q).generatedIds()))[0];
        float top = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
          if (samples.row(q * n + j).text().isBlank()) continue;
          top = Math.max(top, distinct.score(List.of(one.get(q)), List.of(samples.row(q * n + j).generatedIds()))[0]);
        }
        if (top > g) smallestLead = Math.min(smallestLead, top - g);
      }
      assertTrue(Double.isFinite(smallestLead), "some sample beats its greedy response");
      double margin = smallestLead + 0.5;
      List<RejectionSamplingTrainer.Choice> got = new RejectionSamplingTrainer(policy, TOK, distinct, PROMPTS, n,
          sampling(14), new SftConfig()).greedyCandidate(true).greedyMargin(margin).select();
      List<RejectionSamplingTrainer.Choice> noMargin = new RejectionSamplingTrainer(policy, TOK, distinct, PROMPTS, n,
          sampling(14), new SftConfig()).greedyCandidate(true).select();
      List<RejectionSamplingTrainer.Choice> huge = new RejectionSamplingTrainer(policy, TOK, distinct, PROMPTS, n,
          sampling(14), new SftConfig()).greedyCandidate(true).greedyMargin(1e6).select();
      assertEquals(PROMPTS.size(), got.size());
      int kept = 0;
      for (int q = 0; q < PROMPTS.size(); q++) {
        // by hand: the greedy response competes with its reward + margin, samples with their reward
        String greedyText = greedy.row(q).text().strip();
        float g = distinct.score(List.of(one.get(q)), List.of(greedy.row(q).generatedIds()))[0];
        double best = g + margin;
        float bestReward = g;
        String bestText = greedyText;
        int bestLen = greedy.row(q).generatedIds().length;
        for (int j = 0; j < n; j++) {
          GenerationResult.Sequence s = samples.row(q * n + j);
          if (s.text().isBlank()) continue;
          float v = distinct.score(List.of(one.get(q)), List.of(s.generatedIds()))[0];
          if (v > best || (v == best && s.generatedIds().length < bestLen)) {
            best = v;
            bestReward = v;
            bestText = s.text().strip();
            bestLen = s.generatedIds().length;
          }
        }
        assertEquals(bestText, got.get(q).response(), "prompt " + q);
        assertEquals(bestReward, got.get(q).reward(), 1e-6, "the reported reward is the reward alone");
        assertEquals(greedyText, huge.get(q).response(), "an unreachable margin keeps every greedy response");
        if (got.get(q).response().equals(greedyText) && !noMargin.get(q).response().equals(greedyText)) kept++;
      }
      assertTrue(kept > 0, "the margin kept at least one greedy response that a sample beat by less");
      refusesNegativeAndNonFinite(policy, RejectionSamplingTrainer::greedyMargin,
          "greedy margin must be finite and >= 0");
    }
  }

  @Test
  void consensusFavoursTheResponseTheSamplesRepeat() {
    int n = 6;
    float temperature = 0.7f;
    // prefers shorter responses a little: alone it picks the shortest sample, which is seldom the repeated one
    RewardFunction shortest = (prompts, responses) -> {
      float[] out = new float[responses.size()];
      for (int i = 0; i < out.length; i++) out[i] = -0.01f * responses.get(i).length;
      return out;
    };
    double weight = 10;
    try (Gpt policy = tiny(56)) {
      GenerationConfig g = sampling(21).toBuilder().temperature(temperature).build();
      List<RejectionSamplingTrainer.Choice> got = new RejectionSamplingTrainer(policy, TOK, shortest, PROMPTS, n, g,
          new SftConfig()).consensusWeight(weight).select();
      List<RejectionSamplingTrainer.Choice> rewardOnly = new RejectionSamplingTrainer(policy, TOK, shortest, PROMPTS,
          n, g, new SftConfig()).select();
      GenerationResult r = new Generator(policy, TOK).generateIds(repeatedPromptIds(n), g, null);
      assertEquals(PROMPTS.size(), got.size());
      int differs = 0;
      for (int q = 0; q < PROMPTS.size(); q++) {
        List<GenerationResult.Sequence> c = new ArrayList<>();
        for (int j = 0; j < n; j++) if (!r.row(q * n + j).text().isBlank()) c.add(r.row(q * n + j));
        // by hand: reward + weight * (others with the same words, case and punctuation aside) / (candidates - 1)
        int best = -1;
        double bestScore = 0;
        for (int i = 0; i < c.size(); i++) {
          int same = 0;
          for (int k = 0; k < c.size(); k++) if (k != i && words(c.get(k).text()).equals(words(c.get(i).text()))) same++;
          double score = -0.01f * c.get(i).generatedIds().length + weight * same / Math.max(1, c.size() - 1);
          if (best < 0 || score > bestScore) {
            best = i;
            bestScore = score;
          }
        }
        assertEquals(c.get(best).text().strip(), got.get(q).response(), "prompt " + q);
        assertEquals(-0.01f * c.get(best).generatedIds().length, got.get(q).reward(), 1e-6,
            "the reported reward is the reward alone");
        if (!got.get(q).response().equals(rewardOnly.get(q).response())) differs++;
      }
      assertTrue(differs > 0, "agreement changed at least one choice");
    }
    try (Gpt policy = tiny(57)) {
      refusesNegativeAndNonFinite(policy, RejectionSamplingTrainer::consensusWeight,
          "consensus weight must be finite and >= 0");
    }
  }

  /** {@code setting} refuses -0.5, NaN and +inf with a message containing {@code message}. */
  static void refusesNegativeAndNonFinite(Gpt policy, ObjDoubleConsumer<RejectionSamplingTrainer> setting,
      String message) {
    RejectionSamplingTrainer t = new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 2, sampling(1),
        new SftConfig());
    for (double bad : new double[] {-0.5, Double.NaN, Double.POSITIVE_INFINITY}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> setting.accept(t, bad));
      assertTrue(e.getMessage().contains(message), e.getMessage());
    }
  }

  @Test
  void responsesSayTheSameThingWhenOnlyCasePunctuationAndSpacingDiffer() {
    assertEquals(RejectionSamplingTrainer.consensusKey("Nick's home is in Hillcrest."),
        RejectionSamplingTrainer.consensusKey("  nicks HOME is\tin   hillcrest"));
    assertFalse(RejectionSamplingTrainer.consensusKey("Nick's home is in Hillcrest.")
        .equals(RejectionSamplingTrainer.consensusKey("Nick's home is in Oakdale.")));
    assertEquals("i dont know", RejectionSamplingTrainer.consensusKey("I don't know!"));
  }

  /** An independent statement of the consensus key: lower-case words of letters and digits. */
  private static List<String> words(String text) {
    List<String> w = new ArrayList<>();
    for (String x : text.toLowerCase(Locale.ROOT).split("\\s+")) {
      StringBuilder b = new StringBuilder();
      x.codePoints().filter(Character::isLetterOrDigit).forEach(b::appendCodePoint);
      if (b.length() > 0) w.add(b.toString());
    }
    return w;
  }

  @Test
  void aSecondIterationSamplesFromTheFineTunedPolicy() {
    try (Gpt policy = tiny(54)) {
      SftConfig sft = new SftConfig().batchSize(4).maxSteps(30).lr(3e-3f).seed(1).progress(false).out(null);
      RejectionSamplingTrainer first = new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 4, sampling(5), sft);
      RejectionSamplingTrainer.Result one = first.train();
      RejectionSamplingTrainer.Result two = new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 4, sampling(6),
          sft).train();
      assertTrue(two.meanSampleReward() > one.meanSampleReward(), "the fine-tuned policy's samples score higher: "
          + one.meanSampleReward() + " -> " + two.meanSampleReward());
      // fineTune alone trains on whatever choices it is given
      float[] before = policy.paramsToArray();
      first.fineTune(one.chosen());
      assertFalse(Arrays.equals(before, policy.paramsToArray()));
      IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> first.fineTune(List.of()));
      assertTrue(none.getMessage().contains("no choices"), none.getMessage());
    }
  }

  @Test
  void pretrainingTextReachesTheFineTuningStep() {
    try (Gpt policy = tiny(55)) {
      SftConfig sft = new SftConfig().batchSize(4).maxSteps(5).lr(3e-3f).seed(1).out(null).ptxCoef(0.5f)
          .ptxBatchSize(2).ptxSeqLen(16);
      RejectionSamplingTrainer t = new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 2, sampling(3), sft);
      List<RejectionSamplingTrainer.Choice> chosen = t.select();
      IllegalStateException none = assertThrows(IllegalStateException.class, () -> t.fineTune(chosen));
      assertTrue(none.getMessage().contains("no pretraining data was given"), none.getMessage());
      IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class, () -> new RejectionSamplingTrainer(
          policy, TOK, LIKES_E, PROMPTS, 2, sampling(3), new SftConfig().ptxSeqLen(TINY.contextLength() + 1))
          .pretrainData(AlignFixtures.SENTENCES));
      assertTrue(tooLong.getMessage().contains("context length"), tooLong.getMessage());
      var h = t.pretrainData(AlignFixtures.SENTENCES).fineTune(chosen).history();
      assertEquals(5, h.size());
      for (var m : h) assertTrue(Double.isFinite(m.get("ptx_loss")), m.toString());
    }
  }

  /** Mean response-token loss of the policy on demonstrations. */
  static double demoLoss(Gpt policy, List<SftExample> demos) {
    SftTrainer probe = new SftTrainer(policy, TOK, new SftConfig().out(null), demos, List.of());
    return probe.meanLoss(probe.renderedTrain());
  }

  @Test
  void demonstrationsAreFineTunedOnBesideTheChoices() {
    List<SftExample> demos = List.of(SftExample.of("ab", "QQQ."), SftExample.of("hello", "QQQ."),
        SftExample.of("zz top", "QQQ."));
    try (Gpt plain = tiny(56); Gpt withDemos = tiny(56)) {
      // one epoch, one example per step: the step count is the number of examples trained on
      SftConfig oneEpoch = new SftConfig().batchSize(1).epochs(1).maxSteps(0).warmupSteps(0).lr(3e-3f).seed(1)
          .out(null);
      RejectionSamplingTrainer a = new RejectionSamplingTrainer(plain, TOK, LIKES_E, PROMPTS, 2, sampling(4),
          oneEpoch);
      RejectionSamplingTrainer b = new RejectionSamplingTrainer(withDemos, TOK, LIKES_E, PROMPTS, 2, sampling(4),
          oneEpoch).demonstrations(demos);
      List<RejectionSamplingTrainer.Choice> chosen = a.select();
      assertEquals(chosen.size(), a.fineTune(chosen).history().size());
      assertEquals(chosen.size() + demos.size(), b.fineTune(chosen).history().size());

      // trained longer, the policy learns the demonstrations' response, which no reward asked for
      SftConfig longer = new SftConfig().batchSize(4).maxSteps(40).lr(3e-3f).seed(1).out(null);
      double before = demoLoss(withDemos, demos);
      new RejectionSamplingTrainer(plain, TOK, LIKES_E, PROMPTS, 2, sampling(4), longer).fineTune(chosen);
      new RejectionSamplingTrainer(withDemos, TOK, LIKES_E, PROMPTS, 2, sampling(4), longer).demonstrations(demos)
          .fineTune(chosen);
      double without = demoLoss(plain, demos), with = demoLoss(withDemos, demos);
      assertTrue(with < 0.5 * without && with < 0.5 * before,
          "demonstration loss " + before + " -> " + with + " with them, " + without + " without");

      assertThrows(NullPointerException.class, () -> b.demonstrations(null));
      List<SftExample> holey = new ArrayList<>(demos);
      holey.add(null);
      NullPointerException hole = assertThrows(NullPointerException.class, () -> b.demonstrations(holey));
      assertTrue(hole.getMessage().contains("demonstration 3"), hole.getMessage());
    }
  }

  @Test
  void badSettingsAreRefusedWithAReason() {
    try (Gpt policy = tiny(53)) {
      SftConfig sft = new SftConfig();
      IllegalArgumentException one = assertThrows(IllegalArgumentException.class,
          () -> new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 1, sampling(1), sft));
      assertTrue(one.getMessage().contains("samples must be >= 2"), one.getMessage());
      IllegalArgumentException greedy = assertThrows(IllegalArgumentException.class,
          () -> new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 4, GenerationConfig.greedy(4), sft));
      assertTrue(greedy.getMessage().contains("temperature"), greedy.getMessage());
      IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
          () -> new RejectionSamplingTrainer(policy, TOK, LIKES_E, List.of("ok", " "), 4, sampling(1), sft));
      assertTrue(blank.getMessage().contains("prompt 1 is blank"), blank.getMessage());
      assertThrows(IllegalArgumentException.class,
          () -> new RejectionSamplingTrainer(policy, TOK, LIKES_E, List.of(), 4, sampling(1), sft));
      IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
          () -> new RejectionSamplingTrainer(policy, TOK, LIKES_E, PROMPTS, 4,
              sampling(1).toBuilder().maxNewTokens(TINY.contextLength()).build(), sft));
      assertTrue(tooLong.getMessage().contains("maxNewTokens"), tooLong.getMessage());
      RewardFunction nan = (p, r) -> {
        float[] out = new float[r.size()];
        Arrays.fill(out, Float.NaN);
        return out;
      };
      IllegalStateException bad = assertThrows(IllegalStateException.class,
          () -> new RejectionSamplingTrainer(policy, TOK, nan, PROMPTS, 2, sampling(1), sft).select());
      assertTrue(bad.getMessage().contains("NaN"), bad.getMessage());
    }
  }
}
