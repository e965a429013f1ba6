package org.jalign.train.dpo;

import org.jalign.train.StageConfig;

/**
 * Settings of {@link DpoTrainer}. Setters validate and chain: {@code new DpoConfig().beta(0.1).batchSize(8)}.
 *
 * <table>
 *   <caption>Defaults</caption>
 *   <tr><td>beta</td><td>0.1</td><td>β, strength of the implicit KL constraint to the reference</td></tr>
 *   <tr><td>labelSmoothing</td><td>0.0</td><td>ε ∈ [0, 0.5): assumed probability that a label is flipped
 *       (conservative DPO); 0 = plain DPO</td></tr>
 *   <tr><td>batchSize</td><td>8</td><td>preference pairs per optimizer step (2·batchSize rows per forward)</td></tr>
 *   <tr><td>epochs / maxSteps</td><td>1 / 0</td><td>passes over the data; maxSteps &gt; 0 overrides</td></tr>
 *   <tr><td>lr</td><td>5e-5</td><td>AdamW peak learning rate</td></tr>
 *   <tr><td>warmupSteps / minLrFraction</td><td>0 / 1.0</td><td>linear warm-up, cosine to lr·fraction</td></tr>
 *   <tr><td>weightDecay</td><td>0.0</td><td>matrices and embeddings only</td></tr>
 *   <tr><td>gradClip</td><td>1.0</td><td>max global gradient norm (0 = off)</td></tr>
 *   <tr><td>maxLength / truncation</td><td>0 / KEEP_PROMPT_TAIL_RESPONSE_HEAD</td><td>as in SFT (0 = context)</td></tr>
 *   <tr><td>seed</td><td>42</td><td>shuffling</td></tr>
 *   <tr><td>evalEvery / evalBatchSize</td><td>0 / 16</td><td>eval metrics every N steps (0 = start and end) / rows
 *       per forward</td></tr>
 *   <tr><td>progress / out</td><td>false / System.out</td><td>as in SFT</td></tr>
 * </table>
 */
public final class DpoConfig extends StageConfig<DpoConfig> {
  /** The default learning rate, 5e-5. */
  public static final float DEFAULT_LR = 5e-5f;
  private double beta = 0.1;
  private double labelSmoothing = 0.0;

  public DpoConfig() {
    super(DEFAULT_LR);
  }

  /** β &gt; 0. */
  public DpoConfig beta(double b) {
    if (!(b > 0) || !Double.isFinite(b)) throw new IllegalArgumentException("beta must be finite and > 0, got " + b);
    beta = b;
    return this;
  }

  /** ε in [0, 0.5). */
  public DpoConfig labelSmoothing(double e) {
    if (!(e >= 0 && e < 0.5)) throw new IllegalArgumentException("labelSmoothing must be in [0, 0.5), got " + e);
    labelSmoothing = e;
    return this;
  }

  public double beta() {
    return beta;
  }

  public double labelSmoothing() {
    return labelSmoothing;
  }
}
