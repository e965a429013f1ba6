package org.jalign.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.jalign.backend.CpuBackend;
import org.jalign.data.PairwiseExample;
import org.jalign.data.SftExample;
import org.jalign.io.Checkpoint;
import org.jalign.io.Gpt2Safetensors;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.jalign.text.ByteTokenizer;
import org.jalign.train.dpo.DpoConfig;
import org.jalign.train.dpo.DpoTrainer;
import org.jalign.train.ppo.PpoConfig;
import org.jalign.train.ppo.PpoTrainer;
import org.jalign.train.ppo.RewardFunction;
import org.jalign.train.reward.RewardConfig;
import org.jalign.train.reward.RewardModel;
import org.jalign.train.reward.RewardTrainer;
import org.jalign.train.sft.SftConfig;
import org.jalign.train.sft.SftResult;
import org.jalign.train.sft.SftTrainer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Llama-family trunk on tiny random models of each family (Llama with an untied head, SmolLM2-like tied,
 * Qwen2 with q/k/v biases, Mistral-like multi-query, Llama 3.1 rope scaling): logits against the double-precision
 * Hugging Face reference {@link RefLlama}, gradients of every parameter tensor by central finite differences,
 * KV-cached decode against the full forward, the checkpoint's configuration, refusals, and one run of each
 * trainer (SFT, reward model, DPO, PPO) on a Llama-shaped model.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, NKV = kv heads, F = intermediate, Vp = padded vocab.
 */
class LlamaTrunkTest {
  static final CpuBackend CPU = new CpuBackend();
  static final int V = 300, MAXT = 16;
  static long baseline;

  @BeforeAll
  static void warm() {
    try (Tensor t = CPU.zeros(DType.F32, 4)) {
      CPU.sumSquares(t);
    }
    baseline = CPU.liveBytes();
  }

  @AfterAll
  static void leaks() {
    assertEquals(baseline, CPU.liveBytes(), "native memory left allocated");
  }

  record Family(String name, GptConfig cfg) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Family> families() {
    return Stream.of(
        new Family("llama-untied", GptConfig.llama(2, 4, 2, 32, 40, MAXT, V, RopeConfig.of(10000, 8), 1e-5f, false)),
        new Family("smollm2-tied", GptConfig.llama(2, 4, 2, 32, 48, MAXT, V, RopeConfig.of(100000, 8), 1e-5f, true)),
        new Family("qwen2-qkv-bias", GptConfig.qwen2(2, 4, 2, 48, 64, MAXT, V, RopeConfig.of(1e6, 12), 1e-6f, true)),
        new Family("mistral-mqa", GptConfig.llama(2, 4, 1, 32, 40, MAXT, V, RopeConfig.of(1e6, 8), 1e-5f, false)),
        new Family("llama3-scaled", GptConfig.llama(2, 4, 2, 32, 40, MAXT, V,
            new RopeConfig(500000, 8, new RopeConfig.Llama3Scaling(8, 1, 4, 6)), 1e-5f, true)));
  }

