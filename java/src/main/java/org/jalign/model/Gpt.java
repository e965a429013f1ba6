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
 * A decoder-only transformer trunk with one flat parameter buffer and one flat gradient buffer in the layout of
 * {@link GptConfig#paramSpecs()}. The configuration picks the block: GPT-2 (pre-LayerNorm, learned positions, GELU
 * MLP, biases, LM head tied to the token embedding) or the Llama family (RMSNorm, rotary positions, SwiGLU,
 * grouped-query attention, q/k/v biases only or none, tied or untied head). There is one forward, one backward and
 * one KV-cached path; each choice is a branch inside one small op (norm, rope, MLP activation, embedding).
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, NKV = kv heads, HS = head size, F = MLP width,
 * M = F (GELU) or 2F (SwiGLU), L = layers, V = vocabulary size, Vp = padded vocabulary (row length of the logits),
 * maxT = context length.
 *
 * <p>Padding. {@code kvStart}/{@code kvEnd} (nullable, length B) give each row's valid range [kvStart[b],
 * kvEnd[b]) for left and right padding; queries and keys outside it are masked in attention. Positions are
 * counted from the first valid token: the token at index t of row b is at position {@code max(0, t - kvStart[b])}
 * (its learned embedding {@code wpe[...]}, or its RoPE angle), so a left-padded row computes exactly what the
 * unpadded sequence would.
 * Logits at padded positions are meaningless; give them target -1 (or weight 0).
 *
 * <p>A {@code Gpt} is not thread-safe: every compute method is guarded, and a call from a second thread while
 * another thread is inside the model throws {@link IllegalStateException}. {@link #enter()} holds the guard
 * across several calls (the {@code Generator} does).
 */
public final class Gpt implements AutoCloseable {
  static final float LN_EPS = GptConfig.GPT2_EPS;
  // parameter kinds: indices into GptConfig.ALL_PARAM_NAMES
  private static final int WTE = 0, WPE = 1, LN1W = 2, LN1B = 3, QKVW = 4, QKVB = 5, ATTPROJW = 6, ATTPROJB = 7,
      LN2W = 8, LN2B = 9, FCW = 10, FCB = 11, FCPROJW = 12, FCPROJB = 13, LNFW = 14, LNFB = 15, LMHEAD = 16;
  private static final int KINDS = 17;

  private final GptConfig config;
  private final Backend backend;
  private final int layers, channels, heads, kvHeads, headSize, vocab, paddedVocab, maxT;
  private final int qkvWidth, mlpHidden, mlpWidth; // (NH+2*NKV)*HS, F, F or 2F
  private final boolean rms, rotary, swiglu;
  private final float eps;
  private final List<ParamSpec> specs;
  private final Tensor params; // (numel)
  private final Tensor grads; // (numel)
  private final Tensor invFreq; // (HS/2) rotary inverse frequencies; null with learned positions
  private final Tensor[] p; // full parameter views by kind; null where the configuration has no such tensor
  private final Tensor[] g; // full gradient views by kind
  private final Tensor[][] pl; // [kind][layer] per-layer parameter views (layered params only; null rows if absent)
  private final Tensor[][] gl; // [kind][layer] per-layer gradient views
  private final Tensor head, headGrad; // LM head (Vp,C): wte when tied, else lmhead
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
    this.kvHeads = config.kvHeads();
    this.headSize = config.headSize();
    this.vocab = config.vocabSize();
    this.paddedVocab = config.paddedVocab();
    this.maxT = config.contextLength();
    this.qkvWidth = config.qkvWidth();
    this.mlpHidden = config.intermediateSize();
    this.mlpWidth = config.mlpWidth();
    this.rms = config.norm() == GptConfig.Norm.RMS_NORM;
    this.rotary = config.rope() != null;
    this.swiglu = config.mlp() == GptConfig.Mlp.SWIGLU;
    this.eps = config.normEps();
    this.specs = config.paramSpecs();
    long n = config.parameterCount();
    Tensor ps = null, gs = null, inv = null;
    try {
      ps = allocate(DType.F32, n);
      gs = allocate(DType.F32, n);
      if (rotary) {
        try (Scope s = Scope.open()) {
          inv = s.detach(backend.fromArray(config.rope().invFreq(), headSize / 2));
        }
      }
    } catch (RuntimeException e) {
      if (ps != null) ps.close();
      if (gs != null) gs.close();
      throw e;
    }
    params = ps;
    grads = gs;
    invFreq = inv;
    p = new Tensor[KINDS];
    g = new Tensor[KINDS];
    pl = new Tensor[KINDS][];
    gl = new Tensor[KINDS][];
    for (ParamSpec s : specs) {
      int i = GptConfig.ALL_PARAM_NAMES.indexOf(s.name());
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
    for (int i = LN1W; i <= FCPROJB; i++) { // absent layered tensors: rows of nulls (a null bias is "no bias")
      if (pl[i] == null) {
        pl[i] = new Tensor[layers];
        gl[i] = new Tensor[layers];
      }
    }
    head = config.tiedHead() ? p[WTE] : p[LMHEAD];
    headGrad = config.tiedHead() ? g[WTE] : g[LMHEAD];
    initialize(seed);
  }

  private Tensor allocate(DType dtype, long... shape) {
    try (Scope s = Scope.open()) {
      return s.detach(backend.zeros(dtype, shape));
    }
  }

  /**
   * GPT-2 initialisation (for every block): N(0, 0.02); residual projections N(0, 0.02/sqrt(2L)); norm weights 1;
   * biases 0. Tensors are drawn in buffer order.
   */
  private void initialize(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float residualStd = (float) (0.02 / Math.sqrt(2.0 * layers));
    for (ParamSpec s : specs) {
      int i = GptConfig.ALL_PARAM_NAMES.indexOf(s.name());
      float[] data = new float[Math.toIntExact(s.numel())];
      switch (i) {
        case WTE, LMHEAD -> fillNormal(rnd, data, (long) vocab * channels, 0.02f); // padded rows stay 0
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

  /** A view of one named parameter ({@code wte, wpe, ln1w, ...}; the names of {@link GptConfig#paramSpecs()}). */
  public Tensor param(String name) {
    checkOpen();
    return p[index(name)];
  }

  /** A view of one named gradient. */
  public Tensor grad(String name) {
    checkOpen();
    return g[index(name)];
  }

  /** The LM head weight (Vp,C): the token embedding wte when tied, else lmhead. Logits = hidden() · lmHead()ᵀ. */
  public Tensor lmHead() {
    checkOpen();
    return head;
  }

  private int index(String name) {
    int i = GptConfig.ALL_PARAM_NAMES.indexOf(name);
    if (i < 0 || p[i] == null) {
      List<String> names = specs.stream().map(ParamSpec::name).toList();
      throw new IllegalArgumentException("no parameter named " + name + (i < 0 ? "" : " in this configuration")
          + "; names are " + names);
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
    final Tensor pos2d; // posIds as (B,T), for RoPE
    final Tensor encoded; // (B,T,C)
    // per layer: ln1 (B,T,C), qkv (B,T,(NH+2NKV)HS), atty (B,T,C), lse (B,NH,T), fch (B,T,M), fchGelu (B,T,F)
    final Tensor[] ln1, ln1Mean, ln1Rstd, qkv, atty, lse, res2, ln2, ln2Mean, ln2Rstd, fch, fchGelu, res3;
    final Tensor lnf, lnfMean, lnfRstd; // (B,T,C), (B,T), (B,T)
    final Tensor logits; // (B,T,Vp)
    final Tensor losses, dloss; // (BT)
    final Tensor dres, dbuf, d4a, d4b, dqkv, dfch; // (B,T,C) x2, (B,T,F), (B,T,max(M,qkv)); views of d4b: (B,T,qkv), (B,T,M)
    final Tensor dhidden; // (B,T,C): a gradient buffer handed to callers
    final float[] lossHost, dlossHost;
    final int[] posHost; // (BT)
    boolean forwardDone;
    boolean padded; // positions came from posIds (row-dependent)
    boolean hasKvStart, hasKvEnd;

    /** Views for (b, t) over the storage of {@code previous} when it is large enough (else new storage). */
    Acts(int b, int t, Acts previous) {
      this.b = b;
      this.t = t;
      long bt = (long) b * t, c = channels, l = layers, d4 = Math.max(mlpWidth, qkvWidth);
      long perLayer = bt * c * 5 + bt * qkvWidth + bt * mlpWidth + bt * mlpHidden + bt * 4 + (long) b * heads * t;
      long total = bt * c + l * perLayer + bt * c + bt * 2 + bt * paddedVocab + bt * 2 + bt * c * 3 + bt * mlpHidden
          + bt * d4;
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
      pos2d = ints.slice(2 * bt, b, t);
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
        qkv[i] = take(off, b, t, qkvWidth);
        atty[i] = take(off, b, t, c);
        lse[i] = take(off, b, heads, t);
        res2[i] = take(off, b, t, c);
        ln2[i] = take(off, b, t, c);
        ln2Mean[i] = take(off, b, t);
        ln2Rstd[i] = take(off, b, t);
        fch[i] = take(off, b, t, mlpWidth);
        fchGelu[i] = take(off, b, t, mlpHidden);
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
      d4a = take(off, b, t, mlpHidden);
      d4b = take(off, b, t, d4);
      dqkv = d4b.slice(0, b, t, qkvWidth);
      dfch = d4 == mlpWidth ? d4b : d4b.slice(0, b, t, mlpWidth);
      dhidden = take(off, b, t, c);
      if (off[0] > total) throw new AssertionError("activation layout overflows its block");
      lossHost = new float[(int) bt];
      dlossHost = new float[(int) bt];
      posHost = new int[(int) bt];
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
    final Tensor tokens, tokensFlat, posIds, pos2d, kvStart; // (B,Tq), (BTq), (BTq), (B,Tq) view, (B)
    final Tensor x, ln, qkv, atty, lse, fch, fchGelu, tmp, lnMean, lnRstd, logits;
    final int[] posHost; // (BTq)

    InferActs(int b, int t) {
      this.b = b;
      this.t = t;
      long bt = (long) b * t, c = channels;
      long total = bt * c * 4 + bt * qkvWidth + (long) b * heads * t + bt * mlpWidth + bt * mlpHidden + bt * 2
          + bt * paddedVocab;
      posHost = new int[(int) bt];
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
      pos2d = ints.slice(bt, b, t);
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
      qkv = block.slice(o, b, t, qkvWidth);
      o += bt * qkvWidth;
      lse = block.slice(o, b, heads, t);
      o += (long) b * heads * t;
      fch = block.slice(o, b, t, mlpWidth);
      o += bt * mlpWidth;
      fchGelu = block.slice(o, b, t, mlpHidden);
      o += bt * mlpHidden;
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
      embed(a.encoded, a.dbuf, a.tokens, a.tokensFlat, a.posIds, a.posHost, kvStart, shifted, 0);
      for (int l = 0; l < layers; l++) {
        Tensor res = l == 0 ? a.encoded : a.res3[l - 1];
        norm(a.ln1[l], a.ln1Mean[l], a.ln1Rstd[l], res, pl[LN1W][l], pl[LN1B][l]);
        backend.matmul(a.qkv[l], a.ln1[l], pl[QKVW][l], pl[QKVB][l], false, true, false);
        rope(a.qkv[l], a.pos2d, false);
        backend.attentionForwardQkv(a.atty[l], a.lse[l], a.qkv[l], heads, kvHeads, ks, ke);
        backend.copy(a.res2[l], res);
        backend.matmul(a.res2[l], a.atty[l], pl[ATTPROJW][l], pl[ATTPROJB][l], false, true, true);
        norm(a.ln2[l], a.ln2Mean[l], a.ln2Rstd[l], a.res2[l], pl[LN2W][l], pl[LN2B][l]);
        backend.matmul(a.fch[l], a.ln2[l], pl[FCW][l], pl[FCB][l], false, true, false);
        mlpActivation(a.fchGelu[l], a.fch[l]);
        backend.copy(a.res3[l], a.res2[l]);
        backend.matmul(a.res3[l], a.fchGelu[l], pl[FCPROJW][l], pl[FCPROJB][l], false, true, true);
      }
      norm(a.lnf, a.lnfMean, a.lnfRstd, a.res3[layers - 1], p[LNFW], p[LNFB]);
      backend.matmul(a.logits, a.lnf, head, null, false, true, false);
      a.forwardDone = true;
      return a.logits;
    }
  }

  // ================================================================== the block's choices

  /** LayerNorm (weight, bias; mean and rstd saved when given) or RMSNorm (weight; rstd saved when given). */
  private void norm(Tensor out, Tensor mean, Tensor rstd, Tensor inp, Tensor w, Tensor b) {
    if (rms) {
      backend.rmsNormForward(out, rstd, inp, w, eps);
    } else {
      backend.layerNormForward(out, mean, rstd, inp, w, b, eps);
    }
  }

  /** Backward of {@link #norm}: dinp, dw (and db for LayerNorm) accumulate. */
  private void normBackward(Tensor dinp, Tensor dw, Tensor db, Tensor dout, Tensor inp, Tensor w, Tensor mean,
      Tensor rstd) {
    if (rms) {
      backend.rmsNormBackward(dinp, dw, dout, inp, w, rstd);
    } else {
      backend.layerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd);
    }
  }

  /**
   * Rotary positions on the q and k blocks of a fused projection (B,T,(NH+2NKV)HS) in place (inverse: the
   * backward's rotation of their gradients); nothing with learned positions.
   */
  private void rope(Tensor qkv, Tensor pos, boolean inverse) {
    if (!rotary) return;
    if (inverse) {
      backend.ropeBackward(qkv, 0, heads, headSize, pos, invFreq);
      backend.ropeBackward(qkv, (long) heads * headSize, kvHeads, headSize, pos, invFreq);
    } else {
      backend.ropeForward(qkv, 0, heads, headSize, pos, invFreq);
      backend.ropeForward(qkv, (long) heads * headSize, kvHeads, headSize, pos, invFreq);
    }
  }

  /** out (N,F) = gelu(fc) (fc (N,F)) or silu(gate)·up (fc (N,2F), gate columns first). */
  private void mlpActivation(Tensor out, Tensor fc) {
    if (swiglu) {
      backend.swigluForward(out, fc);
    } else {
      backend.geluForward(out, fc);
    }
  }

  /** dfc (shape of fc) accumulates the gradient of {@link #mlpActivation} for dout (N,F). */
  private void mlpActivationBackward(Tensor dfc, Tensor fc, Tensor dout) {
    if (swiglu) {
      backend.swigluBackward(dfc, dout, fc);
    } else {
      backend.geluBackward(dfc, fc, dout);
    }
  }

  /**
   * out (B,T,C): the token embeddings, plus the learned position embeddings when the model has them. posIds
   * (BT) is written (from posHost) whenever positions are row-dependent ({@code shifted}) or rotary; rotary
   * models read it in {@link #rope}. tmp (B,T,C) scratch.
   */
  private void embed(Tensor out, Tensor tmp, Tensor tokens, Tensor tokensFlat, Tensor posIds, int[] posHost,
      int[] kvStart, boolean shifted, int pos0) {
    if (shifted || rotary) {
      positions(posHost, kvStart, tokens.dim(0), tokens.dim(1), pos0);
      posIds.copyFrom(posHost);
    }
    if (rotary) {
      backend.gatherRows(out.view(tokensFlat.numel(), channels), p[WTE], tokensFlat);
    } else if (shifted) {
      embedGathered(out, tmp, tokensFlat, posIds);
    } else {
      backend.embeddingForward(out, tokens, p[WTE], p[WPE], pos0);
    }
  }

  /** Position ids (B*T) into ids: position of index t of row b is max(0, pos0 + t - kvStart[b]). */
  private static void positions(int[] ids, int[] kvStart, long b, long t, int pos0) {
    for (int r = 0; r < b; r++) {
      int s = kvStart == null ? 0 : kvStart[r];
      for (int i = 0; i < t; i++) ids[(int) (r * t + i)] = Math.max(0, pos0 + i - s);
    }
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

  /** The final-norm output (B,T,C) of the last {@link #forward}. */
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
        backend.matmul(headGrad, dl, a.lnf, null, true, false, true);
        backend.matmul(dlnf, dl, head, null, false, false, false);
        if (dhidden != null) backend.axpy(dlnf, dhidden, 1f);
      } else {
        backend.copy(dlnf, dhidden);
      }
      Tensor dres = a.dres;
      backend.zero(dres);
      normBackward(dres, g[LNFW], g[LNFB], dlnf, a.res3[layers - 1], p[LNFW], a.lnfMean, a.lnfRstd);
      for (int l = layers - 1; l >= 0; l--) {
        Tensor res = l == 0 ? a.encoded : a.res3[l - 1];
        // MLP: res3 = res2 + act(norm2 fcwᵀ + fcb) fcprojwᵀ + fcprojb
        if (gl[FCPROJB][l] != null) backend.biasBackward(gl[FCPROJB][l], dres);
        backend.matmul(gl[FCPROJW][l], dres, a.fchGelu[l], null, true, false, true);
        backend.matmul(a.d4a, dres, pl[FCPROJW][l], null, false, false, false);
        Tensor dfch = a.dfch;
        backend.zero(dfch);
        mlpActivationBackward(dfch, a.fch[l], a.d4a);
        if (gl[FCB][l] != null) backend.biasBackward(gl[FCB][l], dfch);
        backend.matmul(gl[FCW][l], dfch, a.ln2[l], null, true, false, true);
        backend.matmul(a.dbuf, dfch, pl[FCW][l], null, false, false, false);
        normBackward(dres, gl[LN2W][l], gl[LN2B][l], a.dbuf, a.res2[l], pl[LN2W][l], a.ln2Mean[l], a.ln2Rstd[l]);
        // attention: res2 = res + attn(rope(qkv(norm1))) attprojwᵀ + attprojb
        if (gl[ATTPROJB][l] != null) backend.biasBackward(gl[ATTPROJB][l], dres);
        backend.matmul(gl[ATTPROJW][l], dres, a.atty[l], null, true, false, true);
        backend.matmul(a.dbuf, dres, pl[ATTPROJW][l], null, false, false, false);
        backend.zero(a.dqkv);
        backend.attentionBackwardQkv(a.dqkv, a.dbuf, a.atty[l], a.lse[l], a.qkv[l], heads, kvHeads, ks, ke);
        rope(a.dqkv, a.pos2d, true);
        if (gl[QKVB][l] != null) backend.biasBackward(gl[QKVB][l], a.dqkv);
        backend.matmul(gl[QKVW][l], a.dqkv, a.ln1[l], null, true, false, true);
        backend.matmul(a.dbuf, a.dqkv, pl[QKVW][l], null, false, false, false);
        normBackward(dres, gl[LN1W][l], gl[LN1B][l], a.dbuf, res, pl[LN1W][l], a.ln1Mean[l], a.ln1Rstd[l]);
      }
      if (rotary) {
        backend.scatterAddRows(g[WTE], dres.view(bt, channels), a.tokensFlat);
      } else if (a.padded) {
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
      backend.matmul(a.logits, a.ln, head, null, false, true, false);
      return a.logits;
    }
  }

  /**
   * As {@link #forwardCached} but stops after the final norm: returns the hidden states (B,Tq,C), so a caller can
   * apply the LM head ({@code x · lmHead()ᵀ}) to the rows it needs only.
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
    embed(a.x, a.tmp, a.tokens, a.tokensFlat, a.posIds, a.posHost, kvStart, shifted, pos);
    for (int l = 0; l < layers; l++) {
      norm(a.ln, null, null, a.x, pl[LN1W][l], pl[LN1B][l]);
      backend.matmul(a.qkv, a.ln, pl[QKVW][l], pl[QKVB][l], false, true, false);
      rope(a.qkv, a.pos2d, false); // the cache holds rotated keys
      backend.kvCacheAppend(cache.keys(l), cache.values(l), a.qkv, heads, kvHeads, pos);
      if (pos == 0) {
        backend.attentionForwardQkv(a.atty, a.lse, a.qkv, heads, kvHeads, ks, null);
      } else {
        backend.attentionKvCache(a.atty, a.qkv, cache.keys(l), cache.values(l), heads, kvHeads, pos, ks);
      }
      backend.matmul(a.x, a.atty, pl[ATTPROJW][l], pl[ATTPROJB][l], false, true, true);
      norm(a.ln, null, null, a.x, pl[LN2W][l], pl[LN2B][l]);
      backend.matmul(a.fch, a.ln, pl[FCW][l], pl[FCB][l], false, true, false);
      mlpActivation(a.fchGelu, a.fch);
      backend.matmul(a.x, a.fchGelu, pl[FCPROJW][l], pl[FCPROJB][l], false, true, true);
    }
    norm(a.ln, null, null, a.x, p[LNFW], p[LNFB]);
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
    if (invFreq != null) invFreq.close();
  }
}
