package org.jalign.rl;

/**
 * Generalised advantage estimation (Schulman et al.) over a batch of variable-length responses, plus masked
 * advantage whitening.
 *
 * <p>Shape legend: B = batch (responses), T = time (padded response length). Every per-token array is (B, T)
 * row-major: element (b, t) at {@code b * T + t}. Row b holds {@code lengths[b]} real tokens (0..T); positions
 * {@code t >= lengths[b]} are padding.
 *
 * <p>For row b with length L, for t = L-1 down to 0 (in double precision):
 * <pre>
 *   next_t  = values[b, t+1]           if t+1 &lt; L
 *           = bootstrap[b] (0 if null) if t = L-1   (0: the response ended; a value: it was cut off)
 *   delta_t = rewards[b, t] + gamma * next_t - values[b, t]
 *   A_t     = delta_t + gamma * lambda * A_{t+1}      (A_L = 0)
 *   R_t     = A_t + values[b, t]                       (the value target, "returns")
 * </pre>
 * which equals A_t = sum over l = 0..L-1-t of (gamma*lambda)^l * delta_{t+l}. Padding positions get A = R = 0.
 * TRL's PPO defaults are gamma = 1, lambda = 0.95.
 */
public final class Gae {
  private Gae() {}

  /** Advantages and returns, both (B, T) row-major; 0 at padding positions. */
  public record Result(float[] advantages, float[] returns) {}

  /** GAE without bootstrap values (every response ended at its last token). */
  public static Result compute(float[] rewards, float[] values, int[] lengths, int batch, int time, double gamma,
      double lambda) {
    return compute(rewards, values, null, lengths, batch, time, gamma, lambda);
  }

  /**
   * GAE with an optional bootstrap value per row (the value estimate after the last token, for responses cut off
   * by a length limit; null means 0 for every row).
   */
  public static Result compute(float[] rewards, float[] values, float[] bootstrap, int[] lengths, int batch,
      int time, double gamma, double lambda) {
    checkShapes(rewards, values, lengths, batch, time);
    if (bootstrap != null && bootstrap.length != batch) {
      throw new IllegalArgumentException("bootstrap has " + bootstrap.length + " values, expected batch " + batch);
    }
    if (!(gamma >= 0 && gamma <= 1)) throw new IllegalArgumentException("gamma must be in [0, 1], got " + gamma);
    if (!(lambda >= 0 && lambda <= 1)) throw new IllegalArgumentException("lambda must be in [0, 1], got " + lambda);
    float[] adv = new float[batch * time];
    float[] ret = new float[batch * time];
    double gl = gamma * lambda;
    for (int b = 0; b < batch; b++) {
      int len = lengths[b];
      int row = b * time;
      double next = bootstrap == null ? 0.0 : bootstrap[b];
      double a = 0.0;
      for (int t = len - 1; t >= 0; t--) {
        double v = values[row + t];
        double delta = rewards[row + t] + gamma * next - v;
        a = delta + gl * a;
        adv[row + t] = (float) a;
        ret[row + t] = (float) (a + v);
        next = v;
      }
    }
    return new Result(adv, ret);
  }

  /** The (B, T) mask of real tokens: 1 for t &lt; lengths[b], else 0. */
  public static float[] mask(int[] lengths, int batch, int time) {
    checkLengths(lengths, batch, time);
    float[] m = new float[batch * time];
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < lengths[b]; t++) m[b * time + t] = 1f;
    }
    return m;
  }

  /**
   * Whitens x in place over the positions with mask != 0 (weights = mask): x = (x - mean) / sqrt(var + 1e-8),
   * with the unbiased variance sum(m*(x-mean)^2) / (sum(m) - 1) as TRL's masked_var; with shiftMean false the
   * mean is added back (TRL's default for advantages is shiftMean = true). Positions with mask 0 become 0.
   * Fewer than 2 masked-in positions: the variance is taken as 0.
   */
  public static void whiten(float[] x, float[] mask, boolean shiftMean) {
    if (x == null || mask == null) throw new IllegalArgumentException("x and mask must not be null");
    if (x.length != mask.length) {
      throw new IllegalArgumentException("x has " + x.length + " elements but mask has " + mask.length);
    }
    double msum = 0, sum = 0;
    for (int i = 0; i < x.length; i++) {
      if (!(mask[i] >= 0) || !Float.isFinite(mask[i])) {
        throw new IllegalArgumentException("mask[" + i + "] = " + mask[i] + " must be finite and >= 0");
      }
      msum += mask[i];
      sum += mask[i] * (double) x[i];
    }
    if (msum == 0) {
      java.util.Arrays.fill(x, 0f);
      return;
    }
    double mean = sum / msum;
    double ss = 0;
    for (int i = 0; i < x.length; i++) ss += mask[i] * (x[i] - mean) * (x[i] - mean);
    double var = msum > 1 ? ss / (msum - 1) : 0.0;
    double inv = 1.0 / Math.sqrt(var + 1e-8);
    for (int i = 0; i < x.length; i++) {
      x[i] = mask[i] == 0 ? 0f : (float) ((x[i] - mean) * inv + (shiftMean ? 0.0 : mean));
    }
  }

  /** {@link #whiten(float[], float[], boolean)} with the mask of {@code lengths}. */
  public static void whiten(float[] x, int[] lengths, int batch, int time, boolean shiftMean) {
    if (x == null || x.length != (long) batch * time) {
      throw new IllegalArgumentException("x must have batch*time = " + (long) batch * time + " elements");
    }
    whiten(x, mask(lengths, batch, time), shiftMean);
  }

  private static void checkShapes(float[] rewards, float[] values, int[] lengths, int batch, int time) {
    checkLengths(lengths, batch, time);
    long n = (long) batch * time;
    if (rewards == null || rewards.length != n) {
      throw new IllegalArgumentException("rewards must have batch*time = " + n + " elements, got "
          + (rewards == null ? "null" : rewards.length));
    }
    if (values == null || values.length != n) {
      throw new IllegalArgumentException("values must have batch*time = " + n + " elements, got "
          + (values == null ? "null" : values.length));
    }
  }

  private static void checkLengths(int[] lengths, int batch, int time) {
    if (batch <= 0 || time <= 0) {
      throw new IllegalArgumentException("batch and time must be > 0, got " + batch + ", " + time);
    }
    if ((long) batch * time > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("batch*time = " + (long) batch * time + " is too large for one array");
    }
    if (lengths == null || lengths.length != batch) {
      throw new IllegalArgumentException("lengths must have batch = " + batch + " entries");
    }
    for (int b = 0; b < batch; b++) {
      if (lengths[b] < 0 || lengths[b] > time) {
        throw new IllegalArgumentException("lengths[" + b + "] = " + lengths[b] + " must be in [0, " + time + "]");
      }
    }
  }
}
