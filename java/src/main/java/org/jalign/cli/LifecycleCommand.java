package org.jalign.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jalign.io.OutputFiles;
import org.jalign.lifecycle.Lifecycle;
import org.jalign.lifecycle.LifecycleConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign lifecycle}: the whole lifecycle on the built-in alignment world. */
@Command(name = "lifecycle", mixinStandardHelpOptions = true,
    description = {"Pretrain -> SFT -> reward model -> PPO -> evaluation on jalign's built-in alignment world "
        + "(generated, no downloads), with a checkpoint per stage and report.json + report.html in the output "
        + "directory.", "Default run: about 10 minutes on a 2-core CPU (at most 15); --quick: about a minute."})
final class LifecycleCommand implements Callable<Integer> {
  @Option(names = "--quick", description = "Small world, model and stages (tests and a first look).")
  boolean quick;

  @Option(names = "--arch", paramLabel = "gpt2|llama", description = "The model's block: gpt2 (LayerNorm, learned "
      + "positions, GELU, biases) or llama (RMSNorm, RoPE, SwiGLU, grouped-query attention, no biases), of the same "
      + "size and training time (default: gpt2).")
  String arch;

  @Option(names = "--seed", description = "Seed of everything (default: ${DEFAULT-VALUE}).", defaultValue = "1")
  long seed;

  @Mixin DeviceOption device;

  @Option(names = "--out", description = "Output directory (default: runs/<timestamp>).")
  Path out;

  @Option(names = "--name", description = "Run name: output goes to runs/<name> (ignored with --out).")
  String name;

  @Option(names = "--pretrain-steps", description = "Pretraining steps (default: 1200, quick 300).")
  Integer pretrainSteps;

  @Option(names = "--sft-steps", description = "SFT steps (default: 400, quick 150).")
  Integer sftSteps;

  @Option(names = "--sft-ptx-coef", paramLabel = "W", description = "SFT-ptx: weight of the language-model loss on "
      + "the pretraining corpus added to every SFT step, so SFT keeps the world's facts (0 = plain SFT; default: 1).")
  Float sftPtxCoef;

  @Option(names = "--reward-steps", description = "Reward-model steps (default: 500, quick 160).")
  Integer rewardSteps;

  @Option(names = "--reward-rankings-per-prompt", paramLabel = "N", description = "Rankings the oracle makes of "
      + "each training prompt for the reward model, each of K fresh candidates (default: 2).")
  Integer rewardRankingsPerPrompt;

  @Option(names = "--reward-k", paramLabel = "K", description = "Responses in each of the oracle's rankings for the "
      + "reward model; all K(K-1)/2 pairs train it (default: 6, quick 4).")
  Integer rewardK;

  @Option(names = "--reward-max-length", paramLabel = "TOKENS", description = "Longest prompt-and-response sequence "
      + "the reward model trains on; a longer response keeps its head, as the policy's own stop at its maximum "
      + "response length (default: 80).")
  Integer rewardMaxLength;

  @Option(names = "--refresh-before-first-round", negatable = true, fallbackValue = "true",
      description = "Also refresh the reward model before the first PPO round, on the oracle's rankings of the "
      + "policy's own samples after rejection sampling (default: on; --no-refresh-before-first-round turns it "
      + "off).")
  Boolean refreshBeforeFirstRound;

  @Option(names = "--ppo-steps", description = "PPO rollout/update rounds (default: 40, quick 40).")
  Integer ppoSteps;

  @Option(names = "--ppo-lr", paramLabel = "LR", description = "PPO policy learning rate (default: 2.5e-5).")
  Float ppoLr;

  @Option(names = "--rlhf-rounds", description = "RLHF rounds: after the first PPO round, each further round has "
      + "the oracle rank the policy's own samples, refreshes the reward model and runs PPO again (the first round "
      + "starts with such a refresh too, see --refresh-before-first-round; default: 2, quick 1).")
  Integer rlhfRounds;

  @Option(names = "--ppo-ptx-coef", description = "PPO-ptx: weight of the language-model loss on the pretraining "
      + "corpus mixed into every PPO policy update, so the policy keeps the world's facts (0 = plain PPO; "
      + "default: 1).")
  Float ppoPtxCoef;

  @Option(names = "--ppo-demo-coef", paramLabel = "W", description = "Weight of the SFT loss on the vetted "
      + "demonstrations (the SFT demonstrations the labeler rates as good as the ideal response) mixed into every PPO "
      + "policy update, so PPO keeps the answers the reward model cannot check (0 = off; default: 1).")
  Float ppoDemoCoef;

  @Option(names = "--rejection-samples", paramLabel = "N", description = "Rejection-sampling fine-tuning before PPO: "
      + "the SFT policy samples N responses to every RL prompt, the reward model picks the best of each, and the "
      + "policy is fine-tuned on those (0 = off; default: 8).")
  Integer rejectionSamples;

