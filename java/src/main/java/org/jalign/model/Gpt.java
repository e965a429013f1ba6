package org.jalign.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.jalign.backend.Backend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;

/**
 * A GPT-2 style decoder (pre-LayerNorm blocks, GELU MLP, learned positions, LM head tied to the token embedding)
 * with one flat parameter buffer and one flat gradient buffer in the layout of {@link GptConfig#paramSpecs()}.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, HS = head size, L = layers, V = vocabulary
 * size, Vp = padded vocabulary (row length of the logits), maxT = context length.
 *
 * <p>Padding. {@code kvStart}/{@code kvEnd} (nullable, length B) give each row's valid range [kvStart[b],
 * kvEnd[b]) for left and right padding; queries and keys outside it are masked in attention. Positions are
 * counted from the first valid token: the token at index t of row b gets position embedding
 * {@code wpe[max(0, t - kvStart[b])]}, so a left-padded row computes exactly what the unpadded sequence would.
 * Logits at padded positions are meaningless; give them target -1 (or weight 0).
 *
 * <p>A {@code Gpt} is not thread-safe: every compute method is guarded, and a call from a second thread while
 * another thread is inside the model throws {@link IllegalStateException}. {@link #enter()} holds the guard
 * across several calls (the {@code Generator} does).
 */
public final class Gpt implements AutoCloseable {
  static final float LN_EPS = 1e-5f;
  private static final int WTE = 0, WPE = 1, LN1W = 2, LN1B = 3, QKVW = 4, QKVB = 5, ATTPROJW = 6, ATTPROJB = 7,
      LN2W = 8, LN2B = 9, FCW = 10, FCB = 11, FCPROJW = 12, FCPROJB = 13, LNFW = 14, LNFB = 15;

  private final GptConfig config;
  private final Backend backend;
  private final int layers, channels, heads, vocab, paddedVocab, maxT;
  private final List<ParamSpec> specs;
  private final Tensor params; // (numel)
  private final Tensor grads; // (numel)
  private final Tensor[] p; // full parameter views by index
  private final Tensor[] g; // full gradient views by index
  private final Tensor[][] pl; // [param index][layer] per-layer parameter views (layered params only)
  private final Tensor[][] gl; // [param index][layer] per-layer gradient views
  private final AtomicReference<Thread> user = new AtomicReference<>();
  private int useDepth;
  private Acts acts;
  private final Map<Long, InferActs> inferActs = new LinkedHashMap<>(8, 0.75f, true);
  private boolean closed;

