package org.jalign.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.jalign.data.TokenSource;
import org.jalign.text.Tokenizer;
import picocli.CommandLine.Option;

/**
 * The ptx options of {@code jalign sft} and {@code jalign ppo} (a picocli mixin): plain text whose language-model
 * loss, weighted by {@code --ptx-coef}, joins every update so the model keeps what it learned from that text.
 */
final class PtxOptions {
  @Option(names = "--ptx-text", paramLabel = "FILE", arity = "1..*", description = "Plain-text file(s) (e.g. the "
      + "pretraining corpus; paragraphs separated by blank lines) whose language-model loss, weighted by --ptx-coef, "
      + "joins every update so the model keeps what it learned from them (SFT-ptx, PPO-ptx).")
  List<Path> ptxText;

  @Option(names = "--ptx-coef", paramLabel = "G", description = "Weight of the --ptx-text language-model loss "
      + "(default: ${DEFAULT-VALUE}).")
  float ptxCoef = 0.5f;

  @Option(names = "--ptx-batch-size", paramLabel = "N", description = "Windows of --ptx-text per update (default: "
      + "${DEFAULT-VALUE}).")
  int ptxBatchSize = 8;

  @Option(names = "--ptx-seq-len", paramLabel = "T", description = "Tokens per --ptx-text window, at most the "
      + "context length (default: ${DEFAULT-VALUE}).")
  int ptxSeqLen = 64;

  /** The weight to configure: --ptx-coef with --ptx-text, else 0 (off). */
  float coef() {
    return ptxText == null ? 0f : ptxCoef;
  }

  /**
   * The documents of --ptx-text (null without it), read before any model is loaded so a bad option fails first.
   * Refuses a non-positive --ptx-coef and names an unreadable file.
   */
  List<String> documents() throws IOException {
    if (ptxText == null) return null;
    if (!(ptxCoef > 0)) throw new IllegalArgumentException("--ptx-coef must be > 0 with --ptx-text, got " + ptxCoef);
    return PretrainCommand.readDocuments(ptxText, "--ptx-text");
  }

  /** The documents tokenized (null for null); refuses a text shorter than one window. */
  TokenSource tokens(List<String> documents, Tokenizer tok) {
    if (documents == null) return null;
    TokenSource tokens = TokenSource.ofDocuments(documents, tok);
    if (tokens.size() < ptxSeqLen + 1L) {
      throw new IllegalArgumentException("--ptx-text has " + tokens.size() + " tokens, fewer than one window of "
          + "--ptx-seq-len + 1 = " + (ptxSeqLen + 1));
    }
    return tokens;
  }
}
