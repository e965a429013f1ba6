package org.jalign.train.rejection;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import org.jalign.data.ChatTemplate;
import org.jalign.data.SftExample;
import org.jalign.data.TokenSource;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.GenerationResult;
import org.jalign.generate.Generator;
import org.jalign.model.Gpt;
import org.jalign.text.Tokenizer;
import org.jalign.train.StageSupport;
import org.jalign.train.ppo.RewardFunction;
import org.jalign.train.sft.SftConfig;
import org.jalign.train.sft.SftResult;
import org.jalign.train.sft.SftTrainer;

/**
 * Rejection-sampling fine-tuning (best-of-n; Touvron et al. 2023, Llama 2, §3.2.3): the policy samples {@code n}
 * responses to every prompt, a reward function scores them, and the policy is fine-tuned with SFT (loss on the
 * response tokens only) on the best response of each prompt.
 *
 * <p>Why before PPO: PPO learns a behaviour only from samples that show it. A behaviour the SFT policy produces in
 * 2% of its samples (saying "I don't know" where the answer is unknown, say) is in the best of four samples for
 * about 8% of such prompts and wins whenever the reward model prefers it, so one round of best-of-n fine-tuning
 * makes it common enough for PPO to reinforce.
 *
 * <p>Selection: blank responses are never chosen; among the rest the highest reward wins, ties going to the shorter
 * response, then the earlier candidate. With a {@linkplain #consensusWeight consensus weight} w a candidate competes
 * with its reward plus w times the fraction of the prompt's other candidates that say the same thing (the same text
 * once case, punctuation and spacing are set aside): self-consistency as a fact check that does not depend on the
 * reward model. With a {@linkplain #greedyMargin greedy margin} d the policy's greedy response (when offered) keeps
 * its place unless a sample beats it by more than d. A prompt with only blank candidates is skipped (counted in the
 * result).
 * Sampling is deterministic for a seed: the prompts go in batches of {@link #BATCH_PROMPTS}, and the batch starting
 * at prompt {@code i} samples with {@code seed + i * n} (its first row, see {@link Generator#generateRows}).
 *
 * <p>Iterating (Llama 2 ran it over several iterations): a new trainer on the fine-tuned policy samples from it, so
 * a behaviour the reward model chose in one iteration is sampled, and can be chosen, more often in the next.
 */
public final class RejectionSamplingTrainer {
  /** Prompts per generation batch (each with its n samples). */
  public static final int BATCH_PROMPTS = 32;

  /** A prompt's chosen response and its reward, with the mean reward of all its non-blank samples. */
  public record Choice(String prompt, String response, float reward, double meanReward) {}

  /**
   * The outcome: the chosen responses, the mean reward over every non-blank sample and over the chosen ones,
   * the number of prompts skipped (all samples blank), the fine-tuning result and the wall time.
   */
  public record Result(List<Choice> chosen, double meanSampleReward, double meanChosenReward, int skippedPrompts,
      SftResult sft, double seconds) {}

  private final Gpt policy;
  private final Tokenizer tok;
  private final RewardFunction reward;
  private final List<String> prompts;
  private final int samples;
  private final GenerationConfig sampling;
  private final SftConfig sft;
  private final int maxPromptTokens;
  private boolean greedyCandidate;
  private double consensusWeight;
  private double greedyMargin;
  private TokenSource pretrainData;
  private List<SftExample> demonstrations = List.of();

