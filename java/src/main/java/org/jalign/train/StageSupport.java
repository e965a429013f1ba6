package org.jalign.train;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.jalign.data.ChatMessage;
import org.jalign.data.ChatTemplate;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenSource;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ParamSpec;
import org.jalign.optim.AdamW;
import org.jalign.optim.AdamWConfig;
import org.jalign.optim.LrSchedule;
import org.jalign.text.Tokenizer;

/**
 * Pieces shared by the alignment trainers: rendering with the prompt-fits check, right-padded batches with
 * shifted targets, the AdamW decay layout, the shuffled step order and the progress line.
 *
 * <p>Shape legend: B = rows in a batch, T = padded length (the longest row), L = one row's length.
 */
public final class StageSupport {
  private StageSupport() {}

  /** Decayed parameters (matrices and embeddings); LayerNorm weights and all biases are not decayed. */
  public static final Set<String> DECAYED = Set.of("wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw", "lmhead");

  /** An AdamW over a model's flat parameters with the standard decay layout. */
  public static AdamW adamW(Gpt model, StageConfig<?> cfg) {
    AdamW opt = new AdamW(model.backend(), model.params().numel(),
        AdamWConfig.defaults().lr(cfg.lr()).weightDecay(cfg.weightDecay()));
    List<AdamW.Range> ranges = new ArrayList<>();
    GptConfig mc = model.config();
    for (ParamSpec s : mc.paramSpecs()) ranges.add(new AdamW.Range(s.offset(), s.numel(), DECAYED.contains(s.name())));
    opt.setDecayRanges(ranges);
    return opt;
  }

  /**
   * Random windows of pretraining text for a language-model loss mixed into fine-tuning (SFT-ptx, PPO-ptx):
   * {@code windows} rows of {@code seqLen} tokens, drawn with a stream derived from {@code seed}. Checks the text
   * first (see {@link #checkPtxText}).
   */
  public static TokenBatcher ptxBatcher(Gpt model, TokenSource source, int windows, int seqLen, long seed) {
    checkPtxText(model, source, seqLen);
    return new TokenBatcher(source, windows, seqLen, TokenBatcher.Order.RANDOM, seed ^ 0x7F4A7C159E3779B9L);
  }

  /** Refuses pretraining text that is null, whose windows exceed the model's context or whose ids its vocabulary. */
  public static void checkPtxText(Gpt model, TokenSource source, int seqLen) {
    if (source == null) throw new IllegalArgumentException("pretraining data is null");
    int ctx = model.config().contextLength();
    if (seqLen > ctx) {
      throw new IllegalArgumentException("ptxSeqLen " + seqLen + " exceeds the model's context length " + ctx);
    }
    if (source.vocabSize() > model.config().vocabSize()) {
      throw new IllegalArgumentException("the pretraining data has a vocabulary of " + source.vocabSize()
          + " ids, the model only " + model.config().vocabSize());
    }
  }

  /** Warm-up then cosine to lr·minLrFraction over the run (constant when the fraction is 1). */
  public static LrSchedule schedule(StageConfig<?> cfg, int totalSteps) {
    int warm = Math.min(cfg.warmupSteps(), totalSteps);
    if (warm == 0 && cfg.minLrFraction() == 1.0) return LrSchedule.constant(cfg.lr());
    return LrSchedule.warmupCosine(cfg.lr(), cfg.minLrFraction(), warm, totalSteps);
  }

  /** The padding id: {@code <|pad|>} when the tokenizer has it, else {@code <|end|>} (never attended). */
  public static int padId(Tokenizer tok) {
    var pad = tok.specialId(Tokenizer.PAD);
    return pad.isPresent() ? pad.getAsInt() : tok.tokenId(Tokenizer.END);
  }

  /**
   * Renders a chat ending with an assistant message. Throws IllegalArgumentException (naming {@code what})
   * when the prompt part leaves no room for a response token in maxLength; the response then follows the
   * truncation policy.
   */
  public static ChatTemplate.Rendered render(ChatTemplate tmpl, List<ChatMessage> messages, int maxLength,
      ChatTemplate.Truncation truncation, String what) {
    int promptLength = tmpl.renderPrompt(messages.subList(0, messages.size() - 1), Integer.MAX_VALUE,
        ChatTemplate.Truncation.REJECT).length;
    if (promptLength >= maxLength) {
      throw new IllegalArgumentException(what + "the prompt is " + promptLength
          + " tokens with its chat headers, but the context holds " + maxLength
          + " tokens and at least one response token must fit; shorten the prompt or raise the context length");
    }
    try {
      return tmpl.render(messages, maxLength, truncation);
    } catch (ChatTemplate.TooLongException e) {
      throw new IllegalArgumentException(what + e.getMessage() + " (truncation policy REJECT)", e);
    }
  }

