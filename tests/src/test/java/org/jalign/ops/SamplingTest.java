package org.jalign.ops;

import static org.jalign.ops.CpuOps.CPU;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.jalign.backend.SamplingParams;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;

/**
 * Sampling through the Backend API against a Java double reference that sorts the whole vocabulary: every id inside
 * the reference top-k/top-p/min-p set (filters in that order, ties at a threshold kept), log-probs, empirical
 * frequencies vs renormalised probabilities, determinism, greedy, bad arguments.
 */
class SamplingTest {

  /** Renormalised filtered probabilities over the first v columns (0 outside the kept set); pScale loosens top-p. */
  static double[] reference(float[] x, int v, float temp, int topK, float topP, float minP, double pScale) {
    double[] probs = new double[v];
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < v; j++) m = Math.max(m, x[j]);
    if (!(temp > 0)) {
      int a = 0;
      for (int j = 1; j < v; j++) if (x[j] > x[a]) a = j;
      probs[a] = 1;
      return probs;
    }
    double[] e = new double[v];
    for (int j = 0; j < v; j++) e[j] = Math.exp((x[j] - m) / temp);
    Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
    Arrays.sort(order, Comparator.comparingDouble((Integer j) -> -e[j]));
    double tk = (topK > 0 && topK < v) ? e[order[topK - 1]] : 0;
    double sk = 0;
    for (int j = 0; j < v; j++) if (e[j] >= tk) sk += e[j];
    double tp = tk;
    if (topP < 1) {
      double target = Math.min(1.0, topP * pScale) * sk, cum = 0;
      for (int i = 0; i < v; i++) {
        cum += e[order[i]];
        if (cum >= target) {
          tp = e[order[i]];
          break;
        }
      }
    }
    double t = Math.max(Math.max(tk, tp), minP);
    double z = 0;
    for (int j = 0; j < v; j++) if (e[j] >= t) z += e[j];
    for (int j = 0; j < v; j++) probs[j] = e[j] >= t ? e[j] / z : 0;
    return probs;
  }

  static double logSoftmax(float[] x, int v, int id) {
    double m = Double.NEGATIVE_INFINITY, s = 0;
    for (int j = 0; j < v; j++) m = Math.max(m, x[j]);
    for (int j = 0; j < v; j++) s += Math.exp(x[j] - m);
    return x[id] - m - Math.log(s);
  }

  @Test
  void idsLieInTheReferenceSetAndLogProbsMatch() {
    int b = 24, v = 500, vp = 512;
    SplittableRandom r = new SplittableRandom(1);
    float[] logits = Ref.randn(r, b * vp, 2.5);
    float[] temp = new float[b], topP = new float[b], minP = new float[b];
    int[] topK = new int[b];
    long[] seeds = new long[b];
    for (int i = 0; i < b; i++) {
      temp[i] = new float[] {0.6f, 1f, 1.5f}[i % 3];
      topK[i] = (i % 4 == 1 || i % 4 == 3) ? 1 + 7 * i : 0;
      topP[i] = (i % 4 >= 2) ? 0.55f + 0.015f * i : 1f;
      minP[i] = i % 5 == 0 ? 0.05f : 0f;
      seeds[i] = 100 + i;
    }
    SamplingParams params = new SamplingParams(temp, topK, topP, minP, seeds);
    try (Scope s = Scope.open()) {
      Tensor tLogits = CPU.fromArray(logits, b, vp);
      Tensor ids = CPU.zeros(DType.I32, b), lps = CPU.zeros(DType.F32, b), lpr = CPU.zeros(DType.F32, b);
      for (long offset = 0; offset < 6; offset++) {
        CPU.sample(ids, lps, lpr, tLogits, v, params, offset);
        int[] id = ids.toIntArray();
        float[] ls = lps.toFloatArray(), lr = lpr.toFloatArray();
        for (int i = 0; i < b; i++) {
          float[] row = Arrays.copyOfRange(logits, i * vp, i * vp + vp);
          assertTrue(id[i] >= 0 && id[i] < v, "row " + i + ": id " + id[i] + " outside the vocab");
          double[] strict = reference(row, v, temp[i], topK[i], topP[i], minP[i], 1.0);
          double[] loose = reference(row, v, temp[i], topK[i], topP[i], minP[i], 1 + 1e-5);
          if (loose[id[i]] == 0) fail("row " + i + " offset " + offset + ": id " + id[i] + " outside the reference set");
          double want = Math.log(strict[id[i]] > 0 ? strict[id[i]] : loose[id[i]]);
          double alt = Math.log(loose[id[i]]);
          assertTrue(Math.abs(ls[i] - want) < 2e-4 || Math.abs(ls[i] - alt) < 2e-4,
              "row " + i + ": logpSampled " + ls[i] + " vs reference " + want);
          assertEquals(logSoftmax(row, v, id[i]), lr[i], 2e-4, "row " + i + ": logpRaw");
        }
      }
    }
  }

  @Test
  void frequenciesMatchTheRenormalisedDistribution() {
    int v = 120, rows = 1000, rounds = 60;
    SplittableRandom r = new SplittableRandom(2);
    float[] row = Ref.randn(r, v, 1.5);
    float[][] configs = {{1f, 0, 1f, 0f}, {0.7f, 25, 1f, 0f}, {1f, 0, 0.8f, 0f}, {1.3f, 40, 0.9f, 0.05f}};
    for (float[] c : configs) {
      float[] logits = new float[rows * v];
      for (int i = 0; i < rows; i++) System.arraycopy(row, 0, logits, i * v, v);
      SamplingParams params = SamplingParams.uniform(rows, c[0], (int) c[1], c[2], c[3], 12345);
      double[] counts = new double[v];
      try (Scope s = Scope.open()) {
        Tensor tLogits = CPU.fromArray(logits, rows, v), ids = CPU.zeros(DType.I32, rows);
        for (int k = 0; k < rounds; k++) {
          CPU.sample(ids, null, null, tLogits, v, params, k);
          for (int id : ids.toIntArray()) counts[id]++;
        }
      }
      double n = (double) rows * rounds;
      double[] ref = reference(row, v, c[0], (int) c[1], c[2], c[3], 1.0);
      double dot = 0, na = 0, nb = 0, chi2 = 0;
      int kept = 0;
      for (int j = 0; j < v; j++) {
        double f = counts[j] / n;
        dot += f * ref[j];
        na += f * f;
        nb += ref[j] * ref[j];
        if (ref[j] > 0) {
          kept++;
          chi2 += (counts[j] - ref[j] * n) * (counts[j] - ref[j] * n) / (ref[j] * n);
        } else {
          assertEquals(0, counts[j], "config " + Arrays.toString(c) + ": token " + j + " is outside the set");
        }
      }
      int dof = kept - 1;
      double cosine = dot / Math.sqrt(na * nb);
      assertTrue(cosine > 0.99, "config " + Arrays.toString(c) + ": cosine " + cosine);
      double bound = dof + 5 * Math.sqrt(2.0 * Math.max(dof, 1)) + 10;
      assertTrue(chi2 < bound, "config " + Arrays.toString(c) + ": chi-square " + chi2 + " > " + bound);
    }
  }

  @Test
  void sameSeedSameIdsAndGreedyIsArgmax() {
    int b = 32, v = 5000;
    SplittableRandom r = new SplittableRandom(3);
    float[] logits = Ref.randn(r, b * v, 2);
    logits[7 * v + 11] = 40f; // exact tie in row 7: the lowest index wins under greedy
    logits[7 * v + 4000] = 40f;
    try (Scope s = Scope.open()) {
      Tensor tLogits = CPU.fromArray(logits, b, v);
      Tensor a = CPU.zeros(DType.I32, b), c = CPU.zeros(DType.I32, b);
      SamplingParams p = SamplingParams.uniform(b, 0.9f, 0, 0.95f, 0f, 77);
      CPU.sample(a, null, null, tLogits, v, p, 5);
      CPU.sample(c, null, null, tLogits, v, p, 5);
      assertArrayEquals(a.toIntArray(), c.toIntArray(), "same (seed, offset) must give the same ids");
      CPU.sample(c, null, null, tLogits, v, p, 6);
      assertTrue(!Arrays.equals(a.toIntArray(), c.toIntArray()), "a new offset should change some ids");
      Tensor lps = CPU.zeros(DType.F32, b);
      CPU.sample(a, lps, null, tLogits, v, SamplingParams.greedy(b), 0);
      int[] id = a.toIntArray();
      for (int i = 0; i < b; i++) {
        int am = 0;
        for (int j = 1; j < v; j++) if (logits[i * v + j] > logits[i * v + am]) am = j;
        assertEquals(am, id[i], "greedy row " + i);
        assertEquals(0f, lps.toFloatArray()[i], "greedy logpSampled is log 1");
      }
      assertEquals(11, id[7]);
    }
  }

  @Test
  void negativeInfinityLogitsAreNeverDrawn() {
    int rows = 500, v = 64;
    float[] logits = new float[rows * v];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < v; j++) logits[i * v + j] = j % 3 == 0 ? Float.NEGATIVE_INFINITY : 0.1f * (j % 7);
    }
    try (Scope s = Scope.open()) {
      Tensor ids = CPU.zeros(DType.I32, rows);
      CPU.sample(ids, null, null, CPU.fromArray(logits, rows, v), v, SamplingParams.uniform(rows, 1f, 0, 1f, 0f, 9), 0);
      for (int id : ids.toIntArray()) assertTrue(id % 3 != 0, "drew a -inf token " + id);
    }
  }

  @Test
  void badArgumentsAreRejected() {
    try (Scope s = Scope.open()) {
      Tensor logits = CPU.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
      Tensor ids = CPU.zeros(DType.I32, 2);
      SamplingParams p = SamplingParams.uniform(2, 1f, 0, 1f, 0f, 0);
      assertThrows(IllegalArgumentException.class, () -> CPU.sample(ids, null, null, logits, 4, p, 0));
      assertThrows(IllegalArgumentException.class, () -> CPU.sample(ids, null, null, logits, 0, p, 0));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.sample(CPU.zeros(DType.I32, 3), null, null, logits, 3, p, 0));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.sample(ids, null, null, logits, 3, SamplingParams.uniform(3, 1f, 0, 1f, 0f, 0), 0));
      assertThrows(IllegalArgumentException.class, () -> CPU.sample(ids, null, null, null, 3, p, 0));
      assertThrows(IllegalArgumentException.class, () -> CPU.sample(ids, null, null, logits, 3, null, 0));
      assertThrows(IllegalArgumentException.class,
          () -> CPU.sample(CPU.zeros(DType.F32, 2), null, null, logits, 3, p, 0));
      Tensor nan = CPU.fromArray(new float[] {1, Float.NaN, 3, 4, 5, 6}, 2, 3);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> CPU.sample(ids, null, null, nan, 3, p, 0));
      assertTrue(e.getMessage().toLowerCase(java.util.Locale.ROOT).contains("nan"), e.getMessage());
      Tensor allNegInf = CPU.fromArray(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, 0, 1, 2, 3}, 2, 3);
      assertThrows(IllegalArgumentException.class, () -> CPU.sample(ids, null, null, allNegInf, 2, p, 0));
      assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(2, 1f, 0, 0f, 0f, 0));
      assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(2, 1f, -1, 1f, 0f, 0));
      assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(2, 1f, 0, 1f, 1.5f, 0));
      assertThrows(IllegalArgumentException.class, () -> SamplingParams.uniform(2, Float.NaN, 0, 1f, 0f, 0));
    }
  }
}
