package org.jalign.train.reward;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jalign.backend.Backend;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ScalarHead;
import org.jalign.tensor.Tensor;
import org.jalign.text.Tokenizer;
import org.jalign.train.ppo.RewardFunction;

/**
 * A reward model: a {@link Gpt} trunk and a {@link ScalarHead} on the final hidden state of each sequence's last
 * (non-pad) token. Scores are raw head outputs; {@link #scoreNormalized} maps them with the mean and standard
 * deviation stored with the model (set by {@link RewardTrainer} over a reference set), so rewards handed to
 * PPO are on a known scale.
 *
 * <p>Shape legend: B = sequences per forward, T = longest sequence in the chunk, C = channels.
 *
 * <p>Sequences are right-padded and masked with kvEnd, so a score does not depend on what else is in the batch.
 * A sequence longer than the context keeps its last {@code contextLength} tokens (the score is read at the end).
 *
 * <p><b>Likelihood gate</b> (optional, {@link #fromPolicy(Gpt, long, boolean)}): a last-token head alone rarely
 * learns to check facts, because nothing in the ranking loss points it at the one token that is wrong. A reward
 * model with a likelihood gate also keeps a frozen copy of the model it started from (the <i>reference</i>, usually
 * the SFT model, which learnt the facts in pretraining) and adds
 * <pre>  Σ_t gate(h_t) · max(log p_ref(y_t | prompt, y_&lt;t), {@value #LOGPROB_FLOOR})</pre>
 * over the response tokens y_t, where gate is a second scalar head on the trunk's hidden state at that token. The
 * gate starts at zero (a new gated model scores exactly like the plain one) and learns from the rankings alone
 * which tokens' surprise matters: a stated value the reference finds unlikely is the grey-box signal of a made-up
 * or wrong answer (the token-probability features of Manakul et al., 2023, SelfCheckGPT), while the wording of a
 * polite refusal is not. Scoring such a model needs to know where each response starts:
 * {@link #score(List, int[])} or {@link #score(List, List)}.
 *
 * <p>Checkpoint layout: the trunk's {@code model/params}, {@code reward/head} = [w (C), b], numbers
 * {@code reward.mean}, {@code reward.std}, string {@code stage = reward}, the tokenizer when given, and for a gated
 * model {@code reward/gate} = [w (C), b] and {@code reward/reference} (the reference's parameters, same shape as
 * the trunk's).
 */
public final class RewardModel implements RewardFunction, AutoCloseable {
  /** The checkpoint tensor holding the head. */
  public static final String HEAD = "reward/head";
  /** The checkpoint tensor holding the likelihood gate. */
  public static final String GATE = "reward/gate";
  /** The checkpoint tensor holding the likelihood gate's frozen reference model. */
  public static final String REFERENCE = "reward/reference";
  /** Per-token reference log-probabilities are clipped below at this value. */
  public static final float LOGPROB_FLOOR = -20f;
  /** Sequences per forward pass when scoring. */
  public static final int SCORE_BATCH = 16;

  private final Gpt trunk;
  private final ScalarHead head;
  private final Gpt reference; // null without a likelihood gate; frozen
  private final ScalarHead gate; // null without a likelihood gate
  private double mean = 0.0;
  private double std = 1.0;

  /** Wraps a trunk and head (both owned by the reward model from now on). */
  public RewardModel(Gpt trunk, ScalarHead head) {
    this(trunk, head, null, null);
  }

