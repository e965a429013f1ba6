package org.jalign.train.ppo;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jalign.backend.Backend;
import org.jalign.backend.PpoLossConfig;
import org.jalign.backend.PpoMetrics;
import org.jalign.data.ChatTemplate;
import org.jalign.data.SftExample;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenSource;
import org.jalign.generate.FinishReason;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.GenerationResult;
import org.jalign.generate.Generator;
import org.jalign.io.Checkpoint;
import org.jalign.io.CheckpointException;
import org.jalign.model.Gpt;
import org.jalign.model.ScalarHead;
import org.jalign.optim.AdamW;
import org.jalign.optim.AdamWConfig;
import org.jalign.optim.GradClip;
import org.jalign.rl.Gae;
import org.jalign.rl.KlController;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.text.Tokenizer;
import org.jalign.train.StageSupport;

/**
 * PPO-RLHF (Ziegler et al. 2019; Ouyang et al. 2022; the loop of TRL's PPO trainer) of a policy {@link Gpt}
 * against a {@link RewardFunction}, with a frozen reference model for the KL penalty and a separate critic.
 *
 * <p>Shape legend: B = rollouts per iteration (batchSize), Bm = rollouts per minibatch, P = longest prompt of the
 * batch, R = longest response of the batch, T = P + R - 1 (the training sequence: prompt left-padded to P, the
 * response after it, right padding), C = channels, Vp = padded vocabulary. Response token i of row b is
 * predicted at position P - 1 + i; the per-token arrays (B, R) index it as b * R + i.
 *
 * <p>One iteration ({@link PpoConfig#steps()} of them):
 * <ol>
 *   <li>the next batchSize prompts are taken (a cursor walks the prompt list, wrapping around; prompt strings
 *       are encoded with {@link Tokenizer#encodeWithSpecials} at construction); a prompt
 *       longer than contextLength - responseLength keeps its last tokens (truncation policy);</li>
 *   <li>batched KV-cached rollouts with {@link Generator} (temperature/top-k/top-p of the config, stopping at the
 *       tokenizer's end tokens, at most responseLength tokens);</li>
 *   <li>log-probs of the sampled tokens under the policy (the "old" log-probs) and under the frozen reference
 *       with {@link Gpt#tokenLogprobs}; values from the critic at every response position;</li>
 *   <li>score = reward(prompt, response) minus missingEosPenalty when the response did not stop on an end
 *       token, clipped to ±rewardClip; per-token reward r_t = -klCoef * (logp_t - ref_t), plus the score at the
 *       last response token;</li>
 *   <li>GAE ({@link Gae}, γ, λ) and advantage whitening;</li>
 *   <li>ppoEpochs epochs, each over miniBatches shuffled minibatches: policy forward, fused
 *       {@link Backend#ppoLoss} (dlogits written in place), backward, clip, AdamW; critic forward, per-token
 *       {@link ScalarHead}, {@link Backend#valueLoss} (scaled by vfCoef), backward, clip, AdamW. When
 *       approxKlBound is positive and a minibatch's approx-KL exceeds it the remaining updates of the iteration
 *       are skipped;</li>
 *   <li>the KL controller is updated with the batch's mean per-sequence KL.</li>
 * </ol>
 *
 * <p>PPO-ptx. With {@link PpoConfig#ptxCoef()} γ > 0 and {@link #pretrainData} set, every policy update also runs
 * the language-model loss on ptxBatchSize random windows of ptxSeqLen tokens of that text and adds γ times its
 * gradient to the PPO gradient before the clip and the AdamW step (Ouyang et al. 2022, eq. 2). It counters the
 * "alignment tax": the policy keeps what pretraining taught (facts, fluent text) while it chases the reward.
 * History key ptx_loss (mean over the iteration's updates) is added.
 *
 * <p>Demonstrations. With {@link PpoConfig#demoCoef()} β > 0 and {@link #demonstrations} set, every policy update
 * also runs the SFT loss (mean cross-entropy of the response tokens) on demoBatchSize demonstrations and adds β
 * times its gradient, as PPO-ptx does with pretraining text. A reward model that cannot check a fact the policy half
 * knows scores a wrong one about as high as the right one, so the policy's answers drift; demonstrations that state
 * the facts hold them. Batch u of iteration s is drawn without replacement by a generator seeded from (seed, s, u),
 * so a resumed run draws the same batches. History key demo_loss (mean over the iteration's updates) is added.
 *
 * <p>The critic. By default the critic is a copy of the policy (same configuration and weights at construction)
 * with a fresh per-token value head: it starts from the policy's language features rather than random ones and
 * needs no extra checkpoint. Pass another {@code Gpt} (e.g. the reward model's trunk) to the six-argument
 * constructor to start it from there instead; the trainer copies its weights and never modifies the argument.
 *
 * <p>Responses given to the reward function are the generated ids, including the end token that stopped them.
 *
 * <p>History keys (one map per iteration): step, reward (mean score after penalty and clip), reward_raw (mean
 * score as returned by the reward function), kl_to_ref (mean over rollouts of Σ_t logp - ref), kl_coef,
 * non_score_reward (mean Σ_t of the KL penalty), entropy, clip_frac, approx_kl, pg_loss, value_loss, ptx_loss
 * (PPO-ptx only), demo_loss (with demonstrations only), value_clip_frac, explained_variance, response_length,
 * eos_fraction, updates (minibatch updates done), seconds_generate, seconds_train. Policy-loss metrics are means
 * over the minibatch updates of the iteration.
 *
 * <p>Determinism and resume. For fixed models, prompts and config a run on the CPU is deterministic. {@link
 * #save(Path)} writes the policy, critic, value head, the three optimizer states, the KL coefficient, the RNG
 * state and the prompt cursor; {@link #resume(Path)} on a trainer built the same way restores them, and the
 * following {@link #train()} continues from the saved iteration to {@link PpoConfig#steps()} bit-identically.
 */
