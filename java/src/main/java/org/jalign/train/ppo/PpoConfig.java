package org.jalign.train.ppo;

import java.io.PrintStream;

/**
 * Settings of {@link PpoTrainer}. Defaults follow TRL's PPO where it has one; every default is listed below.
 * Build with {@link #builder()} (or copy with {@link #toBuilder()}); {@link Builder#build()} rejects bad values
 * with a message naming the setting.
 *
 * <table>
 * <caption>Settings and defaults</caption>
 * <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 * <tr><td>steps</td><td>100</td><td>PPO iterations (rollout batch + optimisation) to run</td></tr>
 * <tr><td>batchSize</td><td>8</td><td>prompts (rollouts) per iteration</td></tr>
 * <tr><td>ppoEpochs</td><td>4</td><td>optimisation epochs over each rollout batch (TRL num_ppo_epochs)</td></tr>
 * <tr><td>miniBatches</td><td>1</td><td>minibatches per epoch (TRL num_mini_batches); must divide batchSize</td></tr>
 * <tr><td>lr</td><td>1e-5</td><td>AdamW learning rate of the policy</td></tr>
 * <tr><td>criticLr</td><td>1e-5</td><td>AdamW learning rate of the critic and its value head</td></tr>
 * <tr><td>weightDecay</td><td>0</td><td>AdamW weight decay of both models</td></tr>
 * <tr><td>gradClip</td><td>1</td><td>global gradient-norm clip of each model (0 = off)</td></tr>
 * <tr><td>gamma</td><td>1.0</td><td>GAE discount γ</td></tr>
 * <tr><td>lambda</td><td>0.95</td><td>GAE λ</td></tr>
 * <tr><td>clipRange</td><td>0.2</td><td>policy ratio clip ε (TRL cliprange)</td></tr>
 * <tr><td>valueClipRange</td><td>0.2</td><td>value clip around the rollout values (TRL cliprange_value)</td></tr>
 * <tr><td>vfCoef</td><td>0.1</td><td>weight of the value loss (TRL vf_coef); it scales the critic's gradients</td></tr>
 * <tr><td>entropyCoef</td><td>0</td><td>weight of the entropy bonus in the policy loss</td></tr>
 * <tr><td>klCoef</td><td>0.05</td><td>initial (or fixed) coefficient of the per-token KL penalty in the reward (TRL kl_coef)</td></tr>
 * <tr><td>adaptiveKl</td><td>false</td><td>adapt the KL coefficient with Ziegler's controller toward klTarget</td></tr>
 * <tr><td>klTarget</td><td>6.0</td><td>target per-sequence KL of the adaptive controller</td></tr>
 * <tr><td>klHorizon</td><td>10000</td><td>horizon (in samples) of the adaptive controller</td></tr>
 * <tr><td>whitenAdvantages</td><td>true</td><td>whiten advantages over each rollout batch (mean 0, variance 1)</td></tr>
 * <tr><td>approxKlBound</td><td>0.0</td><td>early stop of an iteration's epochs when a minibatch's approx-KL exceeds it (0 = off)</td></tr>
 * <tr><td>rewardClip</td><td>10.0</td><td>scores are clipped to [-rewardClip, rewardClip] (0 = off)</td></tr>
 * <tr><td>missingEosPenalty</td><td>0.0</td><td>subtracted from the score of a response that did not end with an end token (TRL missing_eos_penalty; 0 = off)</td></tr>
 * <tr><td>responseLength</td><td>53</td><td>maximum generated tokens per response (TRL response_length)</td></tr>
 * <tr><td>temperature</td><td>1</td><td>rollout sampling temperature (log-probs are always those of the untempered policy, so values other than 1 make rollouts slightly off-policy)</td></tr>
 * <tr><td>topK</td><td>0</td><td>rollout top-k (0 = off)</td></tr>
 * <tr><td>topP</td><td>1</td><td>rollout nucleus top-p (1 = off)</td></tr>
 * <tr><td>ptxCoef</td><td>0</td><td>weight γ of the pretraining (language-model) loss mixed into every policy update, PPO-ptx of Ouyang et al. 2022 (0 = off; needs {@link PpoTrainer#pretrainData})</td></tr>
 * <tr><td>ptxBatchSize</td><td>8</td><td>windows of pretraining text per policy update</td></tr>
 * <tr><td>ptxSeqLen</td><td>64</td><td>tokens per pretraining window (at most the policy's context length)</td></tr>
 * <tr><td>demoCoef</td><td>0</td><td>weight of the SFT loss on human demonstrations mixed into every policy update (0 = off; needs {@link PpoTrainer#demonstrations})</td></tr>
 * <tr><td>demoBatchSize</td><td>8</td><td>demonstrations per policy update</td></tr>
 * <tr><td>seed</td><td>0</td><td>seed of rollout sampling, minibatch shuffling and pretraining windows</td></tr>
 * <tr><td>progress</td><td>false</td><td>print the per-step progress line even without a console</td></tr>
 * <tr><td>out</td><td>System.out</td><td>where progress and the summary line go</td></tr>
 * </table>
 */
