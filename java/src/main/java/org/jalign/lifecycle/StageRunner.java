package org.jalign.lifecycle;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.jalign.data.ChatTemplate;
import org.jalign.data.RankingExample;
import org.jalign.data.SftExample;
import org.jalign.generate.GenerationConfig;
import org.jalign.model.Gpt;
import org.jalign.train.ppo.PpoConfig;
import org.jalign.train.ppo.PpoResult;
import org.jalign.train.ppo.PpoTrainer;
import org.jalign.train.reward.RewardConfig;
import org.jalign.train.reward.RewardModel;
import org.jalign.train.reward.RewardResult;
import org.jalign.train.rejection.RejectionSamplingTrainer;
import org.jalign.train.reward.RewardTrainer;
import org.jalign.train.sft.SftConfig;
import org.jalign.train.sft.SftResult;
import org.jalign.train.sft.SftTrainer;
import org.jalign.world.Demonstration;
import org.jalign.world.Prompt;
import org.jalign.world.PromptResponse;
import org.jalign.world.RankedExample;
import org.jalign.world.Response;
import org.jalign.world.Split;

/**
 * Stages 2-4 of the lifecycle (SFT, reward model, rejection sampling, PPO) and the SFT / RLHF evaluation
 * generations.
 */
final class StageRunner {
  private final Lifecycle lc;
  private final LifecycleConfig cfg;
  private List<PromptResponse> sftEval;
  private List<PromptResponse> rlhfEval;
  /** The reward model's held-out rankings (EVAL prompts), for the first training and every refresh. */
  private List<RankingExample> heldout;
  /** See {@link #vetted()}. */
  private List<SftExample> vetted;

  StageRunner(Lifecycle lc) {
    this.lc = lc;
    this.cfg = lc.config();
  }

  List<PromptResponse> sftEval() {
    return sftEval;
  }

  List<PromptResponse> rlhfEval() {
    return rlhfEval;
  }

  void run(Gpt policy) throws IOException {
    sft(policy);
    List<Prompt> evalPrompts = lc.evalPrompts();
    long t = System.nanoTime();
    sftEval = lc.respond(policy, evalPrompts);
    double genSecs = Lifecycle.secs(t);
    try (Gpt reference = new Gpt(policy.config(), policy.backend(), 0)) {
      reference.copyParamsFrom(policy); // the frozen SFT model
      try (RewardModel rm = reward(policy)) {
        if (cfg.rejectionSamples > 0) {
          rejectionSampling(policy, rm);
          reference.copyParamsFrom(policy); // PPO's KL anchor is the policy it starts from
        }
        List<int[]> rlPrompts = rlPromptIds();
        List<Map<String, Double>> history = new ArrayList<>();
        List<double[]> rounds = new ArrayList<>();
        long t0 = System.nanoTime();
        double refreshSecs = 0;
        for (int round = 1; round <= cfg.rlhfRounds; round++) {
          if (round > 1 || cfg.refreshBeforeFirstRound) {
            long tr = System.nanoTime();
            refresh(policy, rm, round);
            refreshSecs += Lifecycle.secs(tr);
          }
          rounds.add(ppoRound(policy, reference, rm, rlPrompts, round, history));
        }
        ppoSummary(history, rounds, Lifecycle.secs(t0) - refreshSecs);
        lc.saveModel(policy, "ppo.ckpt", "ppo");
      }
    }
    t = System.nanoTime();
    rlhfEval = lc.respond(policy, evalPrompts);
    genSecs += Lifecycle.secs(t);
    lc.say(String.format("eval: generated %d + %d held-out responses in %.0f s", sftEval.size(), rlhfEval.size(),
        genSecs));
  }

  // ------------------------------------------------------------------ SFT

