package org.jalign.optim;

import org.jalign.backend.Backend;
import org.jalign.tensor.Tensor;

/** Global-norm gradient clipping (Pascanu et al.; as in GPT-2, llm.c, nanoGPT). */
public final class GradClip {
  private GradClip() {}

  /**
   * sqrt(sum over all tensors of sum of squares), accumulated in double. NaN or Inf when any gradient is
   * non-finite — callers treat that as a poisoned step.
   */
  public static double globalNorm(Backend backend, Tensor... grads) {
    double sum = 0;
    for (Tensor g : grads) {
      if (g == null) continue;
      sum += backend.sumSquares(g);
    }
    return Math.sqrt(sum);
  }

  /**
   * The factor to multiply gradients by so their global norm is at most {@code maxNorm}: {@code maxNorm / norm}
   * when {@code norm > maxNorm}, else 1. {@code maxNorm <= 0} disables clipping (always 1). A non-finite norm
   * gives NaN so the caller must skip the step.
   */
  public static float clipScale(double norm, double maxNorm) {
    if (!Double.isFinite(norm)) return Float.NaN;
    if (maxNorm <= 0 || norm <= maxNorm) return 1f;
    return (float) (maxNorm / norm);
  }
}
