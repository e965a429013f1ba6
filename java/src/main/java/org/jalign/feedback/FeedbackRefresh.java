package org.jalign.feedback;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PairwiseExample;
import org.jalign.model.Gpt;
import org.jalign.text.Tokenizer;
import org.jalign.train.ppo.PpoConfig;
import org.jalign.train.ppo.PpoResult;
import org.jalign.train.ppo.PpoTrainer;
import org.jalign.train.reward.RankedGroup;
import org.jalign.train.reward.RewardConfig;
import org.jalign.train.reward.RewardModel;
import org.jalign.train.reward.RewardTrainer;

/**
 * Folds logged user preferences back into the reward model and the policy ({@code jalign feedback refresh}).
 *
 * <ol>
 *   <li>Every comparison with an A or B choice becomes a pairwise example (chosen, rejected); ties and
 *       "neither" carry no ordering and are skipped.</li>
 *   <li>The reward model continues training on the new pairs with the earlier data replayed (so it does not
 *       forget), and its pair accuracy on the new preferences is measured before and after.</li>
 *   <li>A PPO round optimises the policy against the updated reward model on the logged prompts (plus any
 *       extra prompts), with the frozen reference model's KL penalty.</li>
 * </ol>
 */
public final class FeedbackRefresh {
  private FeedbackRefresh() {}

  /** What a refresh did. */
  public record Result(int newPairs, int skipped, double accuracyBefore, double accuracyAfter, PpoResult ppo) {}

  /** The logged A/B choices as pairwise examples (ties and "neither" skipped). */
  public static List<PairwiseExample> pairs(List<PreferenceLog.Preference> prefs) {
    List<PairwiseExample> out = new ArrayList<>();
    for (PreferenceLog.Preference p : prefs) {
      Comparison c = p.comparison();
      if (c.responseA().isBlank() || c.responseB().isBlank() || c.responseA().equals(c.responseB())) continue;
      if (p.choice() == Choice.A) out.add(new PairwiseExample(c.prompt(), c.responseA(), c.responseB()));
      else if (p.choice() == Choice.B) out.add(new PairwiseExample(c.prompt(), c.responseB(), c.responseA()));
    }
    return out;
  }

  /**
   * Runs a refresh. {@code replay} (may be empty) is earlier reward-model data mixed into the update;
   * {@code extraPrompts} (may be empty) join the logged prompts for the PPO round. The policy and the reward
   * model are updated in place; the reference is only read.
   */
  public static Result refresh(Gpt policy, Gpt reference, RewardModel rm, Tokenizer tok, PreferenceLog log,
      List<PairwiseExample> replay, List<String> extraPrompts, RewardConfig rewardConfig, PpoConfig ppoConfig)
      throws IOException {
    Objects.requireNonNull(rewardConfig, "rewardConfig");
    Objects.requireNonNull(ppoConfig, "ppoConfig");
    List<PreferenceLog.Preference> prefs = log.preferences();
    List<PairwiseExample> fresh = pairs(prefs);
    if (fresh.isEmpty()) {
      throw new IllegalStateException("the preference log " + log.path() + " holds no A/B choices to learn from ("
          + prefs.size() + " recorded comparisons, all ties, 'neither' or skipped)");
    }
    List<RankedGroup> freshGroups = fresh.stream().map(RankedGroup::of).toList();
    List<PairwiseExample> train = new ArrayList<>(fresh);
    if (replay != null) train.addAll(replay);
    RewardTrainer trainer = RewardTrainer.ofPairs(rm, tok, rewardConfig, train, fresh);
    double before = trainer.evaluate(freshGroups)[1];
    trainer.train();
    double after = trainer.evaluate(freshGroups)[1];

    LinkedHashSet<String> prompts = new LinkedHashSet<>();
    for (PreferenceLog.Preference p : prefs) prompts.add(p.comparison().prompt());
    if (extraPrompts != null) prompts.addAll(extraPrompts);
    ChatTemplate template = new ChatTemplate(tok);
    int maxPrompt = policy.config().contextLength() - ppoConfig.responseLength();
    PpoResult ppo;
    List<int[]> promptIds = new ArrayList<>();
    for (String p : prompts) {
      promptIds.add(template.renderPrompt(p, maxPrompt, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD));
    }
    try (PpoTrainer ppoTrainer = PpoTrainer.fromPromptIds(policy, reference, rm, tok, ppoConfig, promptIds,
        rm.trunk())) {
      ppo = ppoTrainer.train();
    }
    return new Result(fresh.size(), prefs.size() - fresh.size(), before, after, ppo);
  }
}
