package org.jalign.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Function;
import org.jalign.backend.CpuBackend;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenFile;
import org.jalign.data.TokenSource;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.train.pretrain.PretrainConfig;
import org.jalign.train.pretrain.PretrainTrainer;
import org.jalign.train.pretrain.StepMetrics;
import org.jalign.train.pretrain.TrainingStoppedException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pretraining on tiny models: the loss falls on real text, resume is exact, non-finite steps are contained. */
class PretrainTrainerTest {
  static final CpuBackend CPU = new CpuBackend();
  static final GptConfig BYTES = new GptConfig(2, 2, 32, 32, 256); // byte-level: V = 256, ln V = 5.55
  @TempDir Path dir;

  static final Function<String, int[]> BYTE_ENCODER = s -> {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    int[] r = new int[b.length];
    for (int i = 0; i < b.length; i++) r[i] = b[i] & 0xFF;
    return r;
  };

  static TokenSource corpus() {
    return TokenSource.of(BYTE_ENCODER.apply(Corpus.TEXT), 256);
  }

  static PretrainConfig quiet() {
    return new PretrainConfig().progressBar(false).logEvery(0).peakFlops(1e11);
  }

  @Test
  void lossFallsWellBelowLnVOnRealText() throws IOException {
    Path txt = dir.resolve("corpus.txt");
    Files.writeString(txt, Corpus.TEXT);
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    List<StepMetrics> seen = new ArrayList<>();
    try (TokenFile data = TokenFile.tokenize(List.of(txt), BYTE_ENCODER, 256, -1, 0, dir.resolve("c.tok"));
        Gpt model = new Gpt(BYTES, CPU, 7);
        PretrainTrainer trainer = new PretrainTrainer(model, quiet().batchSize(8).seqLen(32).maxSteps(150)
            .lr(3e-3f).warmupSteps(10).valFraction(0.1).valEvery(50).valBatches(4).logEvery(50)
            .out(new PrintStream(log, true, StandardCharsets.UTF_8)).listener(seen::add), data)) {
      PretrainTrainer.Result r = trainer.train();
      double lnV = Math.log(256);
      double first = seen.get(0).loss();
      assertTrue(Math.abs(first - lnV) < 0.3, "initial loss " + first + " is about ln V = " + lnV);
      assertTrue(r.finalLoss() < 0.55 * lnV, "final training loss " + r.finalLoss() + " vs ln V " + lnV);
      assertTrue(r.finalValLoss() < 0.7 * lnV, "validation loss " + r.finalValLoss());
      assertEquals(0, r.skippedSteps());
      assertEquals(150, seen.size());
      assertEquals(3, seen.stream().filter(m -> !Double.isNaN(m.valLoss())).count());
      for (StepMetrics m : seen) {
        assertTrue(m.tokensPerSecond() > 0 && m.mfu() > 0 && m.gradNorm() > 0 && m.lr() > 0, m.toString());
      }
      assertEquals(3e-3 / 10, seen.get(0).lr(), 1e-9); // warm-up
      String out = log.toString(StandardCharsets.UTF_8);
      assertTrue(out.contains("step 50/150") && out.contains("val "), out);
      assertFalse(out.contains("\r"), "no progress bar when not on a terminal");
    }
  }