  /**
   * Wraps a trunk, head and (both null, or both given) a frozen reference model and likelihood gate; all are owned
   * by the reward model from now on. The reference must have the trunk's configuration.
   */
  public RewardModel(Gpt trunk, ScalarHead head, Gpt reference, ScalarHead gate) {
    if (trunk == null || head == null) throw new IllegalArgumentException("trunk and head are required");
    if (head.channels() != trunk.config().channels()) {
      throw new IllegalArgumentException("head has " + head.channels() + " channels, trunk " + trunk.config().channels());
    }
    if ((reference == null) != (gate == null)) {
      throw new IllegalArgumentException("a likelihood gate needs both a reference model and a gate head");
    }
    if (reference != null) {
      if (!reference.config().equals(trunk.config())) {
        throw new IllegalArgumentException("the reference model's configuration " + reference.config()
            + " differs from the trunk's " + trunk.config());
      }
      if (gate.channels() != trunk.config().channels()) {
        throw new IllegalArgumentException("gate has " + gate.channels() + " channels, trunk "
            + trunk.config().channels());
      }
    }
    this.trunk = trunk;
    this.head = head;
    this.reference = reference;
    this.gate = gate;
  }

  /** A reward model whose trunk is a copy of {@code sft}'s weights and whose head is freshly initialised. */
  public static RewardModel fromPolicy(Gpt sft, long seed) {
    return fromPolicy(sft, seed, false);
  }

  /**
   * A reward model whose trunk is a copy of {@code sft}'s weights and whose head is freshly initialised; with
   * {@code likelihoodGate}, also a frozen copy of {@code sft} as the reference and a zero gate (see the class
   * comment).
   */
  public static RewardModel fromPolicy(Gpt sft, long seed, boolean likelihoodGate) {
    if (sft == null) throw new IllegalArgumentException("sft is null");
    Gpt trunk = null, reference = null;
    ScalarHead head = null, gate = null;
    try {
      trunk = new Gpt(sft.config(), sft.backend(), seed);
      trunk.copyParamsFrom(sft);
      head = new ScalarHead(sft.backend(), sft.config().channels(), seed ^ 0x5EEDL);
      if (likelihoodGate) {
        reference = new Gpt(sft.config(), sft.backend(), seed);
        reference.copyParamsFrom(sft);
        gate = new ScalarHead(sft.backend(), sft.config().channels(), 0);
        gate.loadParams(new float[sft.config().channels() + 1]);
      }
      return new RewardModel(trunk, head, reference, gate);
    } catch (RuntimeException e) {
      release(trunk, head, reference, gate);
      throw e;
    }
  }

  /** True when the model adds the likelihood-gate term (see the class comment). */
  public boolean hasLikelihoodGate() {
    return gate != null;
  }

  /** The likelihood gate's head, or null without one. */
  public ScalarHead gate() {
    return gate;
  }

  /** The frozen reference model of the likelihood gate, or null without one. */
  public Gpt reference() {
    return reference;
  }

  public Gpt trunk() {
    return trunk;
  }

  public ScalarHead head() {
    return head;
  }

  public Backend backend() {
    return trunk.backend();
  }

  /** Mean of raw scores over the reference set (0 until set). */
  public double mean() {
    return mean;
  }

  /** Standard deviation of raw scores over the reference set (1 until set). */
  public double std() {
    return std;
  }

  /** Sets the normalisation statistics (std must be finite and &gt; 0). */
  public void setNormalization(double mean, double std) {
    if (!Double.isFinite(mean) || !(std > 0) || !Double.isFinite(std)) {
      throw new IllegalArgumentException("normalisation needs a finite mean and a finite std > 0, got " + mean + ", " + std);
    }
    this.mean = mean;
    this.std = std;
  }

  /**
   * Raw scores of whole token sequences (each non-empty, ids in the vocabulary). A model with a likelihood gate
   * needs the response starts: use {@link #score(List, int[])}.
   */
  public float[] score(List<int[]> sequences) {
    if (gate != null) {
      throw new IllegalStateException("this reward model has a likelihood gate, which reads the response tokens' "
          + "log-probabilities under its reference model; say where each response starts with "
          + "score(sequences, responseStarts) or score(promptIds, responseIds)");
    }
    return score(sequences, null, null);
  }

