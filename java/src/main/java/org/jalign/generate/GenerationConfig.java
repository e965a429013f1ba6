package org.jalign.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Settings of one {@link Generator#generate} call. Sampling filters apply in the order temperature, top-k, top-p,
 * min-p (as {@link org.jalign.backend.SamplingParams}); temperature <= 0 is greedy. Row b samples with seed
 * {@code seed + b}, so a call is reproducible on one backend.
 *
 * <p>A row stops at the first of: a stop token id ({@link #stopTokenIds()}, plus the tokenizer's
 * {@code <|endoftext|>} and {@code <|end|>} when {@link #stopAtEndTokens()}), a stop string appearing in its
 * decoded text, {@link #maxNewTokens()} tokens, or the end of the model's context.
 *
 * <pre>{@code
 * GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(64).temperature(0.8f).topP(0.95f).seed(1).build();
 * }</pre>
 */
public final class GenerationConfig {
  private final int maxNewTokens;
  private final float temperature;
  private final int topK;
  private final float topP;
  private final float minP;
  private final long seed;
  private final int[] stopTokenIds;
  private final List<String> stopStrings;
  private final boolean stopAtEndTokens;

  private GenerationConfig(Builder b) {
    if (b.maxNewTokens <= 0) throw new IllegalArgumentException("maxNewTokens must be > 0, got " + b.maxNewTokens);
    if (!Float.isFinite(b.temperature)) throw new IllegalArgumentException("temperature must be finite");
    if (b.topK < 0) throw new IllegalArgumentException("topK must be >= 0, got " + b.topK);
    if (!(b.topP > 0 && b.topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + b.topP);
    if (!(b.minP >= 0 && b.minP <= 1)) throw new IllegalArgumentException("minP must be in [0, 1], got " + b.minP);
    for (String s : b.stopStrings) {
      if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop strings must be non-empty");
    }
    maxNewTokens = b.maxNewTokens;
    temperature = b.temperature;
    topK = b.topK;
    topP = b.topP;
    minP = b.minP;
    seed = b.seed;
    stopTokenIds = b.stopTokenIds.clone();
    stopStrings = List.copyOf(b.stopStrings);
    stopAtEndTokens = b.stopAtEndTokens;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Greedy decoding of up to {@code maxNewTokens} tokens. */
  public static GenerationConfig greedy(int maxNewTokens) {
    return builder().maxNewTokens(maxNewTokens).temperature(0f).build();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.maxNewTokens = maxNewTokens;
    b.temperature = temperature;
    b.topK = topK;
    b.topP = topP;
    b.minP = minP;
    b.seed = seed;
    b.stopTokenIds = stopTokenIds.clone();
    b.stopStrings = new ArrayList<>(stopStrings);
    b.stopAtEndTokens = stopAtEndTokens;
    return b;
  }

  public int maxNewTokens() {
    return maxNewTokens;
  }

  public float temperature() {
    return temperature;
  }

  public int topK() {
    return topK;
  }

  public float topP() {
    return topP;
  }

  public float minP() {
    return minP;
  }

  public long seed() {
    return seed;
  }

  public int[] stopTokenIds() {
    return stopTokenIds.clone();
  }

  public List<String> stopStrings() {
    return stopStrings;
  }

  public boolean stopAtEndTokens() {
    return stopAtEndTokens;
  }

  @Override
  public String toString() {
    return "GenerationConfig[maxNewTokens=" + maxNewTokens + ", temperature=" + temperature + ", topK=" + topK
        + ", topP=" + topP + ", minP=" + minP + ", seed=" + seed + ", stopTokenIds=" + Arrays.toString(stopTokenIds)
        + ", stopStrings=" + stopStrings + ", stopAtEndTokens=" + stopAtEndTokens + "]";
  }

  /** Defaults: 128 new tokens, temperature 1, no top-k/top-p/min-p, seed 0, stop at the end tokens. */
  public static final class Builder {
    private int maxNewTokens = 128;
    private float temperature = 1f;
    private int topK = 0;
    private float topP = 1f;
    private float minP = 0f;
    private long seed = 0;
    private int[] stopTokenIds = new int[0];
    private List<String> stopStrings = new ArrayList<>();
    private boolean stopAtEndTokens = true;

    private Builder() {}

    public Builder maxNewTokens(int n) {
      maxNewTokens = n;
      return this;
    }

    public Builder temperature(float t) {
      temperature = t;
      return this;
    }

    public Builder topK(int k) {
      topK = k;
      return this;
    }

    public Builder topP(float p) {
      topP = p;
      return this;
    }

    public Builder minP(float p) {
      minP = p;
      return this;
    }

    public Builder seed(long s) {
      seed = s;
      return this;
    }

    public Builder stopTokenIds(int... ids) {
      stopTokenIds = ids.clone();
      return this;
    }

    public Builder stopStrings(String... s) {
      stopStrings = new ArrayList<>(Arrays.asList(s));
      return this;
    }

    /** Whether the tokenizer's {@code <|endoftext|>} and {@code <|end|>} also stop a row (default true). */
    public Builder stopAtEndTokens(boolean b) {
      stopAtEndTokens = b;
      return this;
    }

    public GenerationConfig build() {
      return new GenerationConfig(this);
    }
  }
}