  private void sft(Gpt policy) throws IOException {
    long t = System.nanoTime();
    List<SftExample> all = new ArrayList<>();
    for (Demonstration d : lc.world().sftDemonstrations()) {
      all.add(SftExample.of(d.prompt().text(), d.response().text()));
    }
    Collections.shuffle(all, new Random(cfg.seed));
    int nEval = Math.max(16, all.size() / 10);
    List<SftExample> eval = all.subList(0, nEval);
    List<SftExample> train = all.subList(nEval, all.size());
    SftConfig sc = new SftConfig().batchSize(cfg.sftBatch).maxSteps(cfg.sftSteps).epochs(1000).lr(cfg.sftLr)
        .warmupSteps(Math.max(1, cfg.sftSteps / 20)).minLrFraction(0.1).maxLength(cfg.contextLength)
        .seed(cfg.seed).progress(cfg.progress).out(lc.out()).ptxCoef(cfg.sftPtxCoef).ptxSeqLen(ptxSeqLen());
    SftTrainer trainer = new SftTrainer(policy, lc.tokenizer(), sc, train, eval);
    if (cfg.sftPtxCoef > 0) trainer.pretrainData(lc.corpus());
    SftResult r = trainer.train();
    double secs = Lifecycle.secs(t);
    if (cfg.progress) lc.out().println();
    lc.say(String.format("sft: %d steps, response-token eval loss %.3f -> %.3f, %.0f tok/s, %.0f s", cfg.sftSteps,
        r.evalLossStart(), r.evalLossEnd(), r.tokensPerSecond(), secs));
    Map<String, Double> s = new LinkedHashMap<>();
    s.put("val_loss_start", r.evalLossStart());
    s.put("val_loss_end", r.evalLossEnd());
    s.put("tokens_per_second", r.tokensPerSecond());
    s.put("ptx_coef", (double) cfg.sftPtxCoef);
    if (cfg.sftPtxCoef > 0) s.put("ptx_loss_end", tailMean(r.history(), "ptx_loss"));
    lc.stage("sft", secs, s);
    series("sft", "train loss", r.history(), "loss");
    series("sft", "pretraining-text loss", r.history(), "ptx_loss");
    lc.saveModel(policy, "sft.ckpt", "sft");
  }

  // ------------------------------------------------------------------ reward model

