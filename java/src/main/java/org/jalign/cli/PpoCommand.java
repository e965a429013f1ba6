package org.jalign.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PromptExample;
import org.jalign.data.SftExample;
import org.jalign.data.TokenSource;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.model.Gpt;
import org.jalign.train.ppo.PpoConfig;
import org.jalign.train.ppo.PpoResult;
import org.jalign.train.ppo.PpoTrainer;
import org.jalign.train.reward.RewardModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign ppo}: PPO-RLHF of a policy checkpoint against a reward-model checkpoint. */
@Command(name = "ppo", mixinStandardHelpOptions = true,
    description = "PPO-RLHF: samples responses to JSONL prompts ({\"prompt\"}) with the policy, scores them with "
        + "the reward model, and optimises the policy with a KL penalty to a frozen reference. Writes the trained "
        + "policy checkpoint (and optionally the full trainer state for --resume).")
final class PpoCommand implements Callable<Integer> {
  @Mixin DeviceOption device;

  @Option(names = "--policy", required = true, paramLabel = "CKPT", description = "Policy checkpoint to start from (usually the SFT model); it also provides the tokenizer.")
  Path policy;

  @Option(names = "--reference", paramLabel = "CKPT", description = "Frozen reference checkpoint (default: a copy of --policy).")
  Path reference;

  @Option(names = "--reward-model", required = true, paramLabel = "CKPT", description = "Reward-model checkpoint (written by jalign reward).")
  Path rewardModel;

  @Option(names = "--prompts", required = true, paramLabel = "JSONL", description = "Prompts, one {\"prompt\": ...} per line; rendered with the chat template.")
  Path prompts;

  @Option(names = "--out", required = true, paramLabel = "CKPT", description = "Where to write the trained policy checkpoint.")
  Path out;

  @Option(names = "--state", paramLabel = "FILE", description = "Also write the full trainer state (critic, optimizers, KL coefficient, RNG, prompt cursor) here.")
  Path state;

  @Option(names = "--resume", paramLabel = "FILE", description = "Continue exactly from a state written with --state (same policy, prompts and options).")
  Path resume;

  @Option(names = "--steps", paramLabel = "N", description = "PPO iterations (default: ${DEFAULT-VALUE}).")
  int steps = 100;

  @Option(names = "--batch-size", paramLabel = "N", description = "Rollouts per iteration (default: ${DEFAULT-VALUE}).")
  int batchSize = 8;

  @Option(names = "--ppo-epochs", paramLabel = "N", description = "Optimisation epochs per rollout batch (default: ${DEFAULT-VALUE}).")
  int ppoEpochs = 4;

  @Option(names = "--mini-batches", paramLabel = "N", description = "Minibatches per epoch; must divide --batch-size (default: ${DEFAULT-VALUE}).")
  int miniBatches = 1;

  @Option(names = "--lr", paramLabel = "RATE", description = "Policy AdamW learning rate (default: ${DEFAULT-VALUE}).")
  float lr = 1e-5f;

  @Option(names = "--critic-lr", paramLabel = "RATE", description = "Critic and value-head learning rate (default: ${DEFAULT-VALUE}).")
  float criticLr = 1e-5f;

  @Option(names = "--grad-clip", paramLabel = "NORM", description = "Max global gradient norm per model, 0 = off (default: ${DEFAULT-VALUE}).")
  float gradClip = 1f;

  @Option(names = "--gamma", paramLabel = "G", description = "GAE discount (default: ${DEFAULT-VALUE}).")
  double gamma = 1.0;

  @Option(names = "--lambda", paramLabel = "L", description = "GAE lambda (default: ${DEFAULT-VALUE}).")
  double lambda = 0.95;

  @Option(names = "--clip-range", paramLabel = "EPS", description = "Policy ratio clip (default: ${DEFAULT-VALUE}).")
  float clipRange = 0.2f;

  @Option(names = "--value-clip-range", paramLabel = "EPS", description = "Value clip around the rollout values (default: ${DEFAULT-VALUE}).")
  float valueClipRange = 0.2f;

  @Option(names = "--vf-coef", paramLabel = "C", description = "Weight of the value loss (default: ${DEFAULT-VALUE}).")
  float vfCoef = 0.1f;

  @Option(names = "--entropy-coef", paramLabel = "C", description = "Weight of the entropy bonus (default: ${DEFAULT-VALUE}).")
  float entropyCoef = 0f;

  @Option(names = "--kl-coef", paramLabel = "C", description = "Initial or fixed per-token KL penalty coefficient (default: ${DEFAULT-VALUE}).")
  double klCoef = 0.05;

  @Option(names = "--adaptive-kl", description = "Adapt the KL coefficient toward --kl-target (Ziegler et al.).")
  boolean adaptiveKl;

  @Option(names = "--kl-target", paramLabel = "KL", description = "Target per-response KL of the adaptive controller (default: ${DEFAULT-VALUE}).")
  double klTarget = 6.0;

  @Option(names = "--kl-horizon", paramLabel = "N", description = "Horizon in samples of the adaptive controller (default: ${DEFAULT-VALUE}).")
  long klHorizon = 10000;

  @Option(names = "--no-whiten", description = "Do not whiten the advantages.")
  boolean noWhiten;

  @Option(names = "--approx-kl-bound", paramLabel = "KL", description = "Stop an iteration's updates when a minibatch's approx-KL exceeds this, 0 = off (default: ${DEFAULT-VALUE}).")
  double approxKlBound = 0.0;

  @Option(names = "--reward-clip", paramLabel = "R", description = "Clip scores to [-R, R], 0 = off (default: ${DEFAULT-VALUE}).")
  double rewardClip = 10.0;

