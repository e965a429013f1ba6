package org.jalign.backend;

/**
 * Coefficients of the fused PPO policy loss ({@link Backend#ppoLoss}).
 *
 * @param clipEps surrogate clip range epsilon, in (0, 1) (TRL default 0.2)
 * @param dualClip dual-clip constant c > 1 for negative advantages, or 0 to disable
 * @param entropyCoef weight of the entropy bonus (subtracted from the loss)
 * @param klCoef weight of the KL-to-reference penalty added to the loss (0 to disable)
 * @param klEstimator 1 (k1 = logp - ref) or 3 (k3 = exp(ref - logp) - 1 - (ref - logp))
 */
public record PpoLossConfig(float clipEps, float dualClip, float entropyCoef, float klCoef, int klEstimator) {
  public PpoLossConfig {
    if (!(clipEps > 0 && clipEps < 1)) throw new IllegalArgumentException("clipEps must be in (0, 1), got " + clipEps);
    if (!(dualClip == 0 || dualClip > 1)) {
      throw new IllegalArgumentException("dualClip must be 0 (off) or > 1, got " + dualClip);
    }
    if (!Float.isFinite(entropyCoef)) throw new IllegalArgumentException("entropyCoef must be finite");
    if (!Float.isFinite(klCoef)) throw new IllegalArgumentException("klCoef must be finite");
    if (klEstimator != 1 && klEstimator != 3) {
      throw new IllegalArgumentException("klEstimator must be 1 or 3, got " + klEstimator);
    }
  }

  /** clip 0.2, no dual clip, no entropy bonus, no KL term, k3 estimator. */
  public static PpoLossConfig defaults() {
    return new PpoLossConfig(0.2f, 0f, 0f, 0f, 3);
  }
}