public final class PpoTrainer implements AutoCloseable {
  private static final String STAGE = "ppo";
  private static final String CRITIC = "critic/params";
  private static final String CRITIC_M = "critic/optim/m";
  private static final String CRITIC_V = "critic/optim/v";
  private static final String HEAD = "critic/head";
  private static final String HEAD_M = "critic/head/optim/m";
  private static final String HEAD_V = "critic/head/optim/v";

  private final Gpt policy;
  private final Gpt reference;
  private final RewardFunction reward;
  private final Tokenizer tok;
  private final PpoConfig cfg;
  private final List<int[]> prompts;
  private final Backend backend;
  private final Gpt critic;
  private final ScalarHead head;
  private final AdamW policyOpt;
  private final AdamW criticOpt;
  private final AdamW headOpt;
  private final KlController kl;
  private final Generator generator;
  private final int[] endIds;
  private long step; // completed iterations
  private long cursor; // prompts consumed
  private long rng; // SplitMix64 state
  private TokenBatcher ptx; // PPO-ptx windows; null when no pretraining data was given
  private List<ChatTemplate.Rendered> demos; // rendered demonstrations; null when none were given
  private boolean trained;

  /** A trainer whose critic starts from the policy's weights (see the class comment). */
  public PpoTrainer(Gpt policy, Gpt reference, RewardFunction reward, Tokenizer tok, PpoConfig cfg,
      List<String> prompts) {
    this(policy, reference, reward, tok, cfg, prompts, null);
  }

  /**
   * A trainer whose critic starts from {@code criticInit}'s weights (null: the policy's). The policy is trained
   * in place; the reference, the reward function and {@code criticInit} are only read.
   */
  public PpoTrainer(Gpt policy, Gpt reference, RewardFunction reward, Tokenizer tok, PpoConfig cfg,
      List<String> prompts, Gpt criticInit) {
    this(policy, reference, reward, tok, cfg, encode(tok, prompts), criticInit, true);
  }

  /**
   * A trainer over already tokenized prompts (e.g. rendered with {@link org.jalign.data.ChatTemplate#renderPrompt});
   * {@code criticInit} as in the seven-argument constructor.
   */
  public static PpoTrainer fromPromptIds(Gpt policy, Gpt reference, RewardFunction reward, Tokenizer tok,
      PpoConfig cfg, List<int[]> promptIds, Gpt criticInit) {
    return new PpoTrainer(policy, reference, reward, tok, cfg, promptIds, criticInit, true);
  }

