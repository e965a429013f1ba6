package org.jalign.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.jalign.backend.CpuBackend;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Grouped-query attention on the CPU through the fused projection (B,T,(NH+2*NKV)*HS) beside multi-head attention
 * of the same B, NH, T, HS (NKV = NH, the baseline) in the same run. Both do the same score and value work, so the
 * GFLOP/s compare directly; grouped-query reads NH/NKV times fewer K/V rows and accumulates each kv head's
 * gradient over its group.
 *
 * <p>Shapes "B,NH,NKV,T,HS". Work counted (causal): forward 4*B*T^2*NH*HS/2 FLOPs, backward 2.5x that.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class GroupedQueryAttentionBench {
  @Param({"4,12,4,512,64"})
  public String shape;

  /** "forward" or "forward+backward". */
  @Param({"forward", "forward+backward"})
  public String pass;

  CpuBackend cpu;
  int nh;
  int nkv;
  Tensor out;
  Tensor lse;
  Tensor dout;
  Tensor qkvGqa;
  Tensor dqkvGqa;
  Tensor qkvMha;
  Tensor dqkvMha;

  @Setup(Level.Trial)
  public void setup() {
    String[] s = shape.split(",");
    int b = Integer.parseInt(s[0]), t = Integer.parseInt(s[3]), hs = Integer.parseInt(s[4]);
    nh = Integer.parseInt(s[1]);
    nkv = Integer.parseInt(s[2]);
    int c = nh * hs;
    cpu = new CpuBackend();
    SplittableRandom r = new SplittableRandom(3);
    qkvGqa = cpu.fromArray(GemmBench.random(r, b * t * (nh + 2 * nkv) * hs), b, t, (nh + 2 * nkv) * hs);
    dqkvGqa = cpu.zeros(DType.F32, b, t, (nh + 2 * nkv) * hs);
    qkvMha = cpu.fromArray(GemmBench.random(r, b * t * 3 * c), b, t, 3 * c);
    dqkvMha = cpu.zeros(DType.F32, b, t, 3 * c);
    dout = cpu.fromArray(GemmBench.random(r, b * t * c), b, t, c);
    out = cpu.zeros(DType.F32, b, t, c);
    lse = cpu.zeros(DType.F32, b, nh, t);
  }

  @Benchmark
  public void groupedQuery() {
    cpu.attentionForwardQkv(out, lse, qkvGqa, nh, nkv, null, null);
    if (pass.equals("forward+backward")) cpu.attentionBackwardQkv(dqkvGqa, dout, out, lse, qkvGqa, nh, nkv, null, null);
  }

  @Benchmark
  public void multiHead() {
    cpu.attentionForwardQkv(out, lse, qkvMha, nh, nh, null, null);
    if (pass.equals("forward+backward")) cpu.attentionBackwardQkv(dqkvMha, dout, out, lse, qkvMha, nh, nh, null, null);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor x : new Tensor[] {out, lse, dout, qkvGqa, dqkvGqa, qkvMha, dqkvMha}) x.close();
    cpu.close();
  }

  /** Causal FLOPs of one op (the same for any NKV): forward 4*B*T^2*NH*HS/2, backward 2.5x the forward. */
  public static double flops(String shape, String pass) {
    String[] s = shape.split(",");
    return AttentionBench.flops(s[0] + "," + s[1] + "," + s[3] + "," + s[4], pass);
  }
}
