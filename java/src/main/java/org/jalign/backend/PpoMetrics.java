package org.jalign.backend;

/**
 * What the fused PPO loss reports (means over the response mask).
 *
 * @param loss total loss: pg - entropyCoef * entropy + klCoef * kl
 * @param pgLoss clipped surrogate loss
 * @param entropy mean entropy of the full next-token distribution
 * @param klRef mean KL to the reference (k1 or k3); 0 without reference log-probs
 * @param clipFrac fraction of tokens where the clipped branch was taken
 * @param approxKl mean 0.5 * (logp_new - logp_old)^2
 * @param ratioMean mean probability ratio exp(logp_new - logp_old)
 * @param tokens sum of the mask
 */
public record PpoMetrics(float loss, float pgLoss, float entropy, float klRef, float clipFrac, float approxKl,
    float ratioMean, float tokens) {
  static PpoMetrics of(float[] m) {
    return new PpoMetrics(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]);
  }
}
