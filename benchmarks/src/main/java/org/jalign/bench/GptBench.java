package org.jalign.bench;

import java.util.Locale;
import java.util.SplittableRandom;
import org.jalign.backend.CpuBackend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;

/**
 * GPT training throughput on the CPU: forward + fused cross-entropy + backward steps (no optimizer) per
 * configuration, reported as tokens/s and as MFU against OpenBLAS sgemm 1024³ measured through jalign in the
 * same run. Model FLOPs per token = 6·N + 12·L·C·T ({@link GptConfig#flopsPerToken(int)}).
 *
 * <pre>java -cp benchmarks/target/jalign-benchmarks.jar org.jalign.bench.GptBench [seconds-per-config] [configs]</pre>
 * configs: a comma list of {@code small}, {@code medium}, {@code gpt2} (default all three):
 * small = (L,C,NH,T,V,B) (4,128,4,128,256,8); medium = (6,384,6,256,512,4); gpt2 = GPT-2 124M at B=4, T=64.
 *
 * <p>Shape legend: L = layers, C = channels, NH = heads, T = time, V = vocab, B = batch.
 */
public final class GptBench {
  private GptBench() {}

  record Case(String name, GptConfig config, int batch, int seqLen) {}

  public static void main(String[] args) {
    double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 6;
    String which = args.length > 1 ? args[1] : "small,medium,gpt2";
    try (CpuBackend cpu = new CpuBackend()) {
      double peak = sgemmGflops(cpu, 1.5);
      System.out.printf(Locale.ROOT, "sgemm 1024^3 through jalign: %.1f GFLOP/s (MFU reference)%n", peak);
      System.out.println("| config (L,C,NH,T,V,B) | params | step ms | tokens/s | GFLOP/s | MFU |");
      System.out.println("|---|---|---|---|---|---|");
      for (String w : which.split(",")) {
        Case c = switch (w.trim()) {
          case "small" -> new Case("small", new GptConfig(4, 4, 128, 128, 256), 8, 128);
          case "medium" -> new Case("medium", new GptConfig(6, 6, 384, 256, 512), 4, 256);
          case "gpt2" -> new Case("gpt2-124M", GptConfig.gpt2Small(), 4, 64);
          default -> throw new IllegalArgumentException("unknown config " + w);
        };
        run(cpu, c, seconds, peak);
      }
    }
  }

  static double sgemmGflops(CpuBackend cpu, double seconds) {
    int n = 1024;
    SplittableRandom r = new SplittableRandom(1);
    try (Tensor a = cpu.fromArray(GemmBench.random(r, n * n), n, n);
        Tensor b = cpu.fromArray(GemmBench.random(r, n * n), n, n);
        Tensor out = cpu.zeros(DType.F32, n, n)) {
      for (int i = 0; i < 3; i++) cpu.matmul(out, a, b, null, false, false, false);
      long t0 = System.nanoTime();
      int iters = 0;
      while (System.nanoTime() - t0 < seconds * 1e9) {
        cpu.matmul(out, a, b, null, false, false, false);
        iters++;
      }
      double s = (System.nanoTime() - t0) / 1e9;
      return 2.0 * n * n * n * iters / s / 1e9;
    }
  }

  static void run(CpuBackend cpu, Case c, double seconds, double peak) {
    GptConfig cfg = c.config();
    int b = c.batch(), t = c.seqLen();
    SplittableRandom r = new SplittableRandom(2);
    int[] tokens = new int[b * t];
    int[] targets = new int[b * t];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(cfg.vocabSize());
      targets[i] = r.nextInt(cfg.vocabSize());
    }
    try (Gpt m = new Gpt(cfg, cpu, 1)) {
      for (int i = 0; i < 2; i++) {
        m.zeroGrad();
        m.lossAndBackward(tokens, targets, null, b, t, null, null);
      }
      long t0 = System.nanoTime();
      int steps = 0;
      while (steps < 3 || System.nanoTime() - t0 < seconds * 1e9) {
        m.zeroGrad();
        m.lossAndBackward(tokens, targets, null, b, t, null, null);
        steps++;
      }
      double s = (System.nanoTime() - t0) / 1e9;
      double tokPerS = (double) b * t * steps / s;
      double gflops = tokPerS * cfg.flopsPerToken(t) / 1e9;
      System.out.printf(Locale.ROOT, "| %s (%d,%d,%d,%d,%d,%d) | %.2fM | %.1f | %.0f | %.1f | %.1f%% |%n", c.name(),
          cfg.layers(), cfg.channels(), cfg.heads(), t, cfg.vocabSize(), b, cfg.parameterCount() / 1e6,
          1e3 * s / steps, tokPerS, gflops, 100 * gflops / peak);
    }
  }
}
