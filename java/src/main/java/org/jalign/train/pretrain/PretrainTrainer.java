package org.jalign.train.pretrain;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jalign.backend.Backend;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenFile;
import org.jalign.data.TokenSource;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ParamSpec;
import org.jalign.optim.AdamW;
import org.jalign.optim.GradClip;
import org.jalign.optim.LrSchedule;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;

/**
 * Pretraining of a {@link Gpt} on next-token prediction: AdamW, linear warm-up + cosine decay, global-norm
 * gradient clipping, gradient accumulation, periodic validation, per-step metrics, a console progress bar,
 * periodic checkpoints and exact resume.
 *
 * <p>Shape legend: B = batch, T = time (sequence length), V = vocabulary.
 *
 * <pre>{@code
 * try (Gpt model = new Gpt(GptConfig.small(tok.vocabSize()), Backends.best(), 42);
 *      TokenFile data = TokenFile.tokenize(files, tok::encode, tok.vocabSize(), eot, 0, Path.of("corpus.tok"));
 *      PretrainTrainer trainer = new PretrainTrainer(model, new PretrainConfig().maxSteps(2000), data)) {
 *   PretrainTrainer.Result r = trainer.train();
 * }
 * }</pre>
 *
 * <p>Guardrails. A step whose loss or gradient norm is NaN or infinite applies no update (the optimizer state
 * and its step counter are untouched); it is counted in {@link Result#skippedSteps()}, and after
 * {@link PretrainConfig#maxConsecutiveSkips()} such steps in a row training stops with a
 * {@link TrainingStoppedException}. Before every checkpoint the parameters and optimizer moments are checked to be
 * finite; a poisoned state is never written (training stops instead and the previous checkpoint stays).
 *
 * <p>Determinism and resume. For a model seed and {@link PretrainConfig#seed()} the run is deterministic on a
 * backend. A checkpoint holds parameters, AdamW m/v and step counter, the training step, the data seed and
 * batch cursor, and the skip count; resuming with the same configuration reproduces the uninterrupted run
 * bit for bit on the CPU.
 */
public final class PretrainTrainer implements AutoCloseable {

  /** Decayed parameters (matrices and embeddings); LayerNorm weights and all biases are not decayed. */
  static final Set<String> DECAYED = Set.of("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw", "lmhead");
  private static final Map<String, Double> MEASURED_PEAK = new ConcurrentHashMap<>();

  /** What a run did. */
  public record Result(long steps, double finalLoss, double finalValLoss, long skippedSteps, double tokensPerSecond,
      List<StepMetrics> history) {}

  private final Gpt model;
  private final PretrainConfig cfg;
  private final Backend backend;
  private final TokenBatcher train; // null with an iterator source
  private final TokenSource valSource;
  private final long valFrom;
  private final long valTo;
  private final Iterator<int[]> batches; // rows of T + 1 tokens, or null
  private final AdamW optimizer;
  private final int batch;
  private final int time;
  private byte[] tokenizerBytes = new byte[0];
  private Consumer<Tensor> gradientHook;
  private boolean trained;

  /**
   * Trains on a token source (e.g. a {@link TokenFile}); the last {@link PretrainConfig#valFraction()} of it is
   * held out for validation (when it holds at least one window of T + 1 tokens).
   */
  public PretrainTrainer(Gpt model, PretrainConfig config, TokenSource data) {
    this(model, config, Objects.requireNonNull(data, "data"), null);
  }

  /**
   * Trains on batches from an iterator: each element is B rows of T + 1 tokens (B·(T+1) ids, row-major), inputs
   * the first T of a row and targets the last T. No validation set. On resume the caller positions the iterator
   * (the checkpoint's step times gradAccumSteps batches were consumed).
   */
  public PretrainTrainer(Gpt model, PretrainConfig config, Iterator<int[]> batches) {
    this(model, config, null, Objects.requireNonNull(batches, "batches"));
  }

