package org.jalign.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import org.jalign.backend.Backend;
import org.jalign.backend.SamplingParams;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.KvCache;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.text.Tokenizer;

/**
 * Batched, KV-cached text generation from a {@link Gpt}.
 *
 * <p>Shape legend: B = batch (prompts), P = longest prompt, C = channels, Vp = padded vocab.
 *
 * <p>Prompts of different lengths are left-padded to P (row b's first valid position is kvStart[b] = P - len_b,
 * and positions count from there, so a padded row computes what it would alone). One prefill pass fills the
 * cache; then each step gathers the last hidden row of every sequence (B,C), applies the LM head to those rows
 * only ((B,C)·lmHeadᵀ → (B,Vp)), and draws one token per row with {@link Backend#sample}. Tokens are sampled from
 * the first {@code tokenizer.vocabSize()} ids (at most the model's vocabulary).
 *
 * <p>A {@link Gpt} is not thread-safe: while a generation runs, any other thread using the same model (another
 * generation, a training step) gets an {@link IllegalStateException}.
 */
public final class Generator {
  private final Gpt model;
  private final Tokenizer tokenizer;
  private final int sampleVocab;
  private final int padId;

  public Generator(Gpt model, Tokenizer tokenizer) {
    if (model == null) throw new IllegalArgumentException("model is null");
    if (tokenizer == null) throw new IllegalArgumentException("tokenizer is null");
    int v = model.config().vocabSize();
    if (tokenizer.vocabSize() > v) {
      throw new IllegalArgumentException("tokenizer has " + tokenizer.vocabSize() + " ids but the model only " + v);
    }
    this.model = model;
    this.tokenizer = tokenizer;
    this.sampleVocab = tokenizer.vocabSize();
    OptionalInt pad = tokenizer.specialId(Tokenizer.PAD);
    this.padId = pad.isPresent() && pad.getAsInt() < v ? pad.getAsInt() : 0;
  }

  public Gpt model() {
    return model;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /** Generates from text prompts (encoded as plain text: special-token strings in them are not special). */
  public GenerationResult generate(List<String> prompts, GenerationConfig config) {
    return generate(prompts, config, null);
  }

  public GenerationResult generate(List<String> prompts, GenerationConfig config, TokenListener listener) {
    if (prompts == null) throw new IllegalArgumentException("prompts is null");
    List<int[]> ids = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) {
      String p = prompts.get(i);
      if (p == null) throw new IllegalArgumentException("prompts[" + i + "] is null");
      ids.add(tokenizer.encode(p));
    }
    return generateIds(ids, config, listener);
  }

  /** Receives the result of one {@link #generateRows} call and the index of its first row. */
  @FunctionalInterface
  public interface RowsConsumer {
    void accept(int firstRow, GenerationResult rows);
  }

  /**
   * Samples {@code copies} responses to every prompt in calls of at most {@code rowsPerCall} rows, so memory stays
   * bounded however many prompts there are. Row r is copy {@code r % copies} of prompt {@code r / copies}. The call
   * whose first row is r samples with seed {@code config.seed() + r} (and the sampler keys each row's stream by its
   * place in the call), so every row has its own stream and a run is reproducible for a given {@code rowsPerCall}.
   * {@code each} receives every call's result, in row order.
   */
  public void generateRows(List<int[]> prompts, int copies, GenerationConfig config, int rowsPerCall,
      RowsConsumer each) {
    if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("prompts must be non-empty");
    if (copies < 1) throw new IllegalArgumentException("copies must be >= 1, got " + copies);
    if (rowsPerCall < 1) throw new IllegalArgumentException("rowsPerCall must be >= 1, got " + rowsPerCall);
    if (config == null) throw new IllegalArgumentException("config is null");
    if (each == null) throw new IllegalArgumentException("each is null");
    long rows = (long) prompts.size() * copies;
    if (rows > Integer.MAX_VALUE) throw new IllegalArgumentException(rows + " rows are too many");
    for (int first = 0; first < rows; first += rowsPerCall) {
      int n = (int) Math.min(rowsPerCall, rows - first);
      List<int[]> batch = new ArrayList<>(n);
      for (int r = first; r < first + n; r++) batch.add(prompts.get(r / copies));
      each.accept(first, generateIds(batch, config.toBuilder().seed(config.seed() + first).build(), null));
    }
  }

