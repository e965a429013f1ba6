package org.jalign.model;

import java.util.SplittableRandom;
import org.jalign.backend.Backend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;

/**
 * A scalar head on top of a model's hidden states: value = h·w + b, C → 1. Used as the reward model's head (at
 * the last response token of each row) and as the PPO value function (at every response position).
 *
 * <p>Shape legend: B = batch, T = time, C = channels, N = number of selected positions.
 *
 * <p>Parameters live in one flat buffer {@link #params()} = [w (C), b (1)] with gradients {@link #grads()} in the
 * same layout, so an optimizer can step them like a model's. Not thread-safe.
 */
public final class ScalarHead implements AutoCloseable {
  private final Backend backend;
  private final int channels;
  private final Tensor params; // (C+1): w (C), b (1)
  private final Tensor grads; // (C+1)
  private final Tensor w, b, dw, db; // (1,C), (1), (1,C), (1)
  private Tensor rows; // (cap, C): the gathered hidden rows of the last forward
  private Tensor drows; // (cap, C)
  private Tensor idx; // (cap) I32
  private Tensor vals; // (cap, 1)
  private int capacity;
  private int lastN = -1;
  private long lastHiddenNumel = -1;

  /** A head for C channels, w ~ N(0, 1/(C+1)) (deterministic for the seed), b = 0. */
  public ScalarHead(Backend backend, int channels, long seed) {
    if (backend == null) throw new IllegalArgumentException("backend is null");
    if (channels <= 0) throw new IllegalArgumentException("channels must be > 0, got " + channels);
    this.backend = backend;
    this.channels = channels;
    try (Scope s = Scope.open()) {
      params = backend.zeros(DType.F32, channels + 1L);
      grads = backend.zeros(DType.F32, channels + 1L);
      s.detach(params);
      s.detach(grads);
    }
    w = params.slice(0, 1, channels);
    b = params.slice(channels, 1);
    dw = grads.slice(0, 1, channels);
    db = grads.slice(channels, 1);
    float[] init = new float[channels + 1];
    SplittableRandom r = new SplittableRandom(seed);
    double std = 1.0 / Math.sqrt(channels + 1.0);
    for (int i = 0; i < channels; i++) {
      double u1 = r.nextDouble(), u2 = r.nextDouble();
      init[i] = (float) (Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300))) * Math.cos(2 * Math.PI * u2) * std);
    }
    params.copyFrom(init);
  }

  /** A head for a model's hidden states (C = the model's channels) on the model's backend. */
  public ScalarHead(Gpt model, long seed) {
    this(model.backend(), model.config().channels(), seed);
  }

  public int channels() {
    return channels;
  }

  /** [w (C), b (1)]. */
  public Tensor params() {
    return params;
  }

  /** Gradients, same layout as {@link #params()}. */
  public Tensor grads() {
    return grads;
  }

  public void zeroGrad() {
    backend.zero(grads);
  }

  public void copyParamsFrom(ScalarHead other) {
    if (other == null || other.channels != channels) {
      throw new IllegalArgumentException("can only copy a head with " + channels + " channels");
    }
    backend.copy(params, other.params);
  }

  public void loadParams(float[] flat) {
    if (flat == null || flat.length != channels + 1) {
      throw new IllegalArgumentException("flat must have C+1 = " + (channels + 1) + " values");
    }
    params.copyFrom(flat);
  }

  public float[] paramsToArray() {
    return params.toFloatArray();
  }

  private void ensure(int n) {
    if (n <= capacity) return;
    int cap = Math.max(n, capacity * 2);
    Tensor nr = null, nd = null, ni = null, nv = null;
    try (Scope s = Scope.open()) {
      nr = backend.zeros(DType.F32, cap, channels);
      nd = backend.zeros(DType.F32, cap, channels);
      ni = backend.zeros(DType.I32, cap);
      nv = backend.zeros(DType.F32, cap, 1);
      s.detach(nr);
      s.detach(nd);
      s.detach(ni);
      s.detach(nv);
    }
    closeBuffers();
    rows = nr;
    drows = nd;
    idx = ni;
    vals = nv;
    capacity = cap;
  }

  private void closeBuffers() {
    if (rows != null) rows.close();
    if (drows != null) drows.close();
    if (idx != null) idx.close();
    if (vals != null) vals.close();
  }

  /**
   * Values at the given flat positions (b*T + t) of hidden (B,T,C): value_i = hidden[positions[i]]·w + b.
   * Remembers the gathered rows for {@link #backward}.
   */
  public float[] forward(Tensor hidden, int[] positions) {
    if (hidden == null) throw new IllegalArgumentException("hidden is null");
    if (positions == null || positions.length == 0) {
      throw new IllegalArgumentException("positions must be non-empty");
    }
    if (hidden.dim(-1) != channels) {
      throw new IllegalArgumentException("hidden has " + hidden.dim(-1) + " channels, the head has " + channels);
    }
    long nrows = hidden.numel() / channels;
    for (int i = 0; i < positions.length; i++) {
      if (positions[i] < 0 || positions[i] >= nrows) {
        throw new IllegalArgumentException("positions[" + i + "] = " + positions[i] + " is outside [0, " + nrows
            + ") (B*T of hidden)");
      }
    }
    int n = positions.length;
    ensure(n);
    Tensor id = idx.slice(0, n);
    Tensor r = rows.slice(0, n, channels);
    Tensor v = vals.slice(0, n, 1);
    id.copyFrom(positions);
    backend.gatherRows(r, hidden.view(nrows, channels), id);
    backend.matmul(v, r, w, b, false, true, false);
    lastN = n;
    lastHiddenNumel = hidden.numel();
    float[] out = new float[n];
    backend.copyToHost(out, v);
    return out;
  }

  /**
   * Backward of the last forward: dvalues (N) → accumulates dw, db into {@link #grads()} and dvalues_i·w into
   * dhidden (B,T,C) (nullable: skip) at the same positions.
   */
  public void backward(float[] dvalues, Tensor dhidden) {
    if (lastN < 0) throw new IllegalStateException("backward() needs a forward() first");
    if (dvalues == null || dvalues.length != lastN) {
      throw new IllegalArgumentException("dvalues must have " + lastN + " entries (the positions of the forward)");
    }
    int n = lastN;
    Tensor r = rows.slice(0, n, channels);
    Tensor dv = vals.slice(0, n, 1);
    dv.copyFrom(dvalues);
    backend.matmul(dw, dv, r, null, true, false, true);
    backend.biasBackward(db, dv);
    if (dhidden != null) {
      if (dhidden.numel() != lastHiddenNumel || dhidden.dim(-1) != channels) {
        throw new IllegalArgumentException("dhidden must have the shape of the forward's hidden (" + lastHiddenNumel
            + " elements, " + channels + " channels)");
      }
      Tensor dr = drows.slice(0, n, channels);
      backend.matmul(dr, dv, w, null, false, false, false);
      backend.scatterAddRows(dhidden.view(lastHiddenNumel / channels, channels), dr, idx.slice(0, n));
    }
  }

  @Override
  public void close() {
    closeBuffers();
    params.close();
    grads.close();
  }
}
