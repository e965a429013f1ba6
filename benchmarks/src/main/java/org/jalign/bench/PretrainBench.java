package org.jalign.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.jalign.backend.CpuBackend;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.optim.AdamW;
import org.jalign.optim.AdamWConfig;
import org.jalign.optim.GradClip;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One pretraining step (forward, fused cross-entropy, backward, global grad norm, AdamW) of
 * {@code GptConfig.small(256)} (L=4, C=128, NH=4, T=128, V=256; B=4 → 512 tokens per step), and checkpoint
 * write/read of the same model with its AdamW state (parameters + m + v). Tokens/s = 512 / (ms/op · 1e-3);
 * checkpoint MB/s = {@link #checkpointBytes()} / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1)
public class PretrainBench {
  static final int B = 4;
  static final int T = 128;

  CpuBackend cpu;
  Gpt model;
  AdamW opt;
  int[] tokens;
  int[] targets;
  Path dir;
  Path ckpt;

  @Setup(Level.Trial)
  public void setup() throws IOException {
    cpu = new CpuBackend();
    model = new Gpt(GptConfig.small(256), cpu, 1);
    opt = new AdamW(cpu, model.params().numel(), AdamWConfig.defaults());
    SplittableRandom r = new SplittableRandom(2);
    tokens = new int[B * T];
    targets = new int[B * T];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(256);
      targets[i] = r.nextInt(256);
    }
    dir = Files.createTempDirectory("jalign-bench");
    ckpt = dir.resolve("bench.ckpt");
    checkpointWrite();
  }

  /** Bytes of tensor data in the benchmark checkpoint (parameters, m, v as F32). */
  public static long checkpointBytes() {
    return 3 * 4 * GptConfig.small(256).parameterCount();
  }

  @Benchmark
  public float trainStep() {
    model.zeroGrad();
    float loss = model.lossAndBackward(tokens, targets, null, B, T, null, null);
    double norm = GradClip.globalNorm(cpu, model.grads());
    opt.step(model.params(), model.grads(), 1e-4f, GradClip.clipScale(norm, 1.0));
    return loss;
  }

  @Benchmark
  public void checkpointWrite() throws IOException {
    new Checkpoint.Writer(model.config()).step(1).optimizerStep(opt.stepCount())
        .tensor(Checkpoint.PARAMS, model.params()).tensor(Checkpoint.ADAM_M, opt.m()).tensor(Checkpoint.ADAM_V, opt.v())
        .write(ckpt);
  }

  @Benchmark
  public long checkpointRead() throws IOException {
    try (Checkpoint c = Checkpoint.open(ckpt)) {
      c.readInto(Checkpoint.PARAMS, model.params());
      c.readInto(Checkpoint.ADAM_M, opt.m());
      c.readInto(Checkpoint.ADAM_V, opt.v());
      return c.step();
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    opt.close();
    model.close();
    cpu.close();
    Files.deleteIfExists(ckpt);
    Files.deleteIfExists(dir);
  }
}
