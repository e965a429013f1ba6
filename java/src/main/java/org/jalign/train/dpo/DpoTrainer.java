package org.jalign.train.dpo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PairwiseExample;
import org.jalign.model.Gpt;
import org.jalign.optim.AdamW;
import org.jalign.optim.GradClip;
import org.jalign.optim.LrSchedule;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.text.Tokenizer;
import org.jalign.train.StageSupport;

/**
 * Direct preference optimisation: for a pair (chosen c, rejected r) with sequence log-probabilities S over the
 * response tokens, z = β·[(S_π(c) − S_ref(c)) − (S_π(r) − S_ref(r))] and
 * loss = −(1−ε)·log σ(z) − ε·log σ(−z) (ε = label smoothing), averaged over the batch's pairs.
 *
 * <p>Shape legend: P = pairs per step, B = 2P rows (chosen rows first, then rejected), T = longest row, Vp =
 * padded vocabulary.
 *
 * <p>The reference model's log-probabilities are computed once, for every train and eval pair, on the first
 * call that needs them and cached ({@link #referenceForwardRows()} counts the rows run through it). The gradient
 * of S w.r.t. the logits at a response position is onehot − softmax, so it comes from the fused cross-entropy
 * with a per-position weight −dL/dS; positions outside responses get weight 0.
 */
public final class DpoTrainer {
  private final Gpt policy;
  private final Gpt reference;
  private final Backend backend;
  private final DpoConfig cfg;
  private final int padId;
  private final List<ChatTemplate.Rendered[]> train;
  private final List<ChatTemplate.Rendered[]> eval;
  private double[][] refTrain; // [pair] {chosen, rejected}
  private double[][] refEval;
  private long referenceRows;

