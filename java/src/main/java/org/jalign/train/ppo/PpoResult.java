package org.jalign.train.ppo;

import java.util.List;
import java.util.Map;

/**
 * Outcome of {@link PpoTrainer#train()}.
 *
 * @param rewardStart mean raw reward (after clipping and the missing-EOS penalty) of the first step of this run
 * @param rewardEnd mean raw reward of the last step of this run
 * @param klToRefEnd mean per-sequence KL to the reference (sum over response tokens of logp - ref_logp) of the
 *     last step
 * @param history one map per step, keys listed in {@link PpoTrainer}
 */
public record PpoResult(double rewardStart, double rewardEnd, double klToRefEnd, List<Map<String, Double>> history) {
  public PpoResult {
    history = List.copyOf(history);
  }
}
