package org.jalign.generate;

import java.util.List;

/** The rows of one {@link Generator#generate} call, in prompt order. */
public record GenerationResult(List<Sequence> rows) {

  public GenerationResult {
    rows = List.copyOf(rows);
  }

  /**
   * One generated row. {@code generatedIds} includes a stop token that ended the row (its log-probs too) but
   * {@code text} does not, nor a stop string. {@code logprobs[i]}: log softmax of the raw logits at the sampled
   * token (temperature 1, unfiltered); {@code sampledLogprobs[i]}: log-probability under the filtered,
   * tempered distribution actually sampled.
   */
  public record Sequence(int[] promptIds, int[] generatedIds, String text, float[] logprobs, float[] sampledLogprobs,
      FinishReason finishReason) {}

  public Sequence row(int i) {
    return rows.get(i);
  }

  public int size() {
    return rows.size();
  }

  /** Generated tokens over all rows. */
  public long generatedTokens() {
    long n = 0;
    for (Sequence s : rows) n += s.generatedIds().length;
    return n;
  }
}
