package org.jalign.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** inv_freq of {@link RopeConfig} against HF's formulas written out in double, and its refusals. */
class RopeConfigTest {

  /** HF _compute_default_rope_parameters: 1 / base^(arange(0, dim, 2) / dim). */
  static double[] defaultRef(double base, int dim) {
    double[] f = new double[dim / 2];
    for (int k = 0; k < dim; k += 2) f[k / 2] = 1.0 / Math.pow(base, (double) k / dim);
    return f;
  }

  /** HF _compute_llama3_parameters, transliterated: the torch.where steps in their order. */
  static double[] llama3Ref(double base, int dim, double factor, double low, double high, double oldContext) {
    double[] invFreq = defaultRef(base, dim);
    double lowFreqWavelen = oldContext / low, highFreqWavelen = oldContext / high;
    double[] out = new double[invFreq.length];
    for (int i = 0; i < invFreq.length; i++) {
      double wavelen = 2 * Math.PI / invFreq[i];
      double invFreqLlama = wavelen > lowFreqWavelen ? invFreq[i] / factor : invFreq[i];
      double smoothFactor = (oldContext / wavelen - low) / (high - low);
      double smoothed = (1 - smoothFactor) * invFreqLlama / factor + smoothFactor * invFreqLlama;
      boolean isMediumFreq = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
      out[i] = isMediumFreq ? smoothed : invFreqLlama;
    }
    return out;
  }

  static void assertFloatsOf(double[] ref, float[] got) {
    assertEquals(ref.length, got.length);
    for (int i = 0; i < ref.length; i++) assertEquals((float) ref[i], got[i], "inv_freq[" + i + "]");
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 64, 128})
  void defaultFrequencies(int hs) {
    assertFloatsOf(defaultRef(10000, hs), RopeConfig.of(10000, hs).invFreq());
    assertFloatsOf(defaultRef(10000, hs), RopeConfig.fromHf(10000, hs, null).invFreq());
    assertFloatsOf(defaultRef(10000, hs), RopeConfig.fromHf(10000, hs, Map.of("rope_type", "default")).invFreq());
  }

  @Test
  void llama3ScalingOfLlama31() {
    // Llama 3.1 8B: rope_theta 500000, head_dim 128, factor 8, low 1, high 4, original context 8192.
    Map<String, Object> scaling = new HashMap<>();
    scaling.put("rope_type", "llama3");
    scaling.put("factor", 8.0);
    scaling.put("low_freq_factor", 1.0);
    scaling.put("high_freq_factor", 4.0);
    scaling.put("original_max_position_embeddings", 8192);
    float[] got = RopeConfig.fromHf(500000, 128, scaling).invFreq();
    double[] ref = llama3Ref(500000, 128, 8, 1, 4, 8192);
    assertFloatsOf(ref, got);
    // Hand-checked ends and bands: the fastest frequency is kept, the slowest divided by the factor, and all
    // three bands occur.
    double[] plain = defaultRef(500000, 128);
    assertEquals(1.0f, got[0]);
    assertEquals((float) (plain[63] / 8), got[63]);
    int kept = 0, divided = 0, smoothed = 0;
    for (int i = 0; i < 64; i++) {
      double wavelen = 2 * Math.PI / plain[i];
      if (wavelen < 2048) kept++;
      else if (wavelen > 8192) divided++;
      else smoothed++;
      if (wavelen >= 2048 && wavelen <= 8192) {
        assertTrue(got[i] < plain[i] && got[i] > plain[i] / 8, "smoothed inv_freq[" + i + "] between the two");
      }
    }
    assertTrue(kept > 0 && divided > 0 && smoothed > 0, kept + " kept, " + divided + " divided, " + smoothed);
    // The older key "type" names the rope type too.
    scaling.remove("rope_type");
    scaling.put("type", "llama3");
    assertArrayEquals(got, RopeConfig.fromHf(500000, 128, scaling).invFreq());
  }

  @Test
  void refusesOtherRopeTypesByName() {
    for (String type : new String[] {"linear", "dynamic", "yarn", "longrope"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> RopeConfig.fromHf(10000, 64, Map.of("rope_type", type, "factor", 2.0)));
      assertTrue(e.getMessage().contains("'" + type + "'"), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RopeConfig.fromHf(10000, 64, Map.of("rope_type", "llama3", "factor", 8.0)));
    assertTrue(e.getMessage().contains("low_freq_factor"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> RopeConfig.of(10000, 7));
    assertThrows(IllegalArgumentException.class, () -> RopeConfig.of(Double.NaN, 64));
    assertThrows(IllegalArgumentException.class, () -> new RopeConfig.Llama3Scaling(8, 4, 4, 8192));
  }
}
