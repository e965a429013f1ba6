package org.jalign.reliability;

import static org.jalign.train.AlignFixtures.CPU;
import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.jalign.cli.CliRun;
import org.jalign.feedback.Choice;
import org.jalign.feedback.Comparison;
import org.jalign.feedback.PreferenceLog;
import org.jalign.feedback.PreferenceLogException;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.model.Gpt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jalign never modifies or truncates a file it did not create as that kind of file, and a failed write leaves the
 * old file intact (SECURITY.md). Each case points a writer at somebody else's file and checks every byte stays.
 */
class NeverDestroyTest {
  @TempDir Path dir;
  Path model;

  @BeforeEach
  void tinyModel() throws IOException {
    model = dir.resolve("model.ckpt");
    try (Gpt g = new Gpt(TINY, CPU, 5)) {
      ModelFiles.save(model, g, TOK, "pretrain");
    }
  }

  static Comparison cmp(String id) {
    return new Comparison(id, "Who owns the cat?", "Alice does.", "I don't know.", new int[] {5, 6}, new int[] {7},
        new float[] {-0.1f, -0.2f}, new float[] {-1f}, "v1", 1L);
  }

  Path file(String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new SplittableRandom(seed).nextBytes(b);
    return b;
  }

  /** A log of two records followed by {@code tail}. */
  Path logWithTail(byte[] tail) throws IOException {
    Path p = dir.resolve("prefs.log");
    PreferenceLog log = new PreferenceLog(p);
    log.appendComparison(cmp("c1"));
    log.appendChoice("c1", Choice.A, 2);
    Files.write(p, tail, java.nio.file.StandardOpenOption.APPEND);
    return p;
  }

  // ------------------------------------------------------------------ the preference log

  @Test
  void chatCompareRefusesAFileThatIsNotAPreferenceLog() throws IOException {
    Path report = file("report.json", "{\"stages\": {\"sft\": {\"loss\": 0.5}}}\n".repeat(200)
        .getBytes(StandardCharsets.UTF_8));
    Path ckptCopy = Files.copy(model, dir.resolve("sft-copy.ckpt"));
    for (Path victim : List.of(report, ckptCopy)) {
      byte[] before = Files.readAllBytes(victim);
      CliRun r = CliRun.run("chat", "--model", model.toString(), "--compare", "--log", victim.toString());
      assertNotEquals(0, r.rc(), r.all());
      assertTrue(r.err().contains("is not a preference log"), r.all());
      assertArrayEquals(before, Files.readAllBytes(victim), victim + " was modified");
    }
  }

  @Test
  void appendingNeverCutsMoreThanATornRecord() throws IOException {
    for (byte[] tail : List.of(random(5000, 1), new byte[1 << 20])) {
      Path p = logWithTail(tail);
      byte[] before = Files.readAllBytes(p);
      PreferenceLogException e = assertThrows(PreferenceLogException.class,
          () -> new PreferenceLog(p).appendChoice("c1", Choice.B, 3));
      assertTrue(e.getMessage().contains("damaged at byte " + (before.length - tail.length)), e.getMessage());
      assertThrows(PreferenceLogException.class, () -> new PreferenceLog(p).repair());
      assertArrayEquals(before, Files.readAllBytes(p));
      Files.delete(p);
    }
    for (byte[] notALog : List.of(new byte[1 << 20], random(4096, 2), "{\"a\": 1}\n".getBytes(StandardCharsets.UTF_8))) {
      Path p = file("other.bin", notALog);
      PreferenceLogException e = assertThrows(PreferenceLogException.class,
          () -> new PreferenceLog(p).appendChoice("c1", Choice.B, 3));
      assertTrue(e.getMessage().contains("is not a preference log"), e.getMessage());
      assertArrayEquals(notALog, Files.readAllBytes(p));
    }
  }

