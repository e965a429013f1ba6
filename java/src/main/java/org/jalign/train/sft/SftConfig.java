package org.jalign.train.sft;

import org.jalign.train.StageConfig;

/**
 * Settings of {@link SftTrainer}. Setters validate and chain:
 * {@code new SftConfig().batchSize(8).epochs(3).lr(1e-4f)}.
 *
 * <table>
 *   <caption>Defaults</caption>
 *   <tr><td>batchSize</td><td>8</td><td>examples per optimizer step</td></tr>
 *   <tr><td>epochs / maxSteps</td><td>1 / 0</td><td>passes over the data; maxSteps &gt; 0 overrides</td></tr>
 *   <tr><td>lr</td><td>1e-4</td><td>AdamW peak learning rate (β = 0.9, 0.95, ε = 1e-8)</td></tr>
 *   <tr><td>warmupSteps / minLrFraction</td><td>0 / 1.0</td><td>linear warm-up, cosine to lr·fraction (1 =
 *       constant)</td></tr>
 *   <tr><td>weightDecay</td><td>0.0</td><td>on matrices and embeddings only</td></tr>
 *   <tr><td>gradClip</td><td>1.0</td><td>max global gradient norm (0 = off)</td></tr>
 *   <tr><td>maxLength</td><td>0</td><td>tokens per example (0 = the model's context length)</td></tr>
 *   <tr><td>truncation</td><td>KEEP_PROMPT_TAIL_RESPONSE_HEAD</td><td>for responses that do not fit; a prompt
 *       that leaves no room for a response is always an error</td></tr>
 *   <tr><td>allAssistantTurns</td><td>true</td><td>train on every assistant message of a multi-turn chat (false:
 *       only the last)</td></tr>
 *   <tr><td>seed</td><td>42</td><td>shuffling</td></tr>
 *   <tr><td>evalEvery / evalBatchSize</td><td>0 / 16</td><td>eval loss every N steps (0 = only at the start and
 *       end)</td></tr>
 *   <tr><td>progress / out</td><td>false / System.out</td><td>force the \r progress line without a console /
 *       where progress and the summary go</td></tr>
 *   <tr><td>ptxCoef</td><td>0</td><td>weight γ of a language-model loss on pretraining text added to every step
 *       (0 = off; needs {@link SftTrainer#pretrainData})</td></tr>
 *   <tr><td>ptxBatchSize / ptxSeqLen</td><td>8 / 64</td><td>windows of pretraining text per step / tokens per
 *       window (at most the model's context length)</td></tr>
 * </table>
 *
 * <p>Mixing in pretraining text (ptx, as PPO-ptx does for PPO) keeps fine-tuning from overwriting what the model
 * learned in pretraining: the facts of a corpus that the demonstrations only sample.
 *
 * <p>Packing (several examples per row) is not offered: the attention kernels mask one contiguous valid range
 * per row, so packed examples would attend across each other's boundaries and position ids would continue
 * across them. Rows are right-padded to the longest example of the batch instead.
 */
public final class SftConfig extends StageConfig<SftConfig> {
  /** The default learning rate, 1e-4. */
  public static final float DEFAULT_LR = 1e-4f;
  private boolean allAssistantTurns = true;
  private float ptxCoef = 0f;
  private int ptxBatchSize = 8;
  private int ptxSeqLen = 64;

  public SftConfig() {
    super(DEFAULT_LR);
  }

  /** Train on every assistant turn (true) or only the last one. */
  public SftConfig allAssistantTurns(boolean all) {
    allAssistantTurns = all;
    return this;
  }

  public boolean allAssistantTurns() {
    return allAssistantTurns;
  }

  /** Weight of the pretraining-text language-model loss added to every step (0 = off). */
  public SftConfig ptxCoef(float coef) {
    if (!(coef >= 0) || !Float.isFinite(coef)) {
      throw new IllegalArgumentException("ptxCoef must be finite and >= 0 (0 = off), got " + coef);
    }
    ptxCoef = coef;
    return this;
  }

  public float ptxCoef() {
    return ptxCoef;
  }

  /** Windows of pretraining text per step. */
  public SftConfig ptxBatchSize(int windows) {
    if (windows <= 0) throw new IllegalArgumentException("ptxBatchSize must be > 0, got " + windows);
    ptxBatchSize = windows;
    return this;
  }

  public int ptxBatchSize() {
    return ptxBatchSize;
  }

  /** Tokens per pretraining window (at most the model's context length). */
  public SftConfig ptxSeqLen(int tokens) {
    if (tokens <= 0) throw new IllegalArgumentException("ptxSeqLen must be > 0, got " + tokens);
    ptxSeqLen = tokens;
    return this;
  }

  public int ptxSeqLen() {
    return ptxSeqLen;
  }
}
