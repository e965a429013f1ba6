package org.jalign.train;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.jalign.backend.CpuBackend;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenSource;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.tensor.Tensor;
import org.jalign.text.ByteTokenizer;

/** Tiny models, the byte tokenizer and reference math shared by the alignment-stage tests. */
public final class AlignFixtures {
  private AlignFixtures() {}

  public static final CpuBackend CPU = new CpuBackend();
  /** Byte ids 0..255 plus the 6 standard specials: V = 262. */
  public static final ByteTokenizer TOK = new ByteTokenizer();
  /** L=2, NH=2, C=32, maxT=40. */
  public static final GptConfig TINY = new GptConfig(2, 2, 32, 40, TOK.vocabSize());

  /**
   * Bytes the backend keeps for itself once warmed up (its one-float reduction scratch, freed when the backend
   * closes); anything above this after a test class is a leak.
   */
  public static long backendOwnBytes() {
    try (org.jalign.tensor.Scope s = org.jalign.tensor.Scope.open()) {
      CPU.sumSquares(CPU.fromArray(new float[] {1f}, 1));
    }
    return CPU.liveBytes();
  }

  /** Pretraining text of the ptx tests: upper-case sentences of eleven words (about 4000 bytes). */
  public static final TokenSource SENTENCES;

  static {
    StringBuilder sb = new StringBuilder();
    String[] words = {"THE", "CAT", "SAT", "ON", "A", "MAT", "AND", "DOG", "RAN", "TO", "HILL"};
    java.util.Random rnd = new java.util.Random(3);
    while (sb.length() < 4000) sb.append(words[rnd.nextInt(words.length)]).append(rnd.nextInt(6) == 0 ? ". " : " ");
    SENTENCES = TokenSource.of(TOK.encode(sb.toString()), TOK.vocabSize());
  }

  /** Mean next-token loss of a model on a fixed set of windows of a text (4 batches of 8 x 24 tokens). */
  public static double textLoss(Gpt m, TokenSource text) {
    TokenBatcher b = new TokenBatcher(text, 8, 24, TokenBatcher.Order.RANDOM, 99);
    double sum = 0;
    for (int i = 0; i < 4; i++) {
      TokenBatcher.Batch x = b.next();
      m.zeroGrad();
      sum += m.lossAndBackward(x.inputs(), x.targets(), null, x.batch(), x.time(), null, null);
    }
    m.zeroGrad();
    return sum / 4;
  }

  public static Gpt tiny(long seed) {
    return new Gpt(TINY, CPU, seed);
  }

  /** A random lowercase word of length in [min, max]. */
  public static String word(SplittableRandom r, int min, int max) {
    int n = min + r.nextInt(max - min + 1);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) sb.append((char) ('a' + r.nextInt(6)));
    return sb.toString();
  }

  /** Host copy of a tensor. */
  public static float[] host(Tensor t) {
    return t.toFloatArray();
  }

  /** -log softmax(row)[target] in double over the first v entries of a row of length ld at offset off. */
  public static double nll(float[] logits, int off, int v, int target) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < v; j++) max = Math.max(max, logits[off + j]);
    double sum = 0;
    for (int j = 0; j < v; j++) sum += Math.exp(logits[off + j] - max);
    return Math.log(sum) + max - logits[off + target];
  }

  /** Max absolute difference of two arrays. */
  public static double maxAbsDiff(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }

  public static List<Integer> range(int n) {
    List<Integer> l = new ArrayList<>();
    for (int i = 0; i < n; i++) l.add(i);
    return l;
  }

  /**
   * Central difference (loss(p + eps·e_i) − loss(p − eps·e_i)) / 2eps of a loss with respect to element i of a
   * parameter buffer whose values are {@code p0}; {@code load} writes a buffer, and p0 is loaded back at the end.
   */
  public static double centralDiff(float[] p0, int i, double eps, java.util.function.Consumer<float[]> load,
      java.util.function.DoubleSupplier loss) {
    float[] p = p0.clone();
    p[i] = (float) (p0[i] + eps);
    load.accept(p);
    double up = loss.getAsDouble();
    p[i] = (float) (p0[i] - eps);
    load.accept(p);
    double down = loss.getAsDouble();
    load.accept(p0);
    return (up - down) / (2 * eps);
  }

  /** Indices of {@code g} ordered by decreasing magnitude. */
  public static int[] byMagnitude(float[] g) {
    Integer[] idx = new Integer[g.length];
    for (int i = 0; i < idx.length; i++) idx[i] = i;
    java.util.Arrays.sort(idx, (a, b) -> Float.compare(Math.abs(g[b]), Math.abs(g[a])));
    int[] out = new int[g.length];
    for (int i = 0; i < g.length; i++) out[i] = idx[i];
    return out;
  }

  /**
   * Checks d loss / d trunk against {@link #centralDiff} (eps 1e-2) at {@code count} parameters: every
   * {@code stride}-th of the trunk's gradient entries ordered by magnitude. The gradient must be in the trunk's
   * grads already; {@code what} ends each failure message.
   */
  public static void assertTrunkGradients(Gpt trunk, int count, int stride, java.util.function.DoubleSupplier loss,
      String what) {
    float[] g = trunk.grads().toFloatArray();
    float[] p0 = trunk.paramsToArray();
    int[] idx = byMagnitude(g);
    for (int k = 0; k < count; k++) {
      int i = idx[k * stride];
      double fd = centralDiff(p0, i, 1e-2, trunk::loadParams, loss);
      org.junit.jupiter.api.Assertions.assertEquals(fd, g[i], 0.05 * Math.abs(fd) + 5e-4,
          "d loss / d trunk[" + i + "]" + what);
    }
  }
}
