package org.jalign.cli;

import static org.jalign.cli.PretrainCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** {@code jalign generate} from a checkpoint written by {@code jalign pretrain}: JSONL output, determinism, errors. */
class GenerateCommandTest {
  @TempDir static Path shared;
  static Path model;

  @BeforeAll
  static void pretrainTinyModel() throws Exception {
    Path text = PretrainCommandTest.corpus(shared.resolve("corpus.txt"));
    model = shared.resolve("model.ckpt");
    CliRun r = run(PretrainCommandTest.tinyArgs(text, model, 30).toArray(String[]::new));
    assertEquals(0, r.rc(), r.all());
  }

  static List<JsonObject> readJsonl(Path file) throws Exception {
    List<JsonObject> rows = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      rows.add(JsonParser.parseString(line).getAsJsonObject());
    }
    return rows;
  }

  @Test
  void helpDocumentsEveryOption() {
    CommandLine sub = new CommandLine(new Main()).getSubcommands().get("generate");
    assertTrue(sub != null, "generate is registered");
    for (OptionSpec o : sub.getCommandSpec().options()) {
      assertTrue(o.description().length > 0 && !o.description()[0].isBlank(), o.longestName());
    }
    CliRun r = run("generate", "--help");
    assertEquals(0, r.rc());
    for (String opt : List.of("--model", "--prompt", "--prompts", "--chat", "--raw", "--max-new-tokens",
        "--temperature", "--top-k", "--top-p", "--min-p", "--seed", "--num-samples", "--out")) {
      assertTrue(r.out().contains(opt), "usage lists " + opt);
    }
  }

  @Test
  void writesOneJsonLinePerPromptAndSample(@TempDir Path dir) throws Exception {
    Path prompts = dir.resolve("prompts.jsonl");
    Files.writeString(prompts, "{\"prompt\": \"The bird finds\"}\n{\"prompt\": \"A dog \\\"likes\\\" <b>\"}\n");
    Path out = dir.resolve("out/responses.jsonl");
    CliRun r = run("generate", "--model", model.toString(), "--prompt", "The cat sees", "--prompts", prompts.toString(),
        "--num-samples", "2", "--max-new-tokens", "8", "--ignore-eos", "--temperature", "1", "--top-k", "50",
        "--top-p", "0.9", "--min-p", "0.01", "--seed", "5", "--batch-size", "4", "--out", out.toString(), "--device",
        "cpu");
    assertEquals(0, r.rc(), r.all());
    assertTrue(r.out().contains("wrote " + out), r.out());
    List<JsonObject> rows = readJsonl(out);
    assertEquals(3 * 2, rows.size());
    String[] expected = {"The cat sees", "The bird finds", "A dog \"likes\" <b>"};
    for (int i = 0; i < rows.size(); i++) {
      JsonObject o = rows.get(i);
      assertEquals(expected[i / 2], o.get("prompt").getAsString());
      assertEquals(i % 2, o.get("sample").getAsInt());
      assertFalse(o.get("response").getAsString().isEmpty(), "response " + i + " is non-empty");
      assertEquals("max_tokens", o.get("finish_reason").getAsString());
    }
    assertTrue(Files.readString(out).contains("<b>"), "no HTML escaping in the JSONL");

    // the chat default stops at the end tokens; responses then are at most 8 tokens long either way
    CliRun plain = run("generate", "--model", model.toString(), "--prompt", "The cat sees", "--max-new-tokens", "8",
        "--device", "cpu");
    assertEquals(0, plain.rc(), plain.all());
    assertTrue(plain.out().contains("### prompt 1/1") && plain.out().contains("The cat sees")
        && plain.out().contains("### response"), plain.out());
  }

  @Test
  void greedyIsDeterministic(@TempDir Path dir) throws Exception {
    Path a = dir.resolve("a.jsonl"), b = dir.resolve("b.jsonl"), c = dir.resolve("c.jsonl");
    String[] args = {"generate", "--model", model.toString(), "--raw", "--temperature", "0", "--prompt",
        "The old man paints", "--prompt", "My sister", "--max-new-tokens", "12", "--ignore-eos", "--device", "cpu"};
    assertEquals(0, run(PretrainCommandTest.with(args, "--out", a.toString())).rc());
    assertEquals(0, run(PretrainCommandTest.with(args, "--out", b.toString())).rc());
    assertEquals(Files.readString(a), Files.readString(b));
    List<JsonObject> rows = readJsonl(a);
    assertEquals(2, rows.size());
    for (JsonObject o : rows) assertFalse(o.get("response").getAsString().isEmpty());
    // greedy continuation differs between prompts, and a sampled run differs from greedy
    assertNotEquals(rows.get(0).get("response"), rows.get(1).get("response"));
    String[] sampled = PretrainCommandTest.with(PretrainCommandTest.with(args, "--out", c.toString()),
        "--temperature", "1.5");
    assertEquals(0, run(sampled).rc());
    assertNotEquals(Files.readString(a), Files.readString(c));
  }

  private static void assertRefused(CliRun r, String... parts) {
    assertNotEquals(0, r.rc(), r.all());
    for (String p : parts) assertTrue(r.err().contains(p), "error names '" + p + "': " + r.err());
  }

  @Test
  void badOptionsAreRefused(@TempDir Path dir) throws Exception {
    String m = model.toString();
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--temperature", "-0.5"), "--temperature",
        ">= 0");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--top-p", "0"), "--top-p must be in (0, 1]");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--top-p", "1.5"), "--top-p must be in (0, 1]");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--top-k", "-1"), "--top-k");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--min-p", "2"), "--min-p");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--num-samples", "0"), "--num-samples");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--max-new-tokens", "32"),
        "--max-new-tokens 32 leaves no room", "context length 32");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--chat", "--raw"), "--chat and --raw");
    assertRefused(run("generate", "--model", m), "no prompts");
    assertRefused(run("generate", "--model", m, "--prompt", "hi", "--temperature", "warm"), "--temperature");
    Path missing = dir.resolve("missing.ckpt");
    assertRefused(run("generate", "--model", missing.toString(), "--prompt", "hi"), missing.toString());
    Path badPrompts = dir.resolve("bad.jsonl");
    Files.writeString(badPrompts, "{\"prompt\": \"\"}\n");
    assertRefused(run("generate", "--model", m, "--prompts", badPrompts.toString()), badPrompts.toString());
  }
}
