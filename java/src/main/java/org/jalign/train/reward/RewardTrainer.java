package org.jalign.train.reward;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PairwiseExample;
import org.jalign.data.RankingExample;
import org.jalign.optim.AdamW;
import org.jalign.optim.AdamWConfig;
import org.jalign.optim.GradClip;
import org.jalign.optim.LrSchedule;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.text.Tokenizer;
import org.jalign.train.StageSupport;

/**
 * Trains a {@link RewardModel} on K-way rankings and pairwise preferences with the ranking loss
 * {@code -log σ(r_better − r_worse − margin)} averaged over all K(K−1)/2 pairs of every group.
 *
 * <p>Shape legend: G = groups of one size K in a step, K = responses per group, T = longest rendered response,
 * C = channels.
 *
 * <p>Each response is rendered as [user: prompt, assistant: response] and scored once (one forward row per
 * response, all G·K rows of a bucket in one forward); {@code Backend.rankingLoss} forms every pair from those K
 * scores. A step's groups are bucketed by K; bucket losses are weighted by their share of the step's pairs, so
 * the step loss is the mean over all its pairs. At the end the model's normalisation statistics are set to the
 * mean and standard deviation of the raw scores of every distinct training response (the reference set).
 *
 * <p>A reward model with a likelihood gate ({@link RewardModel#hasLikelihoodGate()}) trains its gate with the same
 * optimizer settings as its head; its reference is frozen, so each training response's reference log-probabilities
 * are computed once, on first use, and reused every epoch.
 */
public final class RewardTrainer {
  /** Rendered responses best first, where each response starts, and (filled on first use) their reference log-probs. */
  private static final class Group {
    final int[][] bestFirst;
    final int[] starts;
    final float margin;
    float[][] logprobs; // likelihood-gated models only: frozen reference, so computed once

    Group(int[][] bestFirst, int[] starts, float margin) {
      this.bestFirst = bestFirst;
      this.starts = starts;
      this.margin = margin;
    }

    int pairs() {
      return bestFirst.length * (bestFirst.length - 1) / 2;
    }
  }

  private final RewardModel rm;
  private final Backend backend;
  private final Tokenizer tok;
  private final RewardConfig cfg;
  private final List<Group> train;
  private final List<Group> heldout;

  /** Trains on K-way rankings; {@code heldout} (may be empty) measures pair accuracy. */
  public RewardTrainer(RewardModel rm, Tokenizer tok, RewardConfig cfg, List<RankingExample> train,
      List<RankingExample> heldout) {
    this(rm, tok, cfg, train == null ? null : train.stream().map(RankedGroup::of).toList(),
        heldout == null ? List.of() : heldout.stream().map(RankedGroup::of).toList(), 0);
  }

  /** Trains on pairwise preferences (K = 2 groups with each pair's margin). */
  public static RewardTrainer ofPairs(RewardModel rm, Tokenizer tok, RewardConfig cfg, List<PairwiseExample> train,
      List<PairwiseExample> heldout) {
    return new RewardTrainer(rm, tok, cfg, train == null ? null : train.stream().map(RankedGroup::of).toList(),
        heldout == null ? List.of() : heldout.stream().map(RankedGroup::of).toList(), 0);
  }

  /** Trains on any mix of rankings and pairs. */
  public static RewardTrainer ofGroups(RewardModel rm, Tokenizer tok, RewardConfig cfg, List<RankedGroup> train,
      List<RankedGroup> heldout) {
    return new RewardTrainer(rm, tok, cfg, train, heldout == null ? List.of() : heldout, 0);
  }