  /** {@link #generateRows(List, int, GenerationConfig, int, RowsConsumer)}, every row collected in order. */
  public List<GenerationResult.Sequence> generateRows(List<int[]> prompts, int copies, GenerationConfig config,
      int rowsPerCall) {
    List<GenerationResult.Sequence> out = new ArrayList<>();
    generateRows(prompts, copies, config, rowsPerCall, (first, r) -> out.addAll(r.rows()));
    return out;
  }

  /** Generates from tokenized prompts (each non-empty, ids in the tokenizer's vocabulary). */
  public GenerationResult generateIds(List<int[]> prompts, GenerationConfig config, TokenListener listener) {
    if (config == null) throw new IllegalArgumentException("config is null");
    if (prompts == null || prompts.isEmpty()) throw new IllegalArgumentException("prompts must be non-empty");
    GptConfig mc = model.config();
    int b = prompts.size();
    int p = 0;
    for (int i = 0; i < b; i++) {
      int[] ids = prompts.get(i);
      if (ids == null || ids.length == 0) throw new IllegalArgumentException("prompt " + i + " is empty");
      for (int j = 0; j < ids.length; j++) {
        if (ids[j] < 0 || ids[j] >= sampleVocab) {
          throw new IllegalArgumentException("prompt " + i + " token " + j + " = " + ids[j]
              + " is outside the vocabulary [0, " + sampleVocab + ")");
        }
      }
      p = Math.max(p, ids.length);
    }
    if (p >= mc.contextLength()) {
      throw new IllegalArgumentException("a prompt of " + p + " tokens leaves no room in the context length "
          + mc.contextLength());
    }
    boolean[] stopId = stopIds(config);
    try (Gpt.Use use = model.enter(); Scope scope = Scope.open()) {
      return run(prompts, config, listener, b, p, stopId);
    }
  }

  private boolean[] stopIds(GenerationConfig config) {
    boolean[] stop = new boolean[sampleVocab];
    for (int id : config.stopTokenIds()) {
      if (id < 0 || id >= sampleVocab) {
        throw new IllegalArgumentException("stop token id " + id + " is outside the vocabulary [0, " + sampleVocab
            + ")");
      }
      stop[id] = true;
    }
    if (config.stopAtEndTokens()) {
      for (String s : List.of(Tokenizer.ENDOFTEXT, Tokenizer.END)) {
        OptionalInt id = tokenizer.specialId(s);
        if (id.isPresent() && id.getAsInt() < sampleVocab) stop[id.getAsInt()] = true;
      }
    }
    return stop;
  }

  /** Per-row state of a generation. */
  private final class Row {
    final int[] prompt;
    int[] ids = new int[16];
    float[] lpRaw = new float[16];
    float[] lpSampled = new float[16];
    int n;
    int textIds; // leading ids that are part of the text (excludes a final stop token)
    int emitted; // chars of text already streamed
    String text = "";
    FinishReason finish;

    Row(int[] prompt) {
      this.prompt = prompt.clone();
    }

    void add(int id, float raw, float sampled) {
      if (n == ids.length) {
        ids = Arrays.copyOf(ids, 2 * n);
        lpRaw = Arrays.copyOf(lpRaw, 2 * n);
        lpSampled = Arrays.copyOf(lpSampled, 2 * n);
      }
      ids[n] = id;
      lpRaw[n] = raw;
      lpSampled[n] = sampled;
      n++;
    }

    GenerationResult.Sequence result() {
      return new GenerationResult.Sequence(prompt, Arrays.copyOf(ids, n), text, Arrays.copyOf(lpRaw, n),
          Arrays.copyOf(lpSampled, n), finish);
    }
  }

