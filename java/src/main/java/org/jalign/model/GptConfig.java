package org.jalign.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Shape and block choices of a decoder-only transformer: GPT-2 (pre-LayerNorm, learned positions, GELU MLP, every
 * linear layer biased, LM head tied to the token embedding) or the Llama family (RMSNorm, rotary positions,
 * SwiGLU MLP, grouped-query attention, no biases or q/k/v biases only (Qwen2), tied or untied LM head). The
 * five-argument constructor is GPT-2; {@link #llama} and {@link #qwen2} give the Llama shapes.
 *
 * <p>L = layers, NH = (query) heads, NKV = {@link #kvHeads()}, C = channels, HS = {@link #headSize()} = C / NH,
 * F = {@link #intermediateSize()}, maxT = context length, V = vocabulary size. Vp = {@link #paddedVocab()} (V
 * rounded up to a multiple of 64) is the row count of the token embedding (and of an untied LM head) and the row
 * length of the logits; the padding rows are zero and their logits are ignored.
 *
 * <p>Parameter layout ({@link #paramSpecs()}), in this order in one flat F32 buffer (linear weights are
 * (out, in) and are applied as x·Wᵀ); a tensor the configuration does not use is absent, not empty:
 * <pre>
 *   wte (Vp,C)  wpe (maxT,C) [learned positions]  ln1w (L,C)  ln1b (L,C) [LayerNorm]
 *   qkvw (L,(NH+2·NKV)·HS,C)  qkvb (L,(NH+2·NKV)·HS) [biases ALL or QKV]  attprojw (L,C,C)  attprojb (L,C) [ALL]
 *   ln2w (L,C)  ln2b (L,C) [LayerNorm]  fcw (L,M,C)  fcb (L,M) [ALL]  fcprojw (L,C,F)  fcprojb (L,C) [ALL]
 *   lnfw (C)  lnfb (C) [LayerNorm]  lmhead (Vp,C) [untied head]
 * </pre>
 * with M = F for GELU and M = 2F for SwiGLU (gate rows first, then up rows: Hugging Face's gate_proj and up_proj
 * stacked). The q/k/v rows of qkvw are q (NH·HS rows), k (NKV·HS), v (NKV·HS). For GPT-2 this is exactly the
 * llm.c layout:
 * <pre>
 *   wte (Vp,C)  wpe (maxT,C)  ln1w (L,C)  ln1b (L,C)  qkvw (L,3C,C)  qkvb (L,3C)  attprojw (L,C,C)  attprojb (L,C)
 *   ln2w (L,C)  ln2b (L,C)  fcw (L,4C,C)  fcb (L,4C)  fcprojw (L,C,4C)  fcprojb (L,C)  lnfw (C)  lnfb (C)
 * </pre>
 *
 * @param kvHeads NKV, key/value heads: divides NH (NKV = NH multi-head, NKV = 1 multi-query attention)
 * @param intermediateSize F, the MLP's hidden width (4C for GPT-2)
 * @param norm the normalisation of the blocks and the final norm
 * @param normEps its epsilon
 * @param rope rotary positions (its head size = HS), or null for learned position embeddings (wpe)
 * @param mlp GELU (fc, gelu, fcproj) or SwiGLU (fused gate·up, silu(gate)·up, down)
 * @param biases which linear layers carry a bias
 * @param tiedHead whether the LM head is the token embedding (else a separate lmhead weight)
 */
public record GptConfig(int layers, int heads, int channels, int contextLength, int vocabSize, int kvHeads,
    int intermediateSize, Norm norm, float normEps, RopeConfig rope, Mlp mlp, Biases biases, boolean tiedHead) {

  /** The normalisation layer. */
  public enum Norm { LAYER_NORM, RMS_NORM }

  /** The MLP of a block. */
  public enum Mlp { GELU, SWIGLU }

  /** Which linear layers carry a bias: all (GPT-2), only the q/k/v projection (Qwen2), none (Llama). */
  public enum Biases { ALL, QKV, NONE }

  /** GPT-2's LayerNorm epsilon. */
  public static final float GPT2_EPS = 1e-5f;

  /** GPT-2's parameter names in buffer order. */
  public static final List<String> PARAM_NAMES = List.of("wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw",
      "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb");

  /** The untied LM head's name. */
  public static final String LM_HEAD = "lmhead";

  /** Every parameter name a configuration may use, in buffer order. */
  public static final List<String> ALL_PARAM_NAMES = List.of("wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb",
      "attprojw", "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb", LM_HEAD);

  /** A GPT-2 configuration. */
  public GptConfig(int layers, int heads, int channels, int contextLength, int vocabSize) {
    this(layers, heads, channels, contextLength, vocabSize, heads, gpt2Intermediate(channels), Norm.LAYER_NORM,
        GPT2_EPS, null, Mlp.GELU, Biases.ALL, true);
  }

  private static int gpt2Intermediate(int channels) {
    return channels <= Integer.MAX_VALUE / 4 ? 4 * channels : Integer.MAX_VALUE; // too large: refused by size
  }

  /**
   * A Llama-shaped configuration (Llama 3.x, SmolLM2, Mistral, TinyLlama): RMSNorm, rotary positions, SwiGLU, no
   * biases.
   */
  public static GptConfig llama(int layers, int heads, int kvHeads, int channels, int intermediateSize,
      int contextLength, int vocabSize, RopeConfig rope, float rmsEps, boolean tiedHead) {
    return new GptConfig(layers, heads, channels, contextLength, vocabSize, kvHeads, intermediateSize, Norm.RMS_NORM,
        rmsEps, rope, Mlp.SWIGLU, Biases.NONE, tiedHead);
  }

  /** A Qwen2-shaped configuration: as {@link #llama} with biases on the q/k/v projection. */
  public static GptConfig qwen2(int layers, int heads, int kvHeads, int channels, int intermediateSize,
      int contextLength, int vocabSize, RopeConfig rope, float rmsEps, boolean tiedHead) {
    return new GptConfig(layers, heads, channels, contextLength, vocabSize, kvHeads, intermediateSize, Norm.RMS_NORM,
        rmsEps, rope, Mlp.SWIGLU, Biases.QKV, tiedHead);
  }

  /**
   * Checks a Hugging Face {@code head_dim} against C / NH: the trunk computes heads of size C / NH only (the
   * attention output is C wide and o_proj is (C, C)), so a config whose head_dim differs is refused by name.
   */
  public static void requireHeadDim(int headDim, int channels, int heads) {
    if (heads <= 0 || channels % heads != 0 || headDim != channels / heads) {
      throw new IllegalArgumentException("head_dim " + headDim + " differs from hidden_size / num_attention_heads = "
          + channels + " / " + heads + ": only head_dim = hidden_size / num_attention_heads is supported");
    }
  }

  public GptConfig {
    positive("layers", layers);
    positive("heads", heads);
    positive("channels", channels);
    positive("contextLength", contextLength);
    positive("vocabSize", vocabSize);
    if (channels % heads != 0) {
      throw new IllegalArgumentException("channels " + channels + " must be divisible by heads " + heads);
    }
    positive("kvHeads", kvHeads);
    if (kvHeads > heads || heads % kvHeads != 0) {
      throw new IllegalArgumentException("kvHeads " + kvHeads + " must divide heads " + heads);
    }
    positive("intermediateSize", intermediateSize);
    if (norm == null) throw new IllegalArgumentException("norm is null");
    if (mlp == null) throw new IllegalArgumentException("mlp is null");
    if (biases == null) throw new IllegalArgumentException("biases is null");
    if (!(normEps > 0 && Float.isFinite(normEps))) {
      throw new IllegalArgumentException("normEps must be finite and > 0, got " + normEps);
    }
    if (rope != null && rope.headSize() != channels / heads) {
      throw new IllegalArgumentException("rope head size " + rope.headSize() + " must equal channels / heads = "
          + channels / heads);
    }
    if (vocabSize > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("vocabSize " + vocabSize + " too large");
    if (contextLength > MAX_CONTEXT_LENGTH) {
      throw new IllegalArgumentException("contextLength " + contextLength + " exceeds the limit " + MAX_CONTEXT_LENGTH);
    }
    // every parameter tensor is initialised and checkpointed through Java arrays: check sizes before anything
    // is allocated (a configuration read from a file must not become a huge allocation)
    double l = layers, c = channels; // doubles: the products below may exceed 2^63
    double qkvRows = (heads + 2.0 * kvHeads) * (channels / heads);
    double mlpRows = (mlp == Mlp.SWIGLU ? 2.0 : 1.0) * intermediateSize;
    double[] largest = {(vocabSize + 63L) / 64 * 64 * c, rope == null ? contextLength * c : 0, l * qkvRows * c,
        l * mlpRows * c};
    for (double n : largest) {
      if (n > MAX_TENSOR_ELEMENTS) {
        throw new IllegalArgumentException("a parameter tensor of " + GptConfig.class.getSimpleName() + "(L=" + layers
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

  /** Width of the fused q/k/v projection: (NH + 2·NKV)·HS. */
  public int qkvWidth() {
    return (heads + 2 * kvHeads) * headSize();
  }

  /** Rows of the first MLP weight: F for GELU, 2F (gate, up) for SwiGLU. */
  public int mlpWidth() {
    return mlp == Mlp.SWIGLU ? 2 * intermediateSize : intermediateSize;
  }

  /** V rounded up to a multiple of 64. */
  public int paddedVocab() {
    return (vocabSize + 63) / 64 * 64;
  }

  /** Whether this is the GPT-2 block (the five-argument constructor's choices). */
  public boolean isGpt2() {
    return kvHeads == heads && (long) intermediateSize == 4L * channels && norm == Norm.LAYER_NORM
        && Float.floatToIntBits(normEps) == Float.floatToIntBits(GPT2_EPS) && rope == null && mlp == Mlp.GELU
        && biases == Biases.ALL && tiedHead;
  }

  /** Shapes and offsets of the parameter tensors, in buffer order (absent tensors are left out). */
  public List<ParamSpec> paramSpecs() {
    long l = layers, c = channels, qkv = qkvWidth(), f = intermediateSize, m = mlpWidth();
    boolean ln = norm == Norm.LAYER_NORM, all = biases == Biases.ALL, qkvBias = biases != Biases.NONE;
    List<ParamSpec> specs = new ArrayList<>(ALL_PARAM_NAMES.size());
    long[] offset = {0};
    add(specs, offset, true, "wte", paddedVocab(), c);
    add(specs, offset, rope == null, "wpe", contextLength, c);
    add(specs, offset, true, "ln1w", l, c);
    add(specs, offset, ln, "ln1b", l, c);
    add(specs, offset, true, "qkvw", l, qkv, c);
    add(specs, offset, qkvBias, "qkvb", l, qkv);
    add(specs, offset, true, "attprojw", l, c, c);
    add(specs, offset, all, "attprojb", l, c);
    add(specs, offset, true, "ln2w", l, c);
    add(specs, offset, ln, "ln2b", l, c);
    add(specs, offset, true, "fcw", l, m, c);
    add(specs, offset, all, "fcb", l, m);
    add(specs, offset, true, "fcprojw", l, c, f);
    add(specs, offset, all, "fcprojb", l, c);
    add(specs, offset, true, "lnfw", c);
    add(specs, offset, ln, "lnfb", c);
    add(specs, offset, !tiedHead, LM_HEAD, paddedVocab(), c);
    return Collections.unmodifiableList(specs);
  }

  private static void add(List<ParamSpec> specs, long[] offset, boolean present, String name, long... shape) {
    if (!present) return;
    ParamSpec s = new ParamSpec(name, shape, offset[0]);
    specs.add(s);
    offset[0] += s.numel();
  }

  /** Total parameters (with the padded embedding rows): the element count of the parameter buffer. */
  public long parameterCount() {
    long n = 0;
    for (ParamSpec s : paramSpecs()) n += s.numel();
    return n;
  }

  /** GPT-2: the record's own form; other shapes add their block choices. */
  @Override
  public String toString() {
    String base = "GptConfig[layers=" + layers + ", heads=" + heads + ", channels=" + channels + ", contextLength="
        + contextLength + ", vocabSize=" + vocabSize;
    if (isGpt2()) return base + "]";
    return base + ", kvHeads=" + kvHeads + ", intermediateSize=" + intermediateSize + ", norm=" + norm + ", normEps="
        + normEps + ", rope=" + rope + ", mlp=" + mlp + ", biases=" + biases + ", tiedHead=" + tiedHead + "]";
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
