package org.jalign.world;

import java.util.ArrayList;
import java.util.List;

/**
 * A prompt with K responses ordered best first by the oracle, for K-wise or pairwise reward-model
 * training.
 *
 * @param prompt     the prompt
 * @param bestFirst  the responses, best first
 * @param scores     oracle scores aligned with {@code bestFirst} (non-increasing)
 */
public record RankedExample(Prompt prompt, List<Response> bestFirst, double[] scores) {
  public RankedExample {
    bestFirst = List.copyOf(bestFirst);
    scores = scores.clone();
    if (scores.length != bestFirst.size()) {
      throw new IllegalArgumentException("scores.length " + scores.length + " != responses " + bestFirst.size());
    }
  }

  /**
   * Every pair (i, j), i before j in the ranking, whose scores differ: K responses give up to K(K-1)/2
   * pairs. Tied responses give no pair.
   */
  public List<PreferencePair> pairs() {
    List<PreferencePair> out = new ArrayList<>();
    for (int i = 0; i < bestFirst.size(); i++) {
      for (int j = i + 1; j < bestFirst.size(); j++) {
        double m = scores[i] - scores[j];
        if (m > Evaluation.TIE_EPS) {
          out.add(new PreferencePair(prompt, bestFirst.get(i).text(), bestFirst.get(j).text(), m));
        }
      }
    }
    return out;
  }
}