  /** N steps straight == k steps, checkpoint, fresh model from the checkpoint, N - k steps: identical bits. */
  @Test
  void resumeIsBitExact() throws IOException {
    int n = 9, k = 4;
    Path ck = dir.resolve("run.ckpt");
    PretrainConfig base = quiet().batchSize(2).seqLen(16).gradAccumSteps(2).maxSteps(n).warmupSteps(3).lr(1e-3f)
        .order(TokenBatcher.Order.RANDOM).seed(99).valFraction(0.2).valEvery(0);
    float[] straight;
    try (Gpt model = new Gpt(BYTES, CPU, 3); PretrainTrainer t = new PretrainTrainer(model, base, corpus())) {
      t.train();
      straight = model.paramsToArray();
    }
    try (Gpt model = new Gpt(BYTES, CPU, 3); PretrainTrainer t = new PretrainTrainer(model, copy(base), corpus())) {
      t.train();
      assertArrayEquals(straight, model.paramsToArray(), "two runs with the same seeds differ");
    }
    try (Gpt model = new Gpt(BYTES, CPU, 3);
        PretrainTrainer t = new PretrainTrainer(model, copy(base).stopAfterSteps(k).checkpointPath(ck), corpus())) {
      assertEquals(k, t.train().steps());
    }
    try (Checkpoint c = Checkpoint.open(ck)) {
      assertEquals(k, c.step());
      assertEquals(k, c.optimizerStep());
      assertEquals("pretrain", c.strings().get("stage"));
    }
    try (Gpt fresh = new Gpt(BYTES, CPU, 12345); // other init: everything must come from the checkpoint
        PretrainTrainer t = new PretrainTrainer(fresh, copy(base).resumeFrom(ck), corpus())) {
      t.train();
      assertEquals(n, t.optimizer().stepCount());
      assertArrayEquals(straight, fresh.paramsToArray(), "resumed parameters differ from the straight run");
    }
    // a different data seed cannot silently resume
    try (Gpt fresh = new Gpt(BYTES, CPU, 1);
        PretrainTrainer t = new PretrainTrainer(fresh, copy(base).seed(5).resumeFrom(ck), corpus())) {
      assertThrows(IllegalArgumentException.class, t::train);
    }
  }

  private static PretrainConfig copy(PretrainConfig c) {
    return quiet().batchSize(c.batchSize()).seqLen(c.seqLen()).gradAccumSteps(c.gradAccumSteps())
        .maxSteps(c.maxSteps()).warmupSteps(c.warmupSteps()).lr(c.lr()).order(c.order()).seed(c.seed())
        .valFraction(c.valFraction()).valEvery(c.valEvery());
  }

  @Test
  void aNonFiniteGradientSkipsTheUpdate() throws IOException {
    Path ck = dir.resolve("nan.ckpt");
    List<StepMetrics> seen = new ArrayList<>();
    float[][] before = new float[1][];
    try (Gpt model = new Gpt(BYTES, CPU, 4);
        PretrainTrainer t = new PretrainTrainer(model, quiet().batchSize(2).seqLen(16).maxSteps(6).warmupSteps(0)
            .checkpointEvery(1).checkpointPath(ck).listener(seen::add), corpus())) {
      int[] step = {0};
      t.gradientHook(g -> {
        if (step[0] == 3) {
          before[0] = model.paramsToArray();
          float[] h = g.toFloatArray();
          h[17] = Float.NaN;
          g.copyFrom(h);
        }
        if (step[0] == 4) assertArrayEquals(before[0], model.paramsToArray(), "the skipped step changed parameters");
        step[0]++;
      });
      PretrainTrainer.Result r = t.train();
      assertEquals(1, r.skippedSteps());
      assertTrue(seen.get(3).skipped() && Double.isNaN(seen.get(3).gradNorm()));
      assertEquals(5, t.optimizer().stepCount());
      assertTrue(Double.isFinite(CPU.sumSquares(model.params())));
    }
    try (Checkpoint c = Checkpoint.open(ck)) {
      assertEquals(6, c.step());
      assertEquals(5, c.optimizerStep());
      assertEquals(1.0, c.doubles().get("pretrain.skipped"));
    }
  }