public final class PpoConfig {
  private final int steps;
  private final int batchSize;
  private final int ppoEpochs;
  private final int miniBatches;
  private final float lr;
  private final float criticLr;
  private final float weightDecay;
  private final float gradClip;
  private final double gamma;
  private final double lambda;
  private final float clipRange;
  private final float valueClipRange;
  private final float vfCoef;
  private final float entropyCoef;
  private final float ptxCoef;
  private final int ptxBatchSize;
  private final int ptxSeqLen;
  private final float demoCoef;
  private final int demoBatchSize;
  private final double klCoef;
  private final boolean adaptiveKl;
  private final double klTarget;
  private final long klHorizon;
  private final boolean whitenAdvantages;
  private final double approxKlBound;
  private final double rewardClip;
  private final double missingEosPenalty;
  private final int responseLength;
  private final float temperature;
  private final int topK;
  private final float topP;
  private final long seed;
  private final boolean progress;
  private final PrintStream out;

  private PpoConfig(Builder b) {
    { int v = b.steps; if (!(v > 0)) throw new IllegalArgumentException("steps must be > 0, got " + v); }
    { int v = b.batchSize; if (!(v > 0)) throw new IllegalArgumentException("batchSize must be > 0, got " + v); }
    { int v = b.ppoEpochs; if (!(v > 0)) throw new IllegalArgumentException("ppoEpochs must be > 0, got " + v); }
    { int v = b.miniBatches; if (!(v > 0)) throw new IllegalArgumentException("miniBatches must be > 0, got " + v); }
    { float v = b.lr; if (!(Float.isFinite(v) && v >= 0)) throw new IllegalArgumentException("lr must be finite and >= 0, got " + v); }
    { float v = b.criticLr; if (!(Float.isFinite(v) && v >= 0)) throw new IllegalArgumentException("criticLr must be finite and >= 0, got " + v); }
    { float v = b.weightDecay; if (!(Float.isFinite(v) && v >= 0)) throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + v); }
    { float v = b.gradClip; if (!(Float.isFinite(v) && v >= 0)) throw new IllegalArgumentException("gradClip must be finite and >= 0, got " + v); }
    { double v = b.gamma; if (!(v >= 0 && v <= 1)) throw new IllegalArgumentException("gamma must be in [0, 1], got " + v); }
    { double v = b.lambda; if (!(v >= 0 && v <= 1)) throw new IllegalArgumentException("lambda must be in [0, 1], got " + v); }
    { float v = b.clipRange; if (!(v > 0 && v < 1)) throw new IllegalArgumentException("clipRange must be in (0, 1), got " + v); }
    { float v = b.valueClipRange; if (!(v > 0 && Float.isFinite(v))) throw new IllegalArgumentException("valueClipRange must be finite and > 0, got " + v); }
    { float v = b.vfCoef; if (!(v > 0 && Float.isFinite(v))) throw new IllegalArgumentException("vfCoef must be finite and > 0, got " + v); }
    { float v = b.entropyCoef; if (!(Float.isFinite(v) && v >= 0)) throw new IllegalArgumentException("entropyCoef must be finite and >= 0, got " + v); }
    { float v = b.ptxCoef; if (!(Float.isFinite(v) && v >= 0)) throw new IllegalArgumentException("ptxCoef must be finite and >= 0 (0 = off), got " + v); }
    { int v = b.ptxBatchSize; if (!(v > 0)) throw new IllegalArgumentException("ptxBatchSize must be > 0, got " + v); }
    { int v = b.ptxSeqLen; if (!(v > 0)) throw new IllegalArgumentException("ptxSeqLen must be > 0, got " + v); }
    { float v = b.demoCoef; if (!(Float.isFinite(v) && v >= 0)) throw new IllegalArgumentException("demoCoef must be finite and >= 0 (0 = off), got " + v); }
    { int v = b.demoBatchSize; if (!(v > 0)) throw new IllegalArgumentException("demoBatchSize must be > 0, got " + v); }
    { double v = b.klCoef; if (!(Double.isFinite(v) && v >= 0)) throw new IllegalArgumentException("klCoef must be finite and >= 0, got " + v); }
    { double v = b.klTarget; if (!(Double.isFinite(v) && v > 0)) throw new IllegalArgumentException("klTarget must be finite and > 0, got " + v); }
    { long v = b.klHorizon; if (!(v > 0)) throw new IllegalArgumentException("klHorizon must be > 0, got " + v); }
    { double v = b.approxKlBound; if (!(Double.isFinite(v) && v >= 0)) throw new IllegalArgumentException("approxKlBound must be finite and >= 0 (0 = off), got " + v); }
    { double v = b.rewardClip; if (!(Double.isFinite(v) && v >= 0)) throw new IllegalArgumentException("rewardClip must be finite and >= 0 (0 = off), got " + v); }
    { double v = b.missingEosPenalty; if (!(Double.isFinite(v) && v >= 0)) throw new IllegalArgumentException("missingEosPenalty must be finite and >= 0, got " + v); }
    { int v = b.responseLength; if (!(v > 0)) throw new IllegalArgumentException("responseLength must be > 0, got " + v); }
    { float v = b.temperature; if (!(Float.isFinite(v) && v > 0)) throw new IllegalArgumentException("temperature must be finite and > 0, got " + v); }
    { int v = b.topK; if (!(v >= 0)) throw new IllegalArgumentException("topK must be >= 0, got " + v); }
    { float v = b.topP; if (!(v > 0 && v <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + v); }
    if (b.batchSize % b.miniBatches != 0) {
      throw new IllegalArgumentException("miniBatches (" + b.miniBatches + ") must divide batchSize (" + b.batchSize
          + ")");
    }
    if (b.out == null) throw new IllegalArgumentException("out is null");
    steps = b.steps;
    batchSize = b.batchSize;
    ppoEpochs = b.ppoEpochs;
    miniBatches = b.miniBatches;
    lr = b.lr;
    criticLr = b.criticLr;
    weightDecay = b.weightDecay;
    gradClip = b.gradClip;
    gamma = b.gamma;
    lambda = b.lambda;
    clipRange = b.clipRange;
    valueClipRange = b.valueClipRange;
    vfCoef = b.vfCoef;
    entropyCoef = b.entropyCoef;
    ptxCoef = b.ptxCoef;
    ptxBatchSize = b.ptxBatchSize;
    ptxSeqLen = b.ptxSeqLen;
    demoCoef = b.demoCoef;
    demoBatchSize = b.demoBatchSize;
    klCoef = b.klCoef;
    adaptiveKl = b.adaptiveKl;
    klTarget = b.klTarget;
    klHorizon = b.klHorizon;
    whitenAdvantages = b.whitenAdvantages;
    approxKlBound = b.approxKlBound;
    rewardClip = b.rewardClip;
    missingEosPenalty = b.missingEosPenalty;
    responseLength = b.responseLength;
    temperature = b.temperature;
    topK = b.topK;
    topP = b.topP;
    seed = b.seed;
    progress = b.progress;
    out = b.out;
  }

