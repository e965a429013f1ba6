package org.jalign.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jalign.backend.CpuBackend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;
import org.jalign.text.ByteTokenizer;
import org.jalign.text.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generation tests: greedy decoding of a model overfit on one sequence, KV-cached decoding against full
 * recomputation, stop tokens and strings, streaming, reproducibility, thread-safety, argument checks.
 *
 * <p>Shape legend: B = batch, T = time, V = vocab, Vp = padded vocab.
 */
class GeneratorTest {
  static final CpuBackend CPU = new CpuBackend();
  static final Tokenizer TOK = new ByteTokenizer();
  static final int EOS = TOK.tokenId(Tokenizer.ENDOFTEXT);
  static final String TEXT = "hello jalign world!";
  static final GptConfig CFG = new GptConfig(2, 2, 32, 32, TOK.vocabSize());
  static Gpt overfit;

  /** A model trained until it reproduces TEXT followed by end-of-text. */
  @BeforeAll
  static void train() {
    int[] ids = TOK.encode(TEXT);
    int n = ids.length;
    int[] tokens = Arrays.copyOf(ids, n);
    int[] targets = new int[n];
    System.arraycopy(ids, 1, targets, 0, n - 1);
    targets[n - 1] = EOS;
    overfit = new Gpt(CFG, CPU, 3);
    try (Tensor m = CPU.zeros(DType.F32, CFG.parameterCount()); Tensor v = CPU.zeros(DType.F32, CFG.parameterCount())) {
      float loss = 0;
      for (int step = 1; step <= 250; step++) {
        overfit.zeroGrad();
        loss = overfit.lossAndBackward(tokens, targets, null, 1, n, null, null);
        CPU.adamw(overfit.params(), overfit.grads(), m, v, 1e-2f, 0.9f, 0.95f, 1e-8f, 0f, step, 1f);
      }
      assertTrue(loss < 0.01, "overfit loss " + loss);
    }
  }

  @AfterAll
  static void close() {
    overfit.close();
    assertEquals(0, CPU.liveBytes(), "native memory left allocated");
  }

  @Test
  void greedyDecodingReproducesTheTrainedSequenceForPromptsOfDifferentLengths() {
    Generator gen = new Generator(overfit, TOK);
    List<String> prompts = List.of("hello", "hello jal", "h");
    List<String> pieces = new ArrayList<>(List.of("", "", ""));
    GenerationResult r = gen.generate(prompts, GenerationConfig.greedy(40),
        (row, id, piece) -> pieces.set(row, pieces.get(row) + piece));
    for (int i = 0; i < prompts.size(); i++) {
      GenerationResult.Sequence s = r.row(i);
      assertEquals(TEXT.substring(prompts.get(i).length()), s.text(), "row " + i);
      assertEquals(FinishReason.STOP_TOKEN, s.finishReason());
      assertEquals(EOS, s.generatedIds()[s.generatedIds().length - 1]);
      assertEquals(s.text(), pieces.get(i), "streamed pieces of row " + i);
      assertArrayEquals(TOK.encode(prompts.get(i)), s.promptIds());
      for (float lp : s.logprobs()) assertTrue(lp > -0.1 && lp <= 0, "confident greedy log-prob " + lp);
      for (float lp : s.sampledLogprobs()) assertEquals(0f, lp, 1e-6, "greedy sampled log-prob");
    }
  }

