package org.jalign.optim;

/**
 * AdamW hyper-parameters (decoupled weight decay, Loshchilov and Hutter). Defaults follow GPT-2/GPT-3 style
 * pretraining: {@code lr = 6e-4}, {@code beta1 = 0.9}, {@code beta2 = 0.95}, {@code eps = 1e-8},
 * {@code weightDecay = 0.1}. The learning rate here is the base (peak) rate; a {@link LrSchedule} usually
 * supplies the rate of each step to {@link AdamW#step}.
 *
 * @param lr base learning rate (> 0)
 * @param beta1 first-moment decay in [0, 1)
 * @param beta2 second-moment decay in [0, 1)
 * @param eps denominator epsilon (> 0)
 * @param weightDecay decoupled weight decay (>= 0), applied as {@code p -= lr * weightDecay * p} to the
 *     parameter ranges marked for decay
 */
public record AdamWConfig(float lr, float beta1, float beta2, float eps, float weightDecay) {

  public static final float DEFAULT_LR = 6e-4f;
  public static final float DEFAULT_BETA1 = 0.9f;
  public static final float DEFAULT_BETA2 = 0.95f;
  public static final float DEFAULT_EPS = 1e-8f;
  public static final float DEFAULT_WEIGHT_DECAY = 0.1f;

  public AdamWConfig {
    if (!(lr > 0) || !Float.isFinite(lr)) throw new IllegalArgumentException("lr must be finite and > 0, got " + lr);
    if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
    if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
    if (!(eps > 0) || !Float.isFinite(eps)) throw new IllegalArgumentException("eps must be finite and > 0, got " + eps);
    if (!(weightDecay >= 0) || !Float.isFinite(weightDecay)) {
      throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
    }
  }

  /** The documented defaults. */
  public static AdamWConfig defaults() {
    return new AdamWConfig(DEFAULT_LR, DEFAULT_BETA1, DEFAULT_BETA2, DEFAULT_EPS, DEFAULT_WEIGHT_DECAY);
  }

  /** The defaults with another base learning rate. */
  public static AdamWConfig withLr(float lr) {
    return defaults().lr(lr);
  }

  public AdamWConfig lr(float newLr) {
    return new AdamWConfig(newLr, beta1, beta2, eps, weightDecay);
  }

  public AdamWConfig weightDecay(float wd) {
    return new AdamWConfig(lr, beta1, beta2, eps, wd);
  }

  public AdamWConfig betas(float b1, float b2) {
    return new AdamWConfig(lr, b1, b2, eps, weightDecay);
  }
}
