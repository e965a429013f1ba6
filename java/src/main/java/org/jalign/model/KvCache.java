package org.jalign.model;

import org.jalign.backend.Backend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;

/**
 * Keys and values of every layer for KV-cached inference: per layer k and v of shape (B, maxT, NKV, HS), in one
 * allocation. Made by {@link Gpt#newKvCache}; the caller closes it. {@link #length()} is the number of
 * positions written so far (a new chunk must start at or before it).
 *
 * <p>Shape legend: B = batch, maxT = cache length, NKV = key/value heads (= NH for GPT-2), HS = head size,
 * L = layers.
 */
public final class KvCache implements AutoCloseable {
  private final GptConfig config;
  private final int batch;
  private final int maxT;
  private final Tensor storage; // (2, L, B, maxT, NKV, HS)
  private final Tensor[] k; // L x (B, maxT, NKV, HS)
  private final Tensor[] v; // L x (B, maxT, NKV, HS)
  private int length;

  KvCache(Backend backend, GptConfig config, int batch, int maxT) {
    if (batch <= 0) throw new IllegalArgumentException("batch must be > 0, got " + batch);
    if (maxT <= 0 || maxT > config.contextLength()) {
      throw new IllegalArgumentException("cache length " + maxT + " must be in [1, " + config.contextLength()
          + "] (the context length)");
    }
    this.config = config;
    this.batch = batch;
    this.maxT = maxT;
    int l = config.layers();
    long nkv = config.kvHeads(), hs = config.headSize();
    try (Scope s = Scope.open()) {
      storage = s.detach(backend.zeros(DType.F32, 2, l, batch, maxT, nkv, hs));
    }
    long per = (long) batch * maxT * nkv * hs;
    k = new Tensor[l];
    v = new Tensor[l];
    for (int i = 0; i < l; i++) {
      k[i] = storage.slice(i * per, batch, maxT, nkv, hs);
      v[i] = storage.slice((l + i) * per, batch, maxT, nkv, hs);
    }
  }

  public int batch() {
    return batch;
  }

  public int maxT() {
    return maxT;
  }

  public GptConfig config() {
    return config;
  }

  /** Positions written so far. */
  public int length() {
    return length;
  }

  /** Forgets the cached positions (the memory is reused). */
  public void reset() {
    length = 0;
  }

  /** Keys of layer l: (B, maxT, NKV, HS). */
  public Tensor keys(int l) {
    return k[l];
  }

  /** Values of layer l: (B, maxT, NKV, HS). */
  public Tensor values(int l) {
    return v[l];
  }

  void advanceTo(int newLength) {
    length = Math.max(length, newLength);
  }

  public boolean isClosed() {
    return storage.isClosed();
  }

  @Override
  public void close() {
    storage.close();
  }
}
