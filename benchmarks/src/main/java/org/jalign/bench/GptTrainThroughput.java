package org.jalign.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.jalign.backend.Backend;
import org.jalign.backend.Backends;
import org.jalign.backend.CudaBackend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.optim.AdamW;
import org.jalign.optim.AdamWConfig;
import org.jalign.optim.GradClip;
import org.jalign.tensor.Device;

/**
 * Training throughput of a GPT (default GPT-2 small, 124M) on one backend: each step is zero-grad, forward,
 * fused cross-entropy, backward, global grad norm and AdamW, in fp32, on random tokens. Reports tokens/s and
 * model FLOPs utilisation (MFU) against a peak given with {@code --peak-tflops}.
 *
 * <p>Shapes: B = batch, T = time (sequence length), C = channels, NH = heads, L = layers, V = vocab. FLOPs per
 * token = {@link GptConfig#flopsPerToken(int)} = 6·N + 12·L·C·T (forward + backward).
 *
 * <pre>
 * java -cp ... org.jalign.bench.GptTrainThroughput --device cuda --batch 8 --seq 1024 --steps 10 --peak-tflops 67
 * java -cp ... org.jalign.bench.GptTrainThroughput --device cpu --layers 2 --channels 64 --heads 4 --seq 64 --vocab 512
 * </pre>
 *
 * Output: human-readable lines, then one machine-readable line starting {@code RESULT jalign_gpt_train} with
 * space-separated key=value pairs (device, B, T, L, C, NH, V, params, steps, ms_per_step, ms_min, tokens_per_s,
 * tflops, mfu, loss_first, loss_last). Loss must fall over the steps on the fixed batch; if it does not (or is not
 * finite), the program exits with status 1.
 */
public final class GptTrainThroughput {
  private GptTrainThroughput() {}

  public static void main(String[] args) {
    int layers = 12, channels = 768, heads = -1, vocab = 50257, batch = 8, seq = 1024, steps = 10, warmup = 2;
    String device = "auto";
    double peakTflops = 0;
    float lr = 1e-4f;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("-h") || a.equals("--help")) {
        System.out.println("options: --device auto|cpu|cuda|cuda:N --layers L --channels C --heads NH --vocab V"
            + " --batch B --seq T --steps N --warmup N --lr F --peak-tflops F (default: GPT-2 124M, B=8, T=1024)");
        return;
      }
      if (i + 1 >= args.length) throw new IllegalArgumentException("missing value for " + a);
      String v = args[++i];
      switch (a) {
        case "--device" -> device = v;
        case "--layers" -> layers = Integer.parseInt(v);
        case "--channels" -> channels = Integer.parseInt(v);
        case "--heads" -> heads = Integer.parseInt(v);
        case "--vocab" -> vocab = Integer.parseInt(v);
        case "--batch" -> batch = Integer.parseInt(v);
        case "--seq" -> seq = Integer.parseInt(v);
        case "--steps" -> steps = Integer.parseInt(v);
        case "--warmup" -> warmup = Integer.parseInt(v);
        case "--lr" -> lr = Float.parseFloat(v);
        case "--peak-tflops" -> peakTflops = Double.parseDouble(v);
        default -> throw new IllegalArgumentException("unknown option " + a);
      }
    }
    if (heads <= 0) heads = channels % 64 == 0 ? channels / 64 : 1;
    if (steps < 2) throw new IllegalArgumentException("--steps must be >= 2");
    GptConfig cfg = new GptConfig(layers, heads, channels, seq, vocab);
    final int B = batch, T = seq;

    Backend backend = device.equalsIgnoreCase("auto") ? Backends.best() : Backends.create(Device.parse(device));
    String gemm = backend instanceof CudaBackend cb ? (cb.usesCublas() ? "cublas" : "jalign-sgemm") : "cpu";
    System.out.printf(Locale.ROOT, "backend %s (%s), gemm %s%n", backend.name(), backend.device(), gemm);
    System.out.printf(Locale.ROOT, "model L=%d C=%d NH=%d V=%d (Vp=%d), params %,d; B=%d T=%d%n", layers, channels,
        heads, vocab, cfg.paddedVocab(), cfg.parameterCount(), B, T);

    SplittableRandom r = new SplittableRandom(7);
    int[] tokens = new int[B * T];
    int[] targets = new int[B * T];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(vocab);
      targets[i] = r.nextInt(vocab);
    }

    List<Double> ms = new ArrayList<>();
    float lossFirst = Float.NaN, lossLast = Float.NaN;
    try (Gpt model = new Gpt(cfg, backend, 1);
        AdamW opt = new AdamW(backend, model.params().numel(), AdamWConfig.defaults())) {
      for (int s = 0; s < warmup + steps; s++) {
        backend.synchronize();
        long t0 = System.nanoTime();
        model.zeroGrad();
        float loss = model.lossAndBackward(tokens, targets, null, B, T, null, null);
        double norm = GradClip.globalNorm(backend, model.grads());
        opt.step(model.params(), model.grads(), lr, GradClip.clipScale(norm, 1.0));
        backend.synchronize();
        double dt = (System.nanoTime() - t0) / 1e6;
        if (s == 0) lossFirst = loss;
        lossLast = loss;
        System.out.printf(Locale.ROOT, "step %3d%s loss %.4f grad-norm %.3f %.2f ms%n", s,
            s < warmup ? " (warm-up)" : "", loss, norm, dt);
        if (s >= warmup) ms.add(dt);
      }
    } finally {
      backend.close();
    }

    double[] t = ms.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(t);
    double mean = Arrays.stream(t).average().orElse(Double.NaN);
    double min = t[0];
    double median = t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    double tokensPerS = B * (double) T / (mean * 1e-3);
    double tflops = tokensPerS * cfg.flopsPerToken(T) / 1e12;
    double mfu = peakTflops > 0 ? tflops / peakTflops : Double.NaN;
    System.out.printf(Locale.ROOT, "mean %.2f ms/step (median %.2f, min %.2f), %.0f tokens/s, %.2f TFLOP/s%s%n", mean,
        median, min, tokensPerS, tflops, peakTflops > 0 ? String.format(Locale.ROOT, ", MFU %.1f%% of %.0f", 100 * mfu,
            peakTflops) : "");
    System.out.printf(Locale.ROOT,
        "RESULT jalign_gpt_train device=%s gemm=%s B=%d T=%d L=%d C=%d NH=%d V=%d params=%d steps=%d ms_per_step=%.3f"
            + " ms_median=%.3f ms_min=%.3f tokens_per_s=%.1f tflops=%.3f peak_tflops=%.1f mfu=%.4f loss_first=%.5f"
            + " loss_last=%.5f%n",
        device, gemm, B, T, layers, channels, heads, vocab, cfg.parameterCount(), t.length, mean, median, min,
        tokensPerS, tflops, peakTflops, mfu, lossFirst, lossLast);
    if (!Float.isFinite(lossLast) || !(lossLast < lossFirst)) {
      System.out.println("FAILED: loss did not fall (" + lossFirst + " -> " + lossLast + ")");
      System.exit(1);
    }
  }
}
