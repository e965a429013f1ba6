package org.jalign.cli;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.data.PairwiseExample;
import org.jalign.feedback.FeedbackRefresh;
import org.jalign.feedback.PreferenceLog;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.train.ppo.PpoConfig;
import org.jalign.train.reward.RewardConfig;
import org.jalign.train.reward.RewardModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign feedback}: the after-deployment loop. */
@Command(name = "feedback", mixinStandardHelpOptions = true,
    description = "The after-deployment loop: 'jalign chat --compare' records preferences; 'jalign feedback "
        + "refresh' folds them into the reward model and the policy.",
    subcommands = {FeedbackCommand.Refresh.class, FeedbackCommand.Stats.class})
final class FeedbackCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    picocli.CommandLine.usage(this, System.out);
    return 0;
  }

  @Command(name = "stats", mixinStandardHelpOptions = true,
      description = "Count the comparisons and choices in a preference log (checks its integrity).")
  static final class Stats implements Callable<Integer> {
    @Option(names = "--log", required = true, description = "The preference log.")
    Path log;

    @Override
    public Integer call() throws Exception {
      if (!Files.isRegularFile(log)) throw new NoSuchFileException(log.toString(), null, "no such preference log");
      PreferenceLog l = new PreferenceLog(log);
      PreferenceLog.Contents c = l.read();
      var prefs = PreferenceLog.preferences(c.entries());
      long a = prefs.stream().filter(p -> p.choice() == org.jalign.feedback.Choice.A).count();
      long b = prefs.stream().filter(p -> p.choice() == org.jalign.feedback.Choice.B).count();
      System.out.printf("%s: %d records, %d comparisons with a choice (A %d, B %d, tie/neither %d)%n", log,
          c.entries().size(), prefs.size(), a, b, prefs.size() - a - b);
      if (c.tornTailBytes() > 0) {
        System.out.printf("%s: a torn tail of %d bytes follows the last record (a crashed append); the next "
            + "append drops it%n", log, c.tornTailBytes());
      }
      return 0;
    }
  }

  @Command(name = "refresh", mixinStandardHelpOptions = true,
      description = {"Fold the logged A/B preferences into the reward model (new pairs plus replayed earlier "
          + "data), then run a PPO round of the policy against it; reports the reward model's accuracy on the "
          + "new preferences before and after.",
          "Writes <out>/reward.ckpt and <out>/policy.ckpt; the inputs are never overwritten."})
  static final class Refresh implements Callable<Integer> {
    @Option(names = "--policy", required = true, description = "Policy checkpoint (e.g. runs/<name>/ppo.ckpt).")
    Path policy;

    @Option(names = "--reference", description = "Frozen reference for the KL penalty (default: the policy "
        + "checkpoint as it is now).")
    Path reference;

    @Option(names = "--reward", required = true, description = "Reward-model checkpoint (runs/<name>/reward.ckpt).")
    Path reward;

    @Option(names = "--log", required = true, description = "Preference log written by 'jalign chat --compare'.")
    Path log;

    @Option(names = "--replay", description = "JSONL of earlier pairwise data {prompt, chosen, rejected} to replay.")
    Path replay;

    @Option(names = "--out", required = true, description = "Output directory for the updated checkpoints.")
    Path out;

    @Option(names = "--reward-steps", description = "Reward-model steps (default: ${DEFAULT-VALUE}).",
        defaultValue = "50")
    int rewardSteps;

    @Option(names = "--reward-lr", description = "Reward-model learning rate (default: ${DEFAULT-VALUE}).",
        defaultValue = "1e-4")
    float rewardLr;

    @Option(names = "--ppo-steps", description = "PPO rounds (default: ${DEFAULT-VALUE}).", defaultValue = "8")
    int ppoSteps;

    @Option(names = "--ppo-batch", description = "Prompts per PPO round (default: ${DEFAULT-VALUE}).",
        defaultValue = "8")
    int ppoBatch;

    @Option(names = "--ppo-lr", description = "PPO learning rate (default: ${DEFAULT-VALUE}).", defaultValue = "5e-5")
    float ppoLr;

    @Option(names = "--kl-coef", description = "KL penalty coefficient (default: ${DEFAULT-VALUE}).",
        defaultValue = "0.2")
    double klCoef;

    @Option(names = "--max-new-tokens", description = "Rollout length (default: ${DEFAULT-VALUE}).",
        defaultValue = "40")
    int maxNewTokens;

    @Option(names = "--seed", description = "Seed (default: ${DEFAULT-VALUE}).", defaultValue = "1")
    long seed;

    @Mixin DeviceOption device;

    @Mixin OverwriteOption overwrite;

    @Override
    public Integer call() throws Exception {
      Path rewardOut = out.resolve("reward.ckpt"), policyOut = out.resolve("policy.ckpt");
      try (OutputFiles.Grant g = overwrite.guard(Checkpoint.KIND, rewardOut, policyOut);
          Backend b = device.open();
          ModelFiles.Loaded pol = ModelFiles.load(policy, b);
          ModelFiles.Loaded ref = ModelFiles.load(reference == null ? policy : reference, b);
          RewardModel rm = RewardModel.load(reward, b)) {
        List<PairwiseExample> rep = replay == null ? List.of() : PairwiseExample.readJsonl(replay);
        RewardConfig rc = new RewardConfig().maxSteps(rewardSteps).epochs(1000).lr(rewardLr).batchSize(8).seed(seed);
        PpoConfig pc = PpoConfig.builder().steps(ppoSteps).batchSize(ppoBatch).lr(ppoLr).klCoef(klCoef)
            .responseLength(maxNewTokens).seed(seed).build();
        FeedbackRefresh.Result r = FeedbackRefresh.refresh(pol.model(), ref.model(), rm, pol.tokenizer(),
            new PreferenceLog(log), rep, List.of(), rc, pc);
        rm.save(rewardOut, pol.tokenizer());
        ModelFiles.save(policyOut, pol.model(), pol.tokenizer(), "feedback-refresh");
        System.out.printf("refresh: %d new preference pairs (%d skipped); reward-model accuracy on them %.3f -> %.3f; "
            + "PPO reward %.3f -> %.3f, KL to reference %.4f; wrote %s and %s%n", r.newPairs(), r.skipped(),
            r.accuracyBefore(), r.accuracyAfter(), r.ppo().rewardStart(), r.ppo().rewardEnd(), r.ppo().klToRefEnd(),
            rewardOut, policyOut);
        return 0;
      }
    }
  }
}
