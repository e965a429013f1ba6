package org.jalign.cli;

import org.jalign.data.ChatTemplate;
import org.jalign.train.StageConfig;
import picocli.CommandLine.Option;

/** Options shared by {@code sft}, {@code reward} and {@code dpo}. */
final class StageOptions {
  @Option(names = "--batch-size", paramLabel = "N", description = "Examples (pairs, groups) per optimizer step (default: ${DEFAULT-VALUE}).")
  int batchSize = 8;

  @Option(names = "--epochs", paramLabel = "N", description = "Passes over the training file when --max-steps is 0 (default: ${DEFAULT-VALUE}).")
  int epochs = 1;

  @Option(names = "--max-steps", paramLabel = "N", description = "Optimizer steps; overrides --epochs when > 0 (default: ${DEFAULT-VALUE}).")
  int maxSteps = 0;

  @Option(names = "--lr", paramLabel = "RATE", description = "Peak AdamW learning rate (default: the stage's own: sft 1e-4, reward 1e-4, dpo 5e-5).")
  Float lr;

  @Option(names = "--warmup-steps", paramLabel = "N", description = "Linear learning-rate warm-up steps (default: ${DEFAULT-VALUE}).")
  int warmupSteps = 0;

  @Option(names = "--min-lr-fraction", paramLabel = "F", description = "Cosine decay to lr*F after warm-up; 1 keeps the rate constant (default: ${DEFAULT-VALUE}).")
  double minLrFraction = 1.0;

  @Option(names = "--weight-decay", paramLabel = "WD", description = "AdamW weight decay on matrices and embeddings (default: ${DEFAULT-VALUE}).")
  float weightDecay = 0f;

  @Option(names = "--grad-clip", paramLabel = "NORM", description = "Max global gradient norm, 0 = off (default: ${DEFAULT-VALUE}).")
  double gradClip = 1.0;

  @Option(names = "--max-length", paramLabel = "T", description = "Tokens per rendered example, 0 = the model's context length (default: ${DEFAULT-VALUE}).")
  int maxLength = 0;

  @Option(names = "--truncation", paramLabel = "POLICY", description = "Responses that do not fit: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}). A prompt that leaves no room for a response is always an error.")
  ChatTemplate.Truncation truncation = ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD;

  @Option(names = "--seed", paramLabel = "SEED", description = "Shuffling seed (default: ${DEFAULT-VALUE}).")
  long seed = 42;

  @Option(names = "--eval-every", paramLabel = "N", description = "Evaluate every N steps, 0 = only at the start and end (default: ${DEFAULT-VALUE}).")
  int evalEvery = 0;

  @Option(names = "--progress", description = "Show the one-line progress display even when no console is attached.")
  boolean progress;

  <S extends StageConfig<S>> S apply(S cfg) {
    cfg.batchSize(batchSize).epochs(epochs).maxSteps(maxSteps).warmupSteps(warmupSteps).minLrFraction(minLrFraction)
        .weightDecay(weightDecay).gradClip(gradClip).maxLength(maxLength).truncation(truncation).seed(seed)
        .evalEvery(evalEvery).progress(progress);
    if (lr != null) cfg.lr(lr);
    return cfg;
  }
}
