/**
 * The built-in alignment world: a small, closed, seeded world that a small GPT can learn on a CPU, with
 * the data and the judge for every stage of the lifecycle.
 *
 * <h2>What it contains</h2>
 * <ul>
 *   <li>{@link org.jalign.world.AlignmentWorld}: people (names), towns, jobs, pets (kind and name) and
 *       favourite colours. Some facts are deliberately never stated: anyone's age, favourite song,
 *       birthday or favourite food; some people's pet or colour; and some names (outsiders) never
 *       occur.</li>
 *   <li>A pretraining corpus of encyclopedia-style prose (every stated fact in several phrasings) plus
 *       generic filler: about 300 KB for {@code QUICK}, 2 MB for {@code DEFAULT}.</li>
 *   <li>Prompts of four {@link org.jalign.world.PromptKind kinds} (answerable, unanswerable, vague,
 *       harmful) in three disjoint {@link org.jalign.world.Split splits} (train, RL, eval).</li>
 *   <li>Imperfect SFT demonstrations (rambling answers, made-up answers to unanswerable prompts,
 *       guesses on vague ones, some compliance with harmful requests, some rudeness): what RLHF has to
 *       fix.</li>
 *   <li>K diverse candidate responses per prompt and their {@link org.jalign.world.Oracle oracle}
 *       ranking, as K-wise {@link org.jalign.world.RankedExample rankings} or
 *       {@link org.jalign.world.PreferencePair preference pairs}. The candidates mostly compare
 *       behaviours with each other (a correct answer, a wrong one, "I don't know", a clarifying
 *       question, a refusal, a true but off-topic fact, a sentence broken off before its point, filler
 *       around nothing), so that a
 *       reward model learns which behaviour
 *       fits which prompt, not only that filler and insults are bad.</li>
 *   <li>The {@link org.jalign.world.Oracle}: a simulated human labeler that judges free-form (even
 *       malformed) text by matching the world's closed vocabulary and key phrases, with documented
 *       scoring rules; and {@link org.jalign.world.Evaluation} for metrics and win rates.</li>
 * </ul>
 *
 * <h2>Example</h2>
 * <pre>{@code
 * AlignmentWorld world = AlignmentWorld.generate(42, AlignmentWorld.Size.QUICK);
 * String corpus = world.corpus();                                    // pretraining text
 * List<Demonstration> sft = world.sftDemonstrations();               // SFT data
 * List<RankedExample> ranks = world.rankingData(world.prompts(Split.TRAIN), 4, 7); // reward-model data
 * List<Prompt> rl = world.prompts(Split.RL);                         // PPO rollout prompts
 * EvalMetrics m = Evaluation.evaluate(world.oracle(), pairs, tokenizer::count); // pairs: eval prompts + outputs
 * }</pre>
 *
 * Everything is a pure function of the seed and the size; {@link org.jalign.world.WorldExport} writes
 * it all as JSONL files.
 */
package org.jalign.world;
