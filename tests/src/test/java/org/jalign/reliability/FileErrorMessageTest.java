package org.jalign.reliability;

import static org.jalign.train.AlignFixtures.CPU;
import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.jalign.cli.CliRun;
import org.jalign.data.DataFormatException;
import org.jalign.data.SftExample;
import org.jalign.io.Checkpoint;
import org.jalign.io.CheckpointException;
import org.jalign.io.Gpt2Safetensors;
import org.jalign.io.IoMessages;
import org.jalign.io.ModelFiles;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.TokenizerFormatException;
import org.jalign.train.reward.RewardModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every bad file gets an error that names the file and what in it is wrong, never a raw Java exception. */
class FileErrorMessageTest {
  @TempDir Path dir;

  // ------------------------------------------------------------------ config.json

  static final String GOOD = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, "
      + "\"n_positions\": 40, \"vocab_size\": 262";

  IOException badConfig(String extra) throws IOException {
    Path d = Files.createTempDirectory(dir, "hf");
    Files.writeString(d.resolve("config.json"), GOOD + extra + "}");
    return assertThrows(IOException.class, () -> Gpt2Safetensors.readConfig(d));
  }

  @Test
  void configJsonNamesTheFileAndTheKey() throws IOException {
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put(", \"layer_norm_epsilon\": \"abc\"", "\"layer_norm_epsilon\" must be a number, got string");
    cases.put(", \"layer_norm_epsilon\": {}", "\"layer_norm_epsilon\" must be a number, got an object");
    cases.put(", \"activation_function\": {}", "\"activation_function\" must be a string, got an object");
    cases.put(", \"n_layer\": 4294967298", "\"n_layer\" must be in [1, 2147483647], got 4294967298");
    cases.put(", \"n_layer\": 2.7", "\"n_layer\" must be an integer, got 2.7");
    cases.put(", \"n_inner\": 384.5", "\"n_inner\" must be an integer, got 384.5");
    cases.put(", \"n_embd\": 2147483648", "\"n_embd\" must be in [1, 2147483647], got 2147483648");
    cases.put(", \"scale_attn_weights\": \"yes\"", "\"scale_attn_weights\" must be true or false, got string");
    cases.put(", \"n_inner\": 100", "\"n_inner\" is 100, must be 4 * n_embd = 128");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      // the GOOD keys come first, a repeated key is a duplicate: replace instead
      String extra = c.getKey();
      String key = extra.substring(3, extra.indexOf('"', 3));
      IOException e = GOOD.contains("\"" + key + "\"")
          ? badWhole(GOOD.replaceAll("\"" + key + "\": [0-9]+", extra.substring(2)) + "}") : badConfig(extra);
      assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains(c.getValue()),
          c.getKey() + " -> " + e.getMessage());
    }
    Path d = Files.createTempDirectory(dir, "hf");
    Files.write(d.resolve("config.json"), new byte[] {'{', '"', 'a', (byte) 0xff, '"', ':', '1', '}'});
    IOException e = assertThrows(IOException.class, () -> Gpt2Safetensors.readConfig(d));
    assertTrue(e.getMessage().contains("config.json: not valid UTF-8 (at byte 3)"), e.getMessage());
  }

  IOException badWhole(String json) throws IOException {
    Path d = Files.createTempDirectory(dir, "hf");
    Files.writeString(d.resolve("config.json"), json);
    return assertThrows(IOException.class, () -> Gpt2Safetensors.readConfig(d));
  }

  // ------------------------------------------------------------------ checkpoints

  Path model() throws IOException {
    Path p = dir.resolve("model.ckpt");
    try (Gpt g = new Gpt(TINY, CPU, 3)) {
      ModelFiles.save(p, g, TOK, "sft");
    }
    return p;
  }

  @Test
  void checkpointPathsThatAreNotFilesOrUnreadable() throws IOException {
    CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
    assertTrue(e.getMessage().contains(dir + ": is a directory"), e.getMessage());
    CliRun r = CliRun.run("generate", "--model", dir.toString(), "--prompt", "hi");
    assertTrue(r.err().contains("is a directory"), r.all());
    // the JDK says only the path; jalign adds why (root may read anything, so the sentence is checked directly)
    assertEquals("/x/m.ckpt: permission denied", IoMessages.describe(new AccessDeniedException("/x/m.ckpt")));
    assertEquals("writing /x: /x/.t.tmp: permission denied", IoMessages.describe(
        new UncheckedIOException("writing /x", new AccessDeniedException("/x/.t.tmp"))));
  }

  @Test
  void anUnwritableOutputSaysWhy() throws IOException {
    Path model = model();
    Path sft = Files.writeString(dir.resolve("sft.jsonl"), "{\"prompt\":\"ab\",\"completion\":\"AB\"}\n");
    Path aFile = Files.writeString(dir.resolve("plain.txt"), "x");
    CliRun r = CliRun.run("sft", "--model", model.toString(), "--train", sft.toString(), "--out",
        aFile.resolve("out.ckpt").toString(), "--max-steps", "1");
    assertNotEquals(0, r.rc());
    assertTrue(r.err().contains("out.ckpt: cannot be written") && r.err().contains("plain.txt"), r.all());
  }

  @Test
  void aCorruptTokenizerInsideACheckpointNamesTheFile() throws IOException {
    Path p = dir.resolve("badtok.ckpt");
    byte[] tok = TOK.toBytes();
    byte[] broken = Arrays.copyOf(tok, tok.length / 2);
    try (Gpt g = new Gpt(TINY, CPU, 3)) {
      new Checkpoint.Writer(TINY).tokenizer(broken).tensor(Checkpoint.PARAMS, g.params()).write(p);
    }
    CheckpointException e = assertThrows(CheckpointException.class, () -> ModelFiles.load(p, CPU));
    assertTrue(e.getMessage().startsWith(p + ": the tokenizer stored in the checkpoint is corrupt"), e.getMessage());
  }

  @Test
  void nonFiniteOrAbsurdParametersAreRefusedAtLoad() throws IOException {
    GptConfig cfg = TINY;
    long qkvOffset = cfg.paramSpecs().stream().filter(s -> s.name().equals("qkvw")).findFirst().orElseThrow()
        .offset();
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 3e38f}) {
      Path p = dir.resolve("bad.ckpt");
      float[] params;
      try (Gpt g = new Gpt(cfg, CPU, 3)) {
        params = g.params().toFloatArray();
      }
      params[(int) qkvOffset + 17] = bad;
      new Checkpoint.Writer(cfg).tokenizer(TOK.toBytes()).tensor(Checkpoint.PARAMS, params, params.length)
          .write(p);
      CheckpointException e = assertThrows(CheckpointException.class, () -> ModelFiles.load(p, CPU));
      assertTrue(e.getMessage().contains(p + ": tensor model/params (parameter qkvw, element 17) is " + bad),
          e.getMessage());
      Files.delete(p);
    }
    // every loader reads tensors through the same check: a reward model whose head holds a NaN
    Path rm = dir.resolve("rm.ckpt"), bad = dir.resolve("rm-bad.ckpt");
    try (Gpt g = new Gpt(cfg, CPU, 3); RewardModel r = RewardModel.fromPolicy(g, 5)) {
      r.save(rm);
    }
    rewrite(rm, bad, Set.of(), false, (name, v) -> {
      if (!name.equals(Checkpoint.PARAMS)) v[0] = Float.NaN; // the heads
    });
    CheckpointException e = assertThrows(CheckpointException.class, () -> RewardModel.load(bad, CPU));
    assertTrue(e.getMessage().startsWith(bad + ": tensor ") && e.getMessage().contains("[0] is NaN"), e.getMessage());
    assertEquals(0, CliRun.run("info").rc()); // the process is fine
  }

  /**
   * Copies a checkpoint (a valid file, checksums and all), leaving out the named numbers and strings and, if
   * asked, the RNG state; {@code edit} may change each tensor's values in place.
   */
  static void rewrite(Path src, Path dst, Set<String> drop, boolean dropRng,
      java.util.function.BiConsumer<String, float[]> edit) throws IOException {
    try (Checkpoint ck = Checkpoint.open(src)) {
      Checkpoint.Writer w = new Checkpoint.Writer(ck.config()).tokenizer(ck.tokenizer()).step(ck.step())
          .optimizerStep(ck.optimizerStep()).dataCursor(ck.dataCursor());
      if (!dropRng) w.rngState(ck.rngState());
      ck.strings().forEach((k, v) -> {
        if (!drop.contains(k)) w.string(k, v);
      });
      ck.doubles().forEach((k, v) -> {
        if (!drop.contains(k)) w.number(k, v);
      });
      for (Checkpoint.TensorInfo t : ck.tensors().values()) {
        float[] v = ck.tensor(t.name());
        edit.accept(t.name(), v);
        w.tensor(t.name(), v, t.shape());
      }
      w.write(dst);
    }
  }

  @Test
  void aPpoStateWithAMissingFieldNamesIt() throws IOException {
    GptConfig cfg = new GptConfig(1, 2, 16, 32, TOK.vocabSize());
    Path policy = dir.resolve("policy.ckpt"), rm = dir.resolve("rm.ckpt"), out = dir.resolve("out.ckpt");
    Path prompts = Files.writeString(dir.resolve("p.jsonl"), "{\"prompt\": \"hi\"}\n{\"prompt\": \"more\"}\n");
    Path state = dir.resolve("state.ckpt");
    try (Gpt g = new Gpt(cfg, CPU, 3)) {
      ModelFiles.save(policy, g, TOK, "sft");
      try (RewardModel r = RewardModel.fromPolicy(g, 5)) {
        r.save(rm);
      }
    }
    String[] common = {"ppo", "--policy", policy.toString(), "--reward-model", rm.toString(), "--prompts",
        prompts.toString(), "--out", out.toString(), "--batch-size", "4", "--mini-batches", "2",
        "--response-length", "4"};
    CliRun first = CliRun.run(concat(common, "--steps", "1", "--state", state.toString()));
    assertEquals(0, first.rc(), first.all());
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put("ppo.kl_coef", "number \"ppo.kl_coef\"");
    cases.put("ppo.critic_optimizer_step", "number \"ppo.critic_optimizer_step\"");
    cases.put("ppo.critic_config", "string \"ppo.critic_config\"");
    cases.put("stage", "string \"stage\"");
    cases.put("rng", "field rng_state holds 0 words");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      Path edited = dir.resolve("edited.ckpt");
      rewrite(state, edited, Set.of(c.getKey()), c.getKey().equals("rng"), (name, v) -> { });
      CliRun r = CliRun.run(concat(common, "--steps", "2", "--resume", edited.toString()));
      assertNotEquals(0, r.rc());
      assertTrue(r.err().contains(edited.toString()) && r.err().contains(c.getValue()), c.getKey() + ": " + r.all());
      assertFalse(r.err().contains("Cannot invoke") || r.err().contains("out of bounds"), r.all());
    }
  }

  static String[] concat(String[] a, String... b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  // ------------------------------------------------------------------ JSON literals

  @Test
  void nanAndInfinityAreNamedWithFileAndLine() throws IOException {
    Path p = Files.writeString(dir.resolve("sft.jsonl"), "{\"prompt\": \"a\", \"completion\": \"b\"}\n"
        + "{\"prompt\": \"a\", \"completion\": \"b\", \"w\": Infinity}\n");
    DataFormatException e = assertThrows(DataFormatException.class, () -> SftExample.readJsonl(p));
    assertTrue(e.getMessage().contains(p + ":2:") && e.getMessage().contains("NaN/Infinity are not JSON"),
        e.getMessage());
    assertFalse(e.getMessage().contains("setStrictness") || e.getMessage().contains("https://"), e.getMessage());

    Path tj = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"dropout\": NaN}}");
    TokenizerFormatException t = assertThrows(TokenizerFormatException.class,
        () -> BpeTokenizer.fromHuggingFaceJson(tj));
    assertTrue(t.getMessage().contains(tj.toString()) && t.getMessage().contains("NaN/Infinity are not JSON"),
        t.getMessage());
    assertFalse(t.getMessage().contains("setStrictness") || t.getMessage().contains("https://"), t.getMessage());
  }

  // ------------------------------------------------------------------ data that cannot train

  @Test
  void dataThatCannotTrainIsRefusedOrReportedPlainly() throws IOException {
    Path model = model();
    Path pairs = Files.writeString(dir.resolve("pairs.jsonl"),
        "{\"prompt\": \"q\", \"chosen\": \"same\", \"rejected\": \"same\"}\n");
    for (String stage : new String[] {"reward", "dpo"}) {
      CliRun r = CliRun.run(stage, "--model", model.toString(), "--train", pairs.toString(), "--out",
          dir.resolve(stage + ".ckpt").toString(), "--max-steps", "1");
      assertNotEquals(0, r.rc(), stage);
      assertTrue(r.err().contains(pairs + ":1:") && r.err().contains("are the same response"), stage + r.all());
    }
    Path one = Files.writeString(dir.resolve("one.jsonl"), "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\"}\n");
    CliRun r = CliRun.run("reward", "--model", model.toString(), "--train", one.toString(), "--out",
        dir.resolve("rm.ckpt").toString(), "--max-steps", "1");
    assertEquals(0, r.rc(), r.all());
    assertTrue(r.out().contains("no --heldout file, so no held-out pair accuracy") && !r.out().contains("NaN"),
        r.all());
  }

}
