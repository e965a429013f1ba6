package org.jalign.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.jalign.cli.CliRun;
import org.jalign.lifecycle.LifecycleConfig.Arch;
import org.jalign.model.GptConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad lifecycle settings are refused before any work, with a message naming the setting. */
class LifecycleConfigTest {

  static void refused(String part, Consumer<LifecycleConfig> change) {
    LifecycleConfig c = LifecycleConfig.quick();
    change.accept(c);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Lifecycle(c));
    assertTrue(e.getMessage().contains(part), "message: " + e.getMessage());
  }

  @Test
  void badSettingsAreRefusedWithTheirName() {
    LifecycleConfig.defaults().validate();
    LifecycleConfig.quick().validate();
    refused("vocabSize must be > 0", c -> c.vocabSize = 0);
    refused("channels 100 must be divisible by heads 3", c -> {
      c.channels = 100;
      c.heads = 3;
    });
    refused("pretrainSeqLen 200 exceeds contextLength 160", c -> c.pretrainSeqLen = 200);
    refused("rewardK must be >= 2", c -> c.rewardK = 1);
    refused("rewardRankingsPerPrompt must be > 0", c -> c.rewardRankingsPerPrompt = 0);
    refused("rewardMaxLength must be in [2, contextLength=160], got 1", c -> c.rewardMaxLength = 1);
    refused("rewardMaxLength must be in [2, contextLength=160], got 161", c -> c.rewardMaxLength = 161);
    refused("rejectionSamples must be 0 (off) or >= 2", c -> c.rejectionSamples = 1);
    refused("rejectionLr must be finite and > 0", c -> c.rejectionLr = Float.NaN);
    refused("rejectionIterations must be > 0", c -> c.rejectionIterations = 0);
    refused("ppoLr must be finite and > 0", c -> c.ppoLr = 0f);
    refused("refreshSamples must be in [1, rewardK=4]", c -> c.refreshSamples = 5);
    refused("rejectionConsensus must be finite and >= 0", c -> c.rejectionConsensus = -1f);
    refused("rejectionGreedyMargin must be finite and >= 0", c -> c.rejectionGreedyMargin = Float.NaN);
    refused("ppoPtxCoef must be finite and >= 0", c -> c.ppoPtxCoef = -1f);
    refused("ppoPtxCoef must be finite and >= 0", c -> c.ppoPtxCoef = Float.NaN);
    refused("ppoDemoCoef must be finite and >= 0", c -> c.ppoDemoCoef = -0.5f);
    refused("rlhfRounds must be > 0", c -> c.rlhfRounds = 0);
    refused("sftPtxCoef must be finite and >= 0", c -> c.sftPtxCoef = -0.1f);
    refused("rejectionPtxCoef must be finite and >= 0", c -> c.rejectionPtxCoef = Float.POSITIVE_INFINITY);
    refused("kvHeads 3 must divide heads 4", c -> {
      c.arch = Arch.LLAMA;
      c.kvHeads = 3;
    });
    refused("intermediateSize must be > 0", c -> {
      c.arch = Arch.LLAMA;
      c.intermediateSize = 0;
    });
    refused("arch (--arch) is null", c -> c.arch = null);
  }

  @Test
  void archParsesAndBuildsItsBlock() {
    assertEquals(Arch.GPT2, LifecycleConfig.defaults().arch, "the default architecture");
    assertEquals(Arch.GPT2, LifecycleConfig.quick().arch);
    assertEquals(Arch.GPT2, Arch.parse("gpt2"));
    assertEquals(Arch.LLAMA, Arch.parse("llama"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Arch.parse("gpt3"));
    assertEquals("arch (--arch) must be one of gpt2, llama, got 'gpt3'", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Arch.parse("Llama"), "spelled as the option lists it");

    for (LifecycleConfig c : new LifecycleConfig[] {LifecycleConfig.defaults(), LifecycleConfig.quick()}) {
      GptConfig gpt2 = c.model(500);
      assertTrue(gpt2.isGpt2(), gpt2.toString());
      GptConfig llama = c.arch(Arch.LLAMA).validate().model(500);
      assertEquals(GptConfig.Norm.RMS_NORM, llama.norm());
      assertEquals(GptConfig.Mlp.SWIGLU, llama.mlp());
      assertEquals(GptConfig.Biases.NONE, llama.biases());
      assertEquals(c.ropeTheta, llama.rope().theta());
      assertTrue(llama.kvHeads() < llama.heads(), "grouped-query attention: " + llama);
      assertEquals(gpt2.layers(), llama.layers());
      assertEquals(gpt2.channels(), llama.channels());
      // the same size (no learned positions, fewer k/v rows, three MLP matrices), so the same training time
      double ratio = (double) llama.parameterCount() / gpt2.parameterCount();
      assertTrue(ratio > 0.85 && ratio < 1.1, "llama / gpt2 parameters " + ratio);
    }
  }

  @Test
  void theCommandLineRefusesThemBeforeWritingAnything(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("run");
    CliRun r = CliRun.run("lifecycle", "--quick", "--out", out.toString(), "--ppo-ptx-coef", "-0.5");
    assertEquals(1, r.rc());
    assertTrue(r.err().contains("ppoPtxCoef must be finite and >= 0"), r.err());
    assertTrue(!Files.exists(out), "the output directory was created for a refused run");
    CliRun one = CliRun.run("lifecycle", "--quick", "--out", out.toString(), "--rejection-samples", "1");
    assertEquals(1, one.rc());
    assertTrue(one.err().contains("rejectionSamples must be 0 (off) or >= 2"), one.err());
    assertTrue(!Files.exists(out), "the output directory was created for a refused run");
    CliRun arch = CliRun.run("lifecycle", "--quick", "--out", out.toString(), "--arch", "mamba");
    assertEquals(1, arch.rc());
    assertTrue(arch.err().contains("arch (--arch) must be one of gpt2, llama, got 'mamba'"), arch.err());
    assertTrue(!Files.exists(out), "the output directory was created for a refused run");
    CliRun demo = CliRun.run("lifecycle", "--quick", "--out", out.toString(), "--ppo-demo-coef", "NaN");
    assertEquals(1, demo.rc());
    assertTrue(demo.err().contains("ppoDemoCoef must be finite and >= 0"), demo.err());
    assertTrue(!Files.exists(out), "the output directory was created for a refused run");
  }
}
