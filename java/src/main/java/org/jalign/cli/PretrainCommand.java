package org.jalign.cli;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.jalign.backend.Backend;
import org.jalign.data.TokenBatcher;
import org.jalign.data.TokenSource;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.optim.AdamWConfig;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.Tokenizer;
import org.jalign.train.pretrain.PretrainConfig;
import org.jalign.train.pretrain.PretrainTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jalign pretrain}: next-token pretraining of a GPT on the user's plain-text files. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
    description = {"Pretraining: trains a GPT on next-token prediction over plain UTF-8 text files and writes a "
        + "checkpoint with its tokenizer embedded (the input of jalign sft, reward, dpo, ppo, chat and generate).",
        "Paragraphs (separated by blank lines) become documents separated by the <|endoftext|> token; the last "
            + "--val-fraction of the tokens is held out for the validation loss.",
        "Without --model a new model is created: a byte-level BPE tokenizer of --vocab-size ids is trained on the "
            + "text and the model gets the shape --layers/--heads/--channels/--context-length. With --model the "
            + "checkpoint is pretrained further with its own tokenizer and shape."})
final class PretrainCommand implements Callable<Integer> {
  /** Shape options that only apply to a new model. */
  static final List<String> SHAPE_OPTIONS = List.of("--vocab-size", "--layers", "--heads", "--channels",
      "--context-length", "--init-seed");

  private static final Pattern BLANK_LINES = Pattern.compile("\\R[ \\t\\f\\x0B]*\\R");
  private static final int BYTE_TOKENS = 256;

  @Spec CommandSpec spec;

  @Option(names = "--text", required = true, arity = "1..*", paramLabel = "FILE",
      description = "One or more UTF-8 text files to train on; paragraphs separated by blank lines become documents.")
  List<Path> text;

  @Option(names = "--out", required = true, paramLabel = "CKPT",
      description = "Where to write the trained model checkpoint (parameters and tokenizer).")
  Path out;

  @Option(names = "--model", paramLabel = "CKPT",
      description = "Continue pretraining this checkpoint with its own tokenizer and shape (default: create a new model).")
  Path model;

  // ---- a new model

  @Option(names = "--vocab-size", paramLabel = "V",
      description = "New model: ids of the BPE tokenizer trained on the text, at least 256 bytes + "
          + "6 special tokens; fewer when the text runs out of pairs to merge (default: ${DEFAULT-VALUE}).")
  int vocabSize = 1024;

  @Option(names = "--layers", paramLabel = "L", description = "New model: transformer layers (default: ${DEFAULT-VALUE}).")
  int layers = 4;

  @Option(names = "--heads", paramLabel = "NH", description = "New model: attention heads; must divide --channels (default: ${DEFAULT-VALUE}).")
  int heads = 4;

  @Option(names = "--channels", paramLabel = "C", description = "New model: embedding width (default: ${DEFAULT-VALUE}).")
  int channels = 128;

  @Option(names = "--context-length", paramLabel = "T", description = "New model: longest sequence it can read, at least --seq-len (default: ${DEFAULT-VALUE}).")
  int contextLength = 128;

  @Option(names = "--init-seed", paramLabel = "SEED", description = "New model: weight initialisation seed (default: ${DEFAULT-VALUE}).")
  long initSeed = 42;

  // ---- training

  @Option(names = "--batch-size", paramLabel = "B", description = "Rows per micro-batch (default: ${DEFAULT-VALUE}).")
  int batchSize = 4;

  @Option(names = "--seq-len", paramLabel = "T", description = "Tokens per row, at most the model's context length (default: ${DEFAULT-VALUE}).")
  int seqLen = 64;

  @Option(names = "--grad-accum", paramLabel = "N", description = "Micro-batches per optimizer step (default: ${DEFAULT-VALUE}).")
  int gradAccum = 1;

  @Option(names = "--max-steps", paramLabel = "N", description = "Optimizer steps; the learning-rate schedule spans them (default: ${DEFAULT-VALUE}).")
  int maxSteps = 1000;

  @Option(names = "--lr", paramLabel = "RATE", description = "Peak AdamW learning rate (default: ${DEFAULT-VALUE}).")
  float lr = AdamWConfig.DEFAULT_LR;

  @Option(names = "--min-lr-fraction", paramLabel = "F", description = "Cosine decay to lr*F after warm-up; 1 keeps the rate constant (default: ${DEFAULT-VALUE}).")
  double minLrFraction = 0.1;

