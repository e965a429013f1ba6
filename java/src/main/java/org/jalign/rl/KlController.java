package org.jalign.rl;

/**
 * The coefficient of the KL-to-reference penalty in PPO-RLHF: fixed, or adaptive with the proportional controller
 * of Ziegler et al. (2019), "Fine-Tuning Language Models from Human Preferences":
 * <pre>
 *   error = clip(kl / target - 1, -0.2, 0.2)
 *   coef  = coef * (1 + error * nSteps / horizon)
 * </pre>
 * after each PPO batch of nSteps samples whose measured KL was kl. The coefficient grows while the policy drifts
 * past the target KL and shrinks while it stays below. The state is just {@link #value()}: save it with the
 * checkpoint and restore it with {@link #setValue(double)} for an exactly resumed run.
 */
public final class KlController {
  private double value;
  private final boolean adaptive;
  private final double target;
  private final long horizon;

  private KlController(double value, boolean adaptive, double target, long horizon) {
    this.value = value;
    this.adaptive = adaptive;
    this.target = target;
    this.horizon = horizon;
  }

  /** A constant coefficient (>= 0). */
  public static KlController fixed(double coef) {
    checkCoef(coef);
    return new KlController(coef, false, 0, 0);
  }

  /** Ziegler's adaptive controller: initial coefficient, target KL (> 0), horizon in samples (> 0). */
  public static KlController adaptive(double initCoef, double target, long horizon) {
    checkCoef(initCoef);
    if (!(target > 0) || !Double.isFinite(target)) {
      throw new IllegalArgumentException("target KL must be finite and > 0, got " + target);
    }
    if (horizon <= 0) throw new IllegalArgumentException("horizon must be > 0, got " + horizon);
    return new KlController(initCoef, true, target, horizon);
  }

  /** The current coefficient. */
  public double value() {
    return value;
  }

  /** Restores the coefficient (e.g. from a checkpoint). */
  public void setValue(double coef) {
    checkCoef(coef);
    value = coef;
  }

  public boolean isAdaptive() {
    return adaptive;
  }

  /** Target KL (0 for a fixed controller). */
  public double target() {
    return target;
  }

  /** Horizon in samples (0 for a fixed controller). */
  public long horizon() {
    return horizon;
  }

  /**
   * Feeds the KL measured over the last batch of nSteps samples; returns the new coefficient (unchanged for a
   * fixed controller).
   */
  public double update(double currentKl, long nSteps) {
    if (!Double.isFinite(currentKl)) throw new IllegalArgumentException("currentKl must be finite, got " + currentKl);
    if (nSteps < 0) throw new IllegalArgumentException("nSteps must be >= 0, got " + nSteps);
    if (!adaptive) return value;
    double error = Math.max(-0.2, Math.min(0.2, currentKl / target - 1.0));
    value *= 1.0 + error * nSteps / horizon;
    return value;
  }

  private static void checkCoef(double coef) {
    if (!(coef >= 0) || !Double.isFinite(coef)) {
      throw new IllegalArgumentException("KL coefficient must be finite and >= 0, got " + coef);
    }
  }

  @Override
  public String toString() {
    return adaptive
        ? "KlController[adaptive, value=" + value + ", target=" + target + ", horizon=" + horizon + "]"
        : "KlController[fixed, value=" + value + "]";
  }
}
