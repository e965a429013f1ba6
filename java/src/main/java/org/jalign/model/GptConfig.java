package org.jalign.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Shape of a GPT-2 style decoder: L = layers, NH = heads, C = channels, maxT = context length, V = vocabulary
 * size. Vp = {@link #paddedVocab()} (V rounded up to a multiple of 64) is the row count of the token embedding
 * and the row length of the logits; the padding rows are zero and their logits are ignored.
 *
 * <p>Parameter layout ({@link #paramSpecs()}), in this order in one flat F32 buffer (linear weights are
 * (out, in) and are applied as x·Wᵀ):
 * <pre>
 *   wte (Vp,C)  wpe (maxT,C)  ln1w (L,C)  ln1b (L,C)  qkvw (L,3C,C)  qkvb (L,3C)  attprojw (L,C,C)  attprojb (L,C)
 *   ln2w (L,C)  ln2b (L,C)  fcw (L,4C,C)  fcb (L,4C)  fcprojw (L,C,4C)  fcprojb (L,C)  lnfw (C)  lnfb (C)
 * </pre>
 */
public record GptConfig(int layers, int heads, int channels, int contextLength, int vocabSize) {

  /** Parameter names in buffer order. */
  public static final List<String> PARAM_NAMES = List.of("wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw",
      "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb");

  public GptConfig {
    positive("layers", layers);
    positive("heads", heads);
    positive("channels", channels);
    positive("contextLength", contextLength);
    positive("vocabSize", vocabSize);
    if (channels % heads != 0) {
      throw new IllegalArgumentException("channels " + channels + " must be divisible by heads " + heads);
    }
    if (vocabSize > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("vocabSize " + vocabSize + " too large");
    if (contextLength > MAX_CONTEXT_LENGTH) {
      throw new IllegalArgumentException("contextLength " + contextLength + " exceeds the limit " + MAX_CONTEXT_LENGTH);
    }
    // every parameter tensor is initialised and checkpointed through Java arrays: check sizes before anything
    // is allocated (a configuration read from a file must not become a huge allocation)
    double l = layers, c = channels; // doubles: the products below may exceed 2^63
    double[] largest = {(vocabSize + 63L) / 64 * 64 * c, contextLength * c, l * 4 * c * c};
    for (double n : largest) {
      if (n > MAX_TENSOR_ELEMENTS) {
        throw new IllegalArgumentException("a parameter tensor of " + this.getClass().getSimpleName() + "(L=" + layers
            + ", NH=" + heads + ", C=" + channels + ", maxT=" + contextLength + ", V=" + vocabSize + ") would have "
            + String.format("%.3g", n) + " elements, more than the limit " + MAX_TENSOR_ELEMENTS);
      }
    }
  }

  /** The largest context length a configuration may declare (2^24 positions). */
  public static final int MAX_CONTEXT_LENGTH = 1 << 24;

  /** The largest parameter tensor (elements): parameters travel through Java float arrays. */
  public static final long MAX_TENSOR_ELEMENTS = Integer.MAX_VALUE - 8;

  private static void positive(String name, int v) {
    if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
  }

  /** L=2, C=32, NH=2, maxT=16, V=64: for tests. */
  public static GptConfig tiny() {
    return new GptConfig(2, 2, 32, 16, 64);
  }

  /** L=4, C=128, NH=4, maxT=128 with the given vocabulary. */
  public static GptConfig small(int vocab) {
    return new GptConfig(4, 4, 128, 128, vocab);
  }

  /** GPT-2 small, 124M parameters: L=12, C=768, NH=12, maxT=1024, V=50257 (Vp=50304). */
  public static GptConfig gpt2Small() {
    return new GptConfig(12, 12, 768, 1024, 50257);
  }

  /** HS = C / NH. */
  public int headSize() {
    return channels / heads;
  }

  /** V rounded up to a multiple of 64. */
  public int paddedVocab() {
    return (vocabSize + 63) / 64 * 64;
  }

  /** Shapes and offsets of the parameter tensors, in buffer order. */
  public List<ParamSpec> paramSpecs() {
    long l = layers, c = channels;
    long[][] shapes = {
      {paddedVocab(), c}, {contextLength, c}, {l, c}, {l, c}, {l, 3 * c, c}, {l, 3 * c}, {l, c, c}, {l, c},
      {l, c}, {l, c}, {l, 4 * c, c}, {l, 4 * c}, {l, c, 4 * c}, {l, c}, {c}, {c}
    };
    List<ParamSpec> specs = new ArrayList<>(shapes.length);
    long offset = 0;
    for (int i = 0; i < shapes.length; i++) {
      ParamSpec s = new ParamSpec(PARAM_NAMES.get(i), shapes[i], offset);
      specs.add(s);
      offset += s.numel();
    }
    return Collections.unmodifiableList(specs);
  }

  /** Total parameters (with the padded embedding rows): the element count of the parameter buffer. */
  public long parameterCount() {
    long l = layers, c = channels;
    long perLayer = 2 * c + 3 * c * c + 3 * c + c * c + c + 2 * c + 4 * c * c + 4 * c + 4 * c * c + c;
    return (long) paddedVocab() * c + (long) contextLength * c + l * perLayer + 2 * c;
  }

  /**
   * Training FLOPs per token (forward + backward) at the full context length: {@code 6·N + 12·L·C·T} with N =
   * {@link #parameterCount()} and T = {@link #contextLength()} (the attention score and value products).
   */
  public long flopsPerToken() {
    return flopsPerToken(contextLength);
  }

  /** {@code 6·N + 12·L·C·T} for sequences of length T. */
  public long flopsPerToken(int seqLen) {
    return 6 * parameterCount() + 12L * layers * channels * seqLen;
  }
}
