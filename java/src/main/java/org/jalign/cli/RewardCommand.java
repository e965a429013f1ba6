package org.jalign.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.train.StageData;
import org.jalign.train.StageSupport;
import org.jalign.train.reward.RankedGroup;
import org.jalign.train.reward.RewardConfig;
import org.jalign.train.reward.RewardModel;
import org.jalign.train.reward.RewardResult;
import org.jalign.train.reward.RewardTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign reward}: trains a reward model on rankings and preference pairs. */
@Command(name = "reward", mixinStandardHelpOptions = true,
    description = "Reward modelling: builds a reward model (the model's trunk plus a scalar head on the last "
        + "token) from a checkpoint, trains it on JSONL rankings ({\"prompt\",\"responses\",\"ranking\"}) and/or "
        + "pairs ({\"prompt\",\"chosen\",\"rejected\",\"margin\"?}), and writes it with its normalisation statistics. "
        + "--likelihood-gate adds a learnt, gated reference log-probability term (see RewardModel).")
final class RewardCommand implements Callable<Integer> {
  @Mixin DeviceOption device;

  @Option(names = "--model", required = true, paramLabel = "CKPT", description = "Checkpoint whose trunk initialises the reward model (usually the SFT model).")
  Path model;

  @Option(names = "--train", required = true, paramLabel = "JSONL", description = "Training rankings and/or pairs.")
  Path train;

  @Option(names = "--heldout", paramLabel = "JSONL", description = "Held-out rankings and/or pairs for the pair accuracy (optional).")
  Path heldout;

  @Option(names = "--out", required = true, paramLabel = "CKPT", description = "Where to write the reward model.")
  Path out;

  @Option(names = "--head-seed", paramLabel = "SEED", description = "Seed of the scalar head's initialisation (default: ${DEFAULT-VALUE}).")
  long headSeed = 7;

  @Option(names = "--likelihood-gate", description = "Add a likelihood gate: a frozen copy of --model scores each "
      + "response token and a learnt gate weighs those log-probabilities into the reward, so the reward model can "
      + "check stated facts against what the model learnt in pretraining. The written checkpoint then also holds "
      + "that copy (twice the size).")
  boolean likelihoodGate;

  @Mixin StageOptions options;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    try (OutputFiles.Grant g = overwrite.guard(Checkpoint.KIND, out)) {
      return execute();
    }
  }

  private Integer execute() throws Exception {
    try (Backend backend = device.open()) {
      ModelFiles.Loaded m = ModelFiles.load(model, backend);
      RewardModel rm;
      try (var sft = m.model()) {
        rm = RewardModel.fromPolicy(sft, headSeed, likelihoodGate);
      }
      try (rm) {
        RewardConfig cfg = options.apply(new RewardConfig());
        ChatTemplate tmpl = new ChatTemplate(m.tokenizer());
        int maxLen = cfg.effectiveMaxLength(rm.trunk().config().contextLength());
        List<RankedGroup> tr = StageData.readGroups(train, tmpl, maxLen, cfg.truncation());
        List<RankedGroup> ho = heldout == null ? List.of() : StageData.readGroups(heldout, tmpl, maxLen, cfg.truncation());
        RewardResult r = RewardTrainer.ofGroups(rm, m.tokenizer(), cfg, tr, ho).train();
        rm.save(out, m.tokenizer());
        System.out.println("wrote " + out + " (" + (ho.isEmpty()
            ? StageSupport.trainingLoss(r.history()) + "; no --heldout file, so no held-out pair accuracy"
            : String.format(java.util.Locale.ROOT, "held-out pair accuracy %.3f, mean margin %.4f",
                r.heldoutPairAccuracy(), r.meanMargin())) + ")");
      }
    }
    return 0;
  }
}