  private GenerationResult run(List<int[]> prompts, GenerationConfig config, TokenListener listener, int b, int p,
      boolean[] stopId) {
    Backend be = model.backend();
    GptConfig mc = model.config();
    int c = mc.channels(), vp = mc.paddedVocab();
    int total = Math.min(mc.contextLength(), p + config.maxNewTokens());
    Row[] rows = new Row[b];
    int[] tokens = new int[b * p];
    int[] kvStart = new int[b];
    int[] last = new int[b];
    boolean padded = false;
    for (int i = 0; i < b; i++) {
      int[] ids = prompts.get(i);
      rows[i] = new Row(ids);
      kvStart[i] = p - ids.length;
      padded |= kvStart[i] != 0;
      Arrays.fill(tokens, i * p, i * p + kvStart[i], padId);
      System.arraycopy(ids, 0, tokens, i * p + kvStart[i], ids.length);
      last[i] = i * p + p - 1;
    }
    int[] start = padded ? kvStart : null;
    SamplingParams params = SamplingParams.uniform(b, config.temperature(), config.topK(), config.topP(),
        config.minP(), config.seed());
    List<String> stops = config.stopStrings();
    int maxStop = 0;
    for (String s : stops) maxStop = Math.max(maxStop, s.length());

    try (KvCache cache = model.newKvCache(b, total)) {
      Tensor lastIdx = be.fromArray(last, b);
      Tensor hiddenRows = be.zeros(DType.F32, b, c); // (B,C)
      Tensor logits = be.zeros(DType.F32, b, vp); // (B,Vp)
      Tensor next = be.zeros(DType.I32, b);
      Tensor lpS = be.zeros(DType.F32, b);
      Tensor lpR = be.zeros(DType.F32, b);
      Tensor lmHead = model.lmHead();
      int[] nextHost = new int[b];
      float[] lpSHost = new float[b];
      float[] lpRHost = new float[b];

      Tensor hidden = model.hiddenCached(cache, tokens, b, p, 0, start); // (B,P,C)
      be.gatherRows(hiddenRows, hidden.view((long) b * p, c), lastIdx);
      Tensor h = hiddenRows;
      int active = b;
      for (int step = 0; ; step++) {
        be.matmul(logits, h, lmHead, null, false, true, false);
        be.sample(next, lpS, lpR, logits, sampleVocab, params, step);
        be.copyToHost(nextHost, next);
        be.copyToHost(lpSHost, lpS);
        be.copyToHost(lpRHost, lpR);
        int newLen = p + step + 1;
        for (int i = 0; i < b; i++) {
          Row r = rows[i];
          if (r.finish != null) {
            nextHost[i] = r.ids[r.n - 1]; // keep feeding a valid token; the row's output is final
            continue;
          }
          int id = nextHost[i];
          r.add(id, lpRHost[i], lpSHost[i]);
          String piece = advance(r, id, stopId, stops, maxStop, config, newLen, total);
          if (r.finish != null) active--;
          if (listener != null) listener.onToken(i, id, piece);
        }
        if (active == 0) break;
        h = model.hiddenCached(cache, nextHost, b, 1, p + step, start).view(b, c);
      }
    }
    List<GenerationResult.Sequence> out = new ArrayList<>(b);
    for (Row r : rows) out.add(r.result());
    return new GenerationResult(out);
  }

  /**
   * Updates a row after it appended {@code id}: decides whether it finished and returns the text that became
   * final (to stream).
   */
  private String advance(Row r, int id, boolean[] stopId, List<String> stops, int maxStop, GenerationConfig config,
      int seqLen, int total) {
    if (stopId[id]) {
      r.finish = FinishReason.STOP_TOKEN;
      return flush(r, r.text.length());
    }
    r.textIds = r.n;
    String text = tokenizer.decode(Arrays.copyOf(r.ids, r.textIds));
    r.text = text;
    if (!stops.isEmpty()) {
      int from = Math.max(0, r.emitted - maxStop);
      int cut = -1;
      for (String s : stops) {
        int at = text.indexOf(s, from);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        r.finish = FinishReason.STOP_STRING;
        r.text = text.substring(0, Math.max(cut, r.emitted));
        return flush(r, r.text.length());
      }
    }
    if (r.n >= config.maxNewTokens()) {
      r.finish = FinishReason.MAX_TOKENS;
      return flush(r, text.length());
    }
    if (seqLen >= total) {
      r.finish = FinishReason.CONTEXT_FULL;
      return flush(r, text.length());
    }
    // hold back a trailing replacement character (maybe a partial UTF-8 sequence) and any suffix that could
    // still grow into a stop string
    int end = text.length();
    while (end > r.emitted && text.charAt(end - 1) == '\uFFFD') end--;
    int hold = 0;
    for (String s : stops) {
      for (int k = Math.min(s.length() - 1, end - r.emitted); k > hold; k--) {
        if (text.regionMatches(end - k, s, 0, k)) {
          hold = k;
          break;
        }
      }
    }
    return flush(r, end - hold);
  }

  private static String flush(Row r, int upTo) {
    if (upTo <= r.emitted) return "";
    String piece = r.text.substring(r.emitted, upTo);
    r.emitted = upTo;
    return piece;
  }
}