  /**
   * Raw scores of token sequences whose responses start at {@code responseStarts[i]} (1 ≤ start &lt; length: the
   * tokens before it are the prompt). A sequence longer than the context keeps its last tokens, and its start
   * moves with them (to at least 1).
   */
  public float[] score(List<int[]> sequences, int[] responseStarts) {
    if (responseStarts == null) throw new IllegalArgumentException("responseStarts is null");
    return score(sequences, responseStarts, null);
  }

  /** {@link #score(List, int[])} with the reference log-probabilities precomputed (nullable). */
  float[] score(List<int[]> sequences, int[] responseStarts, float[][] logprobs) {
    if (sequences == null) throw new IllegalArgumentException("sequences is null");
    checkStarts(sequences, responseStarts);
    float[] out = new float[sequences.size()];
    for (int from = 0; from < sequences.size(); from += SCORE_BATCH) {
      int to = Math.min(sequences.size(), from + SCORE_BATCH);
      float[] r = forward(sequences.subList(from, to), slice(responseStarts, from, to),
          logprobs == null ? null : java.util.Arrays.copyOfRange(logprobs, from, to));
      System.arraycopy(r, 0, out, from, r.length);
    }
    return out;
  }

  private void checkStarts(List<int[]> sequences, int[] starts) {
    for (int i = 0; i < sequences.size(); i++) {
      int[] s = sequences.get(i);
      if (s == null || s.length == 0) throw new IllegalArgumentException("sequence " + i + " is empty");
    }
    if (starts == null) return;
    if (starts.length != sequences.size()) {
      throw new IllegalArgumentException("responseStarts has " + starts.length + " entries for " + sequences.size()
          + " sequences");
    }
    for (int i = 0; i < starts.length; i++) {
      int len = sequences.get(i).length;
      if (gate != null ? starts[i] < 1 || starts[i] >= len : starts[i] < 0 || starts[i] > len) {
        throw new IllegalArgumentException("responseStarts[" + i + "] = " + starts[i] + " must be in "
            + (gate != null ? "[1, " + len + ") (at least one prompt token and one response token)" : "[0, " + len + "]")
            + " for a sequence of " + len + " tokens");
      }
    }
  }

  private static int[] slice(int[] a, int from, int to) {
    return a == null ? null : java.util.Arrays.copyOfRange(a, from, to);
  }

  /** Scores normalised with the stored statistics: (raw - mean) / std (a model without a likelihood gate). */
  public float[] scoreNormalized(List<int[]> sequences) {
    return normalized(score(sequences));
  }

  /** Maps raw scores in place with the stored statistics: (raw - mean) / std. */
  private float[] normalized(float[] raw) {
    for (int i = 0; i < raw.length; i++) raw[i] = (float) ((raw[i] - mean) / std);
    return raw;
  }

  /**
   * {@link RewardFunction}: the normalised score of each prompt followed by its response (the prompt as rendered
   * for generation, ending with the assistant header; the response as generated, usually ending with
   * {@code <|end|>}).
   */
  @Override
  public float[] score(List<int[]> promptIds, List<int[]> responseIds) {
    if (promptIds == null || responseIds == null || promptIds.size() != responseIds.size()) {
      throw new IllegalArgumentException("promptIds and responseIds must be lists of the same size");
    }
    List<int[]> seqs = new ArrayList<>(promptIds.size());
    int[] starts = new int[promptIds.size()];
    for (int i = 0; i < promptIds.size(); i++) {
      int[] p = promptIds.get(i), r = responseIds.get(i);
      if (r == null || r.length == 0) throw new IllegalArgumentException("response " + i + " is empty");
      if (gate != null && (p == null || p.length == 0)) {
        throw new IllegalArgumentException("prompt " + i + " is empty; the likelihood gate needs at least one prompt "
            + "token before the response");
      }
      int[] s = new int[(p == null ? 0 : p.length) + r.length];
      if (p != null) System.arraycopy(p, 0, s, 0, p.length);
      System.arraycopy(r, 0, s, s.length - r.length, r.length);
      seqs.add(s);
      starts[i] = Math.max(1, s.length - r.length);
    }
    return normalized(score(seqs, starts));
  }

