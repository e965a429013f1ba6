package org.jalign.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  @Test
  void everyModelCommandDocumentsDevice() {
    for (String c : COMMANDS) {
      CliRun r = CliRun.run(c, "--help");
      assertEquals(0, r.rc(), c);
      assertTrue(r.out().contains("--device=DEVICE") && r.out().contains("cuda:N"), c + " --help:\n" + r.out());
    }
    CliRun r = CliRun.run("feedback", "refresh", "--help");
    assertTrue(r.out().contains("--device=DEVICE"), r.out());
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
    CliRun sft = CliRun.run("sft", "--model", model.toString(), "--train", train.toString(), "--out",
        dir.resolve("o.ckpt").toString(), "--device", "tpu");
    assertEquals(1, sft.rc());
    assertTrue(sft.err().contains("tpu"), sft.err());
    CliRun gen = CliRun.run("generate", "--model", model.toString(), "--prompt", "hi", "--max-new-tokens", "8", "--device",
        "cuda:x");
    assertEquals(1, gen.rc());
    assertTrue(gen.err().contains("cuda:x"), gen.err());
    assertTrue(!Files.exists(dir.resolve("o.ckpt")));
  }
}