  /** Prompt strings are encoded with {@link Tokenizer#encodeWithSpecials}, so chat-template markers stay special. */
  private static List<int[]> encode(Tokenizer tok, List<String> prompts) {
    if (tok == null) throw new IllegalArgumentException("tokenizer is null");
    if (prompts == null) throw new IllegalArgumentException("prompts must be non-empty");
    List<int[]> ids = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) {
      String p = prompts.get(i);
      if (p == null) throw new IllegalArgumentException("prompts[" + i + "] is null");
      ids.add(tok.encodeWithSpecials(p));
    }
    return ids;
  }

  private PpoTrainer(Gpt policy, Gpt reference, RewardFunction reward, Tokenizer tok, PpoConfig cfg,
      List<int[]> prompts, Gpt criticInit, boolean checked) {
    if (policy == null) throw new IllegalArgumentException("policy is null");
    if (reference == null) throw new IllegalArgumentException("reference is null");
    if (reference == policy) throw new IllegalArgumentException("the reference must be a separate, frozen model");
    if (reward == null) throw new IllegalArgumentException("reward function is null");
    if (tok == null) throw new IllegalArgumentException("tokenizer is null");
    if (cfg == null) throw new IllegalArgumentException("config is null");
    if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("prompts must be non-empty");
    if (!reference.config().equals(policy.config())) {
      throw new IllegalArgumentException("reference " + reference.config() + " differs from policy "
          + policy.config());
    }
    if (tok.vocabSize() > policy.config().vocabSize()) {
      throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " ids, the policy only "
          + policy.config().vocabSize());
    }
    int ctx = policy.config().contextLength();
    if (cfg.responseLength() >= ctx) {
      throw new IllegalArgumentException("responseLength " + cfg.responseLength()
          + " leaves no room for a prompt in the context length " + ctx);
    }
    Gpt criticSrc = criticInit == null ? policy : criticInit;
    if (criticSrc.config().contextLength() < ctx) {
      throw new IllegalArgumentException("the critic's context length " + criticSrc.config().contextLength()
          + " is shorter than the policy's " + ctx);
    }
    this.policy = policy;
    this.reference = reference;
    this.reward = reward;
    this.tok = tok;
    this.cfg = cfg;
    this.backend = policy.backend();
    this.prompts = new ArrayList<>(prompts.size());
    int maxPrompt = ctx - cfg.responseLength();
    for (int i = 0; i < prompts.size(); i++) {
      int[] ids = prompts.get(i);
      if (ids == null) throw new IllegalArgumentException("prompts[" + i + "] is null");
      for (int id : ids) {
        if (id < 0 || id >= tok.vocabSize()) {
          throw new IllegalArgumentException("prompts[" + i + "] has token " + id + " outside the vocabulary");
        }
      }
      ids = ids.clone();
      if (ids.length == 0) throw new IllegalArgumentException("prompts[" + i + "] encodes to no tokens");
      if (ids.length > maxPrompt) ids = Arrays.copyOfRange(ids, ids.length - maxPrompt, ids.length);
      this.prompts.add(ids);
    }
    List<Integer> ends = new ArrayList<>();
    for (String s : List.of(Tokenizer.ENDOFTEXT, Tokenizer.END)) tok.specialId(s).ifPresent(ends::add);
    this.endIds = ends.stream().mapToInt(Integer::intValue).toArray();
    Gpt c = null;
    ScalarHead h = null;
    AdamW po = null, co = null, ho = null;
    try {
      c = new Gpt(criticSrc.config(), criticSrc.backend(), 0);
      c.copyParamsFrom(criticSrc);
      h = new ScalarHead(c.backend(), c.config().channels(), cfg.seed() ^ 0x5DEECE66DL);
      po = new AdamW(backend, policy.params().numel(), new AdamWConfig(cfg.lr(), 0.9f, 0.95f, 1e-8f,
          cfg.weightDecay()));
      co = new AdamW(c.backend(), c.params().numel(), new AdamWConfig(cfg.criticLr(), 0.9f, 0.95f, 1e-8f,
          cfg.weightDecay()));
      ho = new AdamW(c.backend(), h.params().numel(), new AdamWConfig(cfg.criticLr(), 0.9f, 0.95f, 1e-8f, 0f));
    } catch (RuntimeException e) {
      for (AutoCloseable a : new AutoCloseable[] {ho, co, po, h, c}) closeQuietly(a);
      throw e;
    }
    this.critic = c;
    this.head = h;
    this.policyOpt = po;
    this.criticOpt = co;
    this.headOpt = ho;
    this.kl = cfg.adaptiveKl() ? KlController.adaptive(cfg.klCoef(), cfg.klTarget(), cfg.klHorizon())
        : KlController.fixed(cfg.klCoef());
    this.generator = new Generator(policy, tok);
    this.rng = cfg.seed() * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
  }

  private static void closeQuietly(AutoCloseable a) {
    if (a == null) return;
    try {
      a.close();
    } catch (Exception ignored) {
      // best effort while failing
    }
  }

  /**
   * The pretraining text of PPO-ptx (see the class comment): windows of {@link PpoConfig#ptxSeqLen()} tokens
   * drawn at random (seeded by the config's seed) and used only when {@link PpoConfig#ptxCoef()} is above 0.
   * Call before {@link #train()} and before {@link #resume}. Returns this trainer.
   */
  public PpoTrainer pretrainData(TokenSource source) {
    if (trained) throw new IllegalStateException("pretrainData must be set before train()");
    this.ptx = StageSupport.ptxBatcher(policy, source, cfg.ptxBatchSize(), cfg.ptxSeqLen(), cfg.seed());
    return this;
  }

  /**
   * Demonstrations for the SFT loss mixed into every policy update (see the class comment), used only when {@link
   * PpoConfig#demoCoef()} is above 0. Each is rendered with the chat template; a response longer than the context
   * keeps its head. Call before {@link #train()}. Returns this trainer.
   *
   * @throws IllegalArgumentException when the list is empty, or naming the demonstration whose prompt leaves no
   *     room for a response token
   */
  public PpoTrainer demonstrations(List<SftExample> examples) {
    if (trained) throw new IllegalStateException("demonstrations must be set before train()");
    if (examples == null || examples.isEmpty()) throw new IllegalArgumentException("no demonstrations");
    ChatTemplate tmpl = new ChatTemplate(tok);
    int ctx = policy.config().contextLength();
    List<ChatTemplate.Rendered> rendered = new ArrayList<>(examples.size());
    for (int i = 0; i < examples.size(); i++) {
      SftExample x = java.util.Objects.requireNonNull(examples.get(i), "demonstration " + i);
      ChatTemplate.Rendered r = StageSupport.render(tmpl, x.messages(), ctx,
          ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD, "demonstration " + i + ": ");
      if (r.trainableCount() == 0) {
        throw new IllegalArgumentException("demonstration " + i + ": no response token fits the context");
      }
      rendered.add(r);
    }
    this.demos = rendered;
    return this;
  }

  /** The critic (a copy owned by the trainer). */
  public Gpt critic() {
    return critic;
  }

  /** The critic's per-token value head. */
  public ScalarHead valueHead() {
    return head;
  }

  /** Iterations completed so far (including those of a resumed checkpoint). */
  public long completedSteps() {
    return step;
  }

  /** The current KL coefficient. */
  public double klCoef() {
    return kl.value();
  }

  private long nextLong() {
    long z = (rng += 0x9E3779B97F4A7C15L);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  // ------------------------------------------------------------------ the loop

  /** Runs from the current iteration (0, or the resumed one) to {@link PpoConfig#steps()}. Call once. */
  public PpoResult train() {
    if (trained) throw new IllegalStateException("train() was already called on this trainer");
    if (cfg.ptxCoef() > 0 && ptx == null) {
      throw new IllegalStateException("ptxCoef is " + cfg.ptxCoef() + " but no pretraining data was given "
          + "(call pretrainData first, or set ptxCoef to 0)");
    }
    if (cfg.demoCoef() > 0 && demos == null) {
      throw new IllegalStateException("demoCoef is " + cfg.demoCoef() + " but no demonstrations were given "
          + "(call demonstrations first, or set demoCoef to 0)");
    }
    trained = true;
    PrintStream out = cfg.out();
    boolean bar = cfg.progress() || System.console() != null;
    List<Map<String, Double>> history = new ArrayList<>();
    for (; step < cfg.steps(); step++) {
      Map<String, Double> m = iteration();
      history.add(m);
      if (bar) {
        out.printf("\rppo %d/%d reward %.4f kl %.4f entropy %.3f clip %.3f vloss %.4f len %.1f   ", step + 1,
            cfg.steps(), m.get("reward"), m.get("kl_to_ref"), m.get("entropy"), m.get("clip_frac"),
            m.get("value_loss"), m.get("response_length"));
        out.flush();
      }
    }
    if (bar && !history.isEmpty()) out.println();
    double rs = history.isEmpty() ? Double.NaN : history.get(0).get("reward");
    double re = history.isEmpty() ? Double.NaN : history.get(history.size() - 1).get("reward");
    double ke = history.isEmpty() ? Double.NaN : history.get(history.size() - 1).get("kl_to_ref");
    out.printf("ppo: %d steps, reward %.4f -> %.4f, KL to reference %.4f, kl_coef %.4f%n", history.size(), rs, re,
        ke, kl.value());
    return new PpoResult(rs, re, ke, history);
  }

  /** One rollout + optimisation iteration; returns its metrics. */
  private Map<String, Double> iteration() {
    int bsz = cfg.batchSize();
    long genSeed = nextLong();
    long shuffleSeed = nextLong();
    List<int[]> batchPrompts = new ArrayList<>(bsz);
    for (int i = 0; i < bsz; i++) batchPrompts.add(prompts.get((int) ((cursor + i) % prompts.size())));
    cursor += bsz;

    // ---- rollouts
    long t0 = System.nanoTime();
    GenerationConfig gc = GenerationConfig.builder().maxNewTokens(cfg.responseLength()).temperature(cfg.temperature())
        .topK(cfg.topK()).topP(cfg.topP()).seed(genSeed).stopAtEndTokens(true).build();
    GenerationResult gen = generator.generateIds(batchPrompts, gc, null);
    double secGen = (System.nanoTime() - t0) / 1e9;
    long t1 = System.nanoTime();

    int[] len = new int[bsz];
    List<int[]> responses = new ArrayList<>(bsz);
    int p = 0, r = 1;
    boolean[] ended = new boolean[bsz];
    for (int b = 0; b < bsz; b++) {
      GenerationResult.Sequence s = gen.row(b);
      int[] ids = s.generatedIds();
      if (ids.length == 0) throw new IllegalStateException("the generator returned an empty response");
      responses.add(ids);
      len[b] = ids.length;
      ended[b] = s.finishReason() == FinishReason.STOP_TOKEN && isEnd(ids[ids.length - 1]);
      p = Math.max(p, batchPrompts.get(b).length);
      r = Math.max(r, ids.length);
    }
    Batch all = new Batch(batchPrompts, responses, rangeOf(bsz), p, r);

    float[] oldLp = all.gather(policy.tokenLogprobs(all.tokens, all.targets, bsz, all.t, all.kvStart, all.kvEnd));
    float[] refLp = all.gather(reference.tokenLogprobs(all.tokens, all.targets, bsz, all.t, all.kvStart,
        all.kvEnd));
    float[] values = all.scatter(criticValues(all), false);

    // ---- rewards
    float[] raw = reward.score(batchPrompts, responses);
    if (raw == null || raw.length != bsz) {
      throw new IllegalStateException("the reward function returned " + (raw == null ? "null" : raw.length
          + " scores") + " for " + bsz + " responses");
    }
    double coef = kl.value();
    float[] rewards = new float[bsz * r];
    double scoreSum = 0, rawSum = 0, klSum = 0, nonScore = 0, lenSum = 0, eosCount = 0;
    for (int b = 0; b < bsz; b++) {
      if (!Float.isFinite(raw[b])) throw new IllegalStateException("the reward function returned " + raw[b]);
      double score = raw[b];
      if (!ended[b]) score -= cfg.missingEosPenalty();
      if (cfg.rewardClip() > 0) score = Math.max(-cfg.rewardClip(), Math.min(cfg.rewardClip(), score));
      double seqKl = 0;
      for (int i = 0; i < len[b]; i++) {
        double k = oldLp[b * r + i] - refLp[b * r + i];
        seqKl += k;
        rewards[b * r + i] = (float) (-coef * k);
        nonScore += -coef * k;
      }
      rewards[b * r + len[b] - 1] += (float) score;
      scoreSum += score;
      rawSum += raw[b];
      klSum += seqKl;
      lenSum += len[b];
      if (ended[b]) eosCount++;
    }
    Gae.Result g = Gae.compute(rewards, values, len, bsz, r, cfg.gamma(), cfg.lambda());
    float[] adv = g.advantages();
    float[] ret = g.returns();
    if (cfg.whitenAdvantages()) Gae.whiten(adv, len, bsz, r, true);
    double ev = explainedVariance(values, ret, len, r);

    // ---- optimisation
    int mb = cfg.miniBatchSize();
    double entSum = 0, clipSum = 0, akSum = 0, pgSum = 0, vlSum = 0, vcSum = 0, ptxSum = 0, demoSum = 0;
    int updates = 0;
    java.util.SplittableRandom shuffle = new java.util.SplittableRandom(shuffleSeed);
    boolean stop = false;
    for (int epoch = 0; epoch < cfg.ppoEpochs() && !stop; epoch++) {
      int[] perm = rangeOf(bsz);
      for (int i = bsz - 1; i > 0; i--) {
        int j = shuffle.nextInt(i + 1);
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
      }
      for (int k = 0; k < cfg.miniBatches() && !stop; k++) {
        int[] rows = Arrays.copyOfRange(perm, k * mb, (k + 1) * mb);
        Batch sub = new Batch(select(batchPrompts, rows), select(responses, rows), rows, p, r);
        PpoMetrics pm = policyGradient(sub, oldLp, refLp, adv);
        if (usesPtx()) ptxSum += ptxGradient();
        if (usesDemos()) demoSum += demoGradient(updates);
        step(policyOpt, policy.params(), policy.grads(), cfg.lr());
        float[] vm = criticUpdate(sub, values, ret);
        entSum += pm.entropy();
        clipSum += pm.clipFrac();
        akSum += pm.approxKl();
        pgSum += pm.pgLoss();
        vlSum += vm[0];
        vcSum += vm[1];
        updates++;
        if (cfg.approxKlBound() > 0 && pm.approxKl() > cfg.approxKlBound()) stop = true;
      }
    }
    kl.update(klSum / bsz, bsz);
    backend.synchronize();
    double secTrain = (System.nanoTime() - t1) / 1e9;

    Map<String, Double> m = new LinkedHashMap<>();
    m.put("step", (double) step);
    m.put("reward", scoreSum / bsz);
    m.put("reward_raw", rawSum / bsz);
    m.put("kl_to_ref", klSum / bsz);
    m.put("kl_coef", coef);
    m.put("non_score_reward", nonScore / bsz);
    m.put("entropy", entSum / updates);
    m.put("clip_frac", clipSum / updates);
    m.put("approx_kl", akSum / updates);
    m.put("pg_loss", pgSum / updates);
    m.put("value_loss", vlSum / updates);
    m.put("value_clip_frac", vcSum / updates);
    if (usesPtx()) m.put("ptx_loss", ptxSum / updates);
    if (usesDemos()) m.put("demo_loss", demoSum / updates);
    m.put("explained_variance", ev);
    m.put("response_length", lenSum / bsz);
    m.put("eos_fraction", eosCount / bsz);
    m.put("updates", (double) updates);
    m.put("seconds_generate", secGen);
    m.put("seconds_train", secTrain);
    return m;
  }

  private boolean isEnd(int id) {
    for (int e : endIds) if (e == id) return true;
    return false;
  }

  private static int[] rangeOf(int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) a[i] = i;
    return a;
  }

  private static List<int[]> select(List<int[]> xs, int[] rows) {
    List<int[]> out = new ArrayList<>(rows.length);
    for (int i : rows) out.add(xs.get(i));
    return out;
  }

  /** 1 - Var(returns - values) / Var(returns) over the response tokens (NaN when the returns are constant). */
  static double explainedVariance(float[] values, float[] returns, int[] len, int r) {
    double n = 0, sr = 0, sd = 0;
    for (int b = 0; b < len.length; b++) {
      for (int i = 0; i < len[b]; i++) {
        n++;
        sr += returns[b * r + i];
        sd += returns[b * r + i] - values[b * r + i];
      }
    }
    double mr = sr / n, md = sd / n, vr = 0, vd = 0;
    for (int b = 0; b < len.length; b++) {
      for (int i = 0; i < len[b]; i++) {
        double x = returns[b * r + i] - mr, d = returns[b * r + i] - values[b * r + i] - md;
        vr += x * x;
        vd += d * d;
      }
    }
    return vr > 0 ? 1 - vd / vr : Double.NaN;
  }

  /** Critic values at the response positions of the batch, in Batch.positions order. */
  private float[] criticValues(Batch bt) {
    critic.forward(bt.tokens, bt.rows.length, bt.t, bt.kvStart, bt.kvEnd);
    return head.forward(critic.hidden(), bt.positions);
  }

  private boolean usesPtx() {
    return cfg.ptxCoef() > 0 && ptx != null;
  }

  private boolean usesDemos() {
    return cfg.demoCoef() > 0 && demos != null;
  }

  /**
   * The PPO-loss gradient of one policy minibatch into the zeroed policy gradients (the caller takes the optimizer
   * step); oldLp, refLp, adv are the (B, R) arrays of the whole rollout batch.
   */
  private PpoMetrics policyGradient(Batch sub, float[] oldLp, float[] refLp, float[] adv) {
    int bm = sub.rows.length, t = sub.t, n = bm * t;
    float[] old = new float[n], ref = new float[n], a = new float[n], mask = new float[n];
    int[] tg = new int[n];
    for (int j = 0; j < bm; j++) {
      int b = sub.rows[j];
      for (int i = 0; i < sub.len[j]; i++) {
        int pos = j * t + sub.p - 1 + i;
        int src = b * sub.r + i;
        old[pos] = oldLp[src];
        ref[pos] = refLp[src];
        a[pos] = adv[src];
        mask[pos] = 1f;
        tg[pos] = sub.targets[pos];
      }
    }
    policy.zeroGrad();
    PpoMetrics pm;
    try (Scope s = Scope.open()) {
      Tensor logits = policy.forward(sub.tokens, bm, t, sub.kvStart, sub.kvEnd);
      Tensor flat = logits.view((long) n, policy.config().paddedVocab());
      pm = backend.ppoLoss(null, flat, flat, backend.fromArray(tg, n), backend.fromArray(old, n),
          backend.fromArray(a, n), backend.fromArray(ref, n), backend.fromArray(mask, n),
          policy.config().vocabSize(), lossCfgFor());
      policy.backward(logits, null);
    }
    return pm;
  }

  /** PPO-ptx: adds γ times the language-model gradient of the next pretraining batch; returns its loss. */
  private double ptxGradient() {
    TokenBatcher.Batch b = ptx.next();
    return policy.lossAndBackward(b.inputs(), b.targets(), null, b.batch(), b.time(), null, null, cfg.ptxCoef());
  }

  /**
   * Adds β times the SFT-loss gradient of update {@code update}'s demonstration batch (this iteration's) to the policy
   * gradients; returns its loss.
   */
  private double demoGradient(int update) {
    int n = Math.min(cfg.demoBatchSize(), demos.size());
    java.util.SplittableRandom r = new java.util.SplittableRandom(
        cfg.seed() * 0x9E3779B97F4A7C15L + step * 1_000_003L + update);
    int[] pick = new int[demos.size()];
    for (int i = 0; i < pick.length; i++) pick[i] = i;
    List<ChatTemplate.Rendered> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) { // partial Fisher-Yates: n distinct demonstrations
      int j = i + r.nextInt(pick.length - i);
      int tmp = pick[i];
      pick[i] = pick[j];
      pick[j] = tmp;
      rows.add(demos.get(pick[i]));
    }
    StageSupport.Batch b = StageSupport.batch(rows, StageSupport.padId(tok));
    return policy.lossAndBackward(b.tokens(), b.targets(), null, b.rows(), b.time(), null, b.kvEnd(), cfg.demoCoef());
  }

  private PpoLossConfig lossCfgFor() {
    return new PpoLossConfig(cfg.clipRange(), 0f, cfg.entropyCoef(), 0f, 1);
  }

  /** One critic minibatch update; returns {value loss, value clip fraction}. */
  private float[] criticUpdate(Batch sub, float[] oldValues, float[] returns) {
    int k = sub.positions.length;
    float[] ov = new float[k], rt = new float[k], ones = new float[k];
    int q = 0;
    for (int j = 0; j < sub.rows.length; j++) {
      int b = sub.rows[j];
      for (int i = 0; i < sub.len[j]; i++, q++) {
        ov[q] = oldValues[b * sub.r + i];
        rt[q] = returns[b * sub.r + i];
        ones[q] = 1f;
      }
    }
    critic.zeroGrad();
    head.zeroGrad();
    float[] vm;
    Backend cb = critic.backend();
    try (Scope s = Scope.open()) {
      float[] vals = criticValues(sub);
      Tensor dv = cb.zeros(DType.F32, k);
      vm = cb.valueLoss(dv, cb.fromArray(vals, k), cb.fromArray(ov, k), cb.fromArray(rt, k), cb.fromArray(ones, k),
          cfg.valueClipRange());
      float[] dvals = dv.toFloatArray();
      for (int i = 0; i < k; i++) dvals[i] *= cfg.vfCoef();
      Tensor hidden = critic.hidden();
      Tensor dh = cb.zeros(DType.F32, hidden.shape());
      head.backward(dvals, dh);
      critic.backward(null, dh);
    }
    double norm = GradClip.globalNorm(cb, critic.grads(), head.grads());
    float scale = cfg.gradClip() > 0 ? GradClip.clipScale(norm, cfg.gradClip()) : 1f;
    if (Double.isFinite(norm)) {
      criticOpt.step(critic.params(), critic.grads(), cfg.criticLr(), scale);
      headOpt.step(head.params(), head.grads(), cfg.criticLr(), scale);
    }
    return vm;
  }

  private void step(AdamW opt, Tensor params, Tensor grads, float lr) {
    double norm = GradClip.globalNorm(backend, grads);
    if (!Double.isFinite(norm)) return; // a non-finite gradient is skipped, never applied
    float scale = cfg.gradClip() > 0 ? GradClip.clipScale(norm, cfg.gradClip()) : 1f;
    opt.step(params, grads, lr, scale);
  }

  /**
   * A training batch over some rows of the rollout batch: prompts left-padded to P, responses after them, right
   * padding; T = P + R - 1 inputs per row. targets (Bm*T) hold the response token predicted at each position
   * (-1 elsewhere); positions (Σ len) are the flat indices j*T + P - 1 + i of the response predictions.
   */
  private static final class Batch {
    final int[] rows, len, tokens, targets, kvStart, kvEnd, positions;
    final int p, r, t;

    Batch(List<int[]> prompts, List<int[]> responses, int[] rows, int p, int r) {
      this.rows = rows;
      this.p = p;
      this.r = r;
      this.t = p + r - 1;
      int bm = rows.length;
      len = new int[bm];
      tokens = new int[bm * t];
      targets = new int[bm * t];
      kvStart = new int[bm];
      kvEnd = new int[bm];
      Arrays.fill(targets, -1);
      int total = 0;
      for (int j = 0; j < bm; j++) {
        int[] pr = prompts.get(j), rs = responses.get(j);
        len[j] = rs.length;
        total += rs.length;
        kvStart[j] = p - pr.length;
        kvEnd[j] = p + rs.length - 1;
        int o = j * t;
        System.arraycopy(pr, 0, tokens, o + kvStart[j], pr.length);
        System.arraycopy(rs, 0, tokens, o + p, rs.length - 1);
        for (int i = 0; i < rs.length; i++) targets[o + p - 1 + i] = rs[i];
      }
      positions = new int[total];
      int q = 0;
      for (int j = 0; j < bm; j++) {
        for (int i = 0; i < len[j]; i++) positions[q++] = j * t + p - 1 + i;
      }
    }

    /** Per-position values (Bm*T) of the response predictions → (Bm, R) row-major, 0 at padding. */
    float[] gather(float[] perPosition) {
      float[] out = new float[rows.length * r];
      for (int j = 0; j < rows.length; j++) {
        for (int i = 0; i < len[j]; i++) out[j * r + i] = perPosition[j * t + p - 1 + i];
      }
      return out;
    }

    /** Values in positions order (Σ len) → (Bm, R) row-major, 0 at padding. */
    float[] scatter(float[] packed, boolean unused) {
      float[] out = new float[rows.length * r];
      int q = 0;
      for (int j = 0; j < rows.length; j++) {
        for (int i = 0; i < len[j]; i++) out[j * r + i] = packed[q++];
      }
      return out;
    }
  }

  // ------------------------------------------------------------------ checkpoints

  /**
   * Writes the complete trainer state: policy parameters and AdamW moments (as {@link Checkpoint#PARAMS},
   * {@link Checkpoint#ADAM_M}, {@link Checkpoint#ADAM_V}, so the file also loads as a plain policy checkpoint),
   * the critic, its value head and their moments, the KL coefficient, the RNG state and the prompt cursor.
   */
  public void save(Path path) {
    double s = backend.sumSquares(policy.params()) + backend.sumSquares(policyOpt.m())
        + backend.sumSquares(policyOpt.v());
    if (!Double.isFinite(s)) {
      throw new IllegalStateException("refusing to save: the policy or its optimizer state is not finite");
    }
    Checkpoint.Writer w = new Checkpoint.Writer(policy.config())
        .step(step)
        .optimizerStep(policyOpt.stepCount())
        .rngState(rng)
        .dataCursor(cursor)
        .tensor(Checkpoint.PARAMS, policy.params())
        .tensor(Checkpoint.ADAM_M, policyOpt.m())
        .tensor(Checkpoint.ADAM_V, policyOpt.v())
        .tensor(CRITIC, critic.params())
        .tensor(CRITIC_M, criticOpt.m())
        .tensor(CRITIC_V, criticOpt.v())
        .tensor(HEAD, head.params())
        .tensor(HEAD_M, headOpt.m())
        .tensor(HEAD_V, headOpt.v())
        .string("stage", STAGE)
        .string("ppo.critic_config", critic.config().toString())
        .number("ppo.kl_coef", kl.value())
        .number("ppo.critic_optimizer_step", criticOpt.stepCount())
        .number("ppo.head_optimizer_step", headOpt.stepCount())
        .number("ppo.prompts", prompts.size())
        .number("ppo.batch_size", cfg.batchSize());
    if (ptx != null) {
      long[] c = ptx.cursor().toArray();
      w.number("ppo.ptx_position", c[0]).number("ppo.ptx_epoch", c[1]).number("ppo.ptx_draws", c[2]);
    }
    try {
      w.write(path);
    } catch (IOException e) {
      throw new UncheckedIOException("writing PPO checkpoint " + path, e);
    }
  }

  /**
   * Restores a state written by {@link #save(Path)} into this trainer (built with the same models'
   * configurations, prompts and config); call before {@link #train()}.
   */
  public void resume(Path path) {
    if (trained) throw new IllegalStateException("resume() must be called before train()");
    try (Checkpoint ck = Checkpoint.open(path)) {
      String stage = ck.requireString("stage");
      if (!STAGE.equals(stage)) {
        throw new IllegalArgumentException(path + " is not a PPO checkpoint (stage " + stage + ")");
      }
      if (!ck.config().equals(policy.config())) {
        throw new IllegalArgumentException("checkpoint " + path + " is for " + ck.config() + ", the policy is "
            + policy.config());
      }
      String cc = ck.requireString("ppo.critic_config");
      if (!critic.config().toString().equals(cc)) {
        throw new IllegalArgumentException("checkpoint " + path + " has critic " + cc + ", this trainer's is "
            + critic.config());
      }
      long bs = ck.requireInteger("ppo.batch_size", 1, Integer.MAX_VALUE);
      if (bs != cfg.batchSize()) {
        throw new IllegalArgumentException("checkpoint " + path + " used batchSize " + bs + ", this run "
            + cfg.batchSize() + "; resume with the same batch size");
      }
      // every field is read and checked before any state of this trainer changes
      long criticStep = ck.requireInteger("ppo.critic_optimizer_step", 0, Long.MAX_VALUE);
      long headStep = ck.requireInteger("ppo.head_optimizer_step", 0, Long.MAX_VALUE);
      double klCoef = ck.requireNumber("ppo.kl_coef");
      if (klCoef < 0) throw new CheckpointException(path + ": number \"ppo.kl_coef\" is " + klCoef + ", must be >= 0");
      long savedRng = ck.rngState(1)[0];
      long savedCursor = ck.dataCursor(1)[0];
      TokenBatcher.Cursor ptxCursor = null;
      if (ptx != null && ck.doubles().containsKey("ppo.ptx_draws")) {
        ptxCursor = new TokenBatcher.Cursor(ck.requireInteger("ppo.ptx_position", 0, Long.MAX_VALUE),
            ck.requireInteger("ppo.ptx_epoch", 0, Long.MAX_VALUE), ck.requireInteger("ppo.ptx_draws", 0, Long.MAX_VALUE));
      }
      ck.readInto(Checkpoint.PARAMS, policy.params());
      ck.readInto(Checkpoint.ADAM_M, policyOpt.m());
      ck.readInto(Checkpoint.ADAM_V, policyOpt.v());
      policyOpt.setStepCount(ck.optimizerStep());
      ck.readInto(CRITIC, critic.params());
      ck.readInto(CRITIC_M, criticOpt.m());
      ck.readInto(CRITIC_V, criticOpt.v());
      criticOpt.setStepCount(criticStep);
      ck.readInto(HEAD, head.params());
      ck.readInto(HEAD_M, headOpt.m());
      ck.readInto(HEAD_V, headOpt.v());
      headOpt.setStepCount(headStep);
      kl.setValue(klCoef);
      rng = savedRng;
      cursor = savedCursor;
      step = ck.step();
      if (ptxCursor != null) ptx.seek(ptxCursor);
    } catch (IOException e) {
      throw new UncheckedIOException("resuming PPO from " + path, e);
    }
  }

  /** Closes the critic, its head and the optimizers (not the policy, reference or reward function). */
  @Override
  public void close() {
    for (AutoCloseable a : new AutoCloseable[] {headOpt, criticOpt, policyOpt, head, critic}) closeQuietly(a);
  }
}