  /**
   * Forward of up to one batch of right-padded sequences (each ≤ context length); leaves the head ready for
   * {@link ScalarHead#backward}. Returns the raw rewards, one per sequence.
   */
  float[] forward(List<int[]> seqs, int[] starts, float[][] logprobs) {
    int maxT = trunk.config().contextLength();
    int b = seqs.size();
    List<int[]> kept = new ArrayList<>(b);
    int[] st = starts == null ? null : new int[b];
    for (int i = 0; i < b; i++) {
      int[] s = seqs.get(i);
      int cut = Math.max(0, s.length - maxT);
      kept.add(cut > 0 ? java.util.Arrays.copyOfRange(s, cut, s.length) : s);
      if (st != null) st[i] = Math.min(s.length - cut - 1, Math.max(1, starts[i] - cut));
      if (logprobs != null && cut > 0) throw new IllegalArgumentException("precomputed log-probabilities need sequences "
          + "within the context");
    }
    int t = 1;
    for (int[] s : kept) t = Math.max(t, s.length);
    int[] tokens = new int[b * t];
    int[] kvEnd = new int[b];
    int[] last = new int[b];
    for (int i = 0; i < b; i++) {
      int[] s = kept.get(i);
      System.arraycopy(s, 0, tokens, i * t, s.length);
      kvEnd[i] = s.length;
      last[i] = i * t + s.length - 1;
    }
    trunk.forward(tokens, b, t, null, kvEnd);
    lastB = b;
    lastT = t;
    float[] r = head.forward(trunk.hidden(), last);
    gateRow = null;
    if (gate != null) {
      float[][] lp = logprobs != null ? logprobs : referenceLogprobs(kept, st);
      int n = 0;
      for (int i = 0; i < b; i++) n += kept.get(i).length - st[i];
      int[] pos = new int[n];
      gateLp = new float[n];
      gateRow = new int[n];
      int k = 0;
      for (int i = 0; i < b; i++) {
        for (int j = st[i]; j < kept.get(i).length; j++, k++) {
          pos[k] = i * t + j;
          gateLp[k] = lp[i][j - st[i]];
          gateRow[k] = i;
        }
      }
      float[] g = gate.forward(trunk.hidden(), pos);
      for (int q = 0; q < n; q++) r[gateRow[q]] += g[q] * gateLp[q];
    }
    return r;
  }

  int lastB, lastT;
  private int[] gateRow; // the sequence of each gated position of the last forward (null: no gate term)
  private float[] gateLp; // its clipped reference log-probability

  /**
   * Clipped reference log-probabilities of the response tokens: out[i][j] = max(log p_ref(s[start+j] | s[&lt;start+j]),
   * {@link #LOGPROB_FLOOR}) for each sequence s (within the context) and its response start (≥ 1).
   */
  float[][] referenceLogprobs(List<int[]> seqs, int[] starts) {
    if (reference == null) throw new IllegalStateException("this reward model has no likelihood gate");
    float[][] out = new float[seqs.size()][];
    for (int from = 0; from < seqs.size(); from += SCORE_BATCH) {
      int to = Math.min(seqs.size(), from + SCORE_BATCH);
      int b = to - from, t = 1;
      for (int i = from; i < to; i++) t = Math.max(t, seqs.get(i).length);
      int[] tokens = new int[b * t], targets = new int[b * t], kvEnd = new int[b];
      java.util.Arrays.fill(targets, -1);
      for (int i = 0; i < b; i++) {
        int[] s = seqs.get(from + i);
        System.arraycopy(s, 0, tokens, i * t, s.length);
        kvEnd[i] = s.length;
        for (int j = starts[from + i]; j < s.length; j++) targets[i * t + j - 1] = s[j];
      }
      float[] lp = reference.tokenLogprobs(tokens, targets, b, t, null, kvEnd);
      for (int i = 0; i < b; i++) {
        int[] s = seqs.get(from + i);
        int st = starts[from + i];
        float[] row = new float[s.length - st];
        for (int j = st; j < s.length; j++) row[j - st] = Math.max(LOGPROB_FLOOR, lp[i * t + j - 1]);
        out[from + i] = row;
      }
    }
    return out;
  }