  /** A builder holding the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** The defaults. */
  public static PpoConfig defaults() {
    return builder().build();
  }

  /** A builder holding this configuration's values. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.steps = steps;
    b.batchSize = batchSize;
    b.ppoEpochs = ppoEpochs;
    b.miniBatches = miniBatches;
    b.lr = lr;
    b.criticLr = criticLr;
    b.weightDecay = weightDecay;
    b.gradClip = gradClip;
    b.gamma = gamma;
    b.lambda = lambda;
    b.clipRange = clipRange;
    b.valueClipRange = valueClipRange;
    b.vfCoef = vfCoef;
    b.entropyCoef = entropyCoef;
    b.ptxCoef = ptxCoef;
    b.ptxBatchSize = ptxBatchSize;
    b.ptxSeqLen = ptxSeqLen;
    b.demoCoef = demoCoef;
    b.demoBatchSize = demoBatchSize;
    b.klCoef = klCoef;
    b.adaptiveKl = adaptiveKl;
    b.klTarget = klTarget;
    b.klHorizon = klHorizon;
    b.whitenAdvantages = whitenAdvantages;
    b.approxKlBound = approxKlBound;
    b.rewardClip = rewardClip;
    b.missingEosPenalty = missingEosPenalty;
    b.responseLength = responseLength;
    b.temperature = temperature;
    b.topK = topK;
    b.topP = topP;
    b.seed = seed;
    b.progress = progress;
    b.out = out;
    return b;
  }

  /** PPO iterations (rollout batch + optimisation) to run (default 100). */
  public int steps() {
    return steps;
  }

