package org.jalign.backend;

import java.util.Arrays;

/**
 * Per-row sampling parameters for {@link Backend#sample}. Filters apply in the order temperature, top-k,
 * top-p, min-p. Defaults: temperature 1 (<= 0 means greedy), top-k 0 (off), top-p 1 (off), min-p 0 (off),
 * seed 0. The random stream of row b is keyed by (seed[b], offset, b): the same seeds, offset and row order
 * reproduce the draws on one backend; the row index is part of the key, so a row moved to another position of
 * the batch draws differently.
 */
public final class SamplingParams {
  public final float[] temperature;
  public final int[] topK;
  public final float[] topP;
  public final float[] minP;
  public final long[] seeds;

  public SamplingParams(float[] temperature, int[] topK, float[] topP, float[] minP, long[] seeds) {
    int b = temperature.length;
    if (topK.length != b || topP.length != b || minP.length != b || seeds.length != b) {
      throw new IllegalArgumentException("sampling parameter arrays must all have the batch size " + b);
    }
    for (int i = 0; i < b; i++) {
      if (!Float.isFinite(temperature[i])) throw new IllegalArgumentException("temperature[" + i + "] is not finite");
      if (topK[i] < 0) throw new IllegalArgumentException("topK[" + i + "] = " + topK[i] + " must be >= 0");
      if (!(topP[i] > 0f && topP[i] <= 1f)) {
        throw new IllegalArgumentException("topP[" + i + "] = " + topP[i] + " must be in (0, 1]");
      }
      if (!(minP[i] >= 0f && minP[i] <= 1f)) {
        throw new IllegalArgumentException("minP[" + i + "] = " + minP[i] + " must be in [0, 1]");
      }
    }
    this.temperature = temperature.clone();
    this.topK = topK.clone();
    this.topP = topP.clone();
    this.minP = minP.clone();
    this.seeds = seeds.clone();
  }

  /** The same parameters for every row; row b gets seed {@code seed + b}. */
  public static SamplingParams uniform(int batch, float temperature, int topK, float topP, float minP, long seed) {
    if (batch <= 0) throw new IllegalArgumentException("batch must be > 0, got " + batch);
    float[] t = new float[batch];
    int[] k = new int[batch];
    float[] p = new float[batch];
    float[] m = new float[batch];
    long[] s = new long[batch];
    Arrays.fill(t, temperature);
    Arrays.fill(k, topK);
    Arrays.fill(p, topP);
    Arrays.fill(m, minP);
    for (int i = 0; i < batch; i++) s[i] = seed + i;
    return new SamplingParams(t, k, p, m, s);
  }

  /** Greedy decoding for every row. */
  public static SamplingParams greedy(int batch) {
    return uniform(batch, 0f, 0, 1f, 0f, 0);
  }

  public int batch() {
    return temperature.length;
  }
}
