package org.jalign.train.sft;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.SftExample;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenSource;
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
 * Supervised fine-tuning: next-token cross-entropy on the assistant tokens of chat examples only.
 *
 * <p>Shape legend: B = examples per batch, T = the batch's longest rendered example, Vp = padded vocabulary.
 *
 * <p>Each example is rendered with {@link ChatTemplate} (role headers, {@code <|end|>} after each message);
 * the target at position t is the token at t+1 when that token is trainable (assistant content and its closing
 * {@code <|end|>}), else ignored. Rows are right-padded to T and masked with kvEnd. The loss of a batch is the
 * mean over its target tokens (every response token counts the same, whatever its example's length), so the
 * gradient at prompt and padding positions is exactly zero. Truncation: see {@link SftConfig}.
 *
 * <p>SFT-ptx: with {@link SftConfig#ptxCoef()} γ &gt; 0 and {@link #pretrainData} set, every step also runs the
 * language-model loss on {@link SftConfig#ptxBatchSize()} random windows of {@link SftConfig#ptxSeqLen()} tokens of
 * that text and adds γ times its gradient before clipping; history key "ptx_loss" holds its loss.
 */
public final class SftTrainer {
  private final Gpt policy;
  private final Backend backend;
  private final SftConfig cfg;
  private final int padId;
  private final List<ChatTemplate.Rendered> train;
  private final List<ChatTemplate.Rendered> eval;
  private TokenBatcher ptx; // SFT-ptx windows; null when no pretraining data was given

  /**
   * @param policy the model to fine-tune (updated in place)
   * @param tok the tokenizer with the chat special tokens
   * @param train training examples (non-empty)
   * @param eval evaluation examples (may be empty: no eval loss)
   * @throws IllegalArgumentException naming the example when a prompt does not fit the context
   */
  public SftTrainer(Gpt policy, Tokenizer tok, SftConfig cfg, List<SftExample> train, List<SftExample> eval) {
    if (policy == null || tok == null || cfg == null || train == null) {
      throw new IllegalArgumentException("policy, tokenizer, config and training examples are required");
    }
    if (train.isEmpty()) throw new IllegalArgumentException("no training examples");
    if (tok.vocabSize() > policy.config().vocabSize()) {
      throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens, the model only "
          + policy.config().vocabSize());
    }
    this.policy = policy;
    this.backend = policy.backend();
    this.cfg = cfg;
    this.padId = StageSupport.padId(tok);
    ChatTemplate tmpl = new ChatTemplate(tok, cfg.allAssistantTurns());
    int maxLen = cfg.effectiveMaxLength(policy.config().contextLength());
    this.train = render(tmpl, train, maxLen, "training");
    this.eval = render(tmpl, eval == null ? List.of() : eval, maxLen, "eval");
  }

  private List<ChatTemplate.Rendered> render(ChatTemplate tmpl, List<SftExample> xs, int maxLen, String set) {
    List<ChatTemplate.Rendered> out = new ArrayList<>(xs.size());
    for (int i = 0; i < xs.size(); i++) {
      ChatTemplate.Rendered r = StageSupport.render(tmpl, xs.get(i).messages(), maxLen, cfg.truncation(),
          set + " example " + i + ": ");
      if (r.trainableCount() == 0 || !hasTarget(r)) {
        throw new IllegalArgumentException(set + " example " + i + ": no response token survives truncation");
      }
      out.add(r);
    }
    return out;
  }

  private static boolean hasTarget(ChatTemplate.Rendered r) {
    for (int p = 1; p < r.length(); p++) if (r.trainable()[p]) return true;
    return false;
  }

  /**
   * The pretraining text of SFT-ptx (see the class comment): windows drawn at random, seeded by the config's seed,
   * used only when {@link SftConfig#ptxCoef()} is above 0. Call before {@link #train()}. Returns this trainer.
   */
  public SftTrainer pretrainData(TokenSource source) {
    this.ptx = StageSupport.ptxBatcher(policy, source, cfg.ptxBatchSize(), cfg.ptxSeqLen(), cfg.seed());
    return this;
  }

  /** The rendered training examples (ids and trainable mask), in input order. */
  public List<ChatTemplate.Rendered> renderedTrain() {
    return train;
  }

  /** The padding id used for right padding. */
  public int padId() {
    return padId;
  }

  /**
   * One forward/backward over a batch: returns the mean cross-entropy over its target tokens and accumulates
   * its gradients into the policy. dlogitsOut (nullable, B*T*Vp) receives the gradient w.r.t. the logits.
   */
  public float lossAndGradient(StageSupport.Batch batch, float[] dlogitsOut) {
    int n = batch.rows() * batch.time();
    if (batch.count() == 0) throw new IllegalArgumentException("the batch has no target token");
    float[] dloss = new float[n];
    float inv = 1f / batch.count();
    for (int i = 0; i < n; i++) dloss[i] = batch.targets()[i] >= 0 ? inv : 0f;
    try (Scope s = Scope.open()) {
      Tensor logits = policy.forward(batch.tokens(), batch.rows(), batch.time(), null, batch.kvEnd());
      Tensor targets = backend.fromArray(batch.targets(), n);
      Tensor dl = backend.fromArray(dloss, n);
      Tensor losses = backend.zeros(DType.F32, n);
      backend.crossEntropy(losses, logits, logits, targets, dl, policy.config().vocabSize());
      float[] lossHost = new float[n];
      backend.copyToHost(lossHost, losses);
      if (dlogitsOut != null) backend.copyToHost(dlogitsOut, logits);
      policy.backward(logits, null);
      double sum = 0;
      for (int i = 0; i < n; i++) if (batch.targets()[i] >= 0) sum += lossHost[i];
      return (float) (sum / batch.count());
    }
  }

  /** Mean cross-entropy per target token over rendered examples (no gradients); NaN when empty. */
  public double meanLoss(List<ChatTemplate.Rendered> rows) {
    if (rows.isEmpty()) return Double.NaN;
    double sum = 0;
    long count = 0;
    for (int from = 0; from < rows.size(); from += cfg.evalBatchSize()) {
      StageSupport.Batch b = StageSupport.batch(rows.subList(from, Math.min(rows.size(), from + cfg.evalBatchSize())),
          padId);
      double[] lp = StageSupport.sequenceLogprobs(policy, b, null);
      for (double v : lp) sum -= v;
      count += b.count();
    }
    return sum / count;
  }

  /** Runs the configured steps and returns the eval losses, throughput and history. */
  public SftResult train() {
    if (cfg.ptxCoef() > 0 && ptx == null) {
      throw new IllegalStateException("ptxCoef is " + cfg.ptxCoef() + " but no pretraining data was given "
          + "(call pretrainData first, or set ptxCoef to 0)");
    }
    int steps = cfg.totalSteps(train.size());
    LrSchedule schedule = StageSupport.schedule(cfg, steps);
    StageSupport.Order order = new StageSupport.Order(train.size(), cfg.seed());
    boolean show = StageSupport.showProgress(cfg);
    List<Map<String, Double>> history = new ArrayList<>();
    double evalStart = meanLoss(eval), evalLast = evalStart;
    long tokens = 0;
    double seconds = 0;
    try (AdamW opt = StageSupport.adamW(policy, cfg)) {
      for (int step = 0; step < steps; step++) {
        long t0 = System.nanoTime();
        int[] idx = order.next(cfg.batchSize());
        List<ChatTemplate.Rendered> rows = new ArrayList<>(idx.length);
        long rowTokens = 0;
        for (int i : idx) {
          rows.add(train.get(i));
          rowTokens += train.get(i).length();
        }
        StageSupport.Batch batch = StageSupport.batch(rows, padId);
        policy.zeroGrad();
        float loss = lossAndGradient(batch, null);
        double ptxLoss = Double.NaN;
        if (cfg.ptxCoef() > 0) {
          TokenBatcher.Batch b = ptx.next();
          ptxLoss = policy.lossAndBackward(b.inputs(), b.targets(), null, b.batch(), b.time(), null, null,
              cfg.ptxCoef());
          StageSupport.requireFinite(ptxLoss, "the pretraining-text loss", step);
        }
        double norm = GradClip.globalNorm(backend, policy.grads());
        StageSupport.requireFinite(loss, "the SFT loss", step);
        StageSupport.requireFinite(norm, "the gradient norm", step);
        double lr = schedule.lr(step);
        opt.step(policy.params(), policy.grads(), (float) lr, GradClip.clipScale(norm, cfg.gradClip()));
        backend.synchronize();
        seconds += (System.nanoTime() - t0) / 1e9;
        tokens += rowTokens;
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("step", (double) step);
        m.put("loss", (double) loss);
        m.put("lr", lr);
        m.put("gradNorm", norm);
        m.put("tokens", (double) batch.count());
        if (cfg.ptxCoef() > 0) m.put("ptx_loss", ptxLoss);
        boolean last = step == steps - 1;
        if (!eval.isEmpty() && (last || (cfg.evalEvery() > 0 && (step + 1) % cfg.evalEvery() == 0))) {
          evalLast = meanLoss(eval);
          m.put("evalLoss", evalLast);
        }
        history.add(m);
        StageSupport.progress(cfg, show, StageSupport.fmt("sft step %d/%d  loss %.4f  lr %.2e  |g| %.3f  eval %.4f",
            step + 1, steps, loss, lr, norm, evalLast));
      }
    }
    double tps = seconds > 0 ? tokens / seconds : 0;
    StageSupport.summary(cfg, show, StageSupport.fmt("sft: %d steps, %s, %.0f tokens/s", steps, eval.isEmpty()
        ? StageSupport.trainingLoss(history) + " (no eval examples)"
        : StageSupport.fmt("eval loss %.4f -> %.4f", evalStart, evalLast), tps));
    return new SftResult(evalStart, evalLast, tps, history);
  }
}