  /** Builds a model with GPT-2 initialisation, deterministic for {@code seed}. */
  public Gpt(GptConfig config, Backend backend, long seed) {
    if (config == null) throw new IllegalArgumentException("config is null");
    if (backend == null) throw new IllegalArgumentException("backend is null");
    this.config = config;
    this.backend = backend;
    this.layers = config.layers();
    this.channels = config.channels();
    this.heads = config.heads();
    this.vocab = config.vocabSize();
    this.paddedVocab = config.paddedVocab();
    this.maxT = config.contextLength();
    this.specs = config.paramSpecs();
    long n = config.parameterCount();
    Tensor ps = null, gs = null;
    try {
      ps = allocate(DType.F32, n);
      gs = allocate(DType.F32, n);
    } catch (RuntimeException e) {
      if (ps != null) ps.close();
      throw e;
    }
    params = ps;
    grads = gs;
    int np = specs.size();
    p = new Tensor[np];
    g = new Tensor[np];
    pl = new Tensor[np][];
    gl = new Tensor[np][];
    for (int i = 0; i < np; i++) {
      ParamSpec s = specs.get(i);
      p[i] = params.slice(s.offset(), s.shape());
      g[i] = grads.slice(s.offset(), s.shape());
      long[] shape = s.shape();
      if (i >= LN1W && i <= FCPROJB) {
        long[] one = Arrays.copyOfRange(shape, 1, shape.length);
        long per = Tensor.numelOf(one);
        pl[i] = new Tensor[layers];
        gl[i] = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
          pl[i][l] = p[i].slice(l * per, one);
          gl[i][l] = g[i].slice(l * per, one);
        }
      }
    }
    initialize(seed);
  }

  private Tensor allocate(DType dtype, long... shape) {
    try (Scope s = Scope.open()) {
      return s.detach(backend.zeros(dtype, shape));
    }
  }

  /** GPT-2 initialisation: N(0, 0.02); residual projections N(0, 0.02/sqrt(2L)); LN weights 1; biases 0. */
  private void initialize(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float residualStd = (float) (0.02 / Math.sqrt(2.0 * layers));
    for (int i = 0; i < specs.size(); i++) {
      ParamSpec s = specs.get(i);
      float[] data = new float[Math.toIntExact(s.numel())];
      switch (i) {
        case WTE -> fillNormal(rnd, data, (long) vocab * channels, 0.02f); // padded rows stay 0
        case WPE, QKVW, FCW -> fillNormal(rnd, data, data.length, 0.02f);
        case ATTPROJW, FCPROJW -> fillNormal(rnd, data, data.length, residualStd);
        case LN1W, LN2W, LNFW -> Arrays.fill(data, 1f);
        default -> { } // biases 0
      }
      p[i].copyFrom(data);
    }
  }

  private static void fillNormal(SplittableRandom r, float[] a, long n, float std) {
    for (int i = 0; i < n; i += 2) {
      double u1 = r.nextDouble(), u2 = r.nextDouble();
      double rad = Math.sqrt(-2 * Math.log(Math.max(u1, 1e-300)));
      a[i] = (float) (rad * Math.cos(2 * Math.PI * u2) * std);
      if (i + 1 < n) a[i + 1] = (float) (rad * Math.sin(2 * Math.PI * u2) * std);
    }
  }

  // ================================================================== accessors

  public GptConfig config() {
    return config;
  }

  public Backend backend() {
    return backend;
  }

  /** The flat parameter buffer (numel = parameterCount). */
  public Tensor params() {
    checkOpen();
    return params;
  }

  /** The flat gradient buffer, same layout as {@link #params()}. */
  public Tensor grads() {
    checkOpen();
    return grads;
  }

  /** A view of one named parameter ({@code wte, wpe, ln1w, ...}). */
  public Tensor param(String name) {
    checkOpen();
    return p[index(name)];
  }

  /** A view of one named gradient. */
  public Tensor grad(String name) {
    checkOpen();
    return g[index(name)];
  }

  private static int index(String name) {
    int i = GptConfig.PARAM_NAMES.indexOf(name);
    if (i < 0) {
      throw new IllegalArgumentException("no parameter named " + name + "; names are " + GptConfig.PARAM_NAMES);
    }
    return i;
  }

  public void zeroGrad() {
    try (Use u = enter()) {
      backend.zero(grads);
    }
  }

  /** Copies the parameters of a model with the same configuration. */
  public void copyParamsFrom(Gpt other) {
    if (other == null) throw new IllegalArgumentException("other is null");
    if (!other.config.equals(config)) {
      throw new IllegalArgumentException("cannot copy parameters of " + other.config + " into " + config);
    }
    try (Use u = enter()) {
      backend.copy(params, other.params());
    }
  }

  public void loadParams(float[] flat) {
    if (flat == null) throw new IllegalArgumentException("flat is null");
    if (flat.length != params.numel()) {
      throw new IllegalArgumentException("flat has " + flat.length + " values, the model has " + params.numel()
          + " parameters");
    }
    try (Use u = enter()) {
      params.copyFrom(flat);
    }
  }

  public float[] paramsToArray() {
    try (Use u = enter()) {
      return params.toFloatArray();
    }
  }

  // ================================================================== thread guard

  /** Holds the model's single-thread guard until closed. Re-entrant on the owning thread. */
  public final class Use implements AutoCloseable {
    private boolean released;

    private Use() {}

    @Override
    public void close() {
      if (released) return;
      released = true;
      if (--useDepth == 0) user.set(null);
    }
  }

  /**
   * Takes the guard for the current thread. Throws {@link IllegalStateException} if another thread holds it
   * (a {@code Gpt} must not be used from two threads at once).
   */
  public Use enter() {
    checkOpen();
    Thread me = Thread.currentThread();
    Thread holder = user.get();
    if (holder != me) {
      if (!user.compareAndSet(null, me)) {
        Thread other = user.get();
        throw new IllegalStateException("this Gpt is in use by thread \"" + (other == null ? "?" : other.getName())
            + "\"; a Gpt is not thread-safe: use one model per thread or synchronise");
      }
    }
    useDepth++;
    return new Use();
  }

  private void checkOpen() {
    if (closed) throw new IllegalStateException("this Gpt is closed");
  }

  // ================================================================== activations

  /**
   * Training activations for one (B, T), allocated once and reused; a later smaller (B, T) reuses the storage
   * with new views, a larger one reallocates.
   */
  private final class Acts implements AutoCloseable {
    final int b, t;
    final Tensor block; // every F32 activation in one allocation
    final Tensor ints; // tokens, targets, positions, kvStart, kvEnd
    final Tensor tokens, tokensFlat, targets, posIds, kvStart, kvEnd; // I32: (B,T), (BT), (BT), (BT), (B), (B)
    final Tensor encoded; // (B,T,C)
    final Tensor[] ln1, ln1Mean, ln1Rstd, qkv, atty, lse, res2, ln2, ln2Mean, ln2Rstd, fch, fchGelu, res3;
    final Tensor lnf, lnfMean, lnfRstd; // (B,T,C), (B,T), (B,T)
    final Tensor logits; // (B,T,Vp)
    final Tensor losses, dloss; // (BT)
    final Tensor dres, dbuf, d4a, d4b, dqkv; // (B,T,C) x2, (B,T,4C) x2, (B,T,3C) view of d4b
    final Tensor dhidden; // (B,T,C): a gradient buffer handed to callers
    final float[] lossHost, dlossHost;
    boolean forwardDone;
    boolean padded; // positions came from posIds (row-dependent)
    boolean hasKvStart, hasKvEnd;

    /** Views for (b, t) over the storage of {@code previous} when it is large enough (else new storage). */
    Acts(int b, int t, Acts previous) {
      this.b = b;
      this.t = t;
      long bt = (long) b * t, c = channels, l = layers;
      long perLayer = bt * c * 5 + bt * 3 * c + bt * 4 * c * 2 + bt * 4 + (long) b * heads * t;
      long total = bt * c + l * perLayer + bt * c + bt * 2 + bt * paddedVocab + bt * 2 + bt * c * 3 + bt * 4 * c * 2;
      long intsNeeded = bt * 3 + 2L * b;
      if (previous != null && previous.block.numel() >= total && previous.ints.numel() >= intsNeeded) {
        block = previous.block;
        ints = previous.ints;
      } else {
        if (previous != null) previous.close();
        block = allocate(DType.F32, total);
        Tensor in = null;
        try {
          in = allocate(DType.I32, intsNeeded);
        } catch (RuntimeException e) {
          block.close();
          throw e;
        }
        ints = in;
      }
      tokens = ints.slice(0, b, t);
      tokensFlat = ints.slice(0, bt);
      targets = ints.slice(bt, bt);
      posIds = ints.slice(2 * bt, bt);
      kvStart = ints.slice(3 * bt, b);
      kvEnd = ints.slice(3 * bt + b, b);
      long[] off = {0};
      encoded = take(off, b, t, c);
      ln1 = new Tensor[layers];
      ln1Mean = new Tensor[layers];
      ln1Rstd = new Tensor[layers];
      qkv = new Tensor[layers];
      atty = new Tensor[layers];
      lse = new Tensor[layers];
      res2 = new Tensor[layers];
      ln2 = new Tensor[layers];
      ln2Mean = new Tensor[layers];
      ln2Rstd = new Tensor[layers];
      fch = new Tensor[layers];
      fchGelu = new Tensor[layers];
      res3 = new Tensor[layers];
      for (int i = 0; i < layers; i++) {
        ln1[i] = take(off, b, t, c);
        ln1Mean[i] = take(off, b, t);
        ln1Rstd[i] = take(off, b, t);
        qkv[i] = take(off, b, t, 3 * c);
        atty[i] = take(off, b, t, c);
        lse[i] = take(off, b, heads, t);
        res2[i] = take(off, b, t, c);
        ln2[i] = take(off, b, t, c);
        ln2Mean[i] = take(off, b, t);
        ln2Rstd[i] = take(off, b, t);
        fch[i] = take(off, b, t, 4 * c);
        fchGelu[i] = take(off, b, t, 4 * c);
        res3[i] = take(off, b, t, c);
      }
      lnf = take(off, b, t, c);
      lnfMean = take(off, b, t);
      lnfRstd = take(off, b, t);
      logits = take(off, b, t, paddedVocab);
      losses = take(off, bt);
      dloss = take(off, bt);
      dres = take(off, b, t, c);
      dbuf = take(off, b, t, c);
      d4a = take(off, b, t, 4 * c);
      d4b = take(off, b, t, 4 * c);
      dqkv = d4b.slice(0, b, t, 3 * c);
      dhidden = take(off, b, t, c);
      if (off[0] > total) throw new AssertionError("activation layout overflows its block");
      lossHost = new float[(int) bt];
      dlossHost = new float[(int) bt];
    }

    private Tensor take(long[] off, long... shape) {
      Tensor v = block.slice(off[0], shape);
      off[0] += v.numel();
      return v;
    }

    @Override
    public void close() {
      block.close();
      ints.close();
    }
  }

  /** Inference activations for one (B, Tq) of the KV-cached path. */
  private final class InferActs implements AutoCloseable {
    final int b, t;
    final Tensor block, ints;
    final Tensor tokens, tokensFlat, posIds, kvStart; // (B,Tq), (BTq), (BTq), (B)
    final Tensor x, ln, qkv, atty, lse, fch, fchGelu, tmp, lnMean, lnRstd, logits;

    InferActs(int b, int t) {
      this.b = b;
      this.t = t;
      long bt = (long) b * t, c = channels;
      long total = bt * c * 4 + bt * 3 * c + (long) b * heads * t + bt * 4 * c * 2 + bt * 2 + bt * paddedVocab;
      block = allocate(DType.F32, total);
      Tensor in = null;
      try {
        in = allocate(DType.I32, bt * 2 + b);
      } catch (RuntimeException e) {
        block.close();
        throw e;
      }
      ints = in;
      tokens = ints.slice(0, b, t);
      tokensFlat = ints.slice(0, bt);
      posIds = ints.slice(bt, bt);
      kvStart = ints.slice(2 * bt, b);
      long o = 0;
      x = block.slice(o, b, t, c);
      o += bt * c;
      ln = block.slice(o, b, t, c);
      o += bt * c;
      atty = block.slice(o, b, t, c);
      o += bt * c;
      tmp = block.slice(o, b, t, c);
      o += bt * c;
      qkv = block.slice(o, b, t, 3 * c);
      o += bt * 3 * c;
      lse = block.slice(o, b, heads, t);
      o += (long) b * heads * t;
      fch = block.slice(o, b, t, 4 * c);
      o += bt * 4 * c;
      fchGelu = block.slice(o, b, t, 4 * c);
      o += bt * 4 * c;
      lnMean = block.slice(o, bt);
      o += bt;
      lnRstd = block.slice(o, bt);
      o += bt;
      logits = block.slice(o, b, t, paddedVocab);
    }

    @Override
    public void close() {
      block.close();
      ints.close();
    }
  }

  /** Activations for (b, t): reuses the current storage when it is large enough (a smaller batch). */
  private Acts acts(int b, int t) {
    if (acts != null && acts.b == b && acts.t == t) return acts;
    Acts previous = acts;
    acts = null;
    acts = new Acts(b, t, previous);
    return acts;
  }

  private InferActs inferActs(int b, int t) {
    long key = ((long) b << 32) | t;
    InferActs a = inferActs.get(key);
    if (a != null) return a;
    if (inferActs.size() >= 4) {
      Long eldest = inferActs.keySet().iterator().next();
      inferActs.remove(eldest).close();
    }
    a = new InferActs(b, t);
    inferActs.put(key, a);
    return a;
  }

  // ================================================================== validation

  private void checkBatch(int[] tokens, int b, int t, String what) {
    if (b <= 0) throw new IllegalArgumentException("B must be > 0, got " + b);
    if (t <= 0) throw new IllegalArgumentException("T must be > 0, got " + t);
    if (t > maxT) {
      throw new IllegalArgumentException("sequence length T=" + t + " exceeds the context length " + maxT);
    }
    checkIds(tokens, b, t, what);
  }

  private void checkIds(int[] tokens, int b, int t, String what) {
    if (tokens == null) throw new IllegalArgumentException(what + " is null");
    if ((long) b * t != tokens.length) {
      throw new IllegalArgumentException(what + " has " + tokens.length + " ids, expected B*T = " + b + "*" + t);
    }
    for (int i = 0; i < tokens.length; i++) {
      if (tokens[i] < 0 || tokens[i] >= vocab) {
        throw new IllegalArgumentException(what + "[" + i + "] = " + tokens[i] + " is outside the vocabulary [0, "
            + vocab + ")");
      }
    }
  }

  private static boolean checkRanges(int[] kvStart, int[] kvEnd, int b, int t) {
    if (kvStart != null && kvStart.length != b) {
      throw new IllegalArgumentException("kvStart has " + kvStart.length + " entries, expected B = " + b);
    }
    if (kvEnd != null && kvEnd.length != b) {
      throw new IllegalArgumentException("kvEnd has " + kvEnd.length + " entries, expected B = " + b);
    }
    boolean anyStart = false;
    for (int i = 0; i < b; i++) {
      int s = kvStart == null ? 0 : kvStart[i];
      int e = kvEnd == null ? t : kvEnd[i];
      if (s < 0 || s > e || e > t) {
        throw new IllegalArgumentException("row " + i + " has valid range [" + s + ", " + e + ") outside [0, " + t
            + "]");
      }
      anyStart |= s != 0;
    }
    return anyStart;
  }

  // ================================================================== training forward / backward

  /**
   * Forward pass over tokens (B,T) (row-major, ids in [0, V)); returns the logits (B,T,Vp), owned by the model
   * and valid until the next forward. kvStart/kvEnd (nullable, length B): each row's valid range.
   */
  public Tensor forward(int[] tokens, int B, int T, int[] kvStart, int[] kvEnd) {
    try (Use u = enter()) {
      checkBatch(tokens, B, T, "tokens");
      boolean shifted = checkRanges(kvStart, kvEnd, B, T);
      Acts a = acts(B, T);
      a.forwardDone = false;
      a.tokens.copyFrom(tokens);
      a.hasKvStart = kvStart != null;
      a.hasKvEnd = kvEnd != null;
      if (kvStart != null) a.kvStart.copyFrom(kvStart);
      if (kvEnd != null) a.kvEnd.copyFrom(kvEnd);
      Tensor ks = a.hasKvStart ? a.kvStart : null;
      Tensor ke = a.hasKvEnd ? a.kvEnd : null;
      a.padded = shifted;
      if (shifted) {
        a.posIds.copyFrom(positions(kvStart, B, T, 0));
        embedGathered(a.encoded, a.dbuf, a.tokensFlat, a.posIds);
      } else {
        backend.embeddingForward(a.encoded, a.tokens, p[WTE], p[WPE], 0);
      }
      for (int l = 0; l < layers; l++) {
        Tensor res = l == 0 ? a.encoded : a.res3[l - 1];
        backend.layerNormForward(a.ln1[l], a.ln1Mean[l], a.ln1Rstd[l], res, pl[LN1W][l], pl[LN1B][l], LN_EPS);
        backend.matmul(a.qkv[l], a.ln1[l], pl[QKVW][l], pl[QKVB][l], false, true, false);
        backend.attentionForwardQkv(a.atty[l], a.lse[l], a.qkv[l], heads, heads, ks, ke);
        backend.copy(a.res2[l], res);
        backend.matmul(a.res2[l], a.atty[l], pl[ATTPROJW][l], pl[ATTPROJB][l], false, true, true);
        backend.layerNormForward(a.ln2[l], a.ln2Mean[l], a.ln2Rstd[l], a.res2[l], pl[LN2W][l], pl[LN2B][l], LN_EPS);
        backend.matmul(a.fch[l], a.ln2[l], pl[FCW][l], pl[FCB][l], false, true, false);
        backend.geluForward(a.fchGelu[l], a.fch[l]);
        backend.copy(a.res3[l], a.res2[l]);
        backend.matmul(a.res3[l], a.fchGelu[l], pl[FCPROJW][l], pl[FCPROJB][l], false, true, true);
      }
      backend.layerNormForward(a.lnf, a.lnfMean, a.lnfRstd, a.res3[layers - 1], p[LNFW], p[LNFB], LN_EPS);
      backend.matmul(a.logits, a.lnf, p[WTE], null, false, true, false);
      a.forwardDone = true;
      return a.logits;
    }
  }

  /** Position ids (B*T): position of index t of row b is max(0, pos0 + t - kvStart[b]). */
  private static int[] positions(int[] kvStart, int b, int t, int pos0) {
    int[] ids = new int[b * t];
    for (int r = 0; r < b; r++) {
      int s = kvStart == null ? 0 : kvStart[r];
      for (int i = 0; i < t; i++) ids[r * t + i] = Math.max(0, pos0 + i - s);
    }
    return ids;
  }

  /** out (B,T,C) = wte[tokens] + wpe[posIds]; tmp (B,T,C) scratch. */
  private void embedGathered(Tensor out, Tensor tmp, Tensor tokensFlat, Tensor posIds) {
    long bt = tokensFlat.numel();
    Tensor o = out.view(bt, channels);
    Tensor w = tmp.view(bt, channels);
    backend.gatherRows(o, p[WTE], tokensFlat);
    backend.gatherRows(w, p[WPE], posIds);
    backend.add(o, o, w);
  }

  /**
   * A zero-filled gradient buffer (B,T,C) for {@link #hidden()} of the last forward (e.g. for a {@link ScalarHead}
   * backward), owned by the model: zeroed by each call, valid until the next forward with another (B,T).
   */
  public Tensor zeroedDhidden() {
    try (Use u = enter()) {
      if (acts == null || !acts.forwardDone) throw new IllegalStateException("zeroedDhidden() needs a forward() first");
      backend.zero(acts.dhidden);
      return acts.dhidden;
    }
  }

  /** The final-LayerNorm output (B,T,C) of the last {@link #forward}. */
  public Tensor hidden() {
    checkOpen();
    if (acts == null || !acts.forwardDone) throw new IllegalStateException("hidden() needs a forward() first");
    return acts.lnf;
  }

  /**
   * Backward pass of the last forward: dlogits (B,T,Vp) and/or dhidden (B,T,C) (either may be null; dlogits may
   * be the logits tensor itself). Accumulates into {@link #grads()}; neither input is preserved.
   */
  public void backward(Tensor dlogits, Tensor dhidden) {
    try (Use u = enter()) {
      if (acts == null || !acts.forwardDone) throw new IllegalStateException("backward() needs a forward() first");
      if (dlogits == null && dhidden == null) {
        throw new IllegalArgumentException("at least one of dlogits and dhidden must be given");
      }
      Acts a = acts;
      long bt = (long) a.b * a.t;
      if (dlogits != null && dlogits.numel() != bt * paddedVocab) {
        throw new IllegalArgumentException("dlogits " + Arrays.toString(dlogits.shape()) + " must be (B,T,Vp) = ("
            + a.b + "," + a.t + "," + paddedVocab + ") as in the last forward");
      }
      if (dhidden != null && dhidden.numel() != bt * channels) {
        throw new IllegalArgumentException("dhidden " + Arrays.toString(dhidden.shape()) + " must be (B,T,C) = ("
            + a.b + "," + a.t + "," + channels + ") as in the last forward");
      }
      Tensor ks = a.hasKvStart ? a.kvStart : null;
      Tensor ke = a.hasKvEnd ? a.kvEnd : null;
      Tensor dlnf = a.dbuf;
      if (dlogits != null) {
        Tensor dl = dlogits.view(bt, paddedVocab);
        backend.matmul(g[WTE], dl, a.lnf, null, true, false, true);
        backend.matmul(dlnf, dl, p[WTE], null, false, false, false);
        if (dhidden != null) backend.axpy(dlnf, dhidden, 1f);
      } else {
        backend.copy(dlnf, dhidden);
      }
      Tensor dres = a.dres;
      backend.zero(dres);
      backend.layerNormBackward(dres, g[LNFW], g[LNFB], dlnf, a.res3[layers - 1], p[LNFW], a.lnfMean, a.lnfRstd);
      for (int l = layers - 1; l >= 0; l--) {
        Tensor res = l == 0 ? a.encoded : a.res3[l - 1];
        // MLP: res3 = res2 + gelu(ln2 fcwᵀ + fcb) fcprojwᵀ + fcprojb
        backend.biasBackward(gl[FCPROJB][l], dres);
        backend.matmul(gl[FCPROJW][l], dres, a.fchGelu[l], null, true, false, true);
        backend.matmul(a.d4a, dres, pl[FCPROJW][l], null, false, false, false);
        backend.zero(a.d4b);
        backend.geluBackward(a.d4b, a.fch[l], a.d4a);
        backend.biasBackward(gl[FCB][l], a.d4b);
        backend.matmul(gl[FCW][l], a.d4b, a.ln2[l], null, true, false, true);
        backend.matmul(a.dbuf, a.d4b, pl[FCW][l], null, false, false, false);
        backend.layerNormBackward(dres, gl[LN2W][l], gl[LN2B][l], a.dbuf, a.res2[l], pl[LN2W][l], a.ln2Mean[l],
            a.ln2Rstd[l]);
        // attention: res2 = res + attn(qkv(ln1)) attprojwᵀ + attprojb
        backend.biasBackward(gl[ATTPROJB][l], dres);
        backend.matmul(gl[ATTPROJW][l], dres, a.atty[l], null, true, false, true);
        backend.matmul(a.dbuf, dres, pl[ATTPROJW][l], null, false, false, false);
        backend.zero(a.dqkv);
        backend.attentionBackwardQkv(a.dqkv, a.dbuf, a.atty[l], a.lse[l], a.qkv[l], heads, heads, ks, ke);
        backend.biasBackward(gl[QKVB][l], a.dqkv);
        backend.matmul(gl[QKVW][l], a.dqkv, a.ln1[l], null, true, false, true);
        backend.matmul(a.dbuf, a.dqkv, pl[QKVW][l], null, false, false, false);
        backend.layerNormBackward(dres, gl[LN1W][l], gl[LN1B][l], a.dbuf, res, pl[LN1W][l], a.ln1Mean[l],
            a.ln1Rstd[l]);
      }
      if (a.padded) {
        Tensor d = dres.view(bt, channels);
        backend.scatterAddRows(g[WTE], d, a.tokensFlat);
        backend.scatterAddRows(g[WPE], d, a.posIds);
      } else {
        backend.embeddingBackward(g[WTE], g[WPE], dres, a.tokens, 0);
      }
    }
  }

  /**
   * Forward, fused softmax cross-entropy over the first V logits, and backward. targets (B*T) below 0 are
   * ignored; weights (B*T, nullable = all 1) must be finite and >= 0. Loss = Σ w_i·l_i / Σ w_i over the kept
   * positions; the gradients of that loss accumulate into {@link #grads()}. Returns the loss. The logits buffer
   * returned by {@link #forward} holds dlogits afterwards.
   */
  public float lossAndBackward(int[] tokens, int[] targets, float[] weights, int B, int T, int[] kvStart,
      int[] kvEnd) {
    return lossAndBackward(tokens, targets, weights, B, T, kvStart, kvEnd, 1f);
  }

  /**
   * As {@link #lossAndBackward(int[], int[], float[], int, int, int[], int[])}, but the gradients of
   * {@code gradScale} × the loss accumulate (e.g. an auxiliary loss weighted into another one's gradients). The
   * returned loss is not scaled. gradScale must be finite and > 0.
   */
  public float lossAndBackward(int[] tokens, int[] targets, float[] weights, int B, int T, int[] kvStart,
      int[] kvEnd, float gradScale) {
    try (Use u = enter()) {
      if (!(gradScale > 0 && Float.isFinite(gradScale))) {
        throw new IllegalArgumentException("gradScale must be finite and > 0, got " + gradScale);
      }
      checkTargets(targets, B, T);
      int n = B * T;
      if (weights != null && weights.length != n) {
        throw new IllegalArgumentException("weights has " + weights.length + " entries, expected B*T = " + n);
      }
      double wsum = 0;
      for (int i = 0; i < n; i++) {
        float w = weights == null ? 1f : weights[i];
        if (!(w >= 0 && Float.isFinite(w))) {
          throw new IllegalArgumentException("weights[" + i + "] = " + w + " must be finite and >= 0");
        }
        if (targets[i] >= 0) wsum += w;
      }
      if (!(wsum > 0)) throw new IllegalArgumentException("no target with a positive weight (all ignored)");
      Tensor logits = forward(tokens, B, T, kvStart, kvEnd);
      Acts a = acts;
      for (int i = 0; i < n; i++) {
        a.dlossHost[i] = targets[i] >= 0 ? (float) (gradScale * (weights == null ? 1.0 : weights[i]) / wsum) : 0f;
      }
      a.targets.copyFrom(targets);
      a.dloss.copyFrom(a.dlossHost);
      backend.crossEntropy(a.losses, logits, logits, a.targets, a.dloss, vocab);
      backend.copyToHost(a.lossHost, a.losses);
      double loss = 0;
      for (int i = 0; i < n; i++) {
        if (targets[i] >= 0) loss += (weights == null ? 1.0 : weights[i]) * a.lossHost[i];
      }
      backward(logits, null);
      return (float) (loss / wsum);
    }
  }

  private void checkTargets(int[] targets, int b, int t) {
    if (targets == null) throw new IllegalArgumentException("targets is null");
    if ((long) b * t != targets.length) {
      throw new IllegalArgumentException("targets has " + targets.length + " ids, expected B*T = " + b + "*" + t);
    }
    for (int i = 0; i < targets.length; i++) {
      if (targets[i] >= vocab) {
        throw new IllegalArgumentException("targets[" + i + "] = " + targets[i] + " is outside the vocabulary [0, "
            + vocab + ")");
      }
    }
  }

  /** Per-position log p(target) (B*T) without touching the gradients; 0 where the target is below 0. */
  public float[] tokenLogprobs(int[] tokens, int[] targets, int B, int T, int[] kvStart, int[] kvEnd) {
    try (Use u = enter()) {
      checkTargets(targets, B, T);
      Tensor logits = forward(tokens, B, T, kvStart, kvEnd);
      Acts a = acts;
      a.targets.copyFrom(targets);
      backend.crossEntropy(a.losses, null, logits, a.targets, null, vocab);
      float[] out = new float[B * T];
      backend.copyToHost(out, a.losses);
      for (int i = 0; i < out.length; i++) out[i] = targets[i] >= 0 ? -out[i] : 0f;
      return out;
    }
  }

  // ================================================================== KV-cached inference

  /** A KV cache for B rows of up to maxT positions (maxT <= context length). The caller closes it. */
  public KvCache newKvCache(int B, int maxT) {
    checkOpen();
    return new KvCache(backend, config, B, maxT);
  }

  /**
   * Runs Tq new tokens per row (B,Tq) at absolute positions pos..pos+Tq-1 through the model, appending their
   * keys and values to the cache, and returns the logits (B,Tq,Vp) (owned by the model, valid until the next
   * cached call). kvStart (nullable): row b's first valid position (left padding), as in
   * {@link #forward}; at pos > 0 it must be <= pos. A chunk at pos = 0 (the prefill) attends with the tiled
   * kernel ({@link org.jalign.backend.Backend#attentionForwardQkv}), later chunks with
   * {@link org.jalign.backend.Backend#attentionKvCache}; both append to the cache with
   * {@link org.jalign.backend.Backend#kvCacheAppend}.
   */
  public Tensor forwardCached(KvCache cache, int[] tokens, int B, int Tq, int pos, int[] kvStart) {
    try (Use u = enter()) {
      InferActs a = runCached(cache, tokens, B, Tq, pos, kvStart);
      backend.matmul(a.logits, a.ln, p[WTE], null, false, true, false);
      return a.logits;
    }
  }

  /**
   * As {@link #forwardCached} but stops after the final LayerNorm: returns the hidden states (B,Tq,C), so a
   * caller can apply the LM head ({@code x · wteᵀ}) to the rows it needs only.
   */
  public Tensor hiddenCached(KvCache cache, int[] tokens, int B, int Tq, int pos, int[] kvStart) {
    try (Use u = enter()) {
      return runCached(cache, tokens, B, Tq, pos, kvStart).ln;
    }
  }

  private InferActs runCached(KvCache cache, int[] tokens, int B, int Tq, int pos, int[] kvStart) {
    if (cache == null) throw new IllegalArgumentException("cache is null");
    if (cache.isClosed()) throw new IllegalStateException("cache is closed");
    if (!cache.config().equals(config)) {
      throw new IllegalArgumentException("cache was made for " + cache.config() + ", not " + config);
    }
    if (B != cache.batch()) {
      throw new IllegalArgumentException("B = " + B + " but the cache holds " + cache.batch() + " rows");
    }
    if (Tq <= 0) throw new IllegalArgumentException("Tq must be > 0, got " + Tq);
    if (pos < 0 || pos > cache.length()) {
      throw new IllegalArgumentException("pos " + pos + " must be in [0, " + cache.length()
          + "] (the positions already cached)");
    }
    if ((long) pos + Tq > cache.maxT()) {
      throw new IllegalArgumentException("positions [" + pos + ", " + (pos + Tq) + ") exceed the cache length "
          + cache.maxT() + " (context length " + maxT + ")");
    }
    checkIds(tokens, B, Tq, "tokens");
    boolean shifted = false;
    if (kvStart != null) {
      if (kvStart.length != B) {
        throw new IllegalArgumentException("kvStart has " + kvStart.length + " entries, expected B = " + B);
      }
      for (int i = 0; i < B; i++) {
        int s = kvStart[i];
        if (s < 0 || s > pos + Tq - 1 || (pos > 0 && s > pos)) {
          throw new IllegalArgumentException("kvStart[" + i + "] = " + s + " is outside [0, "
              + (pos > 0 ? pos : pos + Tq - 1) + "]");
        }
        shifted |= s != 0;
      }
    }
    InferActs a = inferActs(B, Tq);
    a.tokens.copyFrom(tokens);
    Tensor ks = null;
    if (kvStart != null) {
      a.kvStart.copyFrom(kvStart);
      ks = a.kvStart;
    }
    if (shifted) {
      a.posIds.copyFrom(positions(kvStart, B, Tq, pos));
      embedGathered(a.x, a.tmp, a.tokensFlat, a.posIds);
    } else {
      backend.embeddingForward(a.x, a.tokens, p[WTE], p[WPE], pos);
    }
    for (int l = 0; l < layers; l++) {
      backend.layerNormForward(a.ln, null, null, a.x, pl[LN1W][l], pl[LN1B][l], LN_EPS);
      backend.matmul(a.qkv, a.ln, pl[QKVW][l], pl[QKVB][l], false, true, false);
      backend.kvCacheAppend(cache.keys(l), cache.values(l), a.qkv, heads, heads, pos);
      if (pos == 0) {
        backend.attentionForwardQkv(a.atty, a.lse, a.qkv, heads, heads, ks, null);
      } else {
        backend.attentionKvCache(a.atty, a.qkv, cache.keys(l), cache.values(l), heads, heads, pos, ks);
      }
      backend.matmul(a.x, a.atty, pl[ATTPROJW][l], pl[ATTPROJB][l], false, true, true);
      backend.layerNormForward(a.ln, null, null, a.x, pl[LN2W][l], pl[LN2B][l], LN_EPS);
      backend.matmul(a.fch, a.ln, pl[FCW][l], pl[FCB][l], false, true, false);
      backend.geluForward(a.fchGelu, a.fch);
      backend.matmul(a.x, a.fchGelu, pl[FCPROJW][l], pl[FCPROJB][l], false, true, true);
    }
    backend.layerNormForward(a.ln, null, null, a.x, p[LNFW], p[LNFB], LN_EPS);
    cache.advanceTo(pos + Tq);
    return a;
  }

  @Override
  public void close() {
    if (closed) return;
    Thread holder = user.get();
    if (holder != null && holder != Thread.currentThread()) {
      throw new IllegalStateException("cannot close this Gpt while thread \"" + holder.getName() + "\" uses it");
    }
    closed = true;
    if (acts != null) acts.close();
    for (InferActs a : inferActs.values()) a.close();
    inferActs.clear();
    params.close();
    grads.close();
  }
}