  @Option(names = "--missing-eos-penalty", paramLabel = "P", description = "Subtracted from the score of a response without an end token (default: ${DEFAULT-VALUE}).")
  double missingEosPenalty = 0.0;

  @Option(names = "--response-length", paramLabel = "N", description = "Maximum generated tokens per response (default: ${DEFAULT-VALUE}).")
  int responseLength = 53;

  @Option(names = "--temperature", paramLabel = "T", description = "Rollout sampling temperature (default: ${DEFAULT-VALUE}).")
  float temperature = 1f;

  @Option(names = "--top-k", paramLabel = "K", description = "Rollout top-k, 0 = off (default: ${DEFAULT-VALUE}).")
  int topK = 0;

  @Option(names = "--top-p", paramLabel = "P", description = "Rollout nucleus top-p, 1 = off (default: ${DEFAULT-VALUE}).")
  float topP = 1f;

  @Mixin PtxOptions ptx;

  @Option(names = "--demonstrations", paramLabel = "JSONL", description = "Demonstrations in an SFT format "
      + "({\"prompt\",\"completion\"} or {\"messages\":[...]}, one per line) whose SFT loss, weighted by --demo-coef, "
      + "joins every policy update, so the policy keeps the answers they give where the reward model cannot check "
      + "them.")
  Path demonstrations;

  @Option(names = "--demo-coef", paramLabel = "B", description = "Weight of the --demonstrations SFT loss (default: "
      + "${DEFAULT-VALUE}).")
  float demoCoef = 1f;

  @Option(names = "--demo-batch-size", paramLabel = "N", description = "Demonstrations per policy update (default: "
      + "${DEFAULT-VALUE}).")
  int demoBatchSize = 8;

  @Option(names = "--seed", paramLabel = "SEED", description = "Sampling and shuffling seed (default: ${DEFAULT-VALUE}).")
  long seed = 0;

  @Option(names = "--progress", description = "Show the one-line progress display even when no console is attached.")
  boolean progress;

  PpoConfig config() {
    return PpoConfig.builder().steps(steps).batchSize(batchSize).ppoEpochs(ppoEpochs).miniBatches(miniBatches).lr(lr)
        .criticLr(criticLr).gradClip(gradClip).gamma(gamma).lambda(lambda).clipRange(clipRange)
        .valueClipRange(valueClipRange).vfCoef(vfCoef).entropyCoef(entropyCoef).klCoef(klCoef).adaptiveKl(adaptiveKl)
        .klTarget(klTarget).klHorizon(klHorizon).whitenAdvantages(!noWhiten).approxKlBound(approxKlBound)
        .rewardClip(rewardClip).missingEosPenalty(missingEosPenalty).responseLength(responseLength)
        .temperature(temperature).topK(topK).topP(topP).ptxCoef(ptx.coef())
        .ptxBatchSize(ptx.ptxBatchSize).ptxSeqLen(ptx.ptxSeqLen).demoCoef(demonstrations == null ? 0f : demoCoef)
        .demoBatchSize(demoBatchSize).seed(seed).progress(progress).build();
  }

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    try (OutputFiles.Grant g = overwrite.guard(Checkpoint.KIND, out, state)) {
      return execute();
    }
  }

  private Integer execute() throws Exception {
    PpoConfig cfg = config();
    List<String> ptxDocs = ptx.documents();
    List<SftExample> demos = null;
    if (demonstrations != null) {
      if (!(demoCoef > 0)) {
        throw new IllegalArgumentException("--demo-coef must be > 0 with --demonstrations, got " + demoCoef);
      }
      demos = SftExample.readJsonl(demonstrations);
      if (demos.isEmpty()) throw new IllegalArgumentException("--demonstrations " + demonstrations + " is empty");
    }
    try (Backend backend = device.open()) {
      ModelFiles.Loaded m = ModelFiles.load(policy, backend);
      try (Gpt pol = m.model();
          Gpt ref = reference == null ? copy(pol) : ModelFiles.load(reference, backend).model();
          RewardModel rm = RewardModel.load(rewardModel, backend)) {
        ChatTemplate tmpl = new ChatTemplate(m.tokenizer());
        int maxPrompt = pol.config().contextLength() - cfg.responseLength();
        if (maxPrompt < 1) {
          throw new IllegalArgumentException("--response-length " + cfg.responseLength()
              + " leaves no room for a prompt in the context length " + pol.config().contextLength());
        }
        List<int[]> ids = new ArrayList<>();
        for (PromptExample p : PromptExample.readJsonl(prompts)) {
          ids.add(tmpl.renderPrompt(p.prompt(), maxPrompt, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD));
        }
        try (PpoTrainer tr = PpoTrainer.fromPromptIds(pol, ref, rm, m.tokenizer(), cfg, ids, null)) {
          TokenSource text = ptx.tokens(ptxDocs, m.tokenizer());
          if (text != null) tr.pretrainData(text);
          if (demos != null) tr.demonstrations(demos);
          if (resume != null) tr.resume(resume);
          PpoResult r = tr.train();
          ModelFiles.save(out, pol, m.tokenizer(), "ppo");
          if (state != null) tr.save(state);
          System.out.printf(Locale.ROOT, "wrote %s (reward %.4f -> %.4f, KL to reference %.4f)%n", out,
              r.rewardStart(), r.rewardEnd(), r.klToRefEnd());
        }
      }
    }
    return 0;
  }

  private static Gpt copy(Gpt g) {
    Gpt c = new Gpt(g.config(), g.backend(), 0);
    c.copyParamsFrom(g);
    return c;
  }
}