  /**
   * @param policy the model to train (updated in place), usually the SFT model
   * @param reference the frozen reference (a different object with the same configuration), usually a copy of
   *     the SFT model
   */
  public DpoTrainer(Gpt policy, Gpt reference, Tokenizer tok, DpoConfig cfg, List<PairwiseExample> train,
      List<PairwiseExample> eval) {
    if (policy == null || reference == null || tok == null || cfg == null || train == null) {
      throw new IllegalArgumentException("policy, reference, tokenizer, config and training pairs are required");
    }
    if (policy == reference) {
      throw new IllegalArgumentException("the reference must be a separate, frozen copy of the policy");
    }
    if (!policy.config().equals(reference.config())) {
      throw new IllegalArgumentException("policy " + policy.config() + " and reference " + reference.config()
          + " differ");
    }
    if (train.isEmpty()) throw new IllegalArgumentException("no training pairs");
    if (tok.vocabSize() > policy.config().vocabSize()) {
      throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens, the model only "
          + policy.config().vocabSize());
    }
    this.policy = policy;
    this.reference = reference;
    this.backend = policy.backend();
    this.cfg = cfg;
    this.padId = StageSupport.padId(tok);
    this.train = render(tok, train, "training");
    this.eval = render(tok, eval == null ? List.of() : eval, "eval");
  }

  private List<ChatTemplate.Rendered[]> render(Tokenizer tok, List<PairwiseExample> pairs, String set) {
    ChatTemplate tmpl = new ChatTemplate(tok);
    int maxLen = cfg.effectiveMaxLength(policy.config().contextLength());
    List<ChatTemplate.Rendered[]> out = new ArrayList<>(pairs.size());
    for (int i = 0; i < pairs.size(); i++) {
      PairwiseExample p = pairs.get(i);
      out.add(new ChatTemplate.Rendered[] {
          StageSupport.render(tmpl, p.prompt(), p.chosen(), maxLen, cfg.truncation(), set + " pair " + i + ", chosen: "),
          StageSupport.render(tmpl, p.prompt(), p.rejected(), maxLen, cfg.truncation(), set + " pair " + i + ", rejected: ")});
    }
    return out;
  }

  /** Rows run through the reference model so far (each pair's two rows exactly once). */
  public long referenceForwardRows() {
    return referenceRows;
  }

  private double[][] referenceLogprobs(List<ChatTemplate.Rendered[]> pairs) {
    double[][] out = new double[pairs.size()][];
    int chunk = Math.max(1, cfg.evalBatchSize() / 2);
    for (int from = 0; from < pairs.size(); from += chunk) {
      List<ChatTemplate.Rendered[]> part = pairs.subList(from, Math.min(pairs.size(), from + chunk));
      double[] s = StageSupport.sequenceLogprobs(reference, rows(part), null);
      referenceRows += s.length;
      for (int i = 0; i < part.size(); i++) out[from + i] = new double[] {s[i], s[part.size() + i]};
    }
    return out;
  }

  private void ensureReference() {
    if (refTrain == null) refTrain = referenceLogprobs(train);
    if (refEval == null) refEval = referenceLogprobs(eval);
  }

  private StageSupport.Batch rows(List<ChatTemplate.Rendered[]> pairs) {
    List<ChatTemplate.Rendered> rows = new ArrayList<>(2 * pairs.size());
    for (ChatTemplate.Rendered[] p : pairs) rows.add(p[0]);
    for (ChatTemplate.Rendered[] p : pairs) rows.add(p[1]);
    return StageSupport.batch(rows, padId);
  }

  private static double logSigmoid(double x) {
    return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
  }

  private static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  }

  private double pairLoss(double z) {
    double e = cfg.labelSmoothing();
    return -(1 - e) * logSigmoid(z) - e * logSigmoid(-z);
  }

  /**
   * Metrics of pairs (no gradients): {mean loss, accuracy, mean margin β·Δ, mean chosen reward, mean rejected
   * reward}.
   */
  private double[] metrics(List<ChatTemplate.Rendered[]> pairs, double[][] ref) {
    double[] acc = new double[5];
    int chunk = Math.max(1, cfg.evalBatchSize() / 2);
    for (int from = 0; from < pairs.size(); from += chunk) {
      List<ChatTemplate.Rendered[]> part = pairs.subList(from, Math.min(pairs.size(), from + chunk));
      double[] s = StageSupport.sequenceLogprobs(policy, rows(part), null);
      for (int i = 0; i < part.size(); i++) {
        double[] r = ref[from + i];
        double rc = cfg.beta() * (s[i] - r[0]), rr = cfg.beta() * (s[part.size() + i] - r[1]);
        acc[0] += pairLoss(rc - rr);
        acc[1] += rc > rr ? 1 : 0;
        acc[2] += rc - rr;
        acc[3] += rc;
        acc[4] += rr;
      }
    }
    for (int i = 0; i < acc.length; i++) acc[i] /= pairs.size();
    return acc;
  }

  /** {loss, accuracy, margin, chosen reward, rejected reward} of the eval pairs (training pairs without eval). */
  public double[] evaluate() {
    ensureReference();
    return eval.isEmpty() ? metrics(train, refTrain) : metrics(eval, refEval);
  }

  /**
   * Loss and gradients of a batch of training pairs (by index), accumulated into the policy. Returns {loss,
   * accuracy, margin, chosen reward, rejected reward}.
   */
  public double[] lossAndGradient(int[] pairIdx) {
    ensureReference();
    List<ChatTemplate.Rendered[]> pairs = new ArrayList<>(pairIdx.length);
    for (int i : pairIdx) pairs.add(train.get(i));
    StageSupport.Batch batch = rows(pairs);
    int p = pairs.size(), b = batch.rows(), t = batch.time(), n = b * t;
    try (Scope sc = Scope.open()) {
      Tensor logits = policy.forward(batch.tokens(), b, t, null, batch.kvEnd());
      Tensor targets = backend.fromArray(batch.targets(), n);
      Tensor losses = backend.zeros(DType.F32, n);
      backend.crossEntropy(losses, null, logits, targets, null, policy.config().vocabSize());
      float[] nll = new float[n];
      backend.copyToHost(nll, losses);
      double[] s = new double[b];
      for (int r = 0; r < b; r++) {
        for (int q = 0; q < t; q++) if (batch.targets()[r * t + q] >= 0) s[r] -= nll[r * t + q];
      }
      double beta = cfg.beta(), eps = cfg.labelSmoothing();
      double[] out = new double[5];
      double[] dS = new double[b];
      for (int i = 0; i < p; i++) {
        double[] ref = refTrain[pairIdx[i]];
        double rc = beta * (s[i] - ref[0]), rr = beta * (s[p + i] - ref[1]);
        double z = rc - rr;
        out[0] += pairLoss(z);
        out[1] += z > 0 ? 1 : 0;
        out[2] += z;
        out[3] += rc;
        out[4] += rr;
        double dz = (-(1 - eps) * sigmoid(-z) + eps * sigmoid(z)) / p;
        dS[i] = beta * dz;
        dS[p + i] = -beta * dz;
      }
      for (int i = 0; i < out.length; i++) out[i] /= p;
      // d S / d logits = onehot - softmax = -(softmax - onehot): weight each response position by -dL/dS.
      float[] w = new float[n];
      for (int r = 0; r < b; r++) {
        for (int q = 0; q < t; q++) if (batch.targets()[r * t + q] >= 0) w[r * t + q] = (float) -dS[r];
      }
      Tensor dloss = backend.fromArray(w, n);
      backend.crossEntropy(null, logits, logits, targets, dloss, policy.config().vocabSize());
      policy.backward(logits, null);
      return out;
    }
  }

  /** Runs the configured steps; returns the eval metrics and history. */
  public DpoResult train() {
    int steps = cfg.totalSteps(train.size());
    LrSchedule schedule = StageSupport.schedule(cfg, steps);
    StageSupport.Order order = new StageSupport.Order(train.size(), cfg.seed());
    boolean show = StageSupport.showProgress(cfg);
    List<Map<String, Double>> history = new ArrayList<>();
    double[] start = evaluate();
    double[] ev = start;
    try (AdamW opt = StageSupport.adamW(policy, cfg)) {
      for (int step = 0; step < steps; step++) {
        policy.zeroGrad();
        double[] m = lossAndGradient(order.next(cfg.batchSize()));
        double norm = GradClip.globalNorm(backend, policy.grads());
        StageSupport.requireFinite(m[0], "the DPO loss", step);
        StageSupport.requireFinite(norm, "the gradient norm", step);
        double lr = schedule.lr(step);
        opt.step(policy.params(), policy.grads(), (float) lr, GradClip.clipScale(norm, cfg.gradClip()));
        Map<String, Double> h = new LinkedHashMap<>();
        h.put("step", (double) step);
        h.put("loss", m[0]);
        h.put("accuracy", m[1]);
        h.put("margin", m[2]);
        h.put("rewardChosen", m[3]);
        h.put("rewardRejected", m[4]);
        h.put("lr", lr);
        h.put("gradNorm", norm);
        boolean last = step == steps - 1;
        if (last || (cfg.evalEvery() > 0 && (step + 1) % cfg.evalEvery() == 0)) {
          ev = evaluate();
          h.put("evalLoss", ev[0]);
          h.put("evalAccuracy", ev[1]);
          h.put("evalMargin", ev[2]);
        }
        history.add(h);
        StageSupport.progress(cfg, show, StageSupport.fmt("dpo step %d/%d  loss %.4f  acc %.3f  margin %.4f  |g| %.3f",
            step + 1, steps, m[0], m[1], m[2], norm));
      }
    }
    StageSupport.summary(cfg, show, StageSupport.fmt("dpo: %d steps, %s", steps, eval.isEmpty()
        ? StageSupport.trainingLoss(history) + " (no eval pairs)"
        : StageSupport.fmt("eval loss %.4f -> %.4f, reward accuracy %.3f, margin %.4f -> %.4f", start[0], ev[0],
            ev[1], start[2], ev[2])));
    return new DpoResult(ev[1], ev[2], start[2], start[0], ev[0], history);
  }
}
