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
 * <p>Checkpoint layout: the trunk's {@code model/params}, {@code reward/head} = [w (C), b], numbers
 * {@code reward.mean}, {@code reward.std}, string {@code stage = reward}, and the tokenizer when given.
 */
public final class RewardModel implements RewardFunction, AutoCloseable {
  /** The checkpoint tensor holding the head. */
  public static final String HEAD = "reward/head";
  /** Sequences per forward pass when scoring. */
  public static final int SCORE_BATCH = 16;

  private final Gpt trunk;
  private final ScalarHead head;
  private double mean = 0.0;
  private double std = 1.0;

  /** Wraps a trunk and head (both owned by the reward model from now on). */
  public RewardModel(Gpt trunk, ScalarHead head) {
    if (trunk == null || head == null) throw new IllegalArgumentException("trunk and head are required");
    if (head.channels() != trunk.config().channels()) {
      throw new IllegalArgumentException("head has " + head.channels() + " channels, trunk " + trunk.config().channels());
    }
    this.trunk = trunk;
    this.head = head;
  }

  /** A reward model whose trunk is a copy of {@code sft}'s weights and whose head is freshly initialised. */
  public static RewardModel fromPolicy(Gpt sft, long seed) {
    if (sft == null) throw new IllegalArgumentException("sft is null");
    Gpt trunk = new Gpt(sft.config(), sft.backend(), seed);
    try {
      trunk.copyParamsFrom(sft);
      return new RewardModel(trunk, new ScalarHead(sft.backend(), sft.config().channels(), seed ^ 0x5EEDL));
    } catch (RuntimeException e) {
      trunk.close();
      throw e;
    }
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

  /** Raw scores of whole token sequences (each non-empty, ids in the vocabulary). */
  public float[] score(List<int[]> sequences) {
    if (sequences == null) throw new IllegalArgumentException("sequences is null");
    float[] out = new float[sequences.size()];
    int maxT = trunk.config().contextLength();
    for (int from = 0; from < sequences.size(); from += SCORE_BATCH) {
      List<int[]> chunk = new ArrayList<>();
      for (int i = from; i < Math.min(sequences.size(), from + SCORE_BATCH); i++) {
        int[] s = sequences.get(i);
        if (s == null || s.length == 0) throw new IllegalArgumentException("sequence " + i + " is empty");
        chunk.add(s.length > maxT ? java.util.Arrays.copyOfRange(s, s.length - maxT, s.length) : s);
      }
      float[] r = forward(chunk);
      System.arraycopy(r, 0, out, from, r.length);
    }
    return out;
  }

  /** Scores normalised with the stored statistics: (raw - mean) / std. */
  public float[] scoreNormalized(List<int[]> sequences) {
    float[] raw = score(sequences);
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
    for (int i = 0; i < promptIds.size(); i++) {
      int[] p = promptIds.get(i), r = responseIds.get(i);
      if (r == null || r.length == 0) throw new IllegalArgumentException("response " + i + " is empty");
      int[] s = new int[(p == null ? 0 : p.length) + r.length];
      if (p != null) System.arraycopy(p, 0, s, 0, p.length);
      System.arraycopy(r, 0, s, s.length - r.length, r.length);
      seqs.add(s);
    }
    return scoreNormalized(seqs);
  }

  /**
   * Forward of up to one batch of right-padded sequences (each ≤ context length); leaves the head ready for
   * {@link ScalarHead#backward}. Returns the raw rewards, one per sequence.
   */
  float[] forward(List<int[]> seqs) {
    int b = seqs.size();
    int t = 1;
    for (int[] s : seqs) t = Math.max(t, s.length);
    int[] tokens = new int[b * t];
    int[] kvEnd = new int[b];
    int[] last = new int[b];
    for (int i = 0; i < b; i++) {
      int[] s = seqs.get(i);
      System.arraycopy(s, 0, tokens, i * t, s.length);
      kvEnd[i] = s.length;
      last[i] = i * t + s.length - 1;
    }
    trunk.forward(tokens, b, t, null, kvEnd);
    lastB = b;
    lastT = t;
    return head.forward(trunk.hidden(), last);
  }

  int lastB, lastT;

  /** Backward of the last {@link #forward}: drewards (one per sequence) into the head and trunk gradients. */
  void backward(float[] drewards, Tensor dhidden) {
    trunk.backend().zero(dhidden);
    head.backward(drewards, dhidden);
    trunk.backward(null, dhidden);
  }

  public void zeroGrad() {
    trunk.zeroGrad();
    head.zeroGrad();
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
      GptConfig config = ck.config();
      Gpt trunk = new Gpt(config, backend, 0);
      try {
        ck.readInto(Checkpoint.PARAMS, trunk.params());
        ScalarHead head = new ScalarHead(backend, config.channels(), 0);
        ck.readInto(HEAD, head.params());
        RewardModel rm = new RewardModel(trunk, head);
        Double m = ck.doubles().get("reward.mean"), s = ck.doubles().get("reward.std");
        if (m != null && s != null) rm.setNormalization(m, s);
        return rm;
      } catch (RuntimeException | IOException e) {
        trunk.close();
        throw e;
      }
    }
  }

  @Override
  public void close() {
    head.close();
    trunk.close();
  }
}
