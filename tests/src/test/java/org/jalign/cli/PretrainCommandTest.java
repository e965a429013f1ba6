package org.jalign.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jalign.backend.CpuBackend;
import org.jalign.io.Checkpoint;
import org.jalign.model.GptConfig;
import org.jalign.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine;

/** {@code jalign pretrain} end to end on a tiny model: a new model, continued pretraining, and clear errors. */
class PretrainCommandTest {
  /** Runs {@code jalign args...} capturing standard output and error. */
  static CliRun run(String... args) {
    return CliRun.run(args);
  }

  /** A small deterministic corpus: paragraphs of template sentences separated by blank lines. */
  static Path corpus(Path file) throws Exception {
    String[] subj = {"the cat", "a dog", "the old man", "my sister", "the bird", "a child"};
    String[] verb = {"sees", "likes", "follows", "paints", "finds", "carries"};
    String[] obj = {"the red ball", "a green apple", "the small boat", "a blue kite", "the long road", "the tree"};
    String[] place = {"in the garden", "by the river", "at home", "near the school", "on the hill"};
    Random rnd = new Random(7);
    StringBuilder sb = new StringBuilder();
    for (int p = 0; p < 200; p++) {
      int n = 2 + rnd.nextInt(4);
      for (int s = 0; s < n; s++) {
        String sent = subj[rnd.nextInt(subj.length)] + " " + verb[rnd.nextInt(verb.length)] + " "
            + obj[rnd.nextInt(obj.length)] + " " + place[rnd.nextInt(place.length)] + ".";
        sb.append(Character.toUpperCase(sent.charAt(0))).append(sent.substring(1)).append(s + 1 < n ? " " : "\n");
      }
      sb.append(p % 7 == 0 ? "\n  \n" : "\n"); // blank lines, one with spaces
    }
    Files.writeString(file, sb.toString());
    return file;
  }

  /** A tiny new model: 1 layer, 32 channels, context 32, vocabulary about 300. */
  static List<String> tinyArgs(Path text, Path out, int steps) {
    return new ArrayList<>(List.of("pretrain", "--text", text.toString(), "--out", out.toString(), "--layers", "1",
        "--heads", "2", "--channels", "32", "--context-length", "32", "--vocab-size", "300", "--seq-len", "32",
        "--batch-size", "4", "--max-steps", String.valueOf(steps), "--lr", "3e-3", "--warmup-steps", "4",
        "--val-fraction", "0.1", "--val-every", "0", "--peak-flops", "1e9", "--device", "cpu", "--init-seed", "3"));
  }

  private static final Pattern VAL = Pattern.compile("val loss ([0-9.]+|n/a) -> ([0-9.]+)");

  @Test
  void helpDocumentsEveryOption() {
    CommandLine sub = new CommandLine(new Main()).getSubcommands().get("pretrain");
    assertTrue(sub != null, "pretrain is registered");
    for (OptionSpec o : sub.getCommandSpec().options()) {
      assertTrue(o.description().length > 0 && !o.description()[0].isBlank(), o.longestName());
    }
    CliRun r = run("pretrain", "--help");
    assertEquals(0, r.rc());
    for (String opt : List.of("--text", "--out", "--model", "--vocab-size", "--layers", "--heads", "--channels",
        "--context-length", "--init-seed", "--seq-len", "--batch-size", "--max-steps", "--lr", "--warmup-steps",
        "--val-fraction", "--checkpoint", "--resume", "--device")) {
      assertTrue(r.out().contains(opt), "usage lists " + opt);
    }
    assertTrue(r.out().contains("(default: 1000)"), "defaults are shown:\n" + r.out());
  }

  @Test
  void pretrainsANewModelThenContinuesIt(@TempDir Path dir) throws Exception {
    Path text = corpus(dir.resolve("corpus.txt"));
    Path out = dir.resolve("out/pretrain.ckpt");
    CliRun r = run(tinyArgs(text, out, 40).toArray(String[]::new));
    assertEquals(0, r.rc(), r.all());
    assertTrue(Files.size(out) > 0);
    Matcher m = VAL.matcher(r.out());
    assertTrue(m.find(), r.out());
    double start = Double.parseDouble(m.group(1)), end = Double.parseDouble(m.group(2));
    assertTrue(end < start - 0.5, "validation loss went down: " + start + " -> " + end);
    assertTrue(r.out().contains("tokens/s"), r.out());

    // the checkpoint holds the shape, the stage and a tokenizer that jalign sft can read
    byte[] tokBytes;
    try (Checkpoint ck = Checkpoint.open(out)) {
      GptConfig c = ck.config();
      assertEquals(1, c.layers());
      assertEquals(32, c.channels());
      assertEquals(32, c.contextLength());
      assertEquals("pretrain", ck.strings().get("stage"));
      tokBytes = ck.tokenizer();
    }
    try (CpuBackend cpu = new CpuBackend()) {
      org.jalign.io.ModelFiles.Loaded loaded = org.jalign.io.ModelFiles.load(out, cpu);
      try (var g = loaded.model()) {
        Tokenizer tok = loaded.tokenizer();
        assertTrue(tok.vocabSize() <= 300 && tok.vocabSize() > 262, "vocab " + tok.vocabSize());
        assertEquals(tok.vocabSize(), g.config().vocabSize());
        // the saved weights are the trained ones: their loss on the text is far below a uniform guess (ln V)
        int[] ids = tok.encode(Files.readString(text).substring(0, 2000));
        int t = 32, b = 4;
        assertTrue(ids.length > b * (t + 1));
        int[] in = new int[b * t], tg = new int[b * t];
        for (int row = 0; row < b; row++) {
          System.arraycopy(ids, row * (t + 1), in, row * t, t);
          System.arraycopy(ids, row * (t + 1) + 1, tg, row * t, t);
        }
        double nll = 0;
        for (float lp : g.tokenLogprobs(in, tg, b, t, null, null)) nll -= lp;
        nll /= b * t;
        assertTrue(nll < Math.log(tok.vocabSize()) - 1, "loss of the saved model " + nll);
      }
    }

    // continue pretraining from --model: its own tokenizer, new weights
    Path more = dir.resolve("more.ckpt");
    CliRun r2 = run("pretrain", "--text", text.toString(), "--model", out.toString(), "--out", more.toString(),
        "--seq-len", "32", "--batch-size", "4", "--max-steps", "10", "--lr", "1e-3", "--warmup-steps", "0",
        "--val-fraction", "0.1", "--peak-flops", "1e9", "--device", "cpu");
    assertEquals(0, r2.rc(), r2.all());
    assertFalse(r2.out().contains("tokenizer: "), "no new tokenizer is trained with --model");
    try (Checkpoint a = Checkpoint.open(out); Checkpoint c = Checkpoint.open(more)) {
      assertEquals(a.config(), c.config());
      assertArrayEquals(tokBytes, c.tokenizer());
      assertFalse(Arrays.equals(a.tensor(Checkpoint.PARAMS), c.tensor(Checkpoint.PARAMS)), "weights changed");
    }

    // --model fixes the shape: shape options are refused, naming them
    CliRun r3 = run("pretrain", "--text", text.toString(), "--model", out.toString(), "--out", more.toString(),
        "--layers", "2", "--vocab-size", "400");
    assertEquals(1, r3.rc());
    assertTrue(r3.err().contains("--vocab-size, --layers") && r3.err().contains("--model"), r3.err());
    // and the model's context length bounds --seq-len
    CliRun r4 = run("pretrain", "--text", text.toString(), "--model", out.toString(), "--out", more.toString());
    assertEquals(1, r4.rc());
    assertTrue(r4.err().contains("--seq-len 64 exceeds the context length 32"), r4.err());
  }

