package org.jalign.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jalign.backend.CpuBackend;
import org.jalign.io.Checkpoint;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.text.ByteTokenizer;
import org.jalign.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every command that runs a model takes --device; a device that does not exist is refused by name. */
class DeviceOptionTest {
  static final String[] COMMANDS = {"lifecycle", "pretrain", "sft", "reward", "dpo", "ppo", "generate", "chat"};

  static String[] run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out, oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int rc;
    try {
      rc = Main.run(args);
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
    return new String[] {String.valueOf(rc), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
  }

  @Test
  void everyModelCommandDocumentsDevice() {
    for (String c : COMMANDS) {
      String[] r = run(c, "--help");
      assertEquals("0", r[0], c);
      assertTrue(r[1].contains("--device=DEVICE") && r[1].contains("cuda:N"), c + " --help:\n" + r[1]);
    }
    String[] r = run("feedback", "refresh", "--help");
    assertTrue(r[1].contains("--device=DEVICE"), r[1]);
  }

  @Test
  void anUnknownDeviceIsRefusedByName(@TempDir Path dir) throws Exception {
    Tokenizer tok = new ByteTokenizer();
    GptConfig cfg = new GptConfig(1, 2, 16, 32, tok.vocabSize());
    Path model = dir.resolve("m.ckpt"), train = dir.resolve("t.jsonl");
    try (CpuBackend cpu = new CpuBackend(); Gpt g = new Gpt(cfg, cpu, 3)) {
      new Checkpoint.Writer(cfg).tokenizer(tok.toBytes()).tensor(Checkpoint.PARAMS, g.params()).write(model);
    }
    Files.writeString(train, "{\"prompt\": \"hi\", \"completion\": \"there\"}\n");
    String[] sft = run("sft", "--model", model.toString(), "--train", train.toString(), "--out",
        dir.resolve("o.ckpt").toString(), "--device", "tpu");
    assertEquals("1", sft[0]);
    assertTrue(sft[2].contains("tpu"), sft[2]);
    String[] gen = run("generate", "--model", model.toString(), "--prompt", "hi", "--max-new-tokens", "8", "--device",
        "cuda:x");
    assertEquals("1", gen[0]);
    assertTrue(gen[2].contains("cuda:x"), gen[2]);
    assertTrue(!Files.exists(dir.resolve("o.ckpt")));
  }
}