  @Option(names = "--warmup-steps", paramLabel = "N", description = "Linear learning-rate warm-up steps, capped at --max-steps (default: ${DEFAULT-VALUE}).")
  int warmupSteps = 100;

  @Option(names = "--weight-decay", paramLabel = "WD", description = "AdamW weight decay on matrices and embeddings (default: ${DEFAULT-VALUE}).")
  float weightDecay = AdamWConfig.DEFAULT_WEIGHT_DECAY;

  @Option(names = "--grad-clip", paramLabel = "NORM", description = "Max global gradient norm, 0 = off (default: ${DEFAULT-VALUE}).")
  double gradClip = 1.0;

  @Option(names = "--order", paramLabel = "ORDER", description = "Batch order over the token windows: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
  TokenBatcher.Order order = TokenBatcher.Order.RANDOM;

  @Option(names = "--seed", paramLabel = "SEED", description = "Batch-order seed (default: ${DEFAULT-VALUE}).")
  long seed = 1337;

  @Option(names = "--val-fraction", paramLabel = "F", description = "Held-out tail of the tokens for the validation loss, in [0, 1); "
      + "none when it would hold less than one window of --seq-len + 1 tokens (default: ${DEFAULT-VALUE}).")
  double valFraction = 0.05;

  @Option(names = "--val-every", paramLabel = "N", description = "Validation loss every N steps, 0 = only at the end, negative = never during training (default: ${DEFAULT-VALUE}).")
  int valEvery = 100;

  @Option(names = "--val-batches", paramLabel = "N", description = "Batches per validation loss (default: ${DEFAULT-VALUE}).")
  int valBatches = 8;

  @Option(names = "--checkpoint", paramLabel = "FILE", description = "Also write the full trainer state (parameters, AdamW moments, step, data cursor) here, for --resume.")
  Path checkpoint;

  @Option(names = "--checkpoint-every", paramLabel = "N", description = "Write --checkpoint every N steps, 0 = only at the end (default: ${DEFAULT-VALUE}).")
  int checkpointEvery = 0;

  @Option(names = "--resume", paramLabel = "FILE", description = "Continue exactly from a --checkpoint file (same text, model options and --seed/--order); "
      + "its tokenizer is used instead of training a new one.")
  Path resume;

  @Option(names = "--peak-flops", paramLabel = "FLOPS", description = "Peak FLOP/s for the MFU estimate, 0 = measure one GEMM (default: ${DEFAULT-VALUE}).")
  double peakFlops = 0;

  @Option(names = "--log-every", paramLabel = "N", description = "Print a log line every N steps when no progress bar is shown (no console), 0 = none (default: ${DEFAULT-VALUE}).")
  int logEvery = 0;

  @Option(names = "--no-progress-bar", description = "Do not show the one-line progress bar on a console.")
  boolean noProgressBar;

  @Mixin DeviceOption device;

  /** Checks the options that need no file; throws IllegalArgumentException naming the option. */
  PretrainConfig config() {
    List<String> shape = new ArrayList<>();
    for (String o : SHAPE_OPTIONS) {
      if (spec != null && spec.commandLine().getParseResult().hasMatchedOption(o)) shape.add(o);
    }
    if (model != null && !shape.isEmpty()) {
      throw new IllegalArgumentException(String.join(", ", shape) + " only apply to a new model; --model " + model
          + " keeps its own tokenizer and shape (drop --model to create a new model)");
    }
    if (model == null) {
      int minVocab = BYTE_TOKENS + Tokenizer.STANDARD_SPECIALS.size();
      if (vocabSize < minVocab) {
        throw new IllegalArgumentException("--vocab-size " + vocabSize + " is too small: the tokenizer needs at least "
            + BYTE_TOKENS + " byte tokens + " + Tokenizer.STANDARD_SPECIALS.size() + " special tokens = " + minVocab);
      }
      positive("--layers", layers);
      positive("--heads", heads);
      positive("--channels", channels);
      positive("--context-length", contextLength);
      if (channels % heads != 0) {
        throw new IllegalArgumentException("--channels " + channels + " must be divisible by --heads " + heads);
      }
      try {
        new GptConfig(layers, heads, channels, contextLength, vocabSize); // the size limits
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("bad model shape: " + e.getMessage(), e);
      }
      if (seqLen > contextLength) {
        throw new IllegalArgumentException("--seq-len " + seqLen + " exceeds --context-length " + contextLength
            + "; lower --seq-len or raise --context-length");
      }
    }
    positive("--batch-size", batchSize);
    positive("--seq-len", seqLen);
    positive("--grad-accum", gradAccum);
    positive("--max-steps", maxSteps);
    positive("--val-batches", valBatches);
    if (!(valFraction >= 0 && valFraction < 1)) {
      throw new IllegalArgumentException("--val-fraction must be in [0, 1), got " + valFraction);
    }
    if (!(lr > 0) || !Float.isFinite(lr)) throw new IllegalArgumentException("--lr must be finite and > 0, got " + lr);
    if (!(minLrFraction >= 0 && minLrFraction <= 1)) {
      throw new IllegalArgumentException("--min-lr-fraction must be in [0, 1], got " + minLrFraction);
    }
    if (warmupSteps < 0) throw new IllegalArgumentException("--warmup-steps must be >= 0, got " + warmupSteps);
    if (!(weightDecay >= 0) || !Float.isFinite(weightDecay)) {
      throw new IllegalArgumentException("--weight-decay must be finite and >= 0, got " + weightDecay);
    }
    if (!(gradClip >= 0) || !Double.isFinite(gradClip)) {
      throw new IllegalArgumentException("--grad-clip must be finite and >= 0 (0 = off), got " + gradClip);
    }
    if (!(peakFlops >= 0) || !Double.isFinite(peakFlops)) {
      throw new IllegalArgumentException("--peak-flops must be finite and >= 0 (0 = measure), got " + peakFlops);
    }
    if (logEvery < 0) throw new IllegalArgumentException("--log-every must be >= 0, got " + logEvery);
    if (checkpointEvery < 0) throw new IllegalArgumentException("--checkpoint-every must be >= 0, got " + checkpointEvery);
    if (checkpointEvery > 0 && checkpoint == null) {
      throw new IllegalArgumentException("--checkpoint-every needs --checkpoint FILE");
    }
    try {
      return new PretrainConfig().batchSize(batchSize).seqLen(seqLen).gradAccumSteps(gradAccum).maxSteps(maxSteps)
          .lr(lr).minLrFraction(minLrFraction).warmupSteps(warmupSteps).weightDecay(weightDecay).gradClip(gradClip)
          .order(order).seed(seed).valFraction(valFraction).valEvery(valEvery).valBatches(valBatches)
          .checkpointEvery(checkpointEvery).checkpointPath(checkpoint).resumeFrom(resume).peakFlops(peakFlops)
          .logEvery(logEvery).progressBar(!noProgressBar);
    } catch (IllegalArgumentException e) {
      // the config names its fields (lr, warmupSteps ...): say which option was wrong
      throw new IllegalArgumentException("bad option: " + e.getMessage(), e);
    }
  }

  private static void positive(String name, int v) {
    if (v <= 0) throw new IllegalArgumentException(name + " must be > 0, got " + v);
  }

  /** The non-empty paragraphs of the text files, in order. */
  static List<String> readDocuments(List<Path> files) throws IOException {
    return readDocuments(files, "--text");
  }

  /** As {@link #readDocuments(List)}; errors name the files as given to {@code option}. */
  static List<String> readDocuments(List<Path> files, String option) throws IOException {
    List<String> docs = new ArrayList<>();
    for (Path f : files) {
      String s;
      try {
        s = Files.readString(f); // UTF-8, malformed input is an error
      } catch (NoSuchFileException e) {
        throw new IOException(option + " " + f + ": no such file", e);
      } catch (CharacterCodingException e) {
        throw new IOException(option + " " + f + " is not UTF-8 text (" + e + ")", e);
      } catch (IOException e) {
        throw new IOException(option + " " + f + ": cannot read it (" + e.getMessage() + ")", e);
      }
      if (s.startsWith("\uFEFF")) s = s.substring(1);
      int before = docs.size();
      for (String p : BLANK_LINES.split(s)) {
        String d = p.strip();
        if (!d.isEmpty()) docs.add(d);
      }
      if (docs.size() == before) throw new IllegalArgumentException(option + " " + f + " is empty (no text to train on)");
    }
    return docs;
  }

  /** Throws when the tokens cannot fill a training window (the trainer's split of them into train and val). */
  static void checkLength(long n, PretrainConfig cfg) {
    int window = cfg.seqLen() + 1;
    if (n < window) {
      throw new IllegalArgumentException("the text is too short: it has " + n + " tokens, fewer than one window of "
          + "--seq-len + 1 = " + window + " tokens; add text or lower --seq-len");
    }
    long val = (long) Math.floor(n * cfg.valFraction());
    if (val < window) val = 0;
    if (n - val < window) {
      throw new IllegalArgumentException("--val-fraction " + cfg.valFraction() + " holds out " + val + " of the "
          + n + " tokens, leaving fewer than one window of --seq-len + 1 = " + window + " tokens to train on; "
          + "lower --val-fraction");
    }
  }

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    try (OutputFiles.Grant g = overwrite.guard(Checkpoint.KIND, out)) {
      return execute();
    }
  }