  @Test
  void resumesFromTheTrainerState(@TempDir Path dir) throws Exception {
    Path text = corpus(dir.resolve("corpus.txt"));
    Path state = dir.resolve("state.ckpt"), out = dir.resolve("a.ckpt"), out2 = dir.resolve("b.ckpt");
    List<String> args = tinyArgs(text, out, 6);
    args.addAll(List.of("--checkpoint", state.toString()));
    CliRun r = run(args.toArray(String[]::new));
    assertEquals(0, r.rc(), r.all());
    try (Checkpoint ck = Checkpoint.open(state)) {
      assertEquals(6, ck.step());
      assertTrue(ck.hasTensor(Checkpoint.ADAM_M));
    }
    List<String> more = tinyArgs(text, out2, 8);
    more.addAll(List.of("--resume", state.toString()));
    CliRun r2 = run(more.toArray(String[]::new));
    assertEquals(0, r2.rc(), r2.all());
    assertTrue(r2.out().contains("(8 steps"), r2.out());
    try (Checkpoint a = Checkpoint.open(out); Checkpoint b = Checkpoint.open(out2)) {
      assertArrayEquals(a.tokenizer(), b.tokenizer());
      assertFalse(Arrays.equals(a.tensor(Checkpoint.PARAMS), b.tensor(Checkpoint.PARAMS)));
    }
  }

  /** {@code args} with option {@code opt} set to {@code value} (replaced when present). */
  static String[] with(List<String> args, String opt, String value) {
    List<String> a = new ArrayList<>(args);
    int i = a.indexOf(opt);
    if (i >= 0) a.set(i + 1, value);
    else a.addAll(List.of(opt, value));
    return a.toArray(String[]::new);
  }

  static String[] with(String[] args, String opt, String value) {
    return with(List.of(args), opt, value);
  }

  private static void assertFails(CliRun r, String... parts) {
    assertEquals(1, r.rc(), r.all());
    for (String p : parts) assertTrue(r.err().contains(p), "error names '" + p + "': " + r.err());
  }

  @Test
  void badInputIsRefusedWithAClearMessage(@TempDir Path dir) throws Exception {
    Path text = corpus(dir.resolve("corpus.txt"));
    Path out = dir.resolve("o.ckpt");
    Path empty = dir.resolve("empty.txt");
    Files.writeString(empty, "\n  \n\n");
    assertFails(run("pretrain", "--text", text.toString(), empty.toString(), "--out", out.toString()),
        empty.toString(), "is empty");
    Path missing = dir.resolve("missing.txt");
    assertFails(run("pretrain", "--text", missing.toString(), "--out", out.toString()), missing.toString(),
        "no such file");
    Path tiny = dir.resolve("tiny.txt");
    Files.writeString(tiny, "Just a few words.\n");
    assertFails(run("pretrain", "--text", tiny.toString(), "--out", out.toString(), "--vocab-size", "270"),
        "too short", "--seq-len + 1 = 65");

    assertFails(run(with(tinyArgs(text, out, 5), "--seq-len", "64")), "--seq-len 64 exceeds --context-length 32");
    assertFails(run(with(with(tinyArgs(text, out, 5), "--channels", "30"), "--heads", "4")),
        "--channels 30 must be divisible by --heads 4");
    assertFails(run(with(tinyArgs(text, out, 5), "--vocab-size", "100")), "--vocab-size 100 is too small", "262");
    assertFails(run(with(tinyArgs(text, out, 5), "--val-fraction", "1")), "--val-fraction must be in [0, 1)");
    assertFails(run(with(tinyArgs(text, out, 5), "--lr", "-1")), "--lr must be finite and > 0");
    assertFalse(Files.exists(out), "nothing is written on an error");
  }
}
