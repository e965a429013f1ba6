package org.jalign.generate;

/**
 * Receives generated tokens as they are sampled. {@code textPiece} is the text that became final with this
 * token: it may be empty (a partial UTF-8 character, a possible start of a stop string, or a stop token), and
 * the pieces of a row concatenate to its final text. Called on the generating thread; an exception aborts the
 * generation.
 */
@FunctionalInterface
public interface TokenListener {
  void onToken(int row, int tokenId, String textPiece);
}