  /** Backward of the last {@link #forward}: drewards (one per sequence) into the heads' and trunk's gradients. */
  void backward(float[] drewards, Tensor dhidden) {
    trunk.backend().zero(dhidden);
    head.backward(drewards, dhidden);
    if (gateRow != null) {
      float[] dg = new float[gateRow.length];
      for (int q = 0; q < dg.length; q++) dg[q] = drewards[gateRow[q]] * gateLp[q];
      gate.backward(dg, dhidden);
    }
    trunk.backward(null, dhidden);
  }

  public void zeroGrad() {
    trunk.zeroGrad();
    head.zeroGrad();
    if (gate != null) gate.zeroGrad();
  }

  /** Writes the trunk, head and normalisation statistics (no tokenizer). */
  public void save(Path path) {
    save(path, null);
  }

  /** Writes the trunk, head, normalisation statistics and the tokenizer (nullable). */
  public void save(Path path, Tokenizer tok) {
    Checkpoint.Writer w = new Checkpoint.Writer(trunk.config())
        .tensor(Checkpoint.PARAMS, trunk.params())
        .tensor(HEAD, head.params())
        .string("stage", "reward")
        .number("reward.mean", mean)
        .number("reward.std", std);
    if (gate != null) w.tensor(GATE, gate.params()).tensor(REFERENCE, reference.params());
    if (tok != null) w.tokenizer(tok.toBytes());
    try {
      w.write(path);
    } catch (IOException e) {
      throw new UncheckedIOException("writing reward model " + path, e);
    }
  }

  /** Reads a reward model written by {@link #save}. */
  public static RewardModel load(Path path, Backend backend) throws IOException {
    try (Checkpoint ck = Checkpoint.open(path)) {
      if (!ck.hasTensor(HEAD)) {
        throw new IOException(path + " is not a reward model checkpoint: it has no tensor " + HEAD);
      }
      if (ck.hasTensor(GATE) != ck.hasTensor(REFERENCE)) {
        throw new IOException(path + " has only one of " + GATE + " and " + REFERENCE
            + "; a likelihood-gated reward model needs both");
      }
      GptConfig config = ck.config();
      Gpt trunk = null, reference = null;
      ScalarHead head = null, gate = null;
      try {
        trunk = new Gpt(config, backend, 0);
        ck.readInto(Checkpoint.PARAMS, trunk.params());
        head = new ScalarHead(backend, config.channels(), 0);
        ck.readInto(HEAD, head.params());
        if (ck.hasTensor(GATE)) {
          reference = new Gpt(config, backend, 0);
          ck.readInto(REFERENCE, reference.params());
          gate = new ScalarHead(backend, config.channels(), 0);
          ck.readInto(GATE, gate.params());
        }
        RewardModel rm = new RewardModel(trunk, head, reference, gate);
        if (ck.doubles().containsKey("reward.mean") || ck.doubles().containsKey("reward.std")) {
          rm.setNormalization(ck.requireNumber("reward.mean"), ck.requireNumber("reward.std"));
        }
        return rm;
      } catch (RuntimeException | IOException e) {
        release(trunk, head, reference, gate);
        throw e;
      }
    }
  }

  @Override
  public void close() {
    release(trunk, head, reference, gate);
  }

  /** Closes the parts that exist (any may be null), gate first and trunk last. */
  private static void release(Gpt trunk, ScalarHead head, Gpt reference, ScalarHead gate) {
    if (gate != null) gate.close();
    if (reference != null) reference.close();
    if (head != null) head.close();
    if (trunk != null) trunk.close();
  }
}