  private Integer execute() throws Exception {
    PretrainConfig cfg = config();
    List<String> docs = readDocuments(text);
    // tokenizer and shape first (no native code yet), so bad input fails before anything is allocated
    Tokenizer tok = null;
    if (resume != null) tok = tokenizerOf(resume, "--resume");
    if (model != null) {
      GptConfig shape;
      try (Checkpoint ck = Checkpoint.open(model)) {
        shape = ck.config();
      }
      if (cfg.seqLen() > shape.contextLength()) {
        throw new IllegalArgumentException("--seq-len " + cfg.seqLen() + " exceeds the context length "
            + shape.contextLength() + " of --model " + model + "; lower --seq-len");
      }
      if (tok == null) tok = tokenizerOf(model, "--model");
      if (tok.vocabSize() > shape.vocabSize()) {
        throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " ids but the model only "
            + shape.vocabSize());
      }
    } else if (tok == null) {
      long t = System.nanoTime();
      tok = BpeTokenizer.train(docs, vocabSize, Tokenizer.STANDARD_SPECIALS);
      System.out.printf(Locale.ROOT, "tokenizer: %d ids trained on %d documents (%.1f s)%n", tok.vocabSize(),
          docs.size(), (System.nanoTime() - t) / 1e9);
    }
    TokenSource tokens = TokenSource.ofDocuments(docs, tok);
    checkLength(tokens.size(), cfg);

