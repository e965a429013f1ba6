package org.jalign.feedback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.jalign.backend.CpuBackend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.text.ByteTokenizer;
import org.jalign.text.Tokenizer;
import org.jalign.train.ppo.PpoConfig;
import org.jalign.train.reward.RewardConfig;
import org.jalign.train.reward.RewardModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The after-deployment loop on a tiny model: compare, record, refresh. */
class FeedbackRefreshTest {
  @TempDir Path dir;

  @Test
  void compareRecordAndRefreshTeachTheRewardModelTheLoggedPreference() throws Exception {
    Tokenizer tok = new ByteTokenizer(Tokenizer.STANDARD_SPECIALS);
    GptConfig cfg = new GptConfig(2, 2, 32, 64, tok.vocabSize());
    try (CpuBackend b = new CpuBackend();
        Gpt policy = new Gpt(cfg, b, 1);
        Gpt reference = new Gpt(cfg, b, 1);
        RewardModel rm = RewardModel.fromPolicy(policy, 2)) {
      PreferenceLog log = new PreferenceLog(dir.resolve("prefs.log"));
      FeedbackSession s = new FeedbackSession(policy, tok, log, "v0",
          FeedbackSession.defaultGeneration(tok).toBuilder().maxNewTokens(8).build(), () -> 0L);
      Comparison shown = s.compare("hi");
      assertEquals(1, log.readAll().size(), "the comparison is logged when shown");
      s.record(shown.id(), Choice.TIE);
      assertThrows(IllegalArgumentException.class, () -> s.record("no-such-id", Choice.A));
      // A user who always prefers the answer with "yes" in it.
      for (int i = 0; i < 24; i++) {
        boolean yesFirst = i % 2 == 0;
        String a = yesFirst ? "yes, item " + i : "no, item " + i;
        String bb = yesFirst ? "no, item " + i : "yes, item " + i;
        Comparison c = new Comparison("c" + i, "question " + (i % 5), a, bb, null, null, null, null, "v0", i);
        log.appendComparison(c);
        log.appendChoice(c.id(), yesFirst ? Choice.A : Choice.B, i);
      }
      RewardConfig rc = new RewardConfig().maxSteps(60).epochs(1000).lr(3e-3f).batchSize(8).seed(3);
      PpoConfig pc = PpoConfig.builder().steps(2).batchSize(4).responseLength(8).seed(3).build();
      FeedbackRefresh.Result r =
          FeedbackRefresh.refresh(policy, reference, rm, tok, log, List.of(), List.of(), rc, pc);
      assertEquals(24, r.newPairs());
      assertEquals(1, r.skipped(), "the tie carries no ordering");
      assertTrue(r.accuracyAfter() >= 0.9, "reward model learned the logged preference: " + r);
      assertTrue(r.accuracyAfter() >= r.accuracyBefore(), r.toString());
      assertTrue(Double.isFinite(r.ppo().rewardEnd()) && Double.isFinite(r.ppo().klToRefEnd()), r.toString());
    }
  }

  @Test
  void refreshWithoutChoicesIsAClearError() throws Exception {
    Tokenizer tok = new ByteTokenizer(Tokenizer.STANDARD_SPECIALS);
    GptConfig cfg = new GptConfig(1, 2, 16, 32, tok.vocabSize());
    try (CpuBackend b = new CpuBackend();
        Gpt policy = new Gpt(cfg, b, 1);
        Gpt reference = new Gpt(cfg, b, 1);
        RewardModel rm = RewardModel.fromPolicy(policy, 2)) {
      PreferenceLog log = new PreferenceLog(dir.resolve("empty.log"));
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> FeedbackRefresh.refresh(policy,
          reference, rm, tok, log, List.of(), List.of(), new RewardConfig(), PpoConfig.defaults()));
      assertTrue(e.getMessage().contains("no A/B choices"), e.getMessage());
    }
  }
}
