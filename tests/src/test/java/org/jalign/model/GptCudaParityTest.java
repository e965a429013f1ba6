package org.jalign.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.jalign.backend.Backend;
import org.jalign.backend.Backends;
import org.jalign.backend.CpuBackend;
import org.jalign.optim.AdamW;
import org.jalign.optim.AdamWConfig;
import org.jalign.optim.GradClip;
import org.jalign.tensor.Device;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A training step on the CUDA backend agrees with the same step on the CPU backend: logits, loss, every
 * gradient, the global grad norm, and the parameters after three AdamW steps, from the same parameters and
 * batch, for GPT-2 and for a Llama-shaped trunk (RMSNorm, RoPE, SwiGLU, grouped-query attention, untied head) with
 * left-padded rows. Skipped (with a reason) without a GPU. {@code -Djalign.parity.device=cpu} runs the comparison against a
 * second CPU backend, which rehearses the test where there is no GPU.
 *
 * <p>Shape legend: B = batch, T = time, C = channels, NH = heads, V = vocab, Vp = padded vocab.
 */
@Tag("cuda")
class GptCudaParityTest {
  /** L=2, NH=4, C=64, maxT=64, V=100 (Vp=128): non-multiple-of-64 vocab, HS=16. */
  static final GptConfig CFG = new GptConfig(2, 4, 64, 64, 100);
  /** Llama-shaped: L=2, NH=4, NKV=2, C=64, F=96, maxT=64, V=100, untied head. */
  static final GptConfig LLAMA = GptConfig.llama(2, 4, 2, 64, 96, 64, 100, RopeConfig.of(10000, 16), 1e-5f, false);
  static final int B = 3;
  static final int T = 48;

  private static Backend other() {
    String d = System.getProperty("jalign.parity.device", "cuda");
    if (!d.equalsIgnoreCase("cpu")) {
      assumeTrue(Backends.cudaAvailable(), "no CUDA device here");
    }
    return Backends.create(Device.parse(d));
  }

  static Stream<GptConfig> configs() {
    return Stream.of(CFG, LLAMA);
  }

  @ParameterizedTest
  @MethodSource("configs")
  void trainingStepMatchesCpu(GptConfig cfg) {
    Backend gpu = other();
    boolean llama = !cfg.isGpt2();
    int[] start = llama ? new int[] {0, 5, 2} : null; // left padding: RoPE positions from each row's start
    try (CpuBackend cpu = new CpuBackend();
        Gpt a = new Gpt(cfg, cpu, 1);
        Gpt b = new Gpt(cfg, gpu, 1)) {
      float[] p = llama ? LlamaTrunkTest.randomParams(cfg, 11) : GptTest.randomParams(cfg, 11);
      a.loadParams(p);
      b.loadParams(p);
      SplittableRandom r = new SplittableRandom(5);
      int[] tokens = GptTest.randomTokens(r, B * T, cfg.vocabSize());
      int[] targets = GptTest.randomTokens(r, B * T, cfg.vocabSize());
      if (start != null) {
        for (int row = 0; row < B; row++) for (int i = 0; i < start[row]; i++) targets[row * T + i] = -1;
      }

      float[] logitsA = a.forward(tokens, B, T, start, null).toFloatArray();
      float[] logitsB = b.forward(tokens, B, T, start, null).toFloatArray();
      assertEquals(logitsA.length, logitsB.length);
      if (start != null) { // logits at padded positions are meaningless
        int vp = cfg.paddedVocab();
        for (int row = 0; row < B; row++) {
          java.util.Arrays.fill(logitsA, row * T * vp, (row * T + start[row]) * vp, 0f);
          java.util.Arrays.fill(logitsB, row * T * vp, (row * T + start[row]) * vp, 0f);
        }
      }
      Ref.assertClose("logits", logitsA, logitsB, 2e-4, 2e-4);

      a.zeroGrad();
      b.zeroGrad();
      float lossA = a.lossAndBackward(tokens, targets, null, B, T, start, null);
      float lossB = b.lossAndBackward(tokens, targets, null, B, T, start, null);
      assertTrue(Float.isFinite(lossA) && lossA > 0, "loss " + lossA);
      assertEquals(lossA, lossB, 1e-4 * Math.abs(lossA), "loss");
      for (ParamSpec s : cfg.paramSpecs()) {
        Ref.assertClose("grad " + s.name(), a.grad(s.name()).toFloatArray(), b.grad(s.name()).toFloatArray(), 2e-4,
            2e-3);
      }
      double normA = GradClip.globalNorm(cpu, a.grads());
      double normB = GradClip.globalNorm(gpu, b.grads());
      assertEquals(normA, normB, 1e-4 * normA, "grad norm");

      try (AdamW oa = new AdamW(cpu, a.params().numel(), AdamWConfig.defaults());
          AdamW ob = new AdamW(gpu, b.params().numel(), AdamWConfig.defaults())) {
        for (int step = 0; step < 3; step++) {
          if (step > 0) {
            a.zeroGrad();
            b.zeroGrad();
            a.lossAndBackward(tokens, targets, null, B, T, start, null);
            b.lossAndBackward(tokens, targets, null, B, T, start, null);
          }
          oa.step(a.params(), a.grads(), 1e-3f, 1f);
          ob.step(b.params(), b.grads(), 1e-3f, 1f);
        }
      }
      float[] pa = a.paramsToArray();
      float[] pb = b.paramsToArray();
      float maxMove = 0;
      for (int i = 0; i < p.length; i++) maxMove = Math.max(maxMove, Math.abs(pa[i] - p[i]));
      assertTrue(maxMove > 1e-3f, "AdamW moved the parameters by at most " + maxMove);
      Ref.assertClose("params after 3 AdamW steps", pa, pb, 1e-5, 1e-4);
    } finally {
      gpu.close();
    }
  }

  @Test
  void cudaBackendReportsItsGemm() {
    Backend gpu = other();
    try {
      Tensor t = gpu.fromArray(new float[] {1, 2, 3}, 3);
      Ref.assertClose("round trip", new float[] {1, 2, 3}, t.toFloatArray(), 0, 0);
      t.close();
      if (gpu instanceof org.jalign.backend.CudaBackend c) {
        System.out.println("CUDA backend GEMM: " + (c.usesCublas() ? "cuBLAS" : "jalign SGEMM kernel"));
      }
    } finally {
      gpu.close();
    }
  }
}
