package org.jalign.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PairwiseExample;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.model.Gpt;
import org.jalign.train.StageData;
import org.jalign.train.dpo.DpoConfig;
import org.jalign.train.dpo.DpoResult;
import org.jalign.train.dpo.DpoTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign dpo}: direct preference optimisation on preference pairs. */
@Command(name = "dpo", mixinStandardHelpOptions = true,
    description = "Direct preference optimisation: trains a checkpoint on JSONL preference pairs "
        + "({\"prompt\",\"chosen\",\"rejected\"}) against a frozen reference and writes the result.")
final class DpoCommand implements Callable<Integer> {
  @Mixin DeviceOption device;

  @Option(names = "--model", required = true, paramLabel = "CKPT", description = "Checkpoint to start from (usually the SFT model).")
  Path model;

  @Option(names = "--reference", paramLabel = "CKPT", description = "Frozen reference checkpoint (default: a copy of --model).")
  Path reference;

  @Option(names = "--train", required = true, paramLabel = "JSONL", description = "Training preference pairs.")
  Path train;

  @Option(names = "--eval", paramLabel = "JSONL", description = "Evaluation preference pairs (optional).")
  Path eval;

  @Option(names = "--out", required = true, paramLabel = "CKPT", description = "Where to write the trained checkpoint.")
  Path out;

  @Option(names = "--beta", paramLabel = "BETA", description = "DPO beta, the strength of the implicit KL constraint (default: ${DEFAULT-VALUE}).")
  double beta = 0.1;

  @Option(names = "--label-smoothing", paramLabel = "EPS", description = "Assumed label-flip probability in [0, 0.5) (default: ${DEFAULT-VALUE}).")
  double labelSmoothing = 0.0;

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
      try (Gpt policy = m.model(); Gpt ref = reference == null ? copy(policy) : ModelFiles.load(reference, backend).model()) {
        DpoConfig cfg = options.apply(new DpoConfig()).beta(beta).labelSmoothing(labelSmoothing);
        ChatTemplate tmpl = new ChatTemplate(m.tokenizer());
        int maxLen = cfg.effectiveMaxLength(policy.config().contextLength());
        List<PairwiseExample> tr = StageData.readPairs(train, tmpl, maxLen, cfg.truncation());
        List<PairwiseExample> ev = eval == null ? List.of() : StageData.readPairs(eval, tmpl, maxLen, cfg.truncation());
        DpoResult r = new DpoTrainer(policy, ref, m.tokenizer(), cfg, tr, ev).train();
        ModelFiles.save(out, policy, m.tokenizer(), "dpo");
        System.out.printf(java.util.Locale.ROOT, "wrote %s (reward accuracy %.3f, margin %.4f)%n", out,
            r.rewardAccuracy(), r.meanMargin());
      }
    }
    return 0;
  }

  private static Gpt copy(Gpt g) {
    Gpt c = new Gpt(g.config(), g.backend(), 0);
    c.copyParamsFrom(g);
    return c;
  }
}
