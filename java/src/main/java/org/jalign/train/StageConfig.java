package org.jalign.train;

import java.io.PrintStream;
import java.util.Objects;
import org.jalign.data.ChatTemplate;

/**
 * Settings shared by the alignment stages (SFT, reward modelling, DPO). Every setter validates and returns the
 * concrete config, so calls chain: {@code new SftConfig().batchSize(8).lr(1e-4f).epochs(2)}. Each subclass
 * documents its own defaults.
 *
 * <p>Steps: {@code maxSteps > 0} runs exactly that many optimizer steps (cycling over the data, reshuffled
 * every pass); {@code maxSteps = 0} runs {@code epochs} passes of {@code ceil(n / batchSize)} steps.
 *
 * <p>Truncation: an example whose prompt (everything up to and including the final {@code <|assistant|>}
 * header) does not leave room for one response token inside {@code maxLength} is rejected with an error —
 * cutting the question away would train on a different task. A response that does not fit follows
 * {@code truncation}: {@link ChatTemplate.Truncation#KEEP_PROMPT_TAIL_RESPONSE_HEAD} keeps the prompt's tail
 * and the response's head (the cut response loses its closing {@code <|end|>}); {@link
 * ChatTemplate.Truncation#REJECT} throws.
 */
public abstract class StageConfig<S extends StageConfig<S>> {
  private int batchSize = 8;
  private int epochs = 1;
  private int maxSteps = 0;
  private float lr;
  private int warmupSteps = 0;
  private double minLrFraction = 1.0;
  private float weightDecay = 0f;
  private double gradClip = 1.0;
  private int maxLength = 0;
  private ChatTemplate.Truncation truncation = ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD;
  private long seed = 42;
  private int evalEvery = 0;
  private int evalBatchSize = 16;
  private boolean progress = false;
  private PrintStream out = System.out;

  protected StageConfig(float defaultLr) {
    this.lr = defaultLr;
  }

  @SuppressWarnings("unchecked")
  private S self() {
    return (S) this;
  }

  private static int positive(String name, int v) {
    if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
    return v;
  }

  private static int nonNegative(String name, int v) {
    if (v < 0) throw new IllegalArgumentException(name + " must be >= 0, got " + v);
    return v;
  }

  /** Examples (or groups / pairs) per optimizer step. */
  public S batchSize(int b) { batchSize = positive("batchSize", b); return self(); }
  /** Passes over the training data when maxSteps is 0. */
  public S epochs(int n) { epochs = positive("epochs", n); return self(); }
  /** Optimizer steps (0 = derive from epochs). */
  public S maxSteps(int n) { maxSteps = nonNegative("maxSteps", n); return self(); }
  /** Peak learning rate. */
  public S lr(float v) {
    if (!(v > 0) || !Float.isFinite(v)) throw new IllegalArgumentException("lr must be finite and > 0, got " + v);
    lr = v;
    return self();
  }
  /** Linear warm-up steps. */
  public S warmupSteps(int n) { warmupSteps = nonNegative("warmupSteps", n); return self(); }
  /** Cosine decay after warm-up down to lr·fraction (1 = constant learning rate). */
  public S minLrFraction(double f) {
    if (!(f >= 0 && f <= 1)) throw new IllegalArgumentException("minLrFraction must be in [0, 1], got " + f);
    minLrFraction = f;
    return self();
  }
  /** AdamW decoupled weight decay on matrices and embeddings. */
  public S weightDecay(float wd) {
    if (!(wd >= 0) || !Float.isFinite(wd)) throw new IllegalArgumentException("weightDecay must be >= 0, got " + wd);
    weightDecay = wd;
    return self();
  }
  /** Max global gradient norm (0 = no clipping). */
  public S gradClip(double c) {
    if (!(c >= 0) || !Double.isFinite(c)) throw new IllegalArgumentException("gradClip must be >= 0, got " + c);
    gradClip = c;
    return self();
  }
  /** Tokens per rendered sequence (0 = the model's context length; larger values are capped to it). */
  public S maxLength(int n) { maxLength = nonNegative("maxLength", n); return self(); }
  /** What to do with a response that does not fit. */
  public S truncation(ChatTemplate.Truncation t) { truncation = Objects.requireNonNull(t, "truncation"); return self(); }
  /** Seed of the shuffling (and of anything else random in the stage). */
  public S seed(long s) { seed = s; return self(); }
  /** Evaluate every N steps (0 = only before the first and after the last step). */
  public S evalEvery(int n) { evalEvery = nonNegative("evalEvery", n); return self(); }
  /** Rows per evaluation forward pass. */
  public S evalBatchSize(int n) { evalBatchSize = positive("evalBatchSize", n); return self(); }
  /** Print the one-line {@code \r} progress even without a console. */
  public S progress(boolean p) { progress = p; return self(); }
  /** Where progress and the summary go (null = nowhere). */
  public S out(PrintStream o) { out = o; return self(); }

  public int batchSize() { return batchSize; }
  public int epochs() { return epochs; }
  public int maxSteps() { return maxSteps; }
  public float lr() { return lr; }
  public int warmupSteps() { return warmupSteps; }
  public double minLrFraction() { return minLrFraction; }
  public float weightDecay() { return weightDecay; }
  public double gradClip() { return gradClip; }
  public int maxLength() { return maxLength; }
  public ChatTemplate.Truncation truncation() { return truncation; }
  public long seed() { return seed; }
  public int evalEvery() { return evalEvery; }
  public int evalBatchSize() { return evalBatchSize; }
  public boolean progress() { return progress; }
  public PrintStream out() { return out; }

  /** The effective sequence length for a model with the given context length. */
  public int effectiveMaxLength(int contextLength) {
    return maxLength == 0 ? contextLength : Math.min(maxLength, contextLength);
  }

  /** The number of optimizer steps for n training items. */
  public int totalSteps(int n) {
    if (maxSteps > 0) return maxSteps;
    return epochs * ((n + batchSize - 1) / batchSize);
  }
}