  private RewardTrainer(RewardModel rm, Tokenizer tok, RewardConfig cfg, List<RankedGroup> train,
      List<RankedGroup> heldout, int unused) {
    if (rm == null || tok == null || cfg == null || train == null) {
      throw new IllegalArgumentException("reward model, tokenizer, config and training examples are required");
    }
    if (train.isEmpty()) throw new IllegalArgumentException("no training examples");
    if (tok.vocabSize() > rm.trunk().config().vocabSize()) {
      throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens, the model only "
          + rm.trunk().config().vocabSize());
    }
    this.rm = rm;
    this.backend = rm.backend();
    this.tok = tok;
    this.cfg = cfg;
    this.train = render(train, "training");
    this.heldout = render(heldout, "held-out");
  }

  private List<Group> render(List<RankedGroup> groups, String set) {
    ChatTemplate tmpl = new ChatTemplate(tok);
    int maxLen = cfg.effectiveMaxLength(rm.trunk().config().contextLength());
    List<Group> out = new ArrayList<>(groups.size());
    for (int g = 0; g < groups.size(); g++) {
      RankedGroup rg = groups.get(g);
      int[][] seqs = new int[rg.size()][];
      int[] starts = new int[rg.size()];
      for (int k = 0; k < rg.size(); k++) {
        ChatTemplate.Rendered r = StageSupport.render(tmpl, rg.prompt(), rg.bestFirst().get(k), maxLen,
            cfg.truncation(), set + " example " + g + ", response " + k + ": ");
        seqs[k] = r.ids();
        int st = 0;
        while (st < r.length() && !r.trainable()[st]) st++;
        starts[k] = Math.max(1, Math.min(st, r.length() - 1));
      }
      out.add(new Group(seqs, starts, (float) rg.margin()));
    }
    return out;
  }

  /**
   * Loss and gradients of a list of groups (accumulated into the model; when {@code backward} is false, nothing
   * is accumulated). Returns {mean loss over all pairs, fraction of pairs ordered correctly}.
   */
  private double[] lossOf(List<Group> groups, boolean backward) {
    Map<Integer, List<Group>> byK = new TreeMap<>();
    long totalPairs = 0;
    for (Group g : groups) {
      byK.computeIfAbsent(g.bestFirst.length, k -> new ArrayList<>()).add(g);
      totalPairs += g.pairs();
    }
    double loss = 0, acc = 0;
    for (Map.Entry<Integer, List<Group>> e : byK.entrySet()) {
      int k = e.getKey();
      List<Group> bucket = e.getValue();
      int nG = bucket.size();
      ensureLogprobs(bucket);
      List<int[]> seqs = new ArrayList<>(nG * k);
      int[] starts = new int[nG * k];
      float[][] lps = rm.hasLikelihoodGate() ? new float[nG * k][] : null;
      int[] order = new int[nG * k];
      float[] margins = new float[nG];
      for (int g = 0; g < nG; g++) {
        for (int j = 0; j < k; j++) {
          seqs.add(bucket.get(g).bestFirst[j]);
          starts[g * k + j] = bucket.get(g).starts[j];
          if (lps != null) lps[g * k + j] = bucket.get(g).logprobs[j];
          order[g * k + j] = j;
        }
        margins[g] = bucket.get(g).margin;
      }
      double weight = (double) nG * k * (k - 1) / 2 / totalPairs;
      try (Scope s = Scope.open()) {
        float[] rewards;
        if (backward) {
          rewards = rm.forward(seqs, starts, lps);
        } else {
          rewards = rm.score(seqs, starts, lps);
        }
        Tensor r = backend.fromArray(rewards, nG, k);
        Tensor o = backend.fromArray(order, nG, k);
        Tensor m = backend.fromArray(margins, nG);
        Tensor dr = backward ? backend.zeros(DType.F32, nG, k) : null;
        float[] la = backend.rankingLoss(dr, r, o, m);
        loss += weight * la[0];
        acc += weight * la[1];
        if (backward) {
          float[] d = new float[nG * k];
          backend.copyToHost(d, dr);
          for (int i = 0; i < d.length; i++) d[i] *= (float) weight;
          Tensor dhidden = backend.zeros(DType.F32, rm.lastB, rm.lastT, rm.trunk().config().channels());
          rm.backward(d, dhidden);
        }
      }
    }
    return new double[] {loss, acc};
  }

  /** Computes the reference log-probabilities of the groups that lack them (likelihood-gated models only). */
  private void ensureLogprobs(List<Group> groups) {
    if (!rm.hasLikelihoodGate()) return;
    List<int[]> seqs = new ArrayList<>();
    List<Integer> startList = new ArrayList<>();
    List<Group> todo = new ArrayList<>();
    for (Group g : groups) {
      if (g.logprobs != null) continue;
      todo.add(g);
      for (int j = 0; j < g.bestFirst.length; j++) {
        seqs.add(g.bestFirst[j]);
        startList.add(g.starts[j]);
      }
    }
    if (todo.isEmpty()) return;
    float[][] lp = rm.referenceLogprobs(seqs, startList.stream().mapToInt(Integer::intValue).toArray());
    int at = 0;
    for (Group g : todo) {
      g.logprobs = java.util.Arrays.copyOfRange(lp, at, at + g.bestFirst.length);
      at += g.bestFirst.length;
    }
  }

  /** All responses of the groups as one list, with their starts and (gated models) reference log-probs. */
  private record Flat(List<int[]> seqs, int[] starts, float[][] logprobs) {}

  private Flat flatten(List<Group> groups, boolean distinct) {
    ensureLogprobs(groups);
    LinkedHashSet<List<Integer>> seen = new LinkedHashSet<>();
    List<int[]> seqs = new ArrayList<>();
    List<Integer> starts = new ArrayList<>();
    List<float[]> lps = new ArrayList<>();
    for (Group g : groups) {
      for (int j = 0; j < g.bestFirst.length; j++) {
        int[] s = g.bestFirst[j];
        if (distinct && !seen.add(java.util.Arrays.stream(s).boxed().toList())) continue;
        seqs.add(s);
        starts.add(g.starts[j]);
        if (g.logprobs != null) lps.add(g.logprobs[j]);
      }
    }
    return new Flat(seqs, starts.stream().mapToInt(Integer::intValue).toArray(),
        rm.hasLikelihoodGate() ? lps.toArray(new float[0][]) : null);
  }

  /** {mean ranking loss over all pairs, pair accuracy} of groups under the current model (no gradients). */
  public double[] evaluate(List<RankedGroup> groups) {
    return lossOf(render(groups, "evaluated"), false);
  }

  /**
   * Loss and gradients of groups, accumulated into the trunk and head (call {@link RewardModel#zeroGrad()}
   * first). Returns {mean ranking loss over all pairs, pair accuracy}.
   */
  public double[] lossAndGradient(List<RankedGroup> groups) {
    return lossOf(render(groups, "given"), true);
  }

  /** {pair accuracy, mean raw reward gap} over groups, from one score per response. */
  private double[] pairStats(List<Group> groups) {
    if (groups.isEmpty()) return new double[] {Double.NaN, Double.NaN};
    Flat all = flatten(groups, false);
    float[] r = rm.score(all.seqs(), all.starts(), all.logprobs());
    long pairs = 0, right = 0;
    double gap = 0;
    int at = 0;
    for (Group g : groups) {
      int k = g.bestFirst.length;
      for (int i = 0; i < k; i++) {
        for (int j = i + 1; j < k; j++) {
          double d = (double) r[at + i] - r[at + j];
          gap += d;
          if (d > 0) right++;
          pairs++;
        }
      }
      at += k;
    }
    return new double[] {(double) right / pairs, gap / pairs};
  }

  /** Runs the configured steps, sets the normalisation statistics, and returns the held-out metrics. */
  public RewardResult train() {
    int steps = cfg.totalSteps(train.size());
    LrSchedule schedule = StageSupport.schedule(cfg, steps);
    StageSupport.Order order = new StageSupport.Order(train.size(), cfg.seed());
    boolean show = StageSupport.showProgress(cfg);
    List<Map<String, Double>> history = new ArrayList<>();
    double[] held = pairStats(heldout);
    double heldStart = held[0];
    int channels = rm.head().channels();
    try (AdamW trunkOpt = StageSupport.adamW(rm.trunk(), cfg);
        AdamW headOpt = new AdamW(backend, channels + 1L, AdamWConfig.defaults().lr(cfg.lr()).weightDecay(0f));
        AdamW gateOpt = rm.hasLikelihoodGate()
            ? new AdamW(backend, channels + 1L, AdamWConfig.defaults().lr(cfg.lr()).weightDecay(0f)) : null) {
      for (int step = 0; step < steps; step++) {
        List<Group> batch = new ArrayList<>();
        for (int i : order.next(cfg.batchSize())) batch.add(train.get(i));
        rm.zeroGrad();
        double[] la = lossOf(batch, true);
        double norm = rm.hasLikelihoodGate()
            ? GradClip.globalNorm(backend, rm.trunk().grads(), rm.head().grads(), rm.gate().grads())
            : GradClip.globalNorm(backend, rm.trunk().grads(), rm.head().grads());
        StageSupport.requireFinite(la[0], "the ranking loss", step);
        StageSupport.requireFinite(norm, "the gradient norm", step);
        double lr = schedule.lr(step);
        float scale = GradClip.clipScale(norm, cfg.gradClip());
        trunkOpt.step(rm.trunk().params(), rm.trunk().grads(), (float) lr, scale);
        headOpt.step(rm.head().params(), rm.head().grads(), (float) lr, scale);
        if (gateOpt != null) gateOpt.step(rm.gate().params(), rm.gate().grads(), (float) lr, scale);
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("step", (double) step);
        m.put("loss", la[0]);
        m.put("accuracy", la[1]);
        m.put("lr", lr);
        m.put("gradNorm", norm);
        boolean last = step == steps - 1;
        if (!heldout.isEmpty() && (last || (cfg.evalEvery() > 0 && (step + 1) % cfg.evalEvery() == 0))) {
          held = pairStats(heldout);
          m.put("heldoutAccuracy", held[0]);
          m.put("meanMargin", held[1]);
        }
        history.add(m);
        StageSupport.progress(cfg, show, StageSupport.fmt("reward step %d/%d  loss %.4f  acc %.3f  |g| %.3f  held-out %.3f",
            step + 1, steps, la[0], la[1], norm, held[0]));
      }
    }
    double[] stats = normalize();
    StageSupport.summary(cfg, show, StageSupport.fmt("reward: %d steps, %s, reward mean %.4f std %.4f", steps,
        heldout.isEmpty() ? StageSupport.trainingLoss(history) + " (no held-out data)"
            : StageSupport.fmt("held-out pair accuracy %.3f -> %.3f, mean margin %.4f", heldStart, held[0], held[1]),
        stats[0], stats[1]));
    return new RewardResult(held[0], held[1], stats[0], stats[1], history);
  }

  /** Sets the model's mean/std over the distinct training responses; returns {mean, std}. */
  private double[] normalize() {
    Flat ref = flatten(train, true);
    float[] r = rm.score(ref.seqs(), ref.starts(), ref.logprobs());
    double mean = 0;
    for (float v : r) mean += v;
    mean /= r.length;
    double var = 0;
    for (float v : r) var += (v - mean) * (v - mean);
    double std = Math.sqrt(var / r.length);
    if (!(std > 1e-8)) std = 1.0;
    rm.setNormalization(mean, std);
    return new double[] {mean, std};
  }
}
