package org.jalign.lifecycle;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;
import org.jalign.model.GptConfig;
import org.jalign.model.RopeConfig;

/**
 * Settings of {@code jalign lifecycle}: the built-in alignment world, the model size and each stage's length.
 * {@link #defaults()} is sized for a 2-core CPU in about ten minutes (at most 15); {@link #quick()} for a first look
 * and tests in about a minute. Every field has a fluent setter; all are documented with their default.
 */
public final class LifecycleConfig {
  /** The model's block ({@code --arch}); {@link #model} builds its configuration. */
  public enum Arch {
    /** GPT-2: LayerNorm, learned positions, GELU MLP (4·channels wide), biases, tied head. */
    GPT2,
    /**
     * Llama: RMSNorm, rotary positions ({@link #ropeTheta}), SwiGLU MLP ({@link #intermediateSize} wide),
     * grouped-query attention ({@link #kvHeads}), no biases, tied head.
     */
    LLAMA;

    /** The option's spelling: {@code gpt2}, {@code llama}. */
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code --arch}; anything else is refused with a message naming the option and the choices. */
    public static Arch parse(String id) {
      for (Arch a : values()) {
        if (a.id().equals(id)) return a;
      }
      throw new IllegalArgumentException("arch (--arch) must be one of "
          + Arrays.stream(values()).map(Arch::id).collect(Collectors.joining(", ")) + ", got '" + id + "'");
    }
  }

  /** The model's block: {@link Arch#GPT2} or {@link Arch#LLAMA} ({@code --arch gpt2|llama}). Default GPT2. */
  public Arch arch = Arch.GPT2;
  /** Smaller world, model and stages ({@code --quick}). Default false. */
  public boolean quick;
  /** Seed of everything (world, tokenizer, init, batches, sampling). Default 1. */
  public long seed = 1;
  /** "auto" (best available), "cpu", "cuda" or "cuda:N". Default "auto". */
  public String device = "auto";
  /** Output directory; default runs/&lt;timestamp&gt;. */
  public Path out;
  /** BPE vocabulary size (specials included). Default 512 (quick: 384). */
  public int vocabSize = 512;
  /** Transformer layers. Default 4 (quick: 2). */
  public int layers = 4;
  /** Attention heads. Default 4 (quick: 4). */
  public int heads = 4;
  /** Channels. Default 128 (quick: 96). */
  public int channels = 128;
  /** Key/value heads of grouped-query attention (llama; GPT-2 has one per head). Default 2 (quick: 2). */
  public int kvHeads = 2;
  /**
   * Hidden width of the SwiGLU MLP (llama; GPT-2's GELU MLP is 4·channels). Default 384 (quick: 256): its three
   * matrices hold as many weights as GPT-2's two of 4·channels, so both architectures train in the same time.
   */
  public int intermediateSize = 384;
  /** RoPE base, {@code rope_theta} (llama). Default 10000. */
  public double ropeTheta = 10000;
  /** Context length. Default 192 (quick: 160). */
  public int contextLength = 192;
  /** Pretraining optimizer steps. Default 1200 (quick: 300). */
  public int pretrainSteps = 1200;
  /** Pretraining batch (rows of seqLen tokens). Default 16 (quick: 16). */
  public int pretrainBatch = 16;
  /** Pretraining sequence length. Default 128 (quick: 96). */
  public int pretrainSeqLen = 128;
  /** Pretraining peak learning rate. Default 3e-3. */
  public float pretrainLr = 3e-3f;
  /** SFT optimizer steps. Default 400 (quick: 150). */
  public int sftSteps = 400;
  /** SFT batch size. Default 16. */
  public int sftBatch = 16;
  /** SFT learning rate. Default 1e-3. */
  public float sftLr = 1e-3f;
  /**
   * SFT-ptx: weight of the language-model loss on the pretraining corpus added to every SFT step (0 = plain SFT).
   * Default 1: without it SFT overwrites much of what pretraining taught (the corpus loss rises from about 0.45 to
   * 2.5), so the SFT model, the reward model's likelihood gate and every later policy know fewer of the world's
   * facts (see BENCHMARKS.md).
   */
  public float sftPtxCoef = 1f;
  /** Reward-model optimizer steps. Default 500 (quick: 160). */
  public int rewardSteps = 500;
  /** Ranking groups per reward-model step. Default 8. */
  public int rewardBatch = 8;
  /**
   * Responses per ranking (K); every one of its K(K-1)/2 pairs trains the reward model. Default 6 (quick: 4): with
   * six, most rankings hold a refusal, an "I don't know" and filler beside the right behaviour, so the reward model
   * learns that a refusal is right only for a harmful request (see BENCHMARKS.md).
   */
  public int rewardK = 6;
  /**
   * Rankings the oracle makes of each training prompt for the reward model, each of {@link #rewardK} fresh
   * candidates. Default 2 (quick: 1): with the same {@link #rewardSteps}, a second set of candidates teaches the
   * comparisons the policy later exploits (a vague question answered with a guess, an unanswerable one with an
   * off-topic fact) better than seeing the first set twice as often (see BENCHMARKS.md).
   */
  public int rewardRankingsPerPrompt = 2;
  /**
   * Whether the reward model is also refreshed before the first PPO round, on the oracle's rankings of the
   * policy's own samples (after rejection sampling, when that is on; see {@link #rlhfRounds}). Default true (quick:
   * false): the reward model trained on the world's candidates alone scores many of the policy's own responses out
   * of order.
   */
  public boolean refreshBeforeFirstRound = true;
  /**
   * Longest sequence, prompt and response together, that the reward model trains on (its first training and every
   * refresh); a longer response keeps its head. Default 80: the policy's own responses stop at {@link #maxNewTokens},
   * so a reward model scoring them never reads further, while a rambling ranking candidate runs to 160 tokens and
   * padding every batch to it made most of the reward model's work (see BENCHMARKS.md).
   */
  public int rewardMaxLength = 80;
  /** Reward-model learning rate. Default 5e-4. */
  public float rewardLr = 5e-4f;
  /**
   * Whether the reward model has a likelihood gate (see {@link org.jalign.train.reward.RewardModel}): a frozen copy
   * of the SFT model scores each response token, and a learnt gate weighs those log-probabilities into the reward,
   * so the reward model can tell a stated fact from a wrong or made-up one. Default true.
   */
  public boolean rewardLikelihoodGate = true;
  /**
   * Rejection-sampling fine-tuning before PPO: the SFT policy samples this many responses to every RL prompt, the
   * reward model picks the best of each, and the policy is fine-tuned on those (0 = off). Default 8.
   */
  public int rejectionSamples = 8;
  /**
   * Iterations of rejection sampling (as in Llama 2): each samples from the policy the previous iteration
   * fine-tuned. Default 2.
   */
  public int rejectionIterations = 2;
  /**
   * Whether rejection sampling offers the policy's greedy response beside the samples, so a prompt's choice scores
   * at least as high as what the policy answers now (see {@link
   * org.jalign.train.rejection.RejectionSamplingTrainer#greedyCandidate}). Default true.
   */
  public boolean rejectionGreedy = true;
  /**
   * Weight of self-consistency in rejection sampling's choice (see {@link
   * org.jalign.train.rejection.RejectionSamplingTrainer#consensusWeight}): a response competes with its reward plus
   * this weight times the fraction of the prompt's other candidates that say the same thing (0 = reward alone).
   * Default 0.
   */
  public float rejectionConsensus = 0f;
  /**
   * How far a sample's reward must exceed the greedy response's to replace it in rejection sampling's choice (see
   * {@link org.jalign.train.rejection.RejectionSamplingTrainer#greedyMargin}; with {@link #rejectionGreedy}), in
   * normalised reward units. Default 0.1.
   */
  public float rejectionGreedyMargin = 0.1f;
  /** Fine-tuning steps of each rejection-sampling iteration (batch {@link #sftBatch}). Default 100. */
  public int rejectionSteps = 100;
  /** Learning rate of the rejection-sampling stage. Default 3e-4. */
  public float rejectionLr = 3e-4f;
  /**
   * Weight of the language-model loss on the pretraining corpus added to every rejection-sampling fine-tuning step
   * (0 = off), as {@link #sftPtxCoef} does for SFT. Default 1.
   */
  public float rejectionPtxCoef = 1f;
  /**
   * Whether each rejection-sampling iteration also fine-tunes on the vetted SFT demonstrations (those the labeler
   * rates as high as the ideal response; {@link org.jalign.world.AlignmentWorld#vettedDemonstrations()}) beside the
   * chosen samples. Default true: best-of-n on the policy's own samples trades facts the policy half knows for
   * others the reward model cannot tell from them, and the demonstrations hold them (see BENCHMARKS.md).
   */
  public boolean rejectionDemonstrations = true;
  /** PPO steps (rollout + update rounds). Default 40 (quick: 40). */
  public int ppoSteps = 40;
  /** Prompts per PPO rollout. Default 32 (quick: 16). */
  public int ppoBatch = 32;
  /**
   * PPO policy learning rate. Default 2.5e-5: after two rejection-sampling iterations the policy already says what
   * the reward model prefers, and a gentler PPO keeps answerable accuracy (see BENCHMARKS.md).
   */
  public float ppoLr = 2.5e-5f;
  /**
   * PPO-ptx: weight of the language-model loss on the pretraining corpus mixed into every PPO policy update (0 =
   * plain PPO). Default 1: SFT and rejection sampling keep the corpus (SFT-ptx), and PPO-ptx keeps it through PPO,
   * where the reward model cannot check the facts the policy half knows (see BENCHMARKS.md).
   */
  public float ppoPtxCoef = 1f;
  /**
   * Weight of the SFT loss on the vetted demonstrations mixed into every PPO policy update (0 = off; see {@link
   * org.jalign.train.ppo.PpoConfig#demoCoef()}). Default 1 (quick: 0): it holds the answers PPO would otherwise
   * trade away, as {@link #rejectionDemonstrations} does in rejection sampling (see BENCHMARKS.md). The quick run's
   * reward model (K = 4, 160 steps, never refreshed) scores the demonstrations below the policy's own choices, so
   * with them its PPO round lowers the reward it optimises.
   */
  public float ppoDemoCoef = 1f;
  /**
   * RLHF rounds. After the first PPO round, each further round has the oracle rank the current policy's own
   * samples (with the world's candidates beside them), refreshes the reward model on those rankings for
   * {@link #rewardRefreshSteps} steps, and runs another PPO round of {@link #ppoSteps} steps against the same
   * frozen reference; with {@link #refreshBeforeFirstRound} the first round starts with such a refresh too.
   * Default 2 (quick: 1).
   */
  public int rlhfRounds = 2;
  /** Reward-model steps of each refresh before an RLHF round. Default 100. */
  public int rewardRefreshSteps = 100;
  /** Policy samples per prompt in each refresh's rankings (the rest of the K are the world's candidates). Default 2. */
  public int refreshSamples = 2;
  /** KL penalty coefficient. Default 0.2. */
  public float ppoKlCoef = 0.2f;
  /** Max new tokens in rollouts and evaluation. Default 40 (quick: 32). */
  public int maxNewTokens = 40;
  /** Held-out prompts evaluated per kind (0 = all). Default 0 (quick: 12). */
  public int evalPerKind;
  /** Print progress bars. Default true. */
  public boolean progress = true;

  /** The default run (about 10 minutes on a 2-core CPU, at most 15). */
  public static LifecycleConfig defaults() {
    return new LifecycleConfig();
  }

  /** {@code --quick}: small world, model and stages (about a minute on a 2-core CPU). */
  public static LifecycleConfig quick() {
    LifecycleConfig c = new LifecycleConfig();
    c.quick = true;
    c.vocabSize = 384;
    c.layers = 2;
    c.heads = 4;
    c.channels = 96;
    c.intermediateSize = 256;
    c.contextLength = 160;
    c.pretrainSteps = 300;
    c.pretrainSeqLen = 96;
    c.sftSteps = 150;
    c.rewardSteps = 160;
    c.ppoSteps = 40;
    c.rlhfRounds = 1;
    c.rewardK = 4;
    c.rewardRankingsPerPrompt = 1;
    c.refreshBeforeFirstRound = false;
    c.ppoDemoCoef = 0f;
    c.ppoBatch = 16;
    c.maxNewTokens = 32;
    c.evalPerKind = 12;
    return c;
  }

  public LifecycleConfig arch(Arch a) {
    arch = Objects.requireNonNull(a, "arch");
    return this;
  }

  /** RMSNorm's epsilon in the llama block. */
  static final float LLAMA_RMS_EPS = 1e-5f;

  /** The model this configuration builds, for a tokenizer of {@code vocab} tokens. */
  public GptConfig model(int vocab) {
    return switch (arch) {
      case GPT2 -> new GptConfig(layers, heads, channels, contextLength, vocab);
      case LLAMA -> GptConfig.llama(layers, heads, kvHeads, channels, intermediateSize, contextLength, vocab,
          RopeConfig.of(ropeTheta, channels / heads), LLAMA_RMS_EPS, true);
    };
  }

  public LifecycleConfig seed(long s) {
    seed = s;
    return this;
  }

  public LifecycleConfig device(String d) {
    device = Objects.requireNonNull(d, "device");
    return this;
  }

  public LifecycleConfig out(Path p) {
    out = p;
    return this;
  }

  public LifecycleConfig progress(boolean p) {
    progress = p;
    return this;
  }

  /** Checks every field; throws IllegalArgumentException naming the bad one. */
  public LifecycleConfig validate() {
    positive("vocabSize", vocabSize);
    positive("layers", layers);
    positive("heads", heads);
    positive("channels", channels);
    positive("contextLength", contextLength);
    if (channels % heads != 0) {
      throw new IllegalArgumentException("channels " + channels + " must be divisible by heads " + heads);
    }
    if (arch == null) throw new IllegalArgumentException("arch (--arch) is null");
    model(vocabSize); // the block's own checks (kvHeads dividing heads, RoPE's even head size, ...)
    positive("pretrainSteps", pretrainSteps);
    positive("pretrainBatch", pretrainBatch);
    positive("pretrainSeqLen", pretrainSeqLen);
    if (pretrainSeqLen > contextLength) {
      throw new IllegalArgumentException("pretrainSeqLen " + pretrainSeqLen + " exceeds contextLength " + contextLength);
    }
    positive("sftSteps", sftSteps);
    positive("sftBatch", sftBatch);
    nonNegativeCoef("sftPtxCoef", sftPtxCoef);
    positive("rewardSteps", rewardSteps);
    positive("rewardBatch", rewardBatch);
    positive("rewardRankingsPerPrompt", rewardRankingsPerPrompt);
    if (rewardK < 2) throw new IllegalArgumentException("rewardK must be >= 2, got " + rewardK);
    if (rewardMaxLength < 2 || rewardMaxLength > contextLength) {
      throw new IllegalArgumentException("rewardMaxLength must be in [2, contextLength=" + contextLength + "], got "
          + rewardMaxLength);
    }
    positive("ppoSteps", ppoSteps);
    positive("ppoBatch", ppoBatch);
    positiveFinite("ppoLr", ppoLr);
    nonNegativeCoef("ppoPtxCoef", ppoPtxCoef);
    nonNegativeCoef("ppoDemoCoef", ppoDemoCoef);
    positive("maxNewTokens", maxNewTokens);
    positive("rlhfRounds", rlhfRounds);
    positive("rewardRefreshSteps", rewardRefreshSteps);
    if (rejectionSamples == 1 || rejectionSamples < 0) {
      throw new IllegalArgumentException("rejectionSamples must be 0 (off) or >= 2, got " + rejectionSamples);
    }
    positive("rejectionIterations", rejectionIterations);
    positive("rejectionSteps", rejectionSteps);
    positiveFinite("rejectionLr", rejectionLr);
    nonNegativeCoef("rejectionPtxCoef", rejectionPtxCoef);
    nonNegativeCoef("rejectionConsensus", rejectionConsensus);
    nonNegativeCoef("rejectionGreedyMargin", rejectionGreedyMargin);
    if (refreshSamples < 1 || refreshSamples > rewardK) {
      throw new IllegalArgumentException("refreshSamples must be in [1, rewardK=" + rewardK + "], got " + refreshSamples);
    }
    if (evalPerKind < 0) throw new IllegalArgumentException("evalPerKind must be >= 0, got " + evalPerKind);
    return this;
  }

  private static void positiveFinite(String name, float v) {
    if (!(v > 0 && Float.isFinite(v))) throw new IllegalArgumentException(name + " must be finite and > 0, got " + v);
  }

  private static void nonNegativeCoef(String name, float v) {
    if (!(v >= 0 && Float.isFinite(v))) throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
  }

  private static void positive(String name, long v) {
    if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
  }
}
