package org.jalign.train.reward;

import java.util.List;
import java.util.Map;

/**
 * The outcome of {@link RewardTrainer#train()}: on the held-out groups after the last step, the fraction of
 * (better, worse) pairs the model orders correctly and the mean raw reward gap r_better − r_worse (NaN without
 * held-out data); the normalisation statistics it stored; per-step history with keys "step", "loss",
 * "accuracy" (training pairs), "lr", "gradNorm" and, on evaluation steps, "heldoutAccuracy", "meanMargin".
 */
public record RewardResult(double heldoutPairAccuracy, double meanMargin, double rewardMean, double rewardStd,
    List<Map<String, Double>> history) {
  public RewardResult {
    history = List.copyOf(history);
  }
}