  private PretrainTrainer(Gpt model, PretrainConfig config, TokenSource data, Iterator<int[]> it) {
    this.model = Objects.requireNonNull(model, "model");
    this.cfg = Objects.requireNonNull(config, "config");
    this.backend = model.backend();
    GptConfig mc = model.config();
    this.batch = cfg.batchSize();
    this.time = cfg.seqLen();
    if (time > mc.contextLength()) {
      throw new IllegalArgumentException("seqLen " + time + " exceeds the model's context length " + mc.contextLength());
    }
    this.batches = it;
    if (data != null) {
      if (data.vocabSize() > mc.vocabSize()) {
        throw new IllegalArgumentException("the token data has vocabulary " + data.vocabSize() + " but the model only "
            + mc.vocabSize());
      }
      long n = data.size();
      long valTokens = (long) Math.floor(n * cfg.valFraction());
      if (valTokens < time + 1) valTokens = 0; // too small to hold out a window
      this.train = new TokenBatcher(data, 0, n - valTokens, batch, time, cfg.order(), cfg.seed());
      this.valSource = valTokens > 0 ? data : null;
      this.valFrom = n - valTokens;
      this.valTo = n;
    } else {
      this.train = null;
      this.valSource = null;
      this.valFrom = 0;
      this.valTo = 0;
    }
    this.optimizer = new AdamW(backend, model.params().numel(), cfg.adamW());
    List<AdamW.Range> ranges = new ArrayList<>();
    for (ParamSpec s : mc.paramSpecs()) ranges.add(new AdamW.Range(s.offset(), s.numel(), DECAYED.contains(s.name())));
    optimizer.setDecayRanges(ranges);
  }

  /**
   * Tokenises text files once into {@code tokenFile} (reused when up to date) and returns a trainer on it; the
   * caller closes the returned token file after training.
   */
  public static TokenFile tokenize(List<Path> textFiles, Function<String, int[]> encoder, int vocabSize, int eot,
      long tokenizerKey, Path tokenFile) throws IOException {
    return TokenFile.tokenize(textFiles, encoder, vocabSize, eot, tokenizerKey, tokenFile);
  }

  /** Tokenizer bytes stored in checkpoints ({@code Tokenizer.toBytes()}). */
  public PretrainTrainer tokenizerBytes(byte[] bytes) {
    this.tokenizerBytes = bytes == null ? new byte[0] : bytes.clone();
    return this;
  }

  /** Stores {@code tokenizer.toBytes()} in checkpoints so a run carries its tokenizer. */
  public PretrainTrainer tokenizer(org.jalign.text.Tokenizer tokenizer) {
    return tokenizerBytes(tokenizer == null ? null : tokenizer.toBytes());
  }

  /**
   * A hook called with the accumulated gradient buffer after backward and before the norm is taken (for
   * diagnostics, gradient noise, or fault-injection tests). Nullable.
   */
  public PretrainTrainer gradientHook(Consumer<Tensor> hook) {
    this.gradientHook = hook;
    return this;
  }

  public AdamW optimizer() {
    return optimizer;
  }

  public TokenBatcher batcher() {
    return train;
  }

  /** Runs from step 0 (or the resumed step) to {@link PretrainConfig#maxSteps()}. Call once. */
  public Result train() {
    if (trained) throw new IllegalStateException("train() was already called on this trainer");
    trained = true;
    long start = 0;
    long skipped = 0;
    if (cfg.resumeFrom() != null) {
      long[] resumed = resume(cfg.resumeFrom());
      start = resumed[0];
      skipped = resumed[1];
    }
    GptConfig mc = model.config();
    int warmup = Math.min(cfg.warmupSteps(), cfg.maxSteps());
    LrSchedule schedule = LrSchedule.warmupCosine(cfg.lr(), cfg.minLrFraction(), warmup, cfg.maxSteps());
    double peak = cfg.peakFlops() > 0 ? cfg.peakFlops() : measurePeak(backend);
    double flopsPerToken = mc.flopsPerToken(time);
    boolean bar = cfg.progressBar() && System.console() != null;
    PrintStream out = cfg.out();
    List<StepMetrics> history = new ArrayList<>();
    int consecutive = 0;
    double lastLoss = Double.NaN, lastVal = Double.NaN;
    long tokensPerStep = (long) batch * time * cfg.gradAccumSteps();
    long t0 = System.nanoTime();
    long trainedTokens = 0;
    long end = cfg.stopAfterSteps() > 0 ? Math.min(cfg.stopAfterSteps(), cfg.maxSteps()) : cfg.maxSteps();
    for (long step = start; step < end; step++) {
      long ts = System.nanoTime();
      model.zeroGrad();
      double lossSum = 0;
      for (int micro = 0; micro < cfg.gradAccumSteps(); micro++) {
        int[][] io = nextBatch();
        lossSum += model.lossAndBackward(io[0], io[1], null, batch, time, null, null);
      }
      if (gradientHook != null) gradientHook.accept(model.grads());
      double loss = lossSum / cfg.gradAccumSteps();
      double norm = GradClip.globalNorm(backend, model.grads()) / cfg.gradAccumSteps();
      double lr = schedule.lr(step);
      boolean skip = !Double.isFinite(loss) || !Double.isFinite(norm);
      if (skip) {
        skipped++;
        consecutive++;
        if (consecutive >= cfg.maxConsecutiveSkips()) {
          if (bar) out.println();
          throw new TrainingStoppedException("training stopped at step " + step + ": " + consecutive
              + " consecutive steps had a non-finite loss or gradient norm (loss " + loss + ", grad norm " + norm
              + "); no update was applied and no checkpoint was written for them"
              + (cfg.checkpointPath() != null ? "; the last good checkpoint is " + cfg.checkpointPath() : ""));
        }
      } else {
        consecutive = 0;
        float scale = GradClip.clipScale(norm, cfg.gradClip()) / cfg.gradAccumSteps();
        optimizer.step(model.params(), model.grads(), (float) lr, scale);
        lastLoss = loss;
      }
      backend.synchronize();
      long now = System.nanoTime();
      double stepSec = (now - ts) / 1e9;
      trainedTokens += tokensPerStep;
      double tps = tokensPerStep / Math.max(stepSec, 1e-9);
      double mfu = flopsPerToken * tps / peak;
      boolean last = step == end - 1;
      double val = Double.NaN;
      if (valSource != null && cfg.valEvery() >= 0
          && (last || (cfg.valEvery() > 0 && (step + 1) % cfg.valEvery() == 0))) {
        val = validationLoss();
        lastVal = val;
      }
      StepMetrics m = new StepMetrics(step, loss, lr, norm, tps, mfu, skip, val);
      history.add(m);
      if (cfg.listener() != null) cfg.listener().accept(m);
      report(out, bar, m, cfg.maxSteps());
      if (cfg.checkpointPath() != null
          && (last || (cfg.checkpointEvery() > 0 && (step + 1) % cfg.checkpointEvery() == 0))) {
        saveCheckpoint(cfg.checkpointPath(), step + 1, skipped, lastLoss);
      }
    }
    if (bar) out.println();
    double elapsed = (System.nanoTime() - t0) / 1e9;
    return new Result(end, lastLoss, lastVal, skipped, trainedTokens / Math.max(elapsed, 1e-9),
        List.copyOf(history));
  }

