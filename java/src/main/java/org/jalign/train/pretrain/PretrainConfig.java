package org.jalign.train.pretrain;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Consumer;
import org.jalign.data.TokenBatcher;
import org.jalign.optim.AdamWConfig;

/**
 * Settings of {@link PretrainTrainer}, with documented defaults (GPT-2/llm.c style). Every setter validates
 * and returns {@code this}:
 * <pre>{@code
 * PretrainConfig cfg = new PretrainConfig().batchSize(8).seqLen(128).maxSteps(2000).lr(6e-4f)
 *     .checkpointEvery(500).checkpointPath(Path.of("run/latest.ckpt"));
 * }</pre>
 *
 * <table>
 *   <caption>Defaults</caption>
 *   <tr><td>batchSize</td><td>4</td><td>B, rows per micro-batch</td></tr>
 *   <tr><td>seqLen</td><td>64</td><td>T, tokens per row (at most the model's context length)</td></tr>
 *   <tr><td>gradAccumSteps</td><td>1</td><td>micro-batches per optimizer step</td></tr>
 *   <tr><td>maxSteps</td><td>1000</td><td>optimizer steps (including skipped ones)</td></tr>
 *   <tr><td>stopAfterSteps</td><td>0</td><td>end this run early at that step (0 = at maxSteps)</td></tr>
 *   <tr><td>lr / minLrFraction / warmupSteps</td><td>6e-4 / 0.1 / 100</td><td>linear warm-up, cosine to lr·fraction
 *       (warm-up is capped at maxSteps)</td></tr>
 *   <tr><td>beta1, beta2, eps, weightDecay</td><td>0.9, 0.95, 1e-8, 0.1</td><td>AdamW; decay only on matrices and
 *       embeddings</td></tr>
 *   <tr><td>gradClip</td><td>1.0</td><td>max global gradient norm (0 = off)</td></tr>
 *   <tr><td>order, seed</td><td>RANDOM, 1337</td><td>batch order of the token data and its seed</td></tr>
 *   <tr><td>valFraction, valEvery, valBatches</td><td>0.05, 100, 8</td><td>held-out tail of the token data, how
 *       often to evaluate (0 = only at the end; negative = never), batches per evaluation</td></tr>
 *   <tr><td>checkpointEvery, checkpointPath</td><td>0, null</td><td>checkpoint every N steps (0 = only at the end)
 *       when a path is set</td></tr>
 *   <tr><td>resumeFrom</td><td>null</td><td>a checkpoint to continue from exactly</td></tr>
 *   <tr><td>maxConsecutiveSkips</td><td>5</td><td>non-finite steps in a row that stop training</td></tr>
 *   <tr><td>peakFlops</td><td>0</td><td>FLOP/s for the MFU estimate (0 = measure a GEMM once)</td></tr>
 *   <tr><td>progressBar, logEvery, out</td><td>true, 0, System.out</td><td>one-line \r progress bar (only on a
 *       terminal); plain log lines every N steps when the bar is off (0 = none)</td></tr>
 * </table>
 */
public final class PretrainConfig {
  private int batchSize = 4;
  private int seqLen = 64;
  private int gradAccumSteps = 1;
  private int maxSteps = 1000;
  private int stopAfterSteps = 0;
  private float lr = AdamWConfig.DEFAULT_LR;
  private double minLrFraction = 0.1;
  private int warmupSteps = 100;
  private float beta1 = AdamWConfig.DEFAULT_BETA1;
  private float beta2 = AdamWConfig.DEFAULT_BETA2;
  private float eps = AdamWConfig.DEFAULT_EPS;
  private float weightDecay = AdamWConfig.DEFAULT_WEIGHT_DECAY;
  private double gradClip = 1.0;
  private TokenBatcher.Order order = TokenBatcher.Order.RANDOM;
  private long seed = 1337;
  private double valFraction = 0.05;
  private int valEvery = 100;
  private int valBatches = 8;
  private int checkpointEvery = 0;
  private Path checkpointPath;
  private Path resumeFrom;
  private int maxConsecutiveSkips = 5;
  private double peakFlops = 0;
  private boolean progressBar = true;
  private int logEvery = 0;
  private PrintStream out = System.out;
  private Consumer<StepMetrics> listener;

  private static int positive(String name, int v) {
    if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
    return v;
  }

  public PretrainConfig batchSize(int b) { batchSize = positive("batchSize", b); return this; }
  public PretrainConfig seqLen(int t) { seqLen = positive("seqLen", t); return this; }
  public PretrainConfig gradAccumSteps(int n) { gradAccumSteps = positive("gradAccumSteps", n); return this; }
  public PretrainConfig maxSteps(int n) { maxSteps = positive("maxSteps", n); return this; }

