package org.jalign.world;

/**
 * One pairwise preference: the oracle scores {@code chosen} strictly above {@code rejected} for
 * {@code prompt}. {@code margin} is the score difference (&gt; 0).
 */
public record PreferencePair(Prompt prompt, String chosen, String rejected, double margin) {
}