  @Test
  void kvCachedGreedyDecodingEqualsFullRecomputation() {
    SplittableRandom rnd = new SplittableRandom(5);
    try (Gpt m = new Gpt(CFG, CPU, 9)) {
      // a livelier random model than the 0.02 initialisation
      float[] p = m.paramsToArray();
      for (int i = 0; i < p.length; i++) p[i] *= 8;
      m.loadParams(p);
      Generator gen = new Generator(m, TOK);
      List<int[]> prompts = List.of(new int[] {5, 77, 120}, new int[] {9}, new int[] {1, 2, 3, 4, 5, 6});
      GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(10).temperature(0).stopAtEndTokens(false).build();
      GenerationResult r = gen.generateIds(prompts, cfg, null);
      int vp = CFG.paddedVocab(), v = TOK.vocabSize();
      for (int i = 0; i < prompts.size(); i++) {
        int[] seq = prompts.get(i).clone();
        GenerationResult.Sequence s = r.row(i);
        assertEquals(10, s.generatedIds().length);
        assertEquals(FinishReason.MAX_TOKENS, s.finishReason());
        for (int k = 0; k < 10; k++) {
          float[] logits = m.forward(seq, 1, seq.length, null, null).toFloatArray();
          int off = (seq.length - 1) * vp;
          int best = 0;
          double mx = Double.NEGATIVE_INFINITY, sum = 0;
          for (int j = 0; j < v; j++) {
            if (logits[off + j] > mx) {
              mx = logits[off + j];
              best = j;
            }
          }
          for (int j = 0; j < v; j++) sum += Math.exp(logits[off + j] - mx);
          assertEquals(best, s.generatedIds()[k], "row " + i + " token " + k);
          assertEquals(-Math.log(sum), s.logprobs()[k], 1e-4, "raw log-prob row " + i + " token " + k);
          seq = Arrays.copyOf(seq, seq.length + 1);
          seq[seq.length - 1] = best;
        }
      }
      assertTrue(rnd.nextInt(2) >= 0);
    }
  }

  @Test
  void stopStringsCutTheTextAndStreamingNeverShowsThem() {
    Generator gen = new Generator(overfit, TOK);
    StringBuilder streamed = new StringBuilder();
    GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(40).temperature(0).stopStrings("wor", "xyz")
        .build();
    GenerationResult r = gen.generate(List.of("hello"), cfg, (row, id, piece) -> streamed.append(piece));
    assertEquals(" jalign ", r.row(0).text());
    assertEquals(FinishReason.STOP_STRING, r.row(0).finishReason());
    assertEquals(" jalign ", streamed.toString());
    assertEquals(" jalign wor".length(), r.row(0).generatedIds().length);

    GenerationResult capped = gen.generate(List.of("hello"), GenerationConfig.greedy(4), null);
    assertEquals(" jal", capped.row(0).text());
    assertEquals(FinishReason.MAX_TOKENS, capped.row(0).finishReason());

    GenerationConfig byId = GenerationConfig.builder().maxNewTokens(40).temperature(0)
        .stopTokenIds(TOK.encode("g")[0]).build();
    GenerationResult r2 = gen.generate(List.of("hello"), byId, null);
    assertEquals(" jali", r2.row(0).text());
    assertEquals(FinishReason.STOP_TOKEN, r2.row(0).finishReason());
  }

  @Test
  void generationStopsAtTheContextLength() {
    Generator gen = new Generator(overfit, TOK);
    String prompt = "x".repeat(CFG.contextLength() - 3);
    GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(50).temperature(1f).stopAtEndTokens(false).build();
    GenerationResult r = gen.generate(List.of(prompt), cfg, null);
    assertEquals(3, r.row(0).generatedIds().length);
    assertEquals(FinishReason.CONTEXT_FULL, r.row(0).finishReason());
  }

  @Test
  void samplingIsReproducibleForASeed() {
    try (Gpt m = new Gpt(CFG, CPU, 10)) {
      Generator gen = new Generator(m, TOK);
      GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(12).temperature(1f).topK(50).topP(0.9f).seed(4)
          .stopAtEndTokens(false).build();
      List<String> prompts = List.of("abc", "a longer prompt");
      GenerationResult a = gen.generate(prompts, cfg, null);
      GenerationResult b = gen.generate(prompts, cfg, null);
      GenerationResult c = gen.generate(prompts, cfg.toBuilder().seed(5).build(), null);
      for (int i = 0; i < 2; i++) {
        assertArrayEquals(a.row(i).generatedIds(), b.row(i).generatedIds());
        assertArrayEquals(a.row(i).sampledLogprobs(), b.row(i).sampledLogprobs());
        for (int k = 0; k < 12; k++) {
          assertTrue(a.row(i).sampledLogprobs()[k] >= a.row(i).logprobs()[k] - 1e-5,
              "filtered distribution gives at least the raw probability");
        }
      }
      assertNotEquals(Arrays.toString(a.row(0).generatedIds()) + Arrays.toString(a.row(1).generatedIds()),
          Arrays.toString(c.row(0).generatedIds()) + Arrays.toString(c.row(1).generatedIds()));
      assertEquals(24, a.generatedTokens());
    }
  }