  /** Random parameters of a size that gives well-conditioned gradients; padded rows of wte/lmhead stay 0. */
  static float[] randomParams(GptConfig cfg, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] p = new float[(int) cfg.parameterCount()];
    for (ParamSpec s : cfg.paramSpecs()) {
      boolean normWeight = s.name().matches("ln.w");
      boolean bias = s.name().endsWith("b") && !normWeight;
      boolean vocabRows = s.name().equals("wte") || s.name().equals(GptConfig.LM_HEAD);
      long n = vocabRows ? (long) cfg.vocabSize() * cfg.channels() : s.numel();
      for (long i = 0; i < n; i++) {
        double z = Ref.gauss(r);
        p[(int) (s.offset() + i)] = (float) (normWeight ? 1 + 0.1 * z : bias ? 0.05 * z : 0.15 * z);
      }
    }
    return p;
  }

  static int[] randomTokens(SplittableRandom r, int n, int vocab) {
    int[] t = new int[n];
    for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
    return t;
  }

  static List<String> names(GptConfig cfg) {
    return cfg.paramSpecs().stream().map(ParamSpec::name).toList();
  }

  // ------------------------------------------------------------------ config and layout

  @Test
  void layoutFollowsTheBlockChoices() {
    GptConfig llama = GptConfig.llama(2, 4, 2, 32, 40, MAXT, V, RopeConfig.of(10000, 8), 1e-5f, false);
    assertEquals(List.of("wte", "ln1w", "qkvw", "attprojw", "ln2w", "fcw", "fcprojw", "lnfw", "lmhead"), names(llama));
    assertArrayEquals(new long[] {2, (4 + 2 * 2) * 8, 32}, llama.paramSpecs().get(2).shape());
    assertArrayEquals(new long[] {2, 80, 32}, llama.paramSpecs().get(5).shape()); // gate and up rows
    assertArrayEquals(new long[] {2, 32, 40}, llama.paramSpecs().get(6).shape());
    assertArrayEquals(new long[] {320, 32}, llama.paramSpecs().get(8).shape());
    long c = 32, l = 2;
    assertEquals(2 * 320 * c + l * (c + 64 * c + c * c + c + 80 * c + c * 40) + c, llama.parameterCount());
    GptConfig qwen = GptConfig.qwen2(2, 4, 2, 48, 64, MAXT, V, RopeConfig.of(1e6, 12), 1e-6f, true);
    assertEquals(List.of("wte", "ln1w", "qkvw", "qkvb", "attprojw", "ln2w", "fcw", "fcprojw", "lnfw"), names(qwen));
    assertFalse(llama.isGpt2());
    assertTrue(llama.toString().contains("kvHeads=2"), llama.toString());
    // GPT-2 keeps its constructor, its layout and its printed form (stored in PPO checkpoints)
    GptConfig gpt2 = new GptConfig(2, 2, 16, 12, 60);
    assertTrue(gpt2.isGpt2());
    assertEquals(GptConfig.PARAM_NAMES, names(gpt2));
    assertEquals("GptConfig[layers=2, heads=2, channels=16, contextLength=12, vocabSize=60]", gpt2.toString());
    assertEquals(new GptConfig(2, 2, 16, 12, 60, 2, 64, GptConfig.Norm.LAYER_NORM, 1e-5f, null, GptConfig.Mlp.GELU,
        GptConfig.Biases.ALL, true), gpt2);
  }

  @Test
  void unsupportedShapesAreRefusedByName() {
    GptConfig.requireHeadDim(64, 2048, 32);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> GptConfig.requireHeadDim(128, 2048, 32));
    assertTrue(e.getMessage().contains("head_dim 128"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> GptConfig.llama(2, 4, 2, 32, 40, MAXT, V, RopeConfig.of(10000, 16), 1e-5f, false));
    assertTrue(e.getMessage().contains("rope head size 16"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> GptConfig.llama(2, 4, 3, 48, 40, MAXT, V, RopeConfig.of(10000, 12), 1e-5f, false));
    assertTrue(e.getMessage().contains("kvHeads 3"), e.getMessage());
    GptConfig cfg = families().findFirst().orElseThrow().cfg();
    try (Gpt m = new Gpt(cfg, CPU, 1)) {
      e = assertThrows(IllegalArgumentException.class, () -> m.param("wpe"));
      assertTrue(e.getMessage().contains("in this configuration"), e.getMessage());
      assertArrayEquals(new long[] {cfg.paddedVocab(), 32}, m.lmHead().shape());
      assertArrayEquals(m.param(GptConfig.LM_HEAD).toFloatArray(), m.lmHead().toFloatArray());
      assertFalse(Arrays.equals(m.param("wte").toFloatArray(), m.lmHead().toFloatArray()), "untied head");
      e = assertThrows(IllegalArgumentException.class,
          () -> Gpt2Safetensors.export(cfg, new float[(int) cfg.parameterCount()], Path.of("unused")));
      assertTrue(e.getMessage().contains("not a GPT-2 configuration"), e.getMessage());
    }
  }

  // ------------------------------------------------------------------ forward

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void logitsMatchTheHuggingFaceReference(Family f) {
    GptConfig cfg = f.cfg();
    int b = 2, t = 11, vp = cfg.paddedVocab();
    SplittableRandom r = new SplittableRandom(f.name().hashCode());
    int[] tokens = randomTokens(r, b * t, V);
    float[] params = randomParams(cfg, 5);
    try (Gpt m = new Gpt(cfg, CPU, 0)) {
      m.loadParams(params);
      for (int[][] range : new int[][][] {{null, null}, {{0, 3}, {11, 9}}}) {
        int[] start = range[0], end = range[1];
        float[] got = m.forward(tokens, b, t, start, end).toFloatArray();
        double[] want = RefLlama.forward(cfg, params, tokens, b, t, start, end);
        for (int row = 0; row < b; row++) {
          int s = start == null ? 0 : start[row], e = end == null ? t : end[row];
          for (int i = s; i < e; i++) {
            Ref.assertClose(f + " row " + row + " t " + i, Arrays.copyOfRange(want, (row * t + i) * vp,
                (row * t + i + 1) * vp), Arrays.copyOfRange(got, (row * t + i) * vp, (row * t + i + 1) * vp), 2e-5, 2e-4);
          }
        }
      }
      // a left-padded row computes what the unpadded sequence computes (positions start at its first token)
      int[] alone = Arrays.copyOfRange(tokens, t + 3, 2 * t);
      float[] unpadded = m.forward(alone, 1, t - 3, null, null).toFloatArray();
      float[] padded = m.forward(tokens, b, t, new int[] {0, 3}, null).toFloatArray();
      Ref.assertClose(f + " left padding", unpadded, Arrays.copyOfRange(padded, (t + 3) * vp, 2 * t * vp), 1e-5, 1e-4);
    }
  }

  // ------------------------------------------------------------------ backward

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void gradientsOfEveryParameterMatchFiniteDifferences(Family f) {
    GptConfig cfg = f.cfg();
    int b = 2, t = 8;
    SplittableRandom r = new SplittableRandom(f.name().hashCode() + 1L);
    int[] tokens = randomTokens(r, b * t, V);
    int[] targets = randomTokens(r, b * t, V);
    float[] weights = new float[b * t];
    for (int i = 0; i < weights.length; i++) weights[i] = 0.5f + r.nextFloat();
    int[] start = {2, 0}, end = {8, 6};
    for (int i : new int[] {0, 1, 3, 14, 15}) targets[i] = -1;
    float[] params = randomParams(cfg, 13);
    try (Gpt m = new Gpt(cfg, CPU, 0)) {
      m.loadParams(params);
      m.zeroGrad();
      float loss = m.lossAndBackward(tokens, targets, weights, b, t, start, end);
      assertEquals(GptTest.loss(m, params, tokens, targets, weights, b, t, start, end), loss, 1e-5);
      float[] grads = m.grads().toFloatArray();
      List<String> failures = new ArrayList<>();
      for (ParamSpec s : cfg.paramSpecs()) {
        int off = (int) s.offset(), n = (int) s.numel();
        List<Integer> picks = new ArrayList<>(); // the 3 largest analytic entries and 2 random ones
        for (int k = 0; k < 3; k++) {
          int best = -1;
          for (int i = 0; i < n; i++) {
            if (picks.contains(off + i)) continue;
            if (best < 0 || Math.abs(grads[off + i]) > Math.abs(grads[best])) best = off + i;
          }
          picks.add(best);
        }
        for (int k = 0; k < 2; k++) picks.add(off + r.nextInt(n));
        assertNotEquals(0f, grads[picks.get(0)], f + " " + s.name() + " has no gradient");
        for (int idx : picks) {
          double fd = Ref.centralDiff(params, idx, 1e-2,
              () -> GptTest.loss(m, params, tokens, targets, weights, b, t, start, end));
          double an = grads[idx];
          if (Math.abs(fd - an) > 1e-4 + 0.03 * Math.abs(fd)) {
            failures.add(s.name() + "[" + (idx - off) + "]: analytic " + an + ", finite difference " + fd);
          }
        }
      }
      if (!failures.isEmpty()) fail(f + " gradient mismatches:\n" + String.join("\n", failures));
      for (ParamSpec s : cfg.paramSpecs()) { // padded vocabulary rows never get a gradient
        if (!s.name().equals("wte") && !s.name().equals(GptConfig.LM_HEAD)) continue;
        for (long i = (long) V * cfg.channels(); i < s.numel(); i++) {
          assertEquals(0f, grads[(int) (s.offset() + i)], "padded " + s.name() + " gradient");
        }
      }
    }
  }

  /** A training step of the Llama trunk gives the same loss, logits and gradients at 1, 2 and 3 CPU threads. */
  @Test
  void aTrainingStepIsIndependentOfTheThreadCount() {
    GptConfig cfg = families().skip(2).findFirst().orElseThrow().cfg(); // qwen2: biases, GQA, RoPE, SwiGLU
    int b = 3, t = 13;
    SplittableRandom r = new SplittableRandom(77);
    int[] tokens = randomTokens(r, b * t, V), targets = randomTokens(r, b * t, V);
    int[] start = {0, 4, 1};
    float[] params = randomParams(cfg, 77);
    List<float[]> runs = new ArrayList<>();
    try (Gpt m = new Gpt(cfg, CPU, 0)) {
      m.loadParams(params);
      for (int threads : new int[] {1, 2, 3, 2}) {
        CpuBackend.setNumThreads(threads);
        m.zeroGrad();
        float loss = m.lossAndBackward(tokens, targets, null, b, t, start, null);
        float[] g = m.grads().toFloatArray();
        float[] all = Arrays.copyOf(g, g.length + 1);
        all[g.length] = loss;
        runs.add(all);
      }
    } finally {
      CpuBackend.setNumThreads(0);
    }
    for (int i = 1; i < runs.size(); i++) assertArrayEquals(runs.get(0), runs.get(i), "run " + i + " differs");
  }

  // ------------------------------------------------------------------ KV cache

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void kvCachedDecodeEqualsTheFullForward(Family f) {
    GptConfig cfg = f.cfg();
    int b = 2, t = 12, prefill = 5, vp = cfg.paddedVocab();
    SplittableRandom r = new SplittableRandom(31);
    int[] tokens = randomTokens(r, b * t, V);
    try (Gpt m = new Gpt(cfg, CPU, 0)) {
      m.loadParams(randomParams(cfg, 32));
      for (int[] start : new int[][] {null, {0, 3}}) {
        float[] full = m.forward(tokens, b, t, start, null).toFloatArray();
        try (KvCache cache = m.newKvCache(b, t)) {
          assertArrayEquals(new long[] {b, t, cfg.kvHeads(), cfg.headSize()}, cache.keys(0).shape());
          int[] first = new int[b * prefill];
          for (int row = 0; row < b; row++) System.arraycopy(tokens, row * t, first, row * prefill, prefill);
          float[] got = m.forwardCached(cache, first, b, prefill, 0, start).toFloatArray();
          for (int row = 0; row < b; row++) {
            for (int i = start == null ? 0 : start[row]; i < prefill; i++) {
              Ref.assertClose(f + " prefill row " + row + " t " + i,
                  Arrays.copyOfRange(full, (row * t + i) * vp, (row * t + i + 1) * vp),
                  Arrays.copyOfRange(got, (row * prefill + i) * vp, (row * prefill + i + 1) * vp), 1e-5, 1e-4);
            }
          }
          // one chunk of two tokens, then one token at a time
          int pos = prefill;
          while (pos < t) {
            int tq = pos == prefill ? 2 : 1;
            int[] chunk = new int[b * tq];
            for (int row = 0; row < b; row++) System.arraycopy(tokens, row * t + pos, chunk, row * tq, tq);
            float[] out = m.forwardCached(cache, chunk, b, tq, pos, start).toFloatArray();
            for (int row = 0; row < b; row++) {
              for (int i = 0; i < tq; i++) {
                Ref.assertClose(f + " cached row " + row + " pos " + (pos + i),
                    Arrays.copyOfRange(full, (row * t + pos + i) * vp, (row * t + pos + i + 1) * vp),
                    Arrays.copyOfRange(out, (row * tq + i) * vp, (row * tq + i + 1) * vp), 1e-5, 1e-4);
              }
            }
            pos += tq;
          }
          assertEquals(t, cache.length());
        }
      }
    }
  }

  /** Batched, left-padded greedy generation (the KV-cached Generator path, untied head) = argmax of full forwards. */
  @Test
  void greedyGenerationOfLeftPaddedPromptsFollowsTheFullForward() {
    GptConfig cfg = TINY_LLAMA;
    try (Gpt m = new Gpt(cfg, CPU, 9)) {
      m.loadParams(randomParams(cfg, 9));
      org.jalign.generate.Generator gen = new org.jalign.generate.Generator(m, TOK);
      List<int[]> prompts = List.of(new int[] {5, 77, 120}, new int[] {9}, new int[] {1, 2, 3, 4, 5, 6});
      org.jalign.generate.GenerationConfig gc = org.jalign.generate.GenerationConfig.builder().maxNewTokens(8)
          .temperature(0).stopAtEndTokens(false).build();
      org.jalign.generate.GenerationResult res = gen.generateIds(prompts, gc, null);
      int vp = cfg.paddedVocab(), v = cfg.vocabSize();
      for (int i = 0; i < prompts.size(); i++) {
        int[] seq = prompts.get(i).clone();
        int[] got = res.row(i).generatedIds();
        assertEquals(8, got.length);
        for (int k = 0; k < 8; k++) {
          float[] logits = m.forward(seq, 1, seq.length, null, null).toFloatArray();
          int off = (seq.length - 1) * vp, best = 0;
          for (int j = 1; j < v; j++) if (logits[off + j] > logits[off + best]) best = j;
          assertEquals(best, got[k], "row " + i + " token " + k);
          seq = Arrays.copyOf(seq, seq.length + 1);
          seq[seq.length - 1] = best;
        }
      }
    }
  }

  // ------------------------------------------------------------------ checkpoint

  @Test
  void checkpointsStoreTheBlockAndGpt2CheckpointsStayVersionOne(@TempDir Path dir) throws Exception {
    for (Family f : families().toList()) {
      GptConfig cfg = f.cfg();
      Path p = dir.resolve(f.name() + ".ckpt");
      float[] params = randomParams(cfg, 3);
      try (Gpt m = new Gpt(cfg, CPU, 0)) {
        m.loadParams(params);
        new Checkpoint.Writer(cfg).step(5).tensor(Checkpoint.PARAMS, m.params()).write(p);
      }
      try (Checkpoint ck = Checkpoint.open(p)) {
        assertEquals(cfg, ck.config(), f.name());
        assertEquals(5, ck.step());
      }
      assertEquals(2, formatVersion(p), f.name());
    }
    Path g = dir.resolve("gpt2.ckpt");
    GptConfig gpt2 = new GptConfig(2, 2, 16, 12, 60);
    try (Gpt m = new Gpt(gpt2, CPU, 0)) {
      new Checkpoint.Writer(gpt2).tensor(Checkpoint.PARAMS, m.params()).write(g);
    }
    try (Checkpoint ck = Checkpoint.open(g)) {
      assertEquals(gpt2, ck.config());
      assertTrue(ck.config().isGpt2());
    }
    assertEquals(1, formatVersion(g));
  }

  /** A Llama model saved with its tokenizer loads back with the same block, parameters and logits. */
  @Test
  void modelFilesRoundTripALlamaModel(@TempDir Path dir) throws Exception {
    Path p = dir.resolve("llama.ckpt");
    int[] tokens = {1, 50, 99, 7, 3};
    try (Gpt m = new Gpt(TINY_LLAMA, CPU, 12)) {
      m.loadParams(randomParams(TINY_LLAMA, 12));
      float[] logits = m.forward(tokens, 1, tokens.length, null, null).toFloatArray();
      org.jalign.io.ModelFiles.save(p, m, TOK, "sft");
      try (org.jalign.io.ModelFiles.Loaded back = org.jalign.io.ModelFiles.load(p, CPU)) {
        assertEquals(TINY_LLAMA, back.model().config());
        assertArrayEquals(m.paramsToArray(), back.model().paramsToArray());
        assertArrayEquals(logits, back.model().forward(tokens, 1, tokens.length, null, null).toFloatArray());
      }
    }
  }

  /** The format_version field of a checkpoint's metadata (the FlatBuffer after the 64-byte header). */
  static long formatVersion(Path p) throws Exception {
    java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(Files.readAllBytes(p)).position(64).slice()
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    return org.jalign.io.fb.CheckpointMeta.getRootAsCheckpointMeta(bb).formatVersion();
  }

  // ------------------------------------------------------------------ the trainers see a trunk

  static final ByteTokenizer TOK = new ByteTokenizer();
  static final GptConfig TINY_LLAMA = GptConfig.llama(2, 4, 2, 32, 48, 40, TOK.vocabSize(), RopeConfig.of(10000, 8),
      1e-5f, false);
  static final PrintStream QUIET = new PrintStream(new ByteArrayOutputStream());

  static List<SftExample> upperCase(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<SftExample> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String w = word(r);
      out.add(SftExample.of(w, w.toUpperCase() + "!"));
    }
    return out;
  }

  static List<PairwiseExample> pairs(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<PairwiseExample> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String w = word(r);
      out.add(new PairwiseExample(w, w.toUpperCase(), word(r)));
    }
    return out;
  }

  static String word(SplittableRandom r) {
    StringBuilder sb = new StringBuilder();
    for (int i = 2 + r.nextInt(4); i > 0; i--) sb.append((char) ('a' + r.nextInt(26)));
    return sb.toString();
  }

  static void assertChangedAndFinite(String what, float[] before, float[] after) {
    assertFalse(Arrays.equals(before, after), what + ": parameters did not change");
    for (float v : after) assertTrue(Float.isFinite(v), what + ": a parameter is not finite");
  }

  @Test
  void sftTrainsALlamaTrunk() {
    try (Gpt policy = new Gpt(TINY_LLAMA, CPU, 3)) {
      float[] before = policy.paramsToArray();
      SftConfig cfg = new SftConfig().lr(3e-3f).batchSize(8).maxSteps(30).evalEvery(30).out(null);
      SftResult res = new SftTrainer(policy, TOK, cfg, upperCase(64, 1), upperCase(16, 2)).train();
      assertChangedAndFinite("sft", before, policy.paramsToArray());
      assertTrue(res.evalLossEnd() < res.evalLossStart() - 0.1, "eval loss " + res.evalLossStart() + " -> "
          + res.evalLossEnd());
    }
  }

  @Test
  void rewardModelAndDpoTrainOnALlamaTrunk() {
    try (Gpt base = new Gpt(TINY_LLAMA, CPU, 4); RewardModel rm = RewardModel.fromPolicy(base, 5)) {
      float[] trunk = rm.trunk().paramsToArray(), head = rm.head().paramsToArray();
      RewardTrainer.ofPairs(rm, TOK, new RewardConfig().batchSize(4).maxSteps(2).out(null), pairs(8, 1), List.of())
          .train();
      assertChangedAndFinite("reward trunk", trunk, rm.trunk().paramsToArray());
      assertChangedAndFinite("reward head", head, rm.head().paramsToArray());
    }
    try (Gpt policy = new Gpt(TINY_LLAMA, CPU, 6); Gpt ref = new Gpt(TINY_LLAMA, CPU, 6)) {
      float[] before = policy.paramsToArray();
      new DpoTrainer(policy, ref, TOK, new DpoConfig().beta(0.5).batchSize(4).maxSteps(2).out(null), pairs(8, 2),
          List.of()).train();
      assertChangedAndFinite("dpo", before, policy.paramsToArray());
      assertArrayEquals(before, ref.paramsToArray(), "the DPO reference is frozen");
    }
  }

  static final RewardFunction LOWERCASE = (prompts, responses) -> {
    float[] s = new float[responses.size()];
    for (int i = 0; i < s.length; i++) {
      for (int id : responses.get(i)) if (id >= 'a' && id <= 'z') s[i]++;
    }
    return s;
  };

  /** Policy, critic and value-head parameters after a PPO run (resumed from {@code resumeFrom} when given). */
  static float[][] ppo(PpoConfig cfg, Path saveAt, Path resumeFrom) {
    try (Gpt policy = new Gpt(TINY_LLAMA, CPU, 11); Gpt ref = new Gpt(TINY_LLAMA, CPU, 11);
        PpoTrainer tr = new PpoTrainer(policy, ref, LOWERCASE, TOK, cfg, List.of("Q: hi", "Q: why", "Q: ok"))) {
      assertEquals(TINY_LLAMA, tr.critic().config());
      if (resumeFrom != null) tr.resume(resumeFrom);
      tr.train();
      if (saveAt != null) tr.save(saveAt);
      return new float[][] {policy.paramsToArray(), tr.critic().paramsToArray(), tr.valueHead().paramsToArray()};
    }
  }

  /** PPO (rollouts through the KV-cached Generator) trains a Llama trunk, and a resumed run continues exactly. */
  @Test
  void ppoTrainsALlamaTrunkAndResumesBitIdentically(@TempDir Path dir) {
    PpoConfig full = PpoConfig.builder().batchSize(4).miniBatches(1).ppoEpochs(1).responseLength(6).steps(2)
        .lr(3e-3f).criticLr(3e-3f).seed(7).out(QUIET).build();
    float[] init;
    try (Gpt policy = new Gpt(TINY_LLAMA, CPU, 11)) {
      init = policy.paramsToArray();
    }
    float[][] straight = ppo(full, null, null);
    assertChangedAndFinite("ppo policy", init, straight[0]);
    Path ck = dir.resolve("ppo.ckpt");
    ppo(full.toBuilder().steps(1).build(), ck, null);
    float[][] resumed = ppo(full, null, ck);
    assertArrayEquals(straight[0], resumed[0], "policy after resume");
    assertArrayEquals(straight[1], resumed[1], "critic after resume");
    assertArrayEquals(straight[2], resumed[2], "value head after resume");
  }
}
