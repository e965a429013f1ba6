package org.jalign.optim;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jalign.backend.Backend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;

/**
 * AdamW over one flat F32 parameter buffer of N elements, through {@link Backend#adamw} (bias-corrected,
 * fp32 state, decoupled weight decay).
 *
 * <p>Shape legend: N = number of parameters. State: {@code m (N)}, {@code v (N)} F32 on the backend, and a
 * 1-based step counter (the number of completed steps). All three are exposed for checkpoints.
 *
 * <p>Weight decay applies to the ranges marked by {@link #setDecayRanges} (llm.c and GPT-2 decay only the
 * matrix weights and embeddings, never LayerNorm weights or biases); by default the whole buffer decays.
 *
 * <pre>{@code
 * try (AdamW opt = new AdamW(backend, model.params().numel(), AdamWConfig.withLr(3e-4f))) {
 *   opt.step(model.params(), model.grads(), schedule.lr(step), clipScale);
 * }
 * }</pre>
 */
public final class AdamW implements AutoCloseable {

  /** A contiguous range [offset, offset + length) of the flat buffer and whether it decays. */
  public record Range(long offset, long length, boolean decay) {
    public Range {
      if (offset < 0 || length <= 0) {
        throw new IllegalArgumentException("range offset " + offset + " length " + length + " invalid");
      }
    }
  }

  private final Backend backend;
  private final long numel;
  private final AdamWConfig config;
  private final Tensor m; // (N)
  private final Tensor v; // (N)
  private long step;
  private List<Range> ranges; // covering [0, N) in order

  public AdamW(Backend backend, long numel, AdamWConfig config) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.config = Objects.requireNonNull(config, "config");
    if (numel <= 0) throw new IllegalArgumentException("numel must be > 0, got " + numel);
    this.numel = numel;
    Tensor mm = backend.zeros(DType.F32, numel);
    Tensor vv;
    try {
      vv = backend.zeros(DType.F32, numel);
    } catch (RuntimeException e) {
      mm.close();
      throw e;
    }
    this.m = mm;
    this.v = vv;
    this.ranges = List.of(new Range(0, numel, true));
  }

  /**
   * Marks which parts of the buffer decay. The ranges must cover [0, N) contiguously, in order; adjacent
   * ranges with the same flag are merged so each step issues as few kernel calls as possible.
   */
  public void setDecayRanges(List<Range> newRanges) {
    Objects.requireNonNull(newRanges, "ranges");
    List<Range> merged = new ArrayList<>();
    long pos = 0;
    for (Range r : newRanges) {
      if (r.offset() != pos) {
        throw new IllegalArgumentException("decay ranges must be contiguous: expected offset " + pos + ", got "
            + r.offset());
      }
      pos += r.length();
      Range last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (last != null && last.decay() == r.decay()) {
        merged.set(merged.size() - 1, new Range(last.offset(), last.length() + r.length(), r.decay()));
      } else {
        merged.add(r);
      }
    }
    if (pos != numel) {
      throw new IllegalArgumentException("decay ranges cover " + pos + " elements, the buffer has " + numel);
    }
    this.ranges = List.copyOf(merged);
  }

  public List<Range> decayRanges() {
    return ranges;
  }

  /**
   * One update: the step counter advances, then {@code params -= lr * (mhat / (sqrt(vhat) + eps) + wd * params)}
   * with {@code g = grads * gradScale}. {@code gradScale} carries gradient clipping (see
   * {@link GradClip#clipScale}) and 1/accumulation-steps when the caller has not already averaged.
   */
  public void step(Tensor params, Tensor grads, float lr, float gradScale) {
    checkBuffer("params", params);
    checkBuffer("grads", grads);
    if (!Float.isFinite(lr) || lr < 0) throw new IllegalArgumentException("lr must be finite and >= 0, got " + lr);
    if (!Float.isFinite(gradScale)) throw new IllegalArgumentException("gradScale must be finite, got " + gradScale);
    long next = step + 1;
    for (Range r : ranges) {
      Tensor p = params.slice(r.offset(), r.length());
      Tensor g = grads.slice(r.offset(), r.length());
      Tensor mm = m.slice(r.offset(), r.length());
      Tensor vv = v.slice(r.offset(), r.length());
      backend.adamw(p, g, mm, vv, lr, config.beta1(), config.beta2(), config.eps(),
          r.decay() ? config.weightDecay() : 0f, next, gradScale);
    }
    step = next;
  }

  private void checkBuffer(String name, Tensor t) {
    Objects.requireNonNull(t, name);
    if (t.dtype() != DType.F32) throw new IllegalArgumentException(name + " must be F32, got " + t.dtype());
    if (t.numel() != numel) {
      throw new IllegalArgumentException(name + " has " + t.numel() + " elements, the optimizer has " + numel);
    }
  }

  public AdamWConfig config() {
    return config;
  }

  public long numel() {
    return numel;
  }

  /** First moments (N), for checkpoints. */
  public Tensor m() {
    return m;
  }

  /** Second moments (N), for checkpoints. */
  public Tensor v() {
    return v;
  }

  /** Number of completed steps (the next update uses step() + 1 for bias correction). */
  public long stepCount() {
    return step;
  }

  /** Restores the step counter (from a checkpoint). */
  public void setStepCount(long s) {
    if (s < 0) throw new IllegalArgumentException("step count must be >= 0, got " + s);
    step = s;
  }

  /** Restores m and v from host arrays of N floats each (from a checkpoint). */
  public void loadState(float[] mHost, float[] vHost, long stepCount) {
    if (mHost.length != numel || vHost.length != numel) {
      throw new IllegalArgumentException("optimizer state has " + mHost.length + "/" + vHost.length
          + " elements, expected " + numel);
    }
    m.copyFrom(mHost);
    v.copyFrom(vHost);
    setStepCount(stepCount);
  }

  /** Zeroes m, v and the step counter. */
  public void reset() {
    backend.zero(m);
    backend.zero(v);
    step = 0;
  }

  @Override
  public void close() {
    m.close();
    v.close();
  }
}