  /** Prompts (rollouts) per iteration (default 8). */
  public int batchSize() {
    return batchSize;
  }

  /** Optimisation epochs over each rollout batch (TRL num_ppo_epochs) (default 4). */
  public int ppoEpochs() {
    return ppoEpochs;
  }

  /** Minibatches per epoch (TRL num_mini_batches); must divide batchSize (default 1). */
  public int miniBatches() {
    return miniBatches;
  }

  /** AdamW learning rate of the policy (default 1e-5). */
  public float lr() {
    return lr;
  }

  /** AdamW learning rate of the critic and its value head (default 1e-5). */
  public float criticLr() {
    return criticLr;
  }

  /** AdamW weight decay of both models (default 0). */
  public float weightDecay() {
    return weightDecay;
  }

  /** Global gradient-norm clip of each model (0 = off) (default 1). */
  public float gradClip() {
    return gradClip;
  }

  /** GAE discount γ (default 1.0). */
  public double gamma() {
    return gamma;
  }

  /** GAE λ (default 0.95). */
  public double lambda() {
    return lambda;
  }

  /** Policy ratio clip ε (TRL cliprange) (default 0.2). */
  public float clipRange() {
    return clipRange;
  }

  /** Value clip around the rollout values (TRL cliprange_value) (default 0.2). */
  public float valueClipRange() {
    return valueClipRange;
  }

  /** Weight of the value loss (TRL vf_coef); it scales the critic's gradients (default 0.1). */
  public float vfCoef() {
    return vfCoef;
  }

  /** Weight of the entropy bonus in the policy loss (default 0). */
  public float entropyCoef() {
    return entropyCoef;
  }

  /** Initial (or fixed) coefficient of the per-token KL penalty in the reward (TRL kl_coef) (default 0.05). */
  public double klCoef() {
    return klCoef;
  }

  /** Adapt the KL coefficient with Ziegler's controller toward klTarget (default false). */
  public boolean adaptiveKl() {
    return adaptiveKl;
  }

  /** Target per-sequence KL of the adaptive controller (default 6.0). */
  public double klTarget() {
    return klTarget;
  }

  /** Horizon (in samples) of the adaptive controller (default 10000). */
  public long klHorizon() {
    return klHorizon;
  }

  /** Whiten advantages over each rollout batch (mean 0, variance 1) (default true). */
  public boolean whitenAdvantages() {
    return whitenAdvantages;
  }

  /** Early stop of an iteration's epochs when a minibatch's approx-KL exceeds it (0 = off) (default 0.0). */
  public double approxKlBound() {
    return approxKlBound;
  }

  /** Scores are clipped to [-rewardClip, rewardClip] (0 = off) (default 10.0). */
  public double rewardClip() {
    return rewardClip;
  }

  /** Subtracted from the score of a response that did not end with an end token (TRL missing_eos_penalty; 0 = off) (default 0.0). */
  public double missingEosPenalty() {
    return missingEosPenalty;
  }

  /** Maximum generated tokens per response (TRL response_length) (default 53). */
  public int responseLength() {
    return responseLength;
  }

  /** Rollout sampling temperature (log-probs are always those of the untempered policy, so values other than 1 make rollouts slightly off-policy) (default 1). */
  public float temperature() {
    return temperature;
  }

  /** Weight γ of the pretraining loss mixed into every policy update (PPO-ptx; 0 = off) (default 0). */
  public float ptxCoef() {
    return ptxCoef;
  }

  /** Windows of pretraining text per policy update (default 8). */
  public int ptxBatchSize() {
    return ptxBatchSize;
  }

  /** Tokens per pretraining window (default 64). */
  public int ptxSeqLen() {
    return ptxSeqLen;
  }

  /** Weight of the SFT loss on demonstrations mixed into every policy update (0 = off) (default 0). */
  public float demoCoef() {
    return demoCoef;
  }

  /** Demonstrations per policy update (default 8). */
  public int demoBatchSize() {
    return demoBatchSize;
  }

  /** Rollout top-k (0 = off) (default 0). */
  public int topK() {
    return topK;
  }

