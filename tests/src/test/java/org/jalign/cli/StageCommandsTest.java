package org.jalign.cli;

import static org.jalign.train.AlignFixtures.CPU;
import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.train.reward.RewardModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** The sft, reward and dpo subcommands: documented options, end-to-end runs on a tiny checkpoint, clear errors. */
class StageCommandsTest {
  @AfterAll
  static void noLeaks() {
    assertEquals(org.jalign.train.AlignFixtures.backendOwnBytes(), org.jalign.train.AlignFixtures.CPU.liveBytes(),
        "native memory left allocated");
  }

  @TempDir Path dir;

  @Test
  void everyOptionHasHelpText() {
    CommandLine cl = new CommandLine(new Main());
    for (String name : List.of("sft", "reward", "dpo")) {
      CommandLine sub = cl.getSubcommands().get(name);
      assertTrue(sub != null, name + " is registered");
      for (OptionSpec o : sub.getCommandSpec().options()) {
        assertTrue(o.description().length > 0 && !o.description()[0].isBlank(), name + " " + o.longestName());
      }
      String usage = sub.getUsageMessage();
      for (String opt : List.of("--model", "--train", "--out", "--lr", "--batch-size", "--max-steps", "--truncation")) {
        assertTrue(usage.contains(opt), name + " usage lists " + opt);
      }
    }
  }

  float[] params(Path ckpt) throws Exception {
    try (Checkpoint ck = Checkpoint.open(ckpt)) {
      return ck.tensor(Checkpoint.PARAMS);
    }
  }

  @Test
  void trainsEachStageFromCheckpointToCheckpoint() throws Exception {
    Path base = dir.resolve("base.ckpt");
    try (Gpt g = new Gpt(TINY, CPU, 41)) {
      new Checkpoint.Writer(TINY).tokenizer(TOK.toBytes()).tensor(Checkpoint.PARAMS, g.params()).write(base);
    }
    Path sft = dir.resolve("sft.jsonl");
    Files.writeString(sft, "{\"prompt\":\"ab\",\"completion\":\"AB\"}\n{\"prompt\":\"cd\",\"completion\":\"CD\"}\n");
    Path pairs = dir.resolve("pairs.jsonl");
    Files.writeString(pairs, "{\"prompt\":\"ab\",\"chosen\":\"AB\",\"rejected\":\"xy\"}\n"
        + "{\"prompt\":\"cd\",\"chosen\":\"CD\",\"rejected\":\"zz\",\"margin\":0.5}\n");
    Path ranks = dir.resolve("ranks.jsonl");
    Files.writeString(ranks, "{\"prompt\":\"ab\",\"responses\":[\"x\",\"AB\",\"ab\"],\"ranking\":[1,2,0]}\n"
        + "{\"prompt\":\"cd\",\"chosen\":\"CD\",\"rejected\":\"zz\"}\n");
    Path sftOut = dir.resolve("sft.ckpt"), rmOut = dir.resolve("rm.ckpt"), dpoOut = dir.resolve("dpo.ckpt");
    Path gatedOut = dir.resolve("rm-gated.ckpt"), ptxOut = dir.resolve("sft-ptx.ckpt");
    Path text = dir.resolve("corpus.txt");
    Files.writeString(text, "the cat sat on the mat.\n\nthe dog ran up the hill and down again.\n".repeat(4));
    PrintStream old = System.out;
    System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, Main.run("sft", "--model", base.toString(), "--train", sft.toString(), "--eval", sft.toString(),
          "--out", sftOut.toString(), "--max-steps", "3", "--batch-size", "2", "--lr", "1e-3"));
      assertEquals(0, Main.run("reward", "--model", sftOut.toString(), "--train", ranks.toString(), "--heldout",
          pairs.toString(), "--out", rmOut.toString(), "--max-steps", "2"));
      assertEquals(0, Main.run("dpo", "--model", sftOut.toString(), "--train", pairs.toString(), "--out",
          dpoOut.toString(), "--max-steps", "2", "--beta", "0.2"));
      assertEquals(0, Main.run("reward", "--model", sftOut.toString(), "--train", ranks.toString(), "--out",
          gatedOut.toString(), "--max-steps", "2", "--likelihood-gate"));
      assertEquals(0, Main.run("sft", "--model", base.toString(), "--train", sft.toString(), "--out",
          ptxOut.toString(), "--max-steps", "3", "--batch-size", "2", "--lr", "1e-3", "--ptx-text", text.toString(),
          "--ptx-coef", "1", "--ptx-batch-size", "2", "--ptx-seq-len", "16"));
    } finally {
      System.setOut(old);
    }
    assertFalse(Arrays.equals(params(base), params(sftOut)));
    assertFalse(Arrays.equals(params(sftOut), params(dpoOut)));
    assertFalse(Arrays.equals(params(sftOut), params(ptxOut)), "--ptx-text changes the fine-tuning");
    CliRun zero = CliRun.run("sft", "--model", base.toString(), "--train", sft.toString(), "--out",
        dir.resolve("o.ckpt").toString(), "--ptx-text", text.toString(), "--ptx-coef", "0");
    assertEquals(1, zero.rc());
    assertTrue(zero.err().contains("--ptx-coef must be > 0 with --ptx-text"), zero.err());
    try (RewardModel rm = RewardModel.load(rmOut, CPU)) {
      assertTrue(rm.std() > 0);
      assertFalse(rm.hasLikelihoodGate());
    }
    try (RewardModel rm = RewardModel.load(gatedOut, CPU)) {
      assertTrue(rm.hasLikelihoodGate());
      assertArrayEquals(params(sftOut), rm.reference().paramsToArray(), "the reference is the --model checkpoint");
    }
  }

  @Test
  void badInputFailsNamingFileAndLine() throws Exception {
    Path base = dir.resolve("base.ckpt");
    try (Gpt g = new Gpt(TINY, CPU, 42)) {
      new Checkpoint.Writer(TINY).tokenizer(TOK.toBytes()).tensor(Checkpoint.PARAMS, g.params()).write(base);
    }
    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, "{\"prompt\":\"ab\",\"responses\":[\"x\",\"y\"],\"ranking\":[1,1]}\n");
    PrintStream old = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int rc;
    try {
      rc = Main.run("reward", "--model", base.toString(), "--train", bad.toString(), "--out", dir.resolve("o").toString());
    } finally {
      System.setErr(old);
    }
    assertEquals(1, rc);
    String msg = err.toString(StandardCharsets.UTF_8);
    assertTrue(msg.contains(bad + ":1:") && msg.contains("permutation"), msg);
  }
}