  /**
   * @param policy the model to sample from and fine-tune (updated in place)
   * @param tok its tokenizer, with the chat special tokens
   * @param reward scores (rendered prompt, generated response) pairs, e.g. a reward model
   * @param prompts user prompts (non-empty, none blank)
   * @param samples responses per prompt, ≥ 2
   * @param sampling how to sample: temperature &gt; 0 and at least one new token; stop tokens as given (the chat
   *     end tags are added when it stops at none)
   * @param sft the fine-tuning settings (batch, steps, learning rate, ...)
   */
  public RejectionSamplingTrainer(Gpt policy, Tokenizer tok, RewardFunction reward, List<String> prompts, int samples,
      GenerationConfig sampling, SftConfig sft) {
    this.policy = Objects.requireNonNull(policy, "policy");
    this.tok = Objects.requireNonNull(tok, "tokenizer");
    this.reward = Objects.requireNonNull(reward, "reward function");
    this.sft = Objects.requireNonNull(sft, "sft config");
    Objects.requireNonNull(sampling, "sampling config");
    if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("no prompts to sample for");
    for (int i = 0; i < prompts.size(); i++) {
      if (prompts.get(i) == null || prompts.get(i).isBlank()) {
        throw new IllegalArgumentException("prompt " + i + " is blank");
      }
    }
    if (samples < 2) {
      throw new IllegalArgumentException("samples must be >= 2 (best of n needs a choice), got " + samples);
    }
    if (!(sampling.temperature() > 0)) {
      throw new IllegalArgumentException("sampling temperature must be > 0 (greedy decoding gives n identical "
          + "samples), got " + sampling.temperature());
    }
    int ctx = policy.config().contextLength();
    if (sampling.maxNewTokens() < 1 || sampling.maxNewTokens() >= ctx) {
      throw new IllegalArgumentException("sampling maxNewTokens must be in [1, " + (ctx - 1) + "] for a context of "
          + ctx + ", got " + sampling.maxNewTokens());
    }
    if (tok.vocabSize() > policy.config().vocabSize()) {
      throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens, the model only "
          + policy.config().vocabSize());
    }
    this.prompts = List.copyOf(prompts);
    this.samples = samples;
    this.maxPromptTokens = ctx - sampling.maxNewTokens();
    GenerationConfig g = sampling;
    if (g.stopTokenIds().length == 0) {
      int end = tok.specialId(Tokenizer.END).orElseThrow(
          () -> new IllegalArgumentException("the tokenizer has no " + Tokenizer.END + " token"));
      int eot = tok.specialId(Tokenizer.ENDOFTEXT).orElse(end);
      g = g.toBuilder().stopTokenIds(end, eot).build();
    }
    this.sampling = g;
  }

  /** Samples, chooses the best response of every prompt, and fine-tunes the policy on the choices. */
  public Result train() {
    long t0 = System.nanoTime();
    List<Choice> chosen = select();
    if (chosen.isEmpty()) {
      throw new IllegalStateException("every sample of every prompt was blank; nothing to fine-tune on");
    }
    double sampleSum = 0, chosenSum = 0;
    for (Choice c : chosen) {
      sampleSum += c.meanReward();
      chosenSum += c.reward();
    }
    SftResult r = fineTune(chosen);
    return new Result(List.copyOf(chosen), sampleSum / chosen.size(), chosenSum / chosen.size(),
        prompts.size() - chosen.size(), r, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * Fine-tunes the policy with SFT on chosen responses (those of {@link #select()}, or any the caller keeps) and the
   * {@link #demonstrations}.
   */
  public SftResult fineTune(List<Choice> choices) {
    if (choices == null || choices.isEmpty()) throw new IllegalArgumentException("no choices to fine-tune on");
    List<SftExample> examples = new ArrayList<>(choices.size() + demonstrations.size());
    for (Choice c : choices) examples.add(SftExample.of(c.prompt(), c.response()));
    examples.addAll(demonstrations);
    SftTrainer t = new SftTrainer(policy, tok, sft, examples, List.of());
    if (pretrainData != null) t.pretrainData(pretrainData);
    return t.train();
  }

  /**
   * Pretraining text for the fine-tuning step's SFT-ptx (used when the SFT config's ptxCoef is above 0; see
   * {@link SftTrainer#pretrainData}). Returns this trainer.
   */
  public RejectionSamplingTrainer pretrainData(TokenSource source) {
    StageSupport.checkPtxText(policy, source, sft.ptxSeqLen());
    this.pretrainData = source;
    return this;
  }

  /**
   * Human demonstrations fine-tuned on beside the chosen responses (default none): each {@link #fineTune} trains on
   * the choices and these together, shuffled. Best-of-n fine-tuning on the policy's own samples moves it wherever the
   * reward function cannot tell right from wrong, as on a fact the policy half knows, where a wrong sample scores
   * about as high as the right one; demonstrations a labeler approved (e.g. the SFT demonstrations rated as good as
   * the ideal response) hold those answers in place. Returns this trainer.
   */
  public RejectionSamplingTrainer demonstrations(List<SftExample> examples) {
    Objects.requireNonNull(examples, "demonstrations");
    for (int i = 0; i < examples.size(); i++) Objects.requireNonNull(examples.get(i), "demonstration " + i);
    this.demonstrations = List.copyOf(examples);
    return this;
  }

  /**
   * Also offers the policy's greedy response to every prompt as a candidate beside the n samples (default off). The
   * chosen response then scores at least as high as the greedy one, so on a question the policy answers right (its
   * greedy answer) a wrong sample can only be chosen where the reward function prefers it to the greedy answer.
   * Fine-tuning then moves the policy off its own answers only where the reward function sees something better, as
   * an "I don't know" where the policy would make one up, and not where the samples merely disagree on a fact.
   * The mean sample reward still covers the n samples only.
   */
  public RejectionSamplingTrainer greedyCandidate(boolean on) {
    this.greedyCandidate = on;
    return this;
  }

  /**
   * Weight of agreement among a prompt's candidates in the choice (default 0: the reward alone). A candidate's
   * selection score is its reward plus {@code weight} times the fraction of the prompt's other non-blank candidates
   * (samples, and the greedy response when offered) whose text is the same once case, punctuation and spacing are
   * set aside. The reward model scores a wrong fact about the right kind of thing (another person's colour) nearly
   * as high as the right one; the policy, asked n times, repeats a fact it knows and scatters over ones it makes up,
   * so agreement favours the known answer without favouring any one wording of a made-up one (Wang et al. 2023,
   * self-consistency). A rare response that the reward model prefers (an honest "I don't know" among made-up
   * answers) still wins when its reward lead is larger than the weight times the made-up answers' agreement. The
   * chosen response's reported reward is its reward alone.
   *
   * @param weight finite and &ge; 0, in the reward function's units
   */
  public RejectionSamplingTrainer consensusWeight(double weight) {
    if (!(weight >= 0 && Double.isFinite(weight))) {
      throw new IllegalArgumentException("consensus weight must be finite and >= 0, got " + weight);
    }
    this.consensusWeight = weight;
    return this;
  }

  /**
   * How much a sample's selection score must exceed the greedy response's to replace it (default 0: the higher
   * score wins); applies when the greedy response is offered ({@link #greedyCandidate}). The reward model tells an
   * honest "I don't know" from a made-up answer, or a refusal from compliance, by a wide margin, but scores another
   * wording of a fact, or a different fact of the same kind, within a fraction of a standard deviation of the
   * policy's own answer. Best-of-n over such near-ties swaps the policy's answer for whichever sample the reward
   * model's noise favours, right or wrong, and fine-tuning then trains on those swaps. A margin keeps what the policy
   * answers now unless a sample is clearly better.
   *
   * @param margin finite and &ge; 0, in the reward function's units
   */
  public RejectionSamplingTrainer greedyMargin(double margin) {
    if (!(margin >= 0 && Double.isFinite(margin))) {
      throw new IllegalArgumentException("greedy margin must be finite and >= 0, got " + margin);
    }
    this.greedyMargin = margin;
    return this;
  }

  /**
   * The form in which two candidates count as saying the same thing for {@link #consensusWeight}: lower case, letters
   * and digits only, words separated by single spaces.
   */
  static String consensusKey(String text) {
    StringJoiner key = new StringJoiner(" ");
    for (String word : text.toLowerCase(Locale.ROOT).split("\\s+")) {
      StringBuilder kept = new StringBuilder(word.length());
      word.codePoints().filter(Character::isLetterOrDigit).forEach(kept::appendCodePoint);
      if (kept.length() > 0) key.add(kept);
    }
    return key.toString();
  }

  /** The best response of every prompt (prompts whose samples are all blank are left out); the policy is unchanged. */
  public List<Choice> select() {
    Generator gen = new Generator(policy, tok);
    ChatTemplate tmpl = new ChatTemplate(tok);
    List<int[]> ids = new ArrayList<>(prompts.size());
    for (String p : prompts) {
      ids.add(tmpl.renderPrompt(p, maxPromptTokens, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD));
    }
    GenerationConfig greedy = sampling.toBuilder().temperature(0f).build();
    List<Choice> out = new ArrayList<>(prompts.size());
    // every call holds all samples of BATCH_PROMPTS prompts, so each call's rows are chosen among on their own
    gen.generateRows(ids, samples, sampling, BATCH_PROMPTS * samples, (firstRow, r) -> {
      int from = firstRow / samples;
      int chunk = r.size() / samples;
      GenerationResult g = greedyCandidate ? gen.generateIds(ids.subList(from, from + chunk), greedy, null) : null;
      // candidates of prompt q: its greedy response first (when offered), then its samples
      List<GenerationResult.Sequence> cands = new ArrayList<>();
      List<Integer> owner = new ArrayList<>();
      List<Boolean> sampled = new ArrayList<>();
      for (int q = 0; q < chunk; q++) {
        if (g != null) {
          cands.add(g.row(q));
          owner.add(q);
          sampled.add(false);
        }
        for (int j = 0; j < samples; j++) {
          cands.add(r.row(q * samples + j));
          owner.add(q);
          sampled.add(true);
        }
      }
      List<int[]> scoredPrompts = new ArrayList<>();
      List<int[]> scoredResponses = new ArrayList<>();
      List<Integer> rows = new ArrayList<>();
      for (int k = 0; k < cands.size(); k++) {
        GenerationResult.Sequence s = cands.get(k);
        if (s.text().isBlank() || s.generatedIds().length == 0) continue;
        scoredPrompts.add(s.promptIds());
        scoredResponses.add(s.generatedIds());
        rows.add(k);
      }
      float[] sc = scoredPrompts.isEmpty() ? new float[0] : reward.score(scoredPrompts, scoredResponses);
      if (sc.length != rows.size()) {
        throw new IllegalStateException("the reward function returned " + sc.length + " scores for " + rows.size()
            + " responses");
      }
      int at = 0;
      for (int q = 0; q < chunk; q++) {
        int first = at;
        while (at < rows.size() && owner.get(rows.get(at)) == q) at++;
        double[] agreement = agreement(cands, rows, first, at);
        int best = -1;
        double bestScore = 0;
        double sum = 0;
        int n = 0;
        for (int k = first; k < at; k++) {
          float v = sc[k];
          if (!Float.isFinite(v)) {
            throw new IllegalStateException("the reward function returned " + v + " for a response to prompt "
                + (from + q));
          }
          if (sampled.get(rows.get(k))) {
            sum += v;
            n++;
          }
          double score = v + consensusWeight * agreement[k - first]
              + (sampled.get(rows.get(k)) ? 0 : greedyMargin);
          if (best < 0 || score > bestScore
              || (score == bestScore && scoredResponses.get(k).length < scoredResponses.get(best).length)) {
            best = k;
            bestScore = score;
          }
        }
        if (best >= 0) {
          out.add(new Choice(prompts.get(from + q), cands.get(rows.get(best)).text().strip(), sc[best],
              n > 0 ? sum / n : sc[best]));
        }
      }
    });
    return out;
  }

  /**
   * For the candidates {@code rows[from..to)} of one prompt: the fraction of the others with the same
   * {@link #consensusKey} (all zero when the consensus weight is 0 or there is one candidate).
   */
  private double[] agreement(List<GenerationResult.Sequence> cands, List<Integer> rows, int from, int to) {
    double[] a = new double[to - from];
    if (consensusWeight == 0 || to - from < 2) return a;
    Map<String, Integer> count = new HashMap<>();
    String[] keys = new String[to - from];
    for (int k = from; k < to; k++) {
      keys[k - from] = consensusKey(cands.get(rows.get(k)).text());
      count.merge(keys[k - from], 1, Integer::sum);
    }
    for (int i = 0; i < a.length; i++) a[i] = (count.get(keys[i]) - 1) / (double) (a.length - 1);
    return a;
  }
}