  /** [user: prompt, assistant: response] rendered with {@link #render}. */
  public static ChatTemplate.Rendered render(ChatTemplate tmpl, String prompt, String response, int maxLength,
      ChatTemplate.Truncation truncation, String what) {
    return render(tmpl, List.of(ChatMessage.user(prompt), ChatMessage.assistant(response)), maxLength, truncation,
        what);
  }

  /**
   * A right-padded batch for next-token training. tokens (B*T): the ids, padded with padId; targets (B*T):
   * targets[b,t] = ids[t+1] where position t+1 is trainable, else -1; kvEnd (B) = each row's length; count =
   * the number of targets ≥ 0.
   */
  public record Batch(int rows, int time, int[] tokens, int[] targets, int[] kvEnd, int count) {}

  /** Builds a {@link Batch} from rendered rows (each of length ≥ 1). */
  public static Batch batch(List<ChatTemplate.Rendered> rows, int padId) {
    int b = rows.size();
    int t = 1;
    for (ChatTemplate.Rendered r : rows) t = Math.max(t, r.length());
    int[] tokens = new int[b * t];
    int[] targets = new int[b * t];
    int[] kvEnd = new int[b];
    java.util.Arrays.fill(tokens, padId);
    java.util.Arrays.fill(targets, -1);
    int count = 0;
    for (int i = 0; i < b; i++) {
      ChatTemplate.Rendered r = rows.get(i);
      int len = r.length();
      kvEnd[i] = len;
      System.arraycopy(r.ids(), 0, tokens, i * t, len);
      for (int p = 0; p + 1 < len; p++) {
        if (r.trainable()[p + 1]) {
          targets[i * t + p] = r.ids()[p + 1];
          count++;
        }
      }
    }
    return new Batch(b, t, tokens, targets, kvEnd, count);
  }

  /**
   * Per-row sums of log p(target) over the trainable positions of a batch (no gradients), and the per-position
   * values in {@code perPosition} (nullable, length B*T).
   */
  public static double[] sequenceLogprobs(Gpt model, Batch batch, float[] perPosition) {
    float[] lp = model.tokenLogprobs(batch.tokens(), batch.targets(), batch.rows(), batch.time(), null, batch.kvEnd());
    if (perPosition != null) System.arraycopy(lp, 0, perPosition, 0, lp.length);
    double[] sums = new double[batch.rows()];
    for (int i = 0; i < batch.rows(); i++) {
      for (int p = 0; p < batch.time(); p++) {
        if (batch.targets()[i * batch.time() + p] >= 0) sums[i] += lp[i * batch.time() + p];
      }
    }
    return sums;
  }

  /** The order of training items, step by step: shuffled passes over [0, n), reshuffled every pass. */
  public static final class Order {
    private final int n;
    private final SplittableRandom rng;
    private int[] perm;
    private int pos;

    public Order(int n, long seed) {
      if (n <= 0) throw new IllegalArgumentException("no training examples");
      this.n = n;
      this.rng = new SplittableRandom(seed);
      reshuffle();
    }

    private void reshuffle() {
      perm = new int[n];
      for (int i = 0; i < n; i++) perm[i] = i;
      for (int i = n - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
      }
      pos = 0;
    }

    /** The next batch of up to size indices (a pass's last batch may be shorter). */
    public int[] next(int size) {
      if (pos >= n) reshuffle();
      int k = Math.min(size, n - pos);
      int[] out = java.util.Arrays.copyOfRange(perm, pos, pos + k);
      pos += k;
      return out;
    }
  }

  /** Whether the {@code \r} progress line is shown: a console is attached or the config asks for it. */
  public static boolean showProgress(StageConfig<?> cfg) {
    return cfg.out() != null && (cfg.progress() || System.console() != null);
  }

  /** Prints one progress line in place. */
  public static void progress(StageConfig<?> cfg, boolean show, String line) {
    if (show) {
      cfg.out().print("\r" + line);
      cfg.out().flush();
    }
  }

  /** Ends the progress line (if shown) and prints the one-line summary. */
  public static void summary(StageConfig<?> cfg, boolean shown, String line) {
    PrintStream out = cfg.out();
    if (out == null) return;
    if (shown) out.println();
    out.println(line);
  }

  /** Locale-independent formatting. */
  /**
   * "training loss A -> B over N steps" from a trainer's history: what a run without evaluation data reports,
   * so its result never reads as NaN.
   */
  public static String trainingLoss(List<Map<String, Double>> history) {
    if (history.isEmpty()) return "no optimizer steps ran";
    return fmt("training loss %.4f -> %.4f over %d steps", history.get(0).get("loss"),
        history.get(history.size() - 1).get("loss"), history.size());
  }

  public static String fmt(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }

  /** Throws when a value is not finite (a diverged run must stop, not corrupt the model). */
  public static void requireFinite(double v, String what, int step) {
    if (!Double.isFinite(v)) {
      throw new IllegalStateException(what + " is " + v + " at step " + step
          + "; training stopped before applying the update (lower the learning rate)");
    }
  }
}