    try (Backend backend = device.open();
        Gpt policy = model != null ? ModelFiles.load(model, backend).model()
            : new Gpt(new GptConfig(layers, heads, channels, contextLength, tok.vocabSize()), backend, initSeed);
        PretrainTrainer trainer = new PretrainTrainer(policy, cfg, tokens)) {
      GptConfig mc = policy.config();
      System.out.printf(Locale.ROOT, "model: %d layers, %d heads, %d channels, context %d, vocabulary %d "
          + "(%,d parameters); text: %d documents, %,d tokens; device %s%n", mc.layers(), mc.heads(), mc.channels(),
          mc.contextLength(), mc.vocabSize(), policy.params().numel(), docs.size(), tokens.size(), backend.name());
      trainer.tokenizer(tok);
      long t = System.nanoTime();
      double valStart = resume == null ? trainer.validationLoss() : Double.NaN;
      PretrainTrainer.Result r = trainer.train();
      double valEnd = trainer.validationLoss();
      double secs = (System.nanoTime() - t) / 1e9;
      ModelFiles.save(out, policy, tok, "pretrain");
      System.out.printf(Locale.ROOT, "wrote %s (%d steps, train loss %.4f, val loss %s -> %s, ln V = %.3f, "
          + "%.0f tokens/s, %.1f s%s)%n", out, r.steps(), r.finalLoss(), fmt(valStart), fmt(valEnd),
          Math.log(tok.vocabSize()), r.tokensPerSecond(), secs,
          r.skippedSteps() > 0 ? ", " + r.skippedSteps() + " skipped steps" : "");
      if (checkpoint != null) System.out.println("trainer state in " + checkpoint);
    }
    return 0;
  }

  private static Tokenizer tokenizerOf(Path ckpt, String option) throws IOException {
    try (Checkpoint ck = Checkpoint.open(ckpt)) {
      if (ck.tokenizer().length == 0) {
        throw new IOException(option + " " + ckpt + " has no tokenizer; save the model with its tokenizer "
            + "(jalign pretrain does)");
      }
      return Tokenizer.fromBytes(ck.tokenizer());
    }
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.4f", v);
  }
}
