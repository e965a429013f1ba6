package org.jalign.model;

import java.util.Map;

/**
 * Rotary position embedding of a Llama-family model: {@code rope_theta}, the head size HS and an optional
 * {@code rope_scaling} of type {@code llama3}. {@link #invFreq()} gives the HS/2 inverse frequencies that
 * {@link org.jalign.backend.Backend#ropeForward} takes, as Hugging Face's {@code _compute_default_rope_parameters}
 * and {@code _compute_llama3_parameters} define them.
 *
 * <p>The frequencies are computed in double and rounded to float once; torch computes the default ones in fp32,
 * so an entry may differ from Hugging Face's by one float ulp.
 *
 * @param theta {@code rope_theta} (the base), finite and &gt; 1
 * @param headSize HS, even and &gt; 0
 * @param scaling the llama3 scaling, or null for none
 */
public record RopeConfig(double theta, int headSize, Llama3Scaling scaling) {

  public RopeConfig {
    if (!(theta > 1 && Double.isFinite(theta))) throw new IllegalArgumentException("rope_theta must be > 1, got " + theta);
    if (headSize <= 0 || headSize % 2 != 0) {
      throw new IllegalArgumentException("head size must be even and > 0, got " + headSize);
    }
  }

  /** Unscaled RoPE. */
  public static RopeConfig of(double theta, int headSize) {
    return new RopeConfig(theta, headSize, null);
  }

  /**
   * From a Hugging Face config.json: {@code rope_theta}, the head size and the {@code rope_scaling} object (null
   * for none). Its {@code rope_type} (or the older key {@code type}) must be {@code default} or {@code llama3}; any
   * other type is refused by name.
   */
  public static RopeConfig fromHf(double theta, int headSize, Map<String, ?> ropeScaling) {
    if (ropeScaling == null) return of(theta, headSize);
    Object type = ropeScaling.containsKey("rope_type") ? ropeScaling.get("rope_type") : ropeScaling.get("type");
    if ("default".equals(type)) return of(theta, headSize);
    if (!"llama3".equals(type)) {
      throw new IllegalArgumentException("rope_scaling rope_type '" + type + "' is not supported (default, llama3)");
    }
    return new RopeConfig(theta, headSize, new Llama3Scaling(number(ropeScaling, "factor"),
        number(ropeScaling, "low_freq_factor"), number(ropeScaling, "high_freq_factor"),
        number(ropeScaling, "original_max_position_embeddings")));
  }

  private static double number(Map<String, ?> m, String key) {
    if (!(m.get(key) instanceof Number n)) {
      throw new IllegalArgumentException("rope_scaling of type llama3 needs a number " + key + ", got " + m.get(key));
    }
    return n.doubleValue();
  }

  /**
   * Llama 3.1 frequency scaling: wavelengths shorter than {@code originalMax / highFreqFactor} keep their
   * frequency, those longer than {@code originalMax / lowFreqFactor} are divided by {@code factor}, and the band
   * between is interpolated smoothly.
   */
  public record Llama3Scaling(double factor, double lowFreqFactor, double highFreqFactor,
      double originalMaxPositionEmbeddings) {
    public Llama3Scaling {
      if (!(factor > 0 && Double.isFinite(factor))) throw new IllegalArgumentException("factor must be > 0, got " + factor);
      if (!(lowFreqFactor > 0 && highFreqFactor > lowFreqFactor && Double.isFinite(highFreqFactor))) {
        throw new IllegalArgumentException("need 0 < low_freq_factor < high_freq_factor, got " + lowFreqFactor
            + " and " + highFreqFactor);
      }
      if (!(originalMaxPositionEmbeddings > 0 && Double.isFinite(originalMaxPositionEmbeddings))) {
        throw new IllegalArgumentException("original_max_position_embeddings must be > 0, got "
            + originalMaxPositionEmbeddings);
      }
    }
  }

  /** inv_freq (HS/2): theta^(-2i/HS), then the llama3 scaling when present. */
  public float[] invFreq() {
    float[] out = new float[headSize / 2];
    for (int i = 0; i < out.length; i++) {
      double f = 1.0 / Math.pow(theta, (2.0 * i) / headSize);
      if (scaling != null) f = scaled(f, scaling);
      out[i] = (float) f;
    }
    return out;
  }

  private static double scaled(double invFreq, Llama3Scaling s) {
    double lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    double highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    double wavelen = 2 * Math.PI / invFreq;
    if (wavelen < highFreqWavelen) return invFreq;
    if (wavelen > lowFreqWavelen) return invFreq / s.factor;
    double smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * invFreq / s.factor + smooth * invFreq;
  }
}