  /** Rollout nucleus top-p (1 = off) (default 1). */
  public float topP() {
    return topP;
  }

  /** Seed of rollout sampling and minibatch shuffling (default 0). */
  public long seed() {
    return seed;
  }

  /** Print the per-step progress line even without a console (default false). */
  public boolean progress() {
    return progress;
  }

  /** Where progress and the summary go (default System.out). */
  public PrintStream out() {
    return out;
  }

  /** The rollout size of one minibatch: batchSize / miniBatches. */
  public int miniBatchSize() {
    return batchSize / miniBatches;
  }

  @Override
  public String toString() {
    return "PpoConfig{" + "steps=" + steps + ", batchSize=" + batchSize + ", ppoEpochs=" + ppoEpochs + ", miniBatches=" + miniBatches + ", lr=" + lr + ", criticLr=" + criticLr + ", weightDecay=" + weightDecay + ", gradClip=" + gradClip + ", gamma=" + gamma + ", lambda=" + lambda + ", clipRange=" + clipRange + ", valueClipRange=" + valueClipRange + ", vfCoef=" + vfCoef + ", entropyCoef=" + entropyCoef + ", ptxCoef=" + ptxCoef + ", ptxBatchSize=" + ptxBatchSize + ", ptxSeqLen=" + ptxSeqLen + ", demoCoef=" + demoCoef + ", demoBatchSize=" + demoBatchSize + ", klCoef=" + klCoef + ", adaptiveKl=" + adaptiveKl + ", klTarget=" + klTarget + ", klHorizon=" + klHorizon + ", whitenAdvantages=" + whitenAdvantages + ", approxKlBound=" + approxKlBound + ", rewardClip=" + rewardClip + ", missingEosPenalty=" + missingEosPenalty + ", responseLength=" + responseLength + ", temperature=" + temperature + ", topK=" + topK + ", topP=" + topP + ", seed=" + seed + ", progress=" + progress + "}";
  }

  /** Mutable builder; {@link #build()} validates. */
  public static final class Builder {
    private int steps = 100;
    private int batchSize = 8;
    private int ppoEpochs = 4;
    private int miniBatches = 1;
    private float lr = 1e-5f;
    private float criticLr = 1e-5f;
    private float weightDecay = 0f;
    private float gradClip = 1f;
    private double gamma = 1.0;
    private double lambda = 0.95;
    private float clipRange = 0.2f;
    private float valueClipRange = 0.2f;
    private float vfCoef = 0.1f;
    private float entropyCoef = 0f;
    private float ptxCoef = 0f;
    private int ptxBatchSize = 8;
    private int ptxSeqLen = 64;
    private float demoCoef = 0f;
    private int demoBatchSize = 8;
    private double klCoef = 0.05;
    private boolean adaptiveKl = false;
    private double klTarget = 6.0;
    private long klHorizon = 10000;
    private boolean whitenAdvantages = true;
    private double approxKlBound = 0.0;
    private double rewardClip = 10.0;
    private double missingEosPenalty = 0.0;
    private int responseLength = 53;
    private float temperature = 1f;
    private int topK = 0;
    private float topP = 1f;
    private long seed = 0;
    private boolean progress = false;
    private PrintStream out = System.out;

    private Builder() {}

    /** PPO iterations (rollout batch + optimisation) to run. */
    public Builder steps(int v) {
      steps = v;
      return this;
    }

    /** Prompts (rollouts) per iteration. */
    public Builder batchSize(int v) {
      batchSize = v;
      return this;
    }

    /** Optimisation epochs over each rollout batch (TRL num_ppo_epochs). */
    public Builder ppoEpochs(int v) {
      ppoEpochs = v;
      return this;
    }

    /** Minibatches per epoch (TRL num_mini_batches); must divide batchSize. */
    public Builder miniBatches(int v) {
      miniBatches = v;
      return this;
    }

    /** AdamW learning rate of the policy. */
    public Builder lr(float v) {
      lr = v;
      return this;
    }

    /** AdamW learning rate of the critic and its value head. */
    public Builder criticLr(float v) {
      criticLr = v;
      return this;
    }

    /** AdamW weight decay of both models. */
    public Builder weightDecay(float v) {
      weightDecay = v;
      return this;
    }

    /** Global gradient-norm clip of each model (0 = off). */
    public Builder gradClip(float v) {
      gradClip = v;
      return this;
    }

    /** GAE discount γ. */
    public Builder gamma(double v) {
      gamma = v;
      return this;
    }

