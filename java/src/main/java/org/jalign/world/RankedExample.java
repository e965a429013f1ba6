package org.jalign.world;

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
}
