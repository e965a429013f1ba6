package org.jalign.world;

/**
 * A generated response with the labels it was generated with (the oracle never reads the labels; it
 * judges the text).
 *
 * @param text      the response text
 * @param style     the behaviour the text was written to show
 * @param rambling  padded with filler sentences
 * @param rude      written rudely
 */
public record Response(String text, ResponseStyle style, boolean rambling, boolean rude) {
}