  /** Inputs (B*T) and targets (B*T) of the next micro-batch. */
  private int[][] nextBatch() {
    if (train != null) {
      TokenBatcher.Batch b = train.next();
      return new int[][] {b.inputs(), b.targets()};
    }
    if (!batches.hasNext()) throw new IllegalStateException("the batch iterator ran out of data");
    int[] rows = batches.next();
    int w = time + 1;
    if (rows == null || rows.length != batch * w) {
      throw new IllegalArgumentException("each batch must hold B*(T+1) = " + batch * w + " tokens, got "
          + (rows == null ? "null" : rows.length));
    }
    int[] in = new int[batch * time], tg = new int[batch * time];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(rows, b * w, in, b * time, time);
      System.arraycopy(rows, b * w + 1, tg, b * time, time);
    }
    return new int[][] {in, tg};
  }

  /** Mean loss over the first valBatches sequential batches of the held-out tail (the same batches each time). */
  public double validationLoss() {
    if (valSource == null) return Double.NaN;
    TokenBatcher vb = new TokenBatcher(valSource, valFrom, valTo, batch, time, TokenBatcher.Order.SEQUENTIAL, 0);
    int n = (int) Math.min(cfg.valBatches(), vb.batchesPerEpoch());
    double sum = 0;
    long count = 0;
    for (int i = 0; i < n; i++) {
      TokenBatcher.Batch b = vb.next();
      float[] lp = model.tokenLogprobs(b.inputs(), b.targets(), batch, time, null, null);
      for (float x : lp) sum -= x;
      count += lp.length;
    }
    return sum / count;
  }

  private void report(PrintStream out, boolean bar, StepMetrics m, int total) {
    String line = String.format("step %d/%d loss %.4f lr %.2e |g| %.3f %.0f tok/s MFU %.1f%%%s%s", m.step() + 1,
        total, m.loss(), m.lr(), m.gradNorm(), m.tokensPerSecond(), 100 * m.mfu(),
        m.skipped() ? " SKIPPED" : "", Double.isNaN(m.valLoss()) ? "" : String.format(" val %.4f", m.valLoss()));
    if (bar) {
      int width = 24;
      int filled = (int) ((m.step() + 1) * width / Math.max(1, total));
      String b = "=".repeat(filled) + (filled < width ? ">" + " ".repeat(width - filled - 1) : "");
      out.print("\r[" + b + "] " + line + "   ");
      out.flush();
    } else if (cfg.logEvery() > 0 && ((m.step() + 1) % cfg.logEvery() == 0 || m.skipped()
        || !Double.isNaN(m.valLoss()) || m.step() + 1 == total)) {
      out.println(line);
    }
  }

  // ------------------------------------------------------------------ checkpoints

  /**
   * Writes a checkpoint of the current state ({@code completedSteps} steps done). Refuses (throws
   * {@link TrainingStoppedException}) when parameters or optimizer moments are not finite.
   */
  public void saveCheckpoint(Path path, long completedSteps, long skipped, double lastLoss) {
    double s = backend.sumSquares(model.params()) + backend.sumSquares(optimizer.m())
        + backend.sumSquares(optimizer.v());
    if (!Double.isFinite(s)) {
      throw new TrainingStoppedException("refusing to checkpoint step " + completedSteps
          + ": the parameters or optimizer state are not finite; " + path + " keeps the last good state");
    }
    Checkpoint.Writer w = new Checkpoint.Writer(model.config())
        .tokenizer(tokenizerBytes)
        .step(completedSteps)
        .optimizerStep(optimizer.stepCount())
        .tensor(Checkpoint.PARAMS, model.params())
        .tensor(Checkpoint.ADAM_M, optimizer.m())
        .tensor(Checkpoint.ADAM_V, optimizer.v())
        .string("stage", "pretrain")
        .number("pretrain.skipped", skipped)
        .number("pretrain.loss", lastLoss)
        .number("pretrain.maxSteps", cfg.maxSteps());
    if (train != null) {
      w.rngState(train.seed()).dataCursor(train.cursor().toArray()).string("data.order", train.order().name());
    }
    try {
      w.write(path);
    } catch (IOException e) {
      throw new UncheckedIOException("writing checkpoint " + path, e);
    }
  }

  /** Loads a checkpoint into the model, optimizer and batcher; returns {completed steps, skipped steps}. */
  private long[] resume(Path path) {
    try (Checkpoint ck = Checkpoint.open(path)) {
      if (!ck.config().equals(model.config())) {
        throw new IllegalArgumentException("checkpoint " + path + " is for " + ck.config() + ", the model is "
            + model.config());
      }
      ck.readInto(Checkpoint.PARAMS, model.params());
      if (ck.hasTensor(Checkpoint.ADAM_M) && ck.hasTensor(Checkpoint.ADAM_V)) {
        ck.readInto(Checkpoint.ADAM_M, optimizer.m());
        ck.readInto(Checkpoint.ADAM_V, optimizer.v());
        optimizer.setStepCount(ck.optimizerStep());
      } else {
        optimizer.reset();
      }
      if (train != null && ck.dataCursor().length > 0) {
        long seed = ck.rngState(1)[0];
        if (seed != train.seed()) {
          throw new IllegalArgumentException("checkpoint " + path + " was trained with data seed " + seed
              + ", this run uses " + train.seed() + "; resume with the same seed");
        }
        String order = ck.strings().get("data.order");
        if (order != null && !order.equals(train.order().name())) {
          throw new IllegalArgumentException("checkpoint " + path + " used batch order " + order + ", this run "
              + train.order());
        }
        train.seek(TokenBatcher.Cursor.fromArray(ck.dataCursor(3)));
      }
      long skipped = ck.doubles().containsKey("pretrain.skipped")
          ? ck.requireInteger("pretrain.skipped", 0, Long.MAX_VALUE) : 0;
      if (ck.tokenizer().length > 0 && tokenizerBytes.length == 0) tokenizerBytes = ck.tokenizer();
      return new long[] {ck.step(), skipped};
    } catch (IOException e) {
      throw new UncheckedIOException("resuming from " + path, e);
    }
  }

  // ------------------------------------------------------------------ MFU peak

  /**
   * Achieved F32 GEMM FLOP/s on this backend (a 1024³ matmul, best of 3 after a warm-up), measured once per
   * backend name and used as the MFU denominator when the config gives no peak.
   */
  public static double measurePeak(Backend backend) {
    return MEASURED_PEAK.computeIfAbsent(backend.name(), k -> {
      int n = backend.device().isCpu() ? 1024 : 4096;
      try (Scope s = Scope.open()) {
        Tensor a = backend.zeros(DType.F32, n, n), b = backend.zeros(DType.F32, n, n), c = backend.zeros(DType.F32, n, n);
        backend.matmul(c, a, b, null, false, false, false);
        backend.synchronize();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
          long t = System.nanoTime();
          backend.matmul(c, a, b, null, false, false, false);
          backend.synchronize();
          best = Math.min(best, (System.nanoTime() - t) / 1e9);
        }
        return 2.0 * n * n * (double) n / best;
      }
    });
  }

  @Override
  public void close() {
    optimizer.close();
  }
}