  @Test
  void aLogReplacedAfterAnAppendIsCheckedAgainFromItsStart() throws IOException {
    Path p = dir.resolve("prefs.log");
    PreferenceLog log = new PreferenceLog(p);
    log.appendComparison(cmp("c1"));
    long validated = Files.size(p);
    // rewritten in place (same file) and replaced by a new file, each as long as what this process validated
    String json = "{\"stages\": {\"sft\": 1}}";
    byte[] report = (json + " ".repeat((int) validated - json.length() - 1) + "\n").getBytes(StandardCharsets.UTF_8);
    assertEquals(validated, report.length);
    Files.write(p, report);
    assertThrows(PreferenceLogException.class, () -> log.appendChoice("c1", Choice.A, 2));
    assertArrayEquals(report, Files.readAllBytes(p));
    Path other = file("other.json", report);
    Files.move(other, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThrows(PreferenceLogException.class, () -> log.appendChoice("c1", Choice.A, 3));
    assertArrayEquals(report, Files.readAllBytes(p));
  }

  @Test
  void aTornRecordIsStillDroppedByTheNextAppend() throws IOException {
    Path p = dir.resolve("prefs.log");
    PreferenceLog log = new PreferenceLog(p);
    log.appendComparison(cmp("c1"));
    long clean = Files.size(p);
    log.appendComparison(cmp("c2"));
    byte[] full = Files.readAllBytes(p);
    Files.write(p, java.util.Arrays.copyOf(full, (int) clean + 20)); // a writer killed 20 bytes into c2
    assertEquals(20, new PreferenceLog(p).read().tornTailBytes());
    new PreferenceLog(p).appendChoice("c1", Choice.A, 4);
    assertEquals(2, new PreferenceLog(p).readAll().size());
  }

  @Test
  void feedbackStatsRefusesANonLogAndReportsATornTail() throws IOException {
    Path report = file("report.json", "{\"stages\": {}}\n".getBytes(StandardCharsets.UTF_8));
    CliRun r = CliRun.run("feedback", "stats", "--log", report.toString());
    assertNotEquals(0, r.rc());
    assertTrue(r.err().contains("is not a preference log"), r.all());
    CliRun missing = CliRun.run("feedback", "stats", "--log", dir.resolve("nope.log").toString());
    assertNotEquals(0, missing.rc());
    assertTrue(missing.err().contains("no such preference log"), missing.all());

    Path p = dir.resolve("prefs.log");
    new PreferenceLog(p).appendComparison(cmp("c1"));
    Files.write(p, new byte[] {'J', 'P', 'R'}, java.nio.file.StandardOpenOption.APPEND);
    CliRun torn = CliRun.run("feedback", "stats", "--log", p.toString());
    assertEquals(0, torn.rc(), torn.all());
    assertTrue(torn.out().contains("1 records") && torn.out().contains("torn tail of 3 bytes"), torn.all());
  }

  // ------------------------------------------------------------------ --out of every command

  @Test
  void generateOutRefusesACheckpointAndOverwriteReplacesIt() throws IOException {
    Path prompts = file("prompts.jsonl", "{\"prompt\": \"hi\"}\n".getBytes(StandardCharsets.UTF_8));
    Path victim = Files.copy(model, dir.resolve("victim.ckpt"));
    byte[] before = Files.readAllBytes(victim);
    CliRun r = CliRun.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out",
        victim.toString(), "--max-new-tokens", "2");
    assertNotEquals(0, r.rc());
    assertTrue(r.err().contains("is not jalign generate output") && r.err().contains("--overwrite"), r.all());
    assertArrayEquals(before, Files.readAllBytes(victim));

    CliRun ok = CliRun.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out",
        victim.toString(), "--max-new-tokens", "2", "--overwrite");
    assertEquals(0, ok.rc(), ok.all());
    assertTrue(Files.readString(victim).startsWith("{\"prompt\":\"hi\""));
    // its own output it replaces without being told
    CliRun again = CliRun.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out",
        victim.toString(), "--max-new-tokens", "2");
    assertEquals(0, again.rc(), again.all());
  }

  @Test
  void trainingCommandsRefuseAForeignOutBeforeTraining() throws IOException {
    Path sft = file("sft.jsonl", "{\"prompt\":\"ab\",\"completion\":\"AB\"}\n".getBytes(StandardCharsets.UTF_8));
    Path victim = file("notes.txt", "my notes\n".getBytes(StandardCharsets.UTF_8));
    CliRun r = CliRun.run("sft", "--model", model.toString(), "--train", sft.toString(), "--out", victim.toString(),
        "--max-steps", "1");
    assertNotEquals(0, r.rc());
    assertTrue(r.err().contains("is not a jalign checkpoint"), r.all());
    assertEquals("my notes\n", Files.readString(victim));
    // a checkpoint --out is replaced (its own kind), through a temporary file
    Path out = Files.copy(model, dir.resolve("sft.ckpt"));
    CliRun ok = CliRun.run("sft", "--model", model.toString(), "--train", sft.toString(), "--out", out.toString(),
        "--max-steps", "1");
    assertEquals(0, ok.rc(), ok.all());
    assertTrue(ok.out().contains("no --eval file, so no eval loss") && !ok.out().contains("NaN"), ok.all());
    try (Stream<Path> s = Files.list(dir)) {
      assertTrue(s.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "temporary files left");
    }
  }

  @Test
  void lifecycleRefusesAUsersNonEmptyDirectory() throws IOException {
    Path mine = dir.resolve("mine");
    Files.createDirectories(mine);
    Path keep = Files.writeString(mine.resolve("corpus.txt"), "my corpus");
    CliRun r = CliRun.run("lifecycle", "--quick", "--out", mine.toString(), "--no-progress");
    assertNotEquals(0, r.rc());
    assertTrue(r.err().contains("not a jalign run directory"), r.all());
    assertEquals("my corpus", Files.readString(keep));
    try (Stream<Path> s = Files.list(mine)) {
      assertEquals(1, s.count(), "nothing was written into the directory");
    }
  }

  @Test
  void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws IOException {
    Path target = Files.copy(model, dir.resolve("keep.ckpt"));
    byte[] before = Files.readAllBytes(target);
    IOException boom = assertThrows(IOException.class, () -> OutputFiles.write(target, Checkpoint.KIND, tmp -> {
      Files.write(tmp, new byte[] {1, 2, 3});
      throw new IOException("disk full");
    }));
    assertEquals("disk full", boom.getMessage());
    assertArrayEquals(before, Files.readAllBytes(target));
    try (Stream<Path> s = Files.list(dir)) {
      assertTrue(s.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "temporary file left");
    }
  }

  @Test
  void libraryWritersReplaceOnlyTheirOwnKind() throws IOException {
    Path log = dir.resolve("prefs.log");
    new PreferenceLog(log).appendComparison(cmp("c1"));
    byte[] before = Files.readAllBytes(log);
    try (Gpt g = new Gpt(TINY, CPU, 6)) {
      FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
          () -> ModelFiles.save(log, g, TOK, "sft"));
      assertTrue(e.getMessage().contains("is not a jalign checkpoint"), e.getMessage());
      assertArrayEquals(before, Files.readAllBytes(log));
      try (OutputFiles.Grant grant = OutputFiles.allowReplacing(log)) {
        ModelFiles.save(log, g, TOK, "sft"); // allowed by the caller
      }
      try (Checkpoint ck = Checkpoint.open(log)) {
        assertEquals("sft", ck.strings().get("stage"));
      }
      // the grant is gone once closed
      Path other = file("other.txt", "x".getBytes(StandardCharsets.UTF_8));
      assertThrows(FileAlreadyExistsException.class, () -> ModelFiles.save(other, g, TOK, "sft"));
    }
    // an empty file holds nothing to lose
    Path empty = file("empty.ckpt", new byte[0]);
    try (Gpt g = new Gpt(TINY, CPU, 6)) {
      ModelFiles.save(empty, g, TOK, "sft");
    }
    assertTrue(Files.size(empty) > 0);
  }
}