  @Test
  void consecutiveSkipsStopTrainingAndPoisonIsNeverCheckpointed() throws IOException {
    Path ck = dir.resolve("p.ckpt");
    try (Gpt model = new Gpt(BYTES, CPU, 4);
        PretrainTrainer t = new PretrainTrainer(model, quiet().batchSize(2).seqLen(16).maxSteps(20)
            .maxConsecutiveSkips(3).checkpointEvery(1).checkpointPath(ck), corpus())) {
      int[] step = {0};
      t.gradientHook(g -> {
        if (step[0]++ >= 2) {
          float[] h = g.toFloatArray();
          h[3] = Float.POSITIVE_INFINITY;
          g.copyFrom(h);
        }
      });
      TrainingStoppedException e = assertThrows(TrainingStoppedException.class, t::train);
      assertTrue(e.getMessage().contains("3 consecutive steps"), e.getMessage());
    }
    try (Checkpoint c = Checkpoint.open(ck)) {
      assertTrue(c.step() <= 4, "step " + c.step());
    }
    // poisoned parameters: the update goes through but the checkpoint is refused
    Path ck2 = dir.resolve("q.ckpt");
    try (Gpt model = new Gpt(BYTES, CPU, 4);
        PretrainTrainer t = new PretrainTrainer(model, quiet().batchSize(2).seqLen(16).maxSteps(20)
            .checkpointEvery(1).checkpointPath(ck2), corpus())) {
      int[] step = {0};
      t.gradientHook(g -> {
        if (step[0]++ == 2) {
          float[] p = model.paramsToArray();
          p[5] = Float.NaN;
          model.loadParams(p);
        }
      });
      TrainingStoppedException e = assertThrows(TrainingStoppedException.class, t::train);
      assertTrue(e.getMessage().contains("refusing to checkpoint"), e.getMessage());
    }
    try (Checkpoint c = Checkpoint.open(ck2)) {
      assertEquals(2, c.step());
      float[] p = c.tensor(Checkpoint.PARAMS);
      for (float x : p) assertTrue(Float.isFinite(x));
    }
  }

  @Test
  void trainsFromABatchIterator() {
    TokenSource src = corpus();
    TokenBatcher b = new TokenBatcher(src, 2, 17, TokenBatcher.Order.SEQUENTIAL, 0);
    Iterator<int[]> it = new Iterator<>() {
      @Override
      public boolean hasNext() {
        return true;
      }

      @Override
      public int[] next() {
        TokenBatcher.Batch x = b.next();
        int[] rows = new int[2 * 17];
        for (int r = 0; r < 2; r++) {
          System.arraycopy(x.inputs(), r * 17, rows, r * 17, 17);
        }
        return rows; // rows of 17 = T + 1 tokens with T = 16
      }
    };
    try (Gpt model = new Gpt(BYTES, CPU, 4);
        PretrainTrainer t = new PretrainTrainer(model, quiet().batchSize(2).seqLen(16).maxSteps(30).lr(3e-3f)
            .warmupSteps(2), it)) {
      PretrainTrainer.Result r = t.train();
      assertTrue(r.finalLoss() < r.history().get(0).loss() - 0.5, r.history().get(0).loss() + " -> " + r.finalLoss());
      assertTrue(Double.isNaN(r.finalValLoss()));
    }
    try (Gpt model = new Gpt(BYTES, CPU, 4);
        PretrainTrainer t = new PretrainTrainer(model, quiet().batchSize(2).seqLen(16).maxSteps(2),
            List.of(new int[5]).iterator())) {
      assertThrows(IllegalArgumentException.class, t::train);
    }
  }

  @Test
  void configurationErrorsAreClear() {
    assertThrows(IllegalArgumentException.class, () -> new PretrainConfig().batchSize(0));
    assertThrows(IllegalArgumentException.class, () -> new PretrainConfig().valFraction(1));
    try (Gpt model = new Gpt(BYTES, CPU, 4)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new PretrainTrainer(model, quiet().seqLen(64), corpus()));
      assertTrue(e.getMessage().contains("context length"), e.getMessage());
      assertThrows(IllegalArgumentException.class,
          () -> new PretrainTrainer(model, quiet().seqLen(16), TokenSource.of(new int[10], 256)));
    }
  }
}
