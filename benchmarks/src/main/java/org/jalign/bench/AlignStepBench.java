package org.jalign.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.jalign.backend.CpuBackend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PairwiseExample;
import org.jalign.data.SftExample;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.text.ByteTokenizer;
import org.jalign.train.StageSupport;
import org.jalign.train.dpo.DpoConfig;
import org.jalign.train.dpo.DpoTrainer;
import org.jalign.train.reward.RankedGroup;
import org.jalign.train.reward.RewardConfig;
import org.jalign.train.reward.RewardModel;
import org.jalign.train.reward.RewardTrainer;
import org.jalign.train.sft.SftConfig;
import org.jalign.train.sft.SftTrainer;
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
 * One forward/backward of each alignment stage on {@code GptConfig.small(262)} (L=4, C=128, NH=4, maxT=128,
 * byte tokenizer) with examples rendered to the full 128 tokens (prompt ~40 bytes, response ~84):
 * SFT over B=4 examples (512 rows·tokens), the reward model over 4 pairs (8 rows, one score each), DPO over 4
 * pairs (8 rows, reference log-probs cached). No optimizer step, so the times are the stages' own compute.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1)
public class AlignStepBench {
  static final int N = 4;

  CpuBackend cpu;
  Gpt policy, reference;
  RewardModel rm;
  SftTrainer sft;
  StageSupport.Batch sftBatch;
  RewardTrainer reward;
  List<RankedGroup> groups;
  DpoTrainer dpo;
  int[] all = {0, 1, 2, 3};

  static String text(SplittableRandom r, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) sb.append((char) ('a' + r.nextInt(26)));
    return sb.toString();
  }

  @Setup(Level.Trial)
  public void setup() {
    cpu = new CpuBackend();
    ByteTokenizer tok = new ByteTokenizer();
    GptConfig cfg = GptConfig.small(tok.vocabSize());
    policy = new Gpt(cfg, cpu, 1);
    reference = new Gpt(cfg, cpu, 1);
    rm = RewardModel.fromPolicy(policy, 2);
    SplittableRandom r = new SplittableRandom(3);
    List<SftExample> sx = new ArrayList<>();
    List<PairwiseExample> px = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      String prompt = text(r, 40);
      sx.add(SftExample.of(prompt, text(r, 84)));
      px.add(new PairwiseExample(prompt, text(r, 84), text(r, 84)));
    }
    sft = new SftTrainer(policy, tok, new SftConfig().out(null), sx, List.of());
    sftBatch = StageSupport.batch(sft.renderedTrain(), sft.padId());
    groups = px.stream().map(RankedGroup::of).toList();
    reward = RewardTrainer.ofGroups(rm, tok, new RewardConfig().out(null), groups, List.of());
    dpo = new DpoTrainer(policy, reference, tok, new DpoConfig().out(null), px, List.of());
    dpo.evaluate(); // fills the reference cache
  }

  @Benchmark
  public float sftStep() {
    policy.zeroGrad();
    return sft.lossAndGradient(sftBatch, null);
  }

  @Benchmark
  public double rewardStep() {
    rm.zeroGrad();
    return reward.lossAndGradient(groups)[0];
  }

  @Benchmark
  public double dpoStep() {
    policy.zeroGrad();
    return dpo.lossAndGradient(all)[0];
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    rm.close();
    reference.close();
    policy.close();
    cpu.close();
  }
}