  private List<RankingExample> rankings(List<Prompt> prompts, long seed) {
    List<RankedExample> ranked = lc.world().rankingData(prompts, cfg.rewardK, seed);
    Random rnd = new Random(seed);
    List<RankingExample> out = new ArrayList<>();
    for (RankedExample re : ranked) {
      // Present the responses in a random order; the ranking lists their indices best first.
      int k = re.bestFirst().size();
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < k; i++) order.add(i);
      Collections.shuffle(order, rnd);
      List<String> responses = new ArrayList<>(Collections.nCopies(k, ""));
      Integer[] ranking = new Integer[k];
      for (int rank = 0; rank < k; rank++) {
        Response resp = re.bestFirst().get(rank);
        int slot = order.get(rank);
        responses.set(slot, resp.text());
        ranking[rank] = slot;
      }
      out.add(new RankingExample(re.prompt().text(), responses, List.of(ranking)));
    }
    return out;
  }

  private RewardModel reward(Gpt sft) {
    long t = System.nanoTime();
    List<RankingExample> train = new ArrayList<>();
    for (int d = 0; d < cfg.rewardRankingsPerPrompt; d++) {
      train.addAll(rankings(lc.world().prompts(Split.TRAIN), cfg.seed * 31 + 1 + 1000L * d));
    }
    heldout = rankings(lc.world().prompts(Split.EVAL), cfg.seed * 31 + 2);
    RewardModel rm = RewardModel.fromPolicy(sft, cfg.seed, cfg.rewardLikelihoodGate);
    try {
      RewardConfig rc = new RewardConfig().batchSize(cfg.rewardBatch).maxSteps(cfg.rewardSteps).epochs(1000)
          .lr(cfg.rewardLr).warmupSteps(Math.max(1, cfg.rewardSteps / 20)).minLrFraction(0.1)
          .maxLength(cfg.rewardMaxLength).seed(cfg.seed).progress(cfg.progress).out(lc.out());
      RewardResult r = new RewardTrainer(rm, lc.tokenizer(), rc, train, heldout).train();
      double secs = Lifecycle.secs(t);
      if (cfg.progress) lc.out().println();
      lc.say(String.format("reward: %d steps on %d rankings (K=%d%s), held-out pair accuracy %.3f, mean margin %.2f, "
          + "%.0f s", cfg.rewardSteps, train.size(), cfg.rewardK, cfg.rewardLikelihoodGate ? ", likelihood gate" : "",
          r.heldoutPairAccuracy(), r.meanMargin(), secs));
      Map<String, Double> s = new LinkedHashMap<>();
      s.put("heldout_pair_accuracy", r.heldoutPairAccuracy());
      s.put("heldout_mean_margin", r.meanMargin());
      s.put("reward_mean", r.rewardMean());
      s.put("reward_std", r.rewardStd());
      s.put("likelihood_gate", cfg.rewardLikelihoodGate ? 1.0 : 0.0);
      s.put("rankings_per_prompt", (double) cfg.rewardRankingsPerPrompt);
      s.put("max_length", (double) cfg.rewardMaxLength);
      s.put("k", (double) cfg.rewardK);
      lc.stage("reward", secs, s);
      series("reward", "train loss", r.history(), "loss");
      series("reward", "train pair accuracy", r.history(), "accuracy");
      rm.save(lc.dir().resolve("reward.ckpt"), lc.tokenizer());
      return rm;
    } catch (RuntimeException e) {
      rm.close();
      throw e;
    }
  }

  // ------------------------------------------------------------------ rejection sampling

  /**
   * The vetted SFT demonstrations ({@link org.jalign.world.AlignmentWorld#vettedDemonstrations()}) as SFT examples,
   * for rejection sampling and PPO; built on first use.
   */
  private List<SftExample> vetted() {
    if (vetted == null) {
      List<SftExample> xs = new ArrayList<>();
      for (Demonstration d : lc.world().vettedDemonstrations()) {
        xs.add(SftExample.of(d.prompt().text(), d.response().text()));
      }
      vetted = List.copyOf(xs);
    }
    return vetted;
  }

  /**
   * Best-of-n fine-tuning on the RL prompts under the reward model (see {@link RejectionSamplingTrainer}), repeated
   * {@link LifecycleConfig#rejectionIterations} times: each iteration samples from the policy the previous one
   * fine-tuned, so a response the SFT policy rarely gives (an honest "I don't know") is sampled more often, and
   * chosen more often, in the next iteration.
   */
  private void rejectionSampling(Gpt policy, RewardModel rm) {
    long t = System.nanoTime();
    List<String> prompts = new ArrayList<>();
    for (Prompt p : lc.world().prompts(Split.RL)) prompts.add(p.text());
    int iterations = cfg.rejectionIterations;
    double firstSampleMean = Double.NaN, lastSampleMean = Double.NaN, lastChosenMean = Double.NaN;
    double lossStart = Double.NaN, lossEnd = Double.NaN, ptxEnd = Double.NaN;
    int skipped = 0;
    for (int it = 1; it <= iterations; it++) {
      GenerationConfig sampling = GenerationConfig.builder().maxNewTokens(cfg.maxNewTokens).temperature(1f)
          .seed(cfg.seed * 13 + 5 + 7919L * (it - 1)).build();
      SftConfig sc = new SftConfig().batchSize(cfg.sftBatch).maxSteps(cfg.rejectionSteps).epochs(1000)
          .lr(cfg.rejectionLr).warmupSteps(Math.max(1, cfg.rejectionSteps / 20)).minLrFraction(0.1)
          .maxLength(cfg.contextLength).seed(cfg.seed + 17 + it - 1).progress(false).out(null) // summary below
          .ptxCoef(cfg.rejectionPtxCoef).ptxSeqLen(ptxSeqLen());
      RejectionSamplingTrainer trainer = new RejectionSamplingTrainer(policy, lc.tokenizer(), rm, prompts,
          cfg.rejectionSamples, sampling, sc).greedyCandidate(cfg.rejectionGreedy)
          .consensusWeight(cfg.rejectionConsensus).greedyMargin(cfg.rejectionGreedyMargin);
      if (cfg.rejectionPtxCoef > 0) trainer.pretrainData(lc.corpus());
      if (cfg.rejectionDemonstrations) trainer.demonstrations(vetted());
      RejectionSamplingTrainer.Result r = trainer.train();
      List<Map<String, Double>> h = r.sft().history();
      lossStart = h.get(0).get("loss");
      lossEnd = h.get(h.size() - 1).get("loss");
      if (cfg.rejectionPtxCoef > 0) ptxEnd = tailMean(h, "ptx_loss");
      if (it == 1) firstSampleMean = r.meanSampleReward();
      lastSampleMean = r.meanSampleReward();
      lastChosenMean = r.meanChosenReward();
      skipped = r.skippedPrompts();
      String demos = cfg.rejectionDemonstrations ? " with " + vetted().size() + " vetted demonstrations" : "";
      lc.say(String.format("rejection sampling %d/%d: best of %d samples on %d prompts, mean reward %.3f -> chosen "
          + "%.3f; %d steps%s, loss %.3f -> %.3f", it, iterations, cfg.rejectionSamples, prompts.size(),
          r.meanSampleReward(), r.meanChosenReward(), cfg.rejectionSteps, demos, lossStart, lossEnd));
      series("rejection_sampling", iterations > 1 ? "train loss (iteration " + it + ")" : "train loss", h, "loss");
    }
    double secs = Lifecycle.secs(t);
    lc.say(String.format("rejection sampling: %d iteration(s), mean sample reward %.3f -> %.3f, %.0f s", iterations,
        firstSampleMean, lastSampleMean, secs));
    Map<String, Double> s = new LinkedHashMap<>();
    s.put("samples_per_prompt", (double) cfg.rejectionSamples);
    s.put("iterations", (double) iterations);
    s.put("greedy_candidate", cfg.rejectionGreedy ? 1.0 : 0.0);
    s.put("consensus_weight", (double) cfg.rejectionConsensus);
    s.put("greedy_margin", (double) cfg.rejectionGreedyMargin);
    s.put("prompts", (double) prompts.size());
    s.put("skipped_prompts", (double) skipped);
    s.put("reward_mean_samples", firstSampleMean);
    s.put("reward_mean_samples_last", lastSampleMean);
    s.put("reward_mean_chosen", lastChosenMean);
    s.put("loss_start", lossStart);
    s.put("loss_end", lossEnd);
    s.put("ptx_coef", (double) cfg.rejectionPtxCoef);
    if (cfg.rejectionPtxCoef > 0) s.put("ptx_loss_end", ptxEnd);
    s.put("demonstrations", cfg.rejectionDemonstrations ? (double) vetted().size() : 0.0);
    lc.stage("rejection_sampling", secs, s);
  }

  // ------------------------------------------------------------------ PPO

  /** The RL prompts, shuffled once and rendered for generation; every PPO round reads them in this order. */
  private List<int[]> rlPromptIds() {
    List<String> prompts = new ArrayList<>();
    for (Prompt p : lc.world().prompts(Split.RL)) prompts.add(p.text());
    Collections.shuffle(prompts, new Random(cfg.seed * 7 + 3));
    List<int[]> ids = new ArrayList<>(prompts.size());
    for (String p : prompts) ids.add(lc.promptIds(p));
    return ids;
  }

  /**
   * One PPO round against the current reward model; appends its per-step metrics (with a "round" key) to
   * {@code history} and returns {reward start, reward end, KL end} as step-window means of this round.
   */
  private double[] ppoRound(Gpt policy, Gpt reference, RewardModel rm, List<int[]> promptIds, int round,
      List<Map<String, Double>> history) throws IOException {
    long t = System.nanoTime();
    PpoConfig pc = PpoConfig.builder().steps(cfg.ppoSteps).batchSize(cfg.ppoBatch).lr(cfg.ppoLr)
        .klCoef(cfg.ppoKlCoef).ptxCoef(cfg.ppoPtxCoef).demoCoef(cfg.ppoDemoCoef)
        .ptxSeqLen(ptxSeqLen()).responseLength(cfg.maxNewTokens)
        .seed(cfg.seed + 1000L * (round - 1)).progress(cfg.progress).out(lc.out()).build();
    try (PpoTrainer trainer = PpoTrainer.fromPromptIds(policy, reference, rm, lc.tokenizer(), pc, promptIds,
        rm.trunk())) {
      if (cfg.ppoPtxCoef > 0) trainer.pretrainData(lc.corpus());
      if (cfg.ppoDemoCoef > 0) trainer.demonstrations(vetted());
      PpoResult r = trainer.train();
      if (cfg.progress) lc.out().println();
      int w = Math.max(1, r.history().size() / 10);
      double[] out = {windowMean(r.history(), "reward", 0, w),
          windowMean(r.history(), "reward", r.history().size() - w, w),
          windowMean(r.history(), "kl_to_ref", r.history().size() - w, w)};
      for (Map<String, Double> m : r.history()) {
        Map<String, Double> c = new LinkedHashMap<>(m);
        c.put("round", (double) round);
        history.add(c);
      }
      lc.say(String.format("ppo round %d/%d: %d steps, reward %.3f -> %.3f, KL to reference %.4f (means of %d steps), "
          + "%.0f s", round, cfg.rlhfRounds, cfg.ppoSteps, out[0], out[1], out[2], w, Lifecycle.secs(t)));
      if (round == cfg.rlhfRounds) trainer.save(lc.dir().resolve("ppo-state.ckpt"));
      return out;
    }
  }

  /**
   * Before an RLHF round (every round after the first, and the first with refreshBeforeFirstRound): the oracle
   * ranks the policy's own samples (temperature 1) beside the world's candidates on the training prompts, and the
   * reward model continues training on those rankings.
   */
  private void refresh(Gpt policy, RewardModel rm, int round) {
    long t = System.nanoTime();
    long seed = cfg.seed * 31 + 10 + round;
    List<Prompt> prompts = lc.world().prompts(Split.TRAIN);
    int nSamples = cfg.refreshSamples;
    List<RankedExample> world = cfg.rewardK > nSamples
        ? lc.world().rankingData(prompts, cfg.rewardK - nSamples, seed) : null;
    List<String> samples = lc.generate(policy, prompts, nSamples, 1f, seed);
    Random rnd = new Random(seed);
    List<RankingExample> train = new ArrayList<>();
    for (int q = 0; q < prompts.size(); q++) {
      Prompt p = prompts.get(q);
      // Distinct, non-blank texts only (a sample may be empty or repeat another response).
      java.util.LinkedHashSet<String> distinct = new java.util.LinkedHashSet<>();
      if (world != null) {
        for (Response x : world.get(q).bestFirst()) distinct.add(x.text());
      }
      for (String x : samples.subList(q * nSamples, (q + 1) * nSamples)) {
        if (!x.isBlank()) distinct.add(x);
      }
      if (distinct.size() < 2) continue;
      List<String> texts = new ArrayList<>(distinct);
      Collections.shuffle(texts, rnd);
      List<Integer> ranking = new ArrayList<>();
      for (int o : lc.world().oracle().rank(p, texts)) ranking.add(o);
      train.add(new RankingExample(p.text(), texts, ranking));
    }
    RewardConfig rc = new RewardConfig().batchSize(cfg.rewardBatch).maxSteps(cfg.rewardRefreshSteps).epochs(1000)
        .lr(cfg.rewardLr / 2).warmupSteps(Math.max(1, cfg.rewardRefreshSteps / 20)).minLrFraction(0.1)
        .maxLength(cfg.rewardMaxLength).seed(seed).progress(cfg.progress).out(lc.out());
    RewardResult rr = new RewardTrainer(rm, lc.tokenizer(), rc, train, heldout).train();
    double secs = Lifecycle.secs(t);
    if (cfg.progress) lc.out().println();
    lc.say(String.format("reward refresh before round %d: %d steps on %d rankings of the policy's samples, held-out "
        + "pair accuracy %.3f, %.0f s", round, cfg.rewardRefreshSteps, train.size(), rr.heldoutPairAccuracy(), secs));
    Map<String, Double> s = new LinkedHashMap<>();
    s.put("heldout_pair_accuracy", rr.heldoutPairAccuracy());
    s.put("steps", (double) cfg.rewardRefreshSteps);
    int refreshes = cfg.rlhfRounds - 1 + (cfg.refreshBeforeFirstRound ? 1 : 0);
    lc.stage(refreshes > 1 ? "reward_refresh_" + round : "reward_refresh", secs, s);
    series("reward_refresh", "train loss (round " + round + ")", rr.history(), "loss");
  }

  /**
   * The "ppo" stage of report.json: reward and KL of the last round (the same reward model from its start to its
   * end), the first round's figures beside them, and the per-step series of all rounds.
   */
  private void ppoSummary(List<Map<String, Double>> history, List<double[]> rounds, double secs) {
    double[] first = rounds.get(0), last = rounds.get(rounds.size() - 1);
    Map<String, Double> lastStep = history.get(history.size() - 1);
    Map<String, Double> s = new LinkedHashMap<>();
    s.put("reward_start", last[0]);
    s.put("reward_end", last[1]);
    s.put("kl_to_ref_end", last[2]);
    s.put("rounds", (double) cfg.rlhfRounds);
    s.put("refresh_before_first_round", cfg.refreshBeforeFirstRound ? 1.0 : 0.0);
    s.put("steps_per_round", (double) cfg.ppoSteps);
    s.put("window_steps", (double) Math.max(1, cfg.ppoSteps / 10));
    s.put("ptx_coef", (double) cfg.ppoPtxCoef);
    s.put("demo_coef", (double) cfg.ppoDemoCoef);
    s.put("round1_reward_start", first[0]);
    s.put("round1_reward_end", first[1]);
    s.put("round1_kl_to_ref_end", first[2]);
    s.put("reward_last_step", lastStep.get("reward"));
    s.put("kl_to_ref_last_step", lastStep.get("kl_to_ref"));
    lc.say(String.format("ppo: %d round(s) x %d steps, last round reward %.3f -> %.3f, KL to reference %.4f, %.0f s",
        cfg.rlhfRounds, cfg.ppoSteps, last[0], last[1], last[2], secs));
    lc.stage("ppo", secs, s);
    for (String key : new String[] {"reward", "kl_to_ref", "entropy", "clip_frac", "approx_kl", "value_loss",
        "response_length", "ptx_loss", "demo_loss"}) {
      series("ppo", key, history, key);
    }
  }

  /** Windows of pretraining text in SFT-ptx, rejection sampling and PPO-ptx: 64 tokens, or less in a small run. */
  private int ptxSeqLen() {
    return Math.min(64, cfg.pretrainSeqLen);
  }

  /** The mean of a history key over the last (up to) 10 steps: a smoother end value than the last step's. */
  private static double tailMean(List<Map<String, Double>> history, String key) {
    int n = Math.min(10, history.size());
    return windowMean(history, key, history.size() - n, n);
  }

  private static double windowMean(List<Map<String, Double>> history, String key, int from, int n) {
    double sum = 0;
    for (int i = from; i < from + n; i++) sum += history.get(i).get(key);
    return sum / n;
  }

  private void series(String stage, String name, List<Map<String, Double>> history, String key) {
    double[] y = history.stream().filter(m -> m.get(key) != null).mapToDouble(m -> m.get(key)).toArray();
    if (y.length > 0) lc.report().series(stage, name, y);
  }
}
