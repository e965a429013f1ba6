package org.jalign.train.sft;

import java.util.List;
import java.util.Map;

/**
 * The outcome of {@link SftTrainer#train()}: eval loss (mean cross-entropy per response token) before the first
 * and after the last step (NaN without eval examples), training throughput in response-and-prompt tokens per
 * second, and per-step history with keys "step", "loss", "lr", "gradNorm", "tokens" (trained target tokens)
 * and, on evaluation steps, "evalLoss"; with SFT-ptx also "ptx_loss" (the pretraining-text loss).
 */
public record SftResult(double evalLossStart, double evalLossEnd, double tokensPerSecond,
    List<Map<String, Double>> history) {
  public SftResult {
    history = List.copyOf(history);
  }
}
