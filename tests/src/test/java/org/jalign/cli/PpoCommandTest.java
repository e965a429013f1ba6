package org.jalign.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jalign.backend.CpuBackend;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.train.reward.RewardModel;
import org.jalign.text.ByteTokenizer;
import org.jalign.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jalign ppo} end to end on tiny checkpoints: help, a run, a resumed run, PPO-ptx and demonstrations. */
class PpoCommandTest {

  @Test
  void helpListsEveryOption() {
    assertEquals(0, Main.run("ppo", "--help"));
  }

  @Test
  void trainsWritesAndResumes(@TempDir Path dir) throws Exception {
    Tokenizer tok = new ByteTokenizer();
    GptConfig cfg = new GptConfig(1, 2, 16, 32, tok.vocabSize());
    Path policy = dir.resolve("policy.ckpt"), rm = dir.resolve("rm.ckpt"), prompts = dir.resolve("p.jsonl");
    try (CpuBackend cpu = new CpuBackend(); Gpt g = new Gpt(cfg, cpu, 3)) {
      new Checkpoint.Writer(cfg).tokenizer(tok.toBytes()).tensor(Checkpoint.PARAMS, g.params()).write(policy);
      try (RewardModel r = RewardModel.fromPolicy(g, 5)) {
        r.save(rm);
      }
    }
    Files.writeString(prompts, "{\"prompt\": \"hi\"}\n{\"prompt\": \"say more\"}\n");
    Path out = dir.resolve("out.ckpt"), state = dir.resolve("state.ckpt");
    assertEquals(0, Main.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", out.toString(), "--state", state.toString(), "--steps", "2", "--batch-size", "4",
        "--mini-batches", "2", "--response-length", "4", "--lr", "1e-3"));
    assertTrue(Files.size(out) > 0 && Files.size(state) > 0);
    assertEquals(0, Main.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", out.toString(), "--resume", state.toString(), "--steps", "3", "--batch-size",
        "4", "--mini-batches", "2", "--response-length", "4", "--lr", "1e-3"));
    assertEquals(1, Main.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", out.toString(), "--batch-size", "4", "--mini-batches", "3"));

    // PPO-ptx on a text file: runs; a missing or too-short file is refused before training
    Path text = dir.resolve("corpus.txt"), tiny = dir.resolve("tiny.txt");
    Files.writeString(text, "the cat sat on the mat.\n\nthe dog ran up the hill and down again.\n".repeat(4));
    Files.writeString(tiny, "hi");
    Path ptxOut = dir.resolve("ptx.ckpt");
    assertEquals(0, Main.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", ptxOut.toString(), "--steps", "2", "--batch-size", "4", "--response-length",
        "4", "--ptx-text", text.toString(), "--ptx-coef", "1", "--ptx-batch-size", "2", "--ptx-seq-len", "16"));
    assertTrue(Files.size(ptxOut) > 0);
    CliRun tooShort = CliRun.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", ptxOut.toString(), "--steps", "1", "--batch-size", "4", "--response-length",
        "4", "--ptx-text", tiny.toString(), "--ptx-seq-len", "16");
    CliRun absent = CliRun.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", ptxOut.toString(), "--ptx-text", dir.resolve("absent.txt").toString());
    assertEquals(1, tooShort.rc());
    assertEquals(1, absent.rc());
    assertTrue(tooShort.err().contains("fewer than one window"), tooShort.err());
    assertTrue(absent.err().contains("--ptx-text") && absent.err().contains("no such file"), absent.err());

    // demonstrations mixed into every policy update: run; a malformed file or a zero weight is refused first
    Path demos = dir.resolve("demos.jsonl"), broken = dir.resolve("broken.jsonl");
    Files.writeString(demos, "{\"prompt\": \"hi\", \"completion\": \"Hello.\"}\n{\"prompt\": \"say more\", "
        + "\"completion\": \"More.\"}\n");
    Files.writeString(broken, "{\"prompt\": \"hi\", \"completion\": \"Hello.\"}\n{\"prompt\": \n");
    Path demoOut = dir.resolve("demo.ckpt");
    CliRun withDemos = CliRun.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", demoOut.toString(), "--steps", "2", "--batch-size", "4", "--response-length",
        "4", "--demonstrations", demos.toString(), "--demo-coef", "0.5", "--demo-batch-size", "2");
    assertEquals(0, withDemos.rc(), withDemos.err());
    assertTrue(Files.size(demoOut) > 0);
    Files.delete(demoOut);
    CliRun malformed = CliRun.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", demoOut.toString(), "--demonstrations", broken.toString());
    assertEquals(1, malformed.rc());
    assertTrue(malformed.err().contains("broken.jsonl:2:"), malformed.err());
    assertTrue(!Files.exists(demoOut), "a refused run wrote " + demoOut);
    CliRun zero = CliRun.run("ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", demoOut.toString(), "--demonstrations", demos.toString(), "--demo-coef", "0");
    assertEquals(1, zero.rc());
    assertTrue(zero.err().contains("--demo-coef must be > 0"), zero.err());
    assertTrue(!Files.exists(demoOut), "a refused run wrote " + demoOut);
  }
}
