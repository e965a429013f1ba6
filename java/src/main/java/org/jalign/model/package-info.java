/**
 * The decoder model: {@link org.jalign.model.GptConfig} (shape, block choices (GPT-2 or the Llama family), parameter
 * layout, FLOPs), {@link org.jalign.model.Gpt} (one trunk for every block: one flat parameter buffer and one flat
 * gradient buffer, training forward/backward, KV-cached inference), {@link org.jalign.model.RopeConfig},
 * {@link org.jalign.model.ScalarHead} (reward and value heads) and {@link org.jalign.model.KvCache}.
 *
 * <pre>{@code
 * try (Gpt gpt = new Gpt(GptConfig.small(tokenizer.vocabSize()), Backends.best(), 1)) {
 *   gpt.zeroGrad();
 *   float loss = gpt.lossAndBackward(tokens, targets, null, B, T, null, null);
 *   // optimizer step on gpt.params() / gpt.grads()
 * }
 * }</pre>
 *
 * Training step of a trainer with its own loss: {@code logits = gpt.forward(...)}; write dlogits (in place is
 * fine) and/or a hidden-state gradient into {@code gpt.zeroedDhidden()}; {@code gpt.backward(dlogits, dhidden)}.
 *
 * A Llama-shaped model: {@code new Gpt(GptConfig.llama(L, NH, NKV, C, F, maxT, V, RopeConfig.of(theta, C / NH),
 * 1e-5f, tied), backend, seed)}; every trainer and the generator take it as they take GPT-2.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, NKV = kv heads, HS = head size, F = MLP width,
 * V = vocab, Vp = padded vocab.
 */
package org.jalign.model;
