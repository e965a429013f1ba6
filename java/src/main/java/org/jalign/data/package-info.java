/**
 * Training data: tokenised corpora for pretraining ({@link org.jalign.data.TokenFile},
 * {@link org.jalign.data.TokenSource}, {@link org.jalign.data.TokenBatcher}), JSONL readers and writers for the
 * later stages, and the chat template.
 *
 * <table>
 *   <caption>JSONL record types (one JSON object per line; blank lines skipped; unknown fields ignored)</caption>
 *   <tr><th>type</th><th>line</th><th>used by</th></tr>
 *   <tr><td>{@link org.jalign.data.SftExample}</td>
 *       <td>{@code {"prompt","completion"}} or {@code {"messages":[{"role","content"},...]}}</td><td>SFT</td></tr>
 *   <tr><td>{@link org.jalign.data.PairwiseExample}</td>
 *       <td>{@code {"prompt","chosen","rejected","margin"?}}</td><td>reward model, DPO</td></tr>
 *   <tr><td>{@link org.jalign.data.RankingExample}</td>
 *       <td>{@code {"prompt","responses":[...],"ranking":[best index, ...]}}</td><td>K-wise reward model</td></tr>
 *   <tr><td>{@link org.jalign.data.PromptExample}</td><td>{@code {"prompt"}}</td><td>PPO rollouts, evaluation</td></tr>
 * </table>
 *
 * Every reader reports a problem as a {@link org.jalign.data.DataFormatException} whose message starts with
 * "file:line:". {@link org.jalign.data.ChatTemplate} turns chats into token ids plus the mask of tokens the
 * loss should count, with an explicit truncation policy.
 *
 * <pre>{@code
 * List<SftExample> data = SftExample.readJsonl(Path.of("sft.jsonl"));
 * ChatTemplate template = new ChatTemplate(tokenizer);
 * ChatTemplate.Rendered r = template.render(data.get(0), 1024, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
 * // r.ids(): token ids; r.trainable()[t]: whether predicting ids[t] counts in the loss
 * }</pre>
 */
package org.jalign.data;
