package org.jalign.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.SftExample;
import org.jalign.data.TokenSource;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.train.StageData;
import org.jalign.train.StageSupport;
import org.jalign.train.sft.SftConfig;
import org.jalign.train.sft.SftResult;
import org.jalign.train.sft.SftTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign sft}: supervised fine-tuning on chat examples. */
@Command(name = "sft", mixinStandardHelpOptions = true,
    description = "Supervised fine-tuning: trains a model checkpoint on JSONL chat examples "
        + "({\"prompt\",\"completion\"} or {\"messages\":[...]}) with the loss on assistant tokens only, "
        + "and writes the fine-tuned checkpoint.")
final class SftCommand implements Callable<Integer> {
  @Mixin DeviceOption device;

  @Option(names = "--model", required = true, paramLabel = "CKPT", description = "Checkpoint to start from (with its tokenizer).")
  Path model;

  @Option(names = "--train", required = true, paramLabel = "JSONL", description = "Training examples, one JSON object per line.")
  Path train;

  @Option(names = "--eval", paramLabel = "JSONL", description = "Evaluation examples for the eval loss (optional).")
  Path eval;

  @Option(names = "--out", required = true, paramLabel = "CKPT", description = "Where to write the fine-tuned checkpoint.")
  Path out;

  @Option(names = "--last-turn-only", description = "Train only on the final assistant message of multi-turn chats (default: every assistant turn).")
  boolean lastTurnOnly;

  @Mixin StageOptions options;

  @Mixin PtxOptions ptx;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    try (OutputFiles.Grant g = overwrite.guard(Checkpoint.KIND, out)) {
      return execute();
    }
  }

  private Integer execute() throws Exception {
    List<String> ptxDocs = ptx.documents();
    try (Backend backend = device.open()) {
      ModelFiles.Loaded m = ModelFiles.load(model, backend);
      try (var policy = m.model()) {
        SftConfig cfg = options.apply(new SftConfig()).allAssistantTurns(!lastTurnOnly).ptxCoef(ptx.coef())
            .ptxBatchSize(ptx.ptxBatchSize).ptxSeqLen(ptx.ptxSeqLen);
        ChatTemplate tmpl = new ChatTemplate(m.tokenizer(), !lastTurnOnly);
        int maxLen = cfg.effectiveMaxLength(policy.config().contextLength());
        List<SftExample> tr = StageData.readSft(train, tmpl, maxLen, cfg.truncation());
        List<SftExample> ev = eval == null ? List.of() : StageData.readSft(eval, tmpl, maxLen, cfg.truncation());
        SftTrainer trainer = new SftTrainer(policy, m.tokenizer(), cfg, tr, ev);
        TokenSource text = ptx.tokens(ptxDocs, m.tokenizer());
        if (text != null) trainer.pretrainData(text);
        SftResult r = trainer.train();
        ModelFiles.save(out, policy, m.tokenizer(), "sft");
        System.out.println("wrote " + out + " (" + (ev.isEmpty()
            ? StageSupport.trainingLoss(r.history()) + "; no --eval file, so no eval loss"
            : String.format(java.util.Locale.ROOT, "eval loss %.4f -> %.4f", r.evalLossStart(), r.evalLossEnd()))
            + ")");
      }
    }
    return 0;
  }
}