  @Option(names = "--rejection-iterations", paramLabel = "N", description = "Iterations of rejection sampling: each "
      + "samples from the policy the previous one fine-tuned (default: 2).")
  Integer rejectionIterations;

  @Option(names = "--rejection-ptx-coef", paramLabel = "W", description = "Weight of the language-model loss on the "
      + "pretraining corpus added to every rejection-sampling fine-tuning step (0 = off; default: 1).")
  Float rejectionPtxCoef;

  @Option(names = "--rejection-demonstrations", negatable = true, fallbackValue = "true",
      description = "Fine-tune each rejection-sampling iteration on the vetted demonstrations beside the chosen "
      + "samples (default: on; --no-rejection-demonstrations turns it off).")
  Boolean rejectionDemonstrations;

  @Option(names = "--rejection-greedy", negatable = true, fallbackValue = "true",
      description = "Offer the policy's greedy response beside the samples in rejection sampling, so every choice "
      + "scores at least as high as what the policy answers now (default: on; --no-rejection-greedy turns it off).")
  Boolean rejectionGreedy;

  @Option(names = "--rejection-consensus", paramLabel = "W", description = "Self-consistency in rejection "
      + "sampling's choice: a response competes with its reward plus W times the fraction of the prompt's other "
      + "candidates that say the same thing (0 = reward alone; default: 0).")
  Float rejectionConsensus;

  @Option(names = "--rejection-greedy-margin", paramLabel = "D", description = "In rejection sampling's choice, a "
      + "sample replaces the policy's greedy response only if its reward is higher by more than D (normalised reward "
      + "units; with --rejection-greedy; 0 = the higher reward wins; default: 0.1).")
  Float rejectionGreedyMargin;

  @Option(names = "--reward-likelihood-gate", negatable = true, fallbackValue = "true",
      description = "Give the reward model a likelihood gate: a frozen copy of the SFT model scores each response "
      + "token and a learnt gate weighs those log-probabilities into the reward, so the reward model can tell a "
      + "stated fact from a wrong or made-up one (default: on; --no-reward-likelihood-gate turns it off).")
  Boolean rewardLikelihoodGate;

  @Option(names = "--no-progress", description = "No progress bars (one summary line per stage only).")
  boolean noProgress;

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    LifecycleConfig c = quick ? LifecycleConfig.quick() : LifecycleConfig.defaults();
    if (arch != null) c.arch(LifecycleConfig.Arch.parse(arch));
    c.seed(seed).device(device.device).progress(!noProgress && System.console() != null);
    if (out != null) c.out(out);
    else if (name != null) c.out(Path.of("runs", name));
    if (pretrainSteps != null) c.pretrainSteps = pretrainSteps;
    if (sftSteps != null) c.sftSteps = sftSteps;
    if (rewardSteps != null) c.rewardSteps = rewardSteps;
    if (rewardRankingsPerPrompt != null) c.rewardRankingsPerPrompt = rewardRankingsPerPrompt;
    if (rewardK != null) c.rewardK = rewardK;
    if (rewardMaxLength != null) c.rewardMaxLength = rewardMaxLength;
    if (refreshBeforeFirstRound != null) c.refreshBeforeFirstRound = refreshBeforeFirstRound;
    if (ppoSteps != null) c.ppoSteps = ppoSteps;
    if (rlhfRounds != null) c.rlhfRounds = rlhfRounds;
    if (ppoPtxCoef != null) c.ppoPtxCoef = ppoPtxCoef;
    if (ppoDemoCoef != null) c.ppoDemoCoef = ppoDemoCoef;
    if (rewardLikelihoodGate != null) c.rewardLikelihoodGate = rewardLikelihoodGate;
    if (rejectionSamples != null) c.rejectionSamples = rejectionSamples;
    if (ppoLr != null) c.ppoLr = ppoLr;
    if (rejectionIterations != null) c.rejectionIterations = rejectionIterations;
    if (rejectionGreedy != null) c.rejectionGreedy = rejectionGreedy;
    if (sftPtxCoef != null) c.sftPtxCoef = sftPtxCoef;
    if (rejectionPtxCoef != null) c.rejectionPtxCoef = rejectionPtxCoef;
    if (rejectionDemonstrations != null) c.rejectionDemonstrations = rejectionDemonstrations;
    if (rejectionConsensus != null) c.rejectionConsensus = rejectionConsensus;
    if (rejectionGreedyMargin != null) c.rejectionGreedyMargin = rejectionGreedyMargin;
    try (OutputFiles.Grant g = overwrite.allow(c.out)) { // the run claims its directory (OutputFiles)
      new Lifecycle(c).run();
    }
    return 0;
  }
}