    /** GAE λ. */
    public Builder lambda(double v) {
      lambda = v;
      return this;
    }

    /** Policy ratio clip ε (TRL cliprange). */
    public Builder clipRange(float v) {
      clipRange = v;
      return this;
    }

    /** Value clip around the rollout values (TRL cliprange_value). */
    public Builder valueClipRange(float v) {
      valueClipRange = v;
      return this;
    }

    /** Weight of the value loss (TRL vf_coef); it scales the critic's gradients. */
    public Builder vfCoef(float v) {
      vfCoef = v;
      return this;
    }

    /** Weight of the entropy bonus in the policy loss. */
    public Builder entropyCoef(float v) {
      entropyCoef = v;
      return this;
    }

    /** Initial (or fixed) coefficient of the per-token KL penalty in the reward (TRL kl_coef). */
    public Builder klCoef(double v) {
      klCoef = v;
      return this;
    }

    /** Adapt the KL coefficient with Ziegler's controller toward klTarget. */
    public Builder adaptiveKl(boolean v) {
      adaptiveKl = v;
      return this;
    }

    /** Target per-sequence KL of the adaptive controller. */
    public Builder klTarget(double v) {
      klTarget = v;
      return this;
    }

    /** Horizon (in samples) of the adaptive controller. */
    public Builder klHorizon(long v) {
      klHorizon = v;
      return this;
    }

    /** Whiten advantages over each rollout batch (mean 0, variance 1). */
    public Builder whitenAdvantages(boolean v) {
      whitenAdvantages = v;
      return this;
    }

    /** Early stop of an iteration's epochs when a minibatch's approx-KL exceeds it (0 = off). */
    public Builder approxKlBound(double v) {
      approxKlBound = v;
      return this;
    }

    /** Scores are clipped to [-rewardClip, rewardClip] (0 = off). */
    public Builder rewardClip(double v) {
      rewardClip = v;
      return this;
    }

    /** Subtracted from the score of a response that did not end with an end token (TRL missing_eos_penalty; 0 = off). */
    public Builder missingEosPenalty(double v) {
      missingEosPenalty = v;
      return this;
    }

    /** Maximum generated tokens per response (TRL response_length). */
    public Builder responseLength(int v) {
      responseLength = v;
      return this;
    }

    /** Rollout sampling temperature (log-probs are always those of the untempered policy, so values other than 1 make rollouts slightly off-policy). */
    public Builder temperature(float v) {
      temperature = v;
      return this;
    }

    /**
     * Weight γ of the pretraining (language-model) loss mixed into every policy update: the policy's gradient is
     * that of PPO loss + γ · LM loss on windows of {@link PpoTrainer#pretrainData} (PPO-ptx, Ouyang et al. 2022),
     * which keeps what pretraining taught while the policy chases the reward. 0 = off.
     */
    public Builder ptxCoef(float v) {
      ptxCoef = v;
      return this;
    }

    /** Windows of pretraining text per policy update. */
    public Builder ptxBatchSize(int v) {
      ptxBatchSize = v;
      return this;
    }

    /** Tokens per pretraining window (at most the policy's context length). */
    public Builder ptxSeqLen(int v) {
      ptxSeqLen = v;
      return this;
    }

    /**
     * Weight of the SFT loss on human demonstrations mixed into every policy update: the policy's gradient is that
     * of PPO loss + this weight · the mean cross-entropy of the response tokens of {@link #demoBatchSize}
     * demonstrations ({@link PpoTrainer#demonstrations}). Where the reward model cannot check a fact, a demonstration
     * that states it keeps the policy from drifting to another one. 0 = off.
     */
    public Builder demoCoef(float v) {
      demoCoef = v;
      return this;
    }

    /** Demonstrations per policy update. */
    public Builder demoBatchSize(int v) {
      demoBatchSize = v;
      return this;
    }

    /** Rollout top-k (0 = off). */
    public Builder topK(int v) {
      topK = v;
      return this;
    }

    /** Rollout nucleus top-p (1 = off). */
    public Builder topP(float v) {
      topP = v;
      return this;
    }

    /** Seed of rollout sampling and minibatch shuffling. */
    public Builder seed(long v) {
      seed = v;
      return this;
    }

    /** Print the per-step progress line even without a console. */
    public Builder progress(boolean v) {
      progress = v;
      return this;
    }

    /** Where progress and the summary go. */
    public Builder out(PrintStream v) {
      out = v;
      return this;
    }

    public PpoConfig build() {
      return new PpoConfig(this);
    }
  }
}
