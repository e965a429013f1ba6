/**
 * Batched, KV-cached generation: {@link org.jalign.generate.Generator} with a
 * {@link org.jalign.generate.GenerationConfig}, returning a {@link org.jalign.generate.GenerationResult}
 * (ids, text, raw and sampled log-probs, finish reason per row) and streaming tokens to a
 * {@link org.jalign.generate.TokenListener}.
 *
 * <pre>{@code
 * Generator gen = new Generator(gpt, tokenizer);
 * GenerationResult r = gen.generate(List.of("Once upon a time", "Hello"),
 *     GenerationConfig.builder().maxNewTokens(64).temperature(0.8f).topP(0.95f).seed(7).build(),
 *     (row, id, piece) -> System.out.print(piece));
 * }</pre>
 */
package org.jalign.generate;
