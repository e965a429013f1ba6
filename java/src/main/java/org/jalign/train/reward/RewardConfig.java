package org.jalign.train.reward;

import org.jalign.train.StageConfig;

/**
 * Settings of {@link RewardTrainer}. Setters validate and chain: {@code new RewardConfig().batchSize(8).epochs(2)}.
 *
 * <table>
 *   <caption>Defaults</caption>
 *   <tr><td>batchSize</td><td>8</td><td>ranked groups (or pairs) per optimizer step</td></tr>
 *   <tr><td>epochs / maxSteps</td><td>1 / 0</td><td>passes over the data; maxSteps &gt; 0 overrides</td></tr>
 *   <tr><td>lr</td><td>1e-4</td><td>AdamW peak learning rate for trunk and head</td></tr>
 *   <tr><td>warmupSteps / minLrFraction</td><td>0 / 1.0</td><td>linear warm-up, cosine to lr·fraction</td></tr>
 *   <tr><td>weightDecay</td><td>0.0</td><td>trunk matrices and embeddings only (never the head)</td></tr>
 *   <tr><td>gradClip</td><td>1.0</td><td>max global gradient norm over trunk and head (0 = off)</td></tr>
 *   <tr><td>maxLength / truncation</td><td>0 / KEEP_PROMPT_TAIL_RESPONSE_HEAD</td><td>as in SFT (0 = context)</td></tr>
 *   <tr><td>seed</td><td>42</td><td>shuffling</td></tr>
 *   <tr><td>evalEvery</td><td>0</td><td>held-out accuracy every N steps (0 = at the start and the end)</td></tr>
 *   <tr><td>progress / out</td><td>false / System.out</td><td>as in SFT</td></tr>
 * </table>
 */
public final class RewardConfig extends StageConfig<RewardConfig> {
  /** The default learning rate, 1e-4. */
  public static final float DEFAULT_LR = 1e-4f;

  public RewardConfig() {
    super(DEFAULT_LR);
  }
}
