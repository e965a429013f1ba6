package org.jalign.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jalign.backend.CpuBackend;
import org.jalign.data.TokenSource;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ParamSpec;
import org.jalign.tensor.Tensor;
import org.jalign.train.pretrain.PretrainConfig;
import org.jalign.train.pretrain.PretrainTrainer;
import org.jalign.train.pretrain.StepMetrics;
import org.jalign.train.pretrain.TrainingStoppedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Numerical faults during pretraining: NaN or Inf reaching the forward pass (a poisoned embedding row) or the
 * gradient. The step is skipped and reported, the optimizer moments stay finite, and no checkpoint with
 * non-finite values is ever written.
 */
class NumericalFaultTest {
  static final CpuBackend CPU = new CpuBackend();
  static final GptConfig CFG = new GptConfig(2, 2, 32, 32, 256);
  static final String TEXT = "the quick brown fox jumps over the lazy dog; ".repeat(40);
  @TempDir Path dir;

  @AfterAll
  static void close() {
    CPU.close();
  }

  static TokenSource corpus() {
    byte[] b = TEXT.getBytes(StandardCharsets.UTF_8);
    int[] ids = new int[b.length];
    for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xFF;
    return TokenSource.of(ids, 256);
  }

  static PretrainConfig quiet() {
    return new PretrainConfig().progressBar(false).logEvery(0).peakFlops(1e11).batchSize(2).seqLen(16)
        .warmupSteps(0);
  }

  /** Offset of position 0's row in wpe: every sequence of every batch reads it. */
  static long wpeRow0() {
    for (ParamSpec s : CFG.paramSpecs()) if (s.name().equals("wpe")) return s.offset();
    throw new AssertionError("no wpe");
  }

  static boolean finite(Tensor t) {
    for (float x : t.toFloatArray()) if (!Float.isFinite(x)) return false;
    return true;
  }

  static void poisonRow(Gpt model, float value, float[] saved) {
    float[] p = model.paramsToArray();
    int at = (int) wpeRow0();
    if (saved != null) System.arraycopy(p, at, saved, 0, CFG.channels());
    for (int c = 0; c < CFG.channels(); c++) p[at + c] = value;
    model.loadParams(p);
  }

  static void restoreRow(Gpt model, float[] saved) {
    float[] p = model.paramsToArray();
    System.arraycopy(saved, 0, p, (int) wpeRow0(), CFG.channels());
    model.loadParams(p);
  }

  /** A transient NaN/Inf in the batch's embeddings: that step is skipped, everything else trains normally. */
  @Test
  void aPoisonedEmbeddingRowSkipsTheStep() throws Exception {
    for (float poison : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
      Path ck = dir.resolve("emb-" + (int) poison + ".ckpt");
      List<StepMetrics> seen = new ArrayList<>();
      float[] saved = new float[CFG.channels()];
      Gpt[] hold = new Gpt[1];
      // the listener runs after step k's update: poison the row after step 1 so step 2's forward reads it
      PretrainConfig cfg = quiet().maxSteps(8).checkpointEvery(4).checkpointPath(ck).listener(m -> {
        seen.add(m);
        if (m.step() == 1) poisonRow(hold[0], poison, saved);
      });
      try (Gpt model = new Gpt(CFG, CPU, 3); PretrainTrainer t = new PretrainTrainer(model, cfg, corpus())) {
        hold[0] = model;
        int[] step = {0};
        t.gradientHook(g -> {
          if (step[0] == 2) restoreRow(model, saved); // the fault was transient: healed before the update
          step[0]++;
        });
        PretrainTrainer.Result r = t.train();
        assertEquals(1, r.skippedSteps(), "poison " + poison);
        StepMetrics hit = seen.get(2);
        assertTrue(hit.skipped(), "step 2 reported as skipped");
        assertTrue(!Double.isFinite(hit.loss()), "step 2 loss " + hit.loss());
        assertEquals(7, t.optimizer().stepCount(), "the skipped step must not advance AdamW");
        assertTrue(finite(t.optimizer().m()) && finite(t.optimizer().v()), "AdamW moments stay finite");
        assertTrue(finite(model.params()), "weights stay finite");
        assertTrue(Double.isFinite(r.finalLoss()));
      }
      try (Checkpoint c = Checkpoint.open(ck)) {
        assertEquals(8, c.step());
        for (float x : c.tensor(Checkpoint.PARAMS)) assertTrue(Float.isFinite(x));
      }
    }
  }

  /** A fault that persists: training stops, and the checkpoint on disk is the last finite one. */
  @Test
  void aPersistentFaultStopsTrainingAndKeepsTheLastGoodCheckpoint() throws Exception {
    Path ck = dir.resolve("persist.ckpt");
    Gpt[] hold = new Gpt[1];
    PretrainConfig cfg = quiet().maxSteps(30).maxConsecutiveSkips(3).checkpointEvery(2).checkpointPath(ck)
        .listener(m -> {
          if (m.step() == 4) poisonRow(hold[0], Float.NaN, null);
        });
    try (Gpt model = new Gpt(CFG, CPU, 3); PretrainTrainer t = new PretrainTrainer(model, cfg, corpus())) {
      hold[0] = model;
      TrainingStoppedException e = assertThrows(TrainingStoppedException.class, t::train);
      assertTrue(e.getMessage().contains("not finite") || e.getMessage().contains("consecutive"), e.getMessage());
    }
    try (Checkpoint c = Checkpoint.open(ck)) {
      // step index 3 ends with the checkpoint "4 steps done"; the poison lands after step index 4's update
      assertEquals(4, c.step(), "the last checkpoint before the fault is kept");
      for (float x : c.tensor(Checkpoint.PARAMS)) assertTrue(Float.isFinite(x));
      for (float x : c.tensor(Checkpoint.ADAM_M)) assertTrue(Float.isFinite(x));
      for (float x : c.tensor(Checkpoint.ADAM_V)) assertTrue(Float.isFinite(x));
    }
  }

  /** NaN and Inf in the gradient: skipped, reported, weights and moments untouched. */
  @Test
  void nonFiniteGradientsAreSkipped() {
    for (float poison : new float[] {Float.NaN, Float.NEGATIVE_INFINITY}) {
      List<StepMetrics> seen = new ArrayList<>();
      try (Gpt model = new Gpt(CFG, CPU, 5);
          PretrainTrainer t = new PretrainTrainer(model, quiet().maxSteps(6).listener(seen::add), corpus())) {
        int[] step = {0};
        float[][] before = new float[2][];
        t.gradientHook(g -> {
          if (step[0] == 3) {
            before[0] = model.paramsToArray();
            before[1] = t.optimizer().m().toFloatArray();
            float[] h = g.toFloatArray();
            h[h.length / 2] = poison;
            g.copyFrom(h);
          }
          if (step[0] == 4) {
            assertTrue(java.util.Arrays.equals(before[0], model.paramsToArray()), "skipped step moved weights");
            assertTrue(java.util.Arrays.equals(before[1], t.optimizer().m().toFloatArray()), "skipped step moved m");
          }
          step[0]++;
        });
        PretrainTrainer.Result r = t.train();
        assertEquals(1, r.skippedSteps());
        assertTrue(seen.get(3).skipped());
        assertTrue(finite(model.params()) && finite(t.optimizer().v()));
      }
    }
  }
}