  /**
   * Ends this run after step n (0-based exclusive) although the schedule still spans maxSteps: for time-sliced
   * jobs that checkpoint and resume. 0 (default) runs to maxSteps.
   */
  public PretrainConfig stopAfterSteps(int n) {
    if (n < 0) throw new IllegalArgumentException("stopAfterSteps must be >= 0, got " + n);
    stopAfterSteps = n;
    return this;
  }

  public PretrainConfig lr(float v) {
    if (!(v > 0) || !Float.isFinite(v)) throw new IllegalArgumentException("lr must be finite and > 0, got " + v);
    lr = v;
    return this;
  }

  public PretrainConfig minLrFraction(double f) {
    if (!(f >= 0 && f <= 1)) throw new IllegalArgumentException("minLrFraction must be in [0, 1], got " + f);
    minLrFraction = f;
    return this;
  }

  public PretrainConfig warmupSteps(int n) {
    if (n < 0) throw new IllegalArgumentException("warmupSteps must be >= 0, got " + n);
    warmupSteps = n;
    return this;
  }

  public PretrainConfig betas(float b1, float b2) {
    new AdamWConfig(lr, b1, b2, eps, weightDecay); // validates
    beta1 = b1;
    beta2 = b2;
    return this;
  }

  public PretrainConfig eps(float e) {
    new AdamWConfig(lr, beta1, beta2, e, weightDecay);
    eps = e;
    return this;
  }

  public PretrainConfig weightDecay(float wd) {
    new AdamWConfig(lr, beta1, beta2, eps, wd);
    weightDecay = wd;
    return this;
  }

  public PretrainConfig gradClip(double c) {
    if (!(c >= 0) || !Double.isFinite(c)) throw new IllegalArgumentException("gradClip must be finite and >= 0, got " + c);
    gradClip = c;
    return this;
  }

  public PretrainConfig order(TokenBatcher.Order o) { order = Objects.requireNonNull(o, "order"); return this; }
  public PretrainConfig seed(long s) { seed = s; return this; }

  public PretrainConfig valFraction(double f) {
    if (!(f >= 0 && f < 1)) throw new IllegalArgumentException("valFraction must be in [0, 1), got " + f);
    valFraction = f;
    return this;
  }

  public PretrainConfig valEvery(int n) { valEvery = n; return this; }
  public PretrainConfig valBatches(int n) { valBatches = positive("valBatches", n); return this; }

  public PretrainConfig checkpointEvery(int n) {
    if (n < 0) throw new IllegalArgumentException("checkpointEvery must be >= 0, got " + n);
    checkpointEvery = n;
    return this;
  }

  public PretrainConfig checkpointPath(Path p) { checkpointPath = p; return this; }
  public PretrainConfig resumeFrom(Path p) { resumeFrom = p; return this; }
  public PretrainConfig maxConsecutiveSkips(int n) { maxConsecutiveSkips = positive("maxConsecutiveSkips", n); return this; }

  public PretrainConfig peakFlops(double f) {
    if (!(f >= 0) || !Double.isFinite(f)) throw new IllegalArgumentException("peakFlops must be finite and >= 0, got " + f);
    peakFlops = f;
    return this;
  }

  public PretrainConfig progressBar(boolean on) { progressBar = on; return this; }

  public PretrainConfig logEvery(int n) {
    if (n < 0) throw new IllegalArgumentException("logEvery must be >= 0, got " + n);
    logEvery = n;
    return this;
  }

  public PretrainConfig out(PrintStream s) { out = Objects.requireNonNull(s, "out"); return this; }

  /** Called after every step with its metrics (nullable). */
  public PretrainConfig listener(Consumer<StepMetrics> l) { listener = l; return this; }

  public int batchSize() { return batchSize; }
  public int seqLen() { return seqLen; }
  public int gradAccumSteps() { return gradAccumSteps; }
  public int maxSteps() { return maxSteps; }
  public int stopAfterSteps() { return stopAfterSteps; }
  public float lr() { return lr; }
  public double minLrFraction() { return minLrFraction; }
  public int warmupSteps() { return warmupSteps; }
  public double gradClip() { return gradClip; }
  public TokenBatcher.Order order() { return order; }
  public long seed() { return seed; }
  public double valFraction() { return valFraction; }
  public int valEvery() { return valEvery; }
  public int valBatches() { return valBatches; }
  public int checkpointEvery() { return checkpointEvery; }
  public Path checkpointPath() { return checkpointPath; }
  public Path resumeFrom() { return resumeFrom; }
  public int maxConsecutiveSkips() { return maxConsecutiveSkips; }
  public double peakFlops() { return peakFlops; }
  public boolean progressBar() { return progressBar; }
  public int logEvery() { return logEvery; }
  public PrintStream out() { return out; }
  public Consumer<StepMetrics> listener() { return listener; }

  /** The AdamW settings. */
  public AdamWConfig adamW() {
    return new AdamWConfig(lr, beta1, beta2, eps, weightDecay);
  }
}
