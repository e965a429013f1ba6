package org.jalign.optim;

/**
 * Learning-rate schedule: linear warm-up from 0 to {@code maxLr} over {@code warmupSteps}, then cosine decay
 * to {@code minLr} at {@code totalSteps}, and {@code minLr} after that.
 *
 * <pre>
 *   step s (0-based) &lt; warmup:   lr = maxLr * (s + 1) / warmup
 *   warmup &lt;= s &lt; total:        r = (s - warmup) / (total - warmup);  lr = minLr + 0.5 (1 + cos(pi r)) (maxLr - minLr)
 *   s &gt;= total:                  lr = minLr
 * </pre>
 *
 * The warm-up never yields 0 (the first step uses maxLr / warmup), as in llm.c and nanoGPT.
 */
public record LrSchedule(double maxLr, double minLr, long warmupSteps, long totalSteps) {

  public LrSchedule {
    if (!(maxLr > 0) || !Double.isFinite(maxLr)) throw new IllegalArgumentException("maxLr must be > 0, got " + maxLr);
    if (!(minLr >= 0) || minLr > maxLr) {
      throw new IllegalArgumentException("minLr must be in [0, maxLr=" + maxLr + "], got " + minLr);
    }
    if (warmupSteps < 0) throw new IllegalArgumentException("warmupSteps must be >= 0, got " + warmupSteps);
    if (totalSteps < warmupSteps) {
      throw new IllegalArgumentException("totalSteps " + totalSteps + " < warmupSteps " + warmupSteps);
    }
  }

  /** Constant learning rate. */
  public static LrSchedule constant(double lr) {
    return new LrSchedule(lr, lr, 0, 0);
  }

  /** Warm-up then cosine to {@code floorFraction * maxLr}. */
  public static LrSchedule warmupCosine(double maxLr, double floorFraction, long warmupSteps, long totalSteps) {
    return new LrSchedule(maxLr, maxLr * floorFraction, warmupSteps, totalSteps);
  }

  /** The learning rate of 0-based step {@code step}. */
  public double lr(long step) {
    if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
    if (step < warmupSteps) return maxLr * (step + 1) / warmupSteps;
    if (step >= totalSteps) return minLr;
    double ratio = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
    return minLr + 0.5 * (1.0 + Math.cos(Math.PI * ratio)) * (maxLr - minLr);
  }
}
