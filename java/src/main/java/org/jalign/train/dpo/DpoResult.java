package org.jalign.train.dpo;

import java.util.List;
import java.util.Map;

/**
 * The outcome of {@link DpoTrainer#train()}, measured on the eval pairs (the training pairs when no eval pairs
 * are given) after the last step: the fraction of pairs whose implicit reward β·log(π/π_ref) is higher for the
 * chosen response, the mean implicit-reward margin β·[(log π − log π_ref)(chosen) − (log π − log π_ref)(rejected)]
 * and the same margin and mean DPO loss before the first step. History keys: "step", "loss", "accuracy",
 * "margin", "rewardChosen", "rewardRejected", "lr", "gradNorm" and, on evaluation steps, "evalAccuracy",
 * "evalMargin", "evalLoss".
 */
public record DpoResult(double rewardAccuracy, double meanMargin, double marginStart, double evalLossStart,
    double evalLossEnd, List<Map<String, Double>> history) {
  public DpoResult {
    history = List.copyOf(history);
  }
}
