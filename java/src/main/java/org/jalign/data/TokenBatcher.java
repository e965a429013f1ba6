package org.jalign.data;

import java.util.Objects;

/**
 * Language-model batches from a {@link TokenSource}: each batch is B windows of T + 1 consecutive tokens;
 * inputs are the first T of each window, targets the last T (the next-token shift).
 *
 * <p>Shape legend: B = batch, T = time (context length of a batch), N = tokens in the range used.
 *
 * <p>Two orders, both deterministic for a seed:
 * <ul>
 *   <li>{@link Order#SEQUENTIAL}: windows start at {@code from}, {@code from + T}, {@code from + 2T}, ... (the
 *       last target of one window is the first input of the next, as in llm.c); when the next window would
 *       run past the end the cursor wraps to {@code from} and the epoch counter advances.</li>
 *   <li>{@link Order#RANDOM}: each window starts at a uniformly random offset in [from, to - T - 1], drawn
 *       from a counter-based generator (SplitMix64 of seed and draw index), so the state is just a counter.</li>
 * </ul>
 * The whole state is the {@link Cursor} (position, epoch, draw counter); restoring it with {@link #seek}
 * resumes the exact same sequence of batches.
 */
public final class TokenBatcher {

  public enum Order { SEQUENTIAL, RANDOM }

  /** One batch: inputs (B,T) and targets (B,T), row-major. */
  public record Batch(int[] inputs, int[] targets, int batch, int time) {}

  /** The resumable state: next sequential position, completed epochs, random draws made. */
  public record Cursor(long position, long epoch, long draws) {
    public long[] toArray() {
      return new long[] {position, epoch, draws};
    }

    public static Cursor fromArray(long[] a) {
      if (a == null || a.length != 3) throw new IllegalArgumentException("a data cursor has 3 values");
      return new Cursor(a[0], a[1], a[2]);
    }
  }

  private final TokenSource source;
  private final long from;
  private final long to;
  private final int batch;
  private final int time;
  private final Order order;
  private final long seed;
  private long position;
  private long epoch;
  private long draws;

  /** Batches over the whole source. */
  public TokenBatcher(TokenSource source, int batch, int time, Order order, long seed) {
    this(source, 0, source.size(), batch, time, order, seed);
  }

  /** Batches over tokens [from, to) of the source (e.g. a validation tail). */
  public TokenBatcher(TokenSource source, long from, long to, int batch, int time, Order order, long seed) {
    this.source = Objects.requireNonNull(source, "source");
    this.order = Objects.requireNonNull(order, "order");
    if (batch <= 0) throw new IllegalArgumentException("batch must be > 0, got " + batch);
    if (time <= 0) throw new IllegalArgumentException("time must be > 0, got " + time);
    if (from < 0 || to > source.size() || from > to) {
      throw new IllegalArgumentException("token range [" + from + ", " + to + ") outside [0, " + source.size() + ")");
    }
    if (to - from == 0) throw new IllegalArgumentException("the corpus is empty (no tokens in [" + from + ", " + to + "))");
    if (to - from < (long) time + 1) {
      throw new IllegalArgumentException("the corpus has " + (to - from) + " tokens, shorter than one window of T + 1 = "
          + (time + 1) + " tokens");
    }
    this.from = from;
    this.to = to;
    this.batch = batch;
    this.time = time;
    this.seed = seed;
    this.position = from;
  }

  public int batch() {
    return batch;
  }

  public int time() {
    return time;
  }

  public Order order() {
    return order;
  }

  public long seed() {
    return seed;
  }

  public Cursor cursor() {
    return new Cursor(position, epoch, draws);
  }

  /** Restores a cursor taken from a batcher with the same source, range, sizes, order and seed. */
  public void seek(Cursor c) {
    Objects.requireNonNull(c, "cursor");
    if (c.position() < from || c.position() > to - time - 1 || c.epoch() < 0 || c.draws() < 0) {
      throw new IllegalArgumentException("cursor " + c + " does not fit the token range [" + from + ", " + to + ")");
    }
    position = c.position();
    epoch = c.epoch();
    draws = c.draws();
  }

  /** Number of sequential batches in one pass over the range. */
  public long batchesPerEpoch() {
    long windows = (to - from - 1) / time;
    return Math.max(1, windows / batch);
  }

  /** The next batch (fresh arrays). */
  public Batch next() {
    int[] inputs = new int[batch * time];
    int[] targets = new int[batch * time];
    int[] window = new int[time + 1];
    for (int b = 0; b < batch; b++) {
      long start;
      if (order == Order.RANDOM) {
        long span = to - from - time; // number of valid starts
        start = from + Long.remainderUnsigned(splitMix(seed, draws++), span);
      } else {
        if (position + time + 1 > to) {
          position = from;
          epoch++;
        }
        start = position;
        position += time;
      }
      source.read(start, window, 0, time + 1);
      System.arraycopy(window, 0, inputs, b * time, time);
      System.arraycopy(window, 1, targets, b * time, time);
    }
    if (order == Order.SEQUENTIAL && position + time + 1 > to) {
      position = from;
      epoch++;
    }
    return new Batch(inputs, targets, batch, time);
  }

  /** SplitMix64 of (seed, index): a counter-based generator, so the state is only the index. */
  static long splitMix(long seed, long index) {
    long z = seed + (index + 1) * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