  @Test
  void generateRowsMatchesExplicitCallsWithOneSeedPerCall() {
    try (Gpt m = new Gpt(CFG, CPU, 11)) {
      Generator gen = new Generator(m, TOK);
      GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(6).temperature(1f).seed(40)
          .stopAtEndTokens(false).build();
      List<int[]> prompts = List.of(TOK.encode("ab"), TOK.encode("a longer one"), TOK.encode("c"));
      int copies = 3, perCall = 4; // 9 rows in calls of 4, 4 and 1: calls split a prompt's copies
      List<Integer> firsts = new java.util.ArrayList<>();
      List<GenerationResult.Sequence> rows = new java.util.ArrayList<>();
      gen.generateRows(prompts, copies, cfg, perCall, (first, r) -> {
        firsts.add(first);
        rows.addAll(r.rows());
      });
      assertEquals(List.of(0, 4, 8), firsts);
      assertEquals(9, rows.size());
      for (int first : firsts) {
        List<int[]> batch = new java.util.ArrayList<>();
        for (int r = first; r < Math.min(9, first + perCall); r++) batch.add(prompts.get(r / copies));
        GenerationResult want = gen.generateIds(batch, cfg.toBuilder().seed(40 + first).build(), null);
        for (int j = 0; j < want.size(); j++) {
          assertArrayEquals(batch.get(j), rows.get(first + j).promptIds(), "row " + (first + j) + "'s prompt");
          assertArrayEquals(want.row(j).generatedIds(), rows.get(first + j).generatedIds(), "row " + (first + j));
        }
      }
      List<GenerationResult.Sequence> collected = gen.generateRows(prompts, copies, cfg, perCall);
      for (int r = 0; r < 9; r++) assertArrayEquals(rows.get(r).generatedIds(), collected.get(r).generatedIds());
      assertNotEquals(Arrays.toString(rows.get(0).generatedIds()), Arrays.toString(rows.get(1).generatedIds()),
          "copies of a prompt are different samples");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> gen.generateRows(prompts, 0, cfg, perCall));
      assertTrue(e.getMessage().contains("copies must be >= 1"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> gen.generateRows(prompts, 1, cfg, 0));
      assertTrue(e.getMessage().contains("rowsPerCall must be >= 1"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> gen.generateRows(List.of(), 1, cfg, 1));
    }
  }

  @Test
  void concurrentUseOfOneModelIsRefused() throws Exception {
    Generator gen = new Generator(overfit, TOK);
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        gen.generate(List.of("hello"), GenerationConfig.greedy(5), (row, id, piece) -> {
          inside.countDown();
          try {
            release.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "generator-thread");
    t.start();
    try {
      assertTrue(inside.await(10, TimeUnit.SECONDS));
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> gen.generate(List.of("hi"), GenerationConfig.greedy(2), null));
      assertTrue(e.getMessage().contains("generator-thread"), e.getMessage());
      assertThrows(IllegalStateException.class, () -> overfit.forward(new int[] {1, 2}, 1, 2, null, null));
      assertThrows(IllegalStateException.class, () -> new Generator(overfit, TOK).generate(List.of("x"),
          GenerationConfig.greedy(1), null));
    } finally {
      release.countDown();
      t.join(10_000);
    }
    assertEquals(null, failure.get());
    // free again once the other thread is done
    assertEquals(1, gen.generate(List.of("hello"), GenerationConfig.greedy(1), null).row(0).generatedIds().length);
  }

  @Test
  void badInputsGiveClearExceptions() {
    Generator gen = new Generator(overfit, TOK);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> gen.generate(List.of("x".repeat(CFG.contextLength())), GenerationConfig.greedy(2), null));
    assertTrue(e.getMessage().contains("context length"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> gen.generate(List.of(""), GenerationConfig.greedy(2), null));
    e = assertThrows(IllegalArgumentException.class,
        () -> gen.generateIds(List.of(new int[] {1, 400}), GenerationConfig.greedy(2), null));
    assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().maxNewTokens(0).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().topP(0f).build());
    assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().stopStrings("").build());
    try (Gpt small = new Gpt(new GptConfig(1, 1, 8, 8, 100), CPU, 0)) {
      assertThrows(IllegalArgumentException.class, () -> new Generator(small, TOK));
    }
  }
}
