package org.jalign.feedback;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreferenceLogTest {
  @TempDir Path dir;

  static Comparison cmp(String id) {
    return new Comparison(id, "Who owns the cat?", "Alice does.", "I don't know.", new int[] {5, 6, 7},
        new int[] {8}, new float[] {-0.1f, -0.2f, -0.3f}, new float[] {-1f}, "step-12", 1234L);
  }

  @Test
  void roundTripsComparisonsAndChoices() throws Exception {
    PreferenceLog log = new PreferenceLog(dir.resolve("prefs.log"));
    log.appendComparison(cmp("c1"));
    log.appendComparison(cmp("c2"));
    log.appendChoice("c2", Choice.B, 10);
    log.appendChoice("c1", Choice.TIE, 11);
    log.appendChoice("c1", Choice.A, 12); // a later choice for the same id wins
    List<PreferenceLog.Entry> all = log.readAll();
    assertEquals(5, all.size());
    Comparison back = all.get(0).comparison();
    assertEquals("Alice does.", back.responseA());
    assertArrayEquals(new int[] {5, 6, 7}, back.tokensA());
    assertArrayEquals(new float[] {-0.1f, -0.2f, -0.3f}, back.logprobsA());
    assertEquals("step-12", back.policyVersion());
    List<PreferenceLog.Preference> prefs = log.preferences();
    assertEquals(2, prefs.size());
    assertEquals("c2", prefs.get(0).comparison().id());
    assertEquals(Choice.B, prefs.get(0).choice());
    assertEquals(Choice.A, prefs.get(1).choice());
  }

  @Test
  void tornTailIsDetectedAndDroppedWithoutLosingCompletedRecords() throws Exception {
    Path p = dir.resolve("prefs.log");
    PreferenceLog log = new PreferenceLog(p);
    log.appendComparison(cmp("c1"));
    log.appendChoice("c1", Choice.A, 1);
    long clean = Files.size(p);
    log.appendComparison(cmp("c2"));
    byte[] all = Files.readAllBytes(p);
    long full = all.length;
    for (long cut = clean + 1; cut < full; cut += Math.max(1, (full - clean) / 17)) {
      Files.write(p, java.util.Arrays.copyOf(all, (int) cut)); // what a writer killed after `cut` bytes leaves
      assertEquals(2, new PreferenceLog(p).readAll().size(), "cut at " + cut);
      assertEquals(cut - clean, new PreferenceLog(p).read().tornTailBytes(), "cut at " + cut);
    }
    assertEquals(Files.size(p) - clean, log.repair());
    assertEquals(clean, Files.size(p));
    log.appendChoice("c1", Choice.B, 2); // appends after the repaired end
    assertEquals(3, log.readAll().size());
  }

  @Test
  void damageInTheMiddleIsReportedNotSilentlyDropped() throws Exception {
    Path p = dir.resolve("prefs.log");
    PreferenceLog log = new PreferenceLog(p);
    for (int i = 0; i < 5; i++) log.appendComparison(cmp("c" + i));
    byte[] bytes = Files.readAllBytes(p);
    bytes[bytes.length / 2] ^= 0x5a; // flip a byte inside a middle record
    Files.write(p, bytes);
    PreferenceLogException e = assertThrows(PreferenceLogException.class, () -> new PreferenceLog(p).readAll());
    assertTrue(e.getMessage().contains("damaged at byte"), e.getMessage());
    assertThrows(PreferenceLogException.class, () -> new PreferenceLog(p).repair());
    assertEquals(bytes.length, Files.size(p), "nothing was truncated");
  }

  @Test
  void absurdLengthFieldIsDamageNotAnAllocation() throws Exception {
    Path p = dir.resolve("prefs.log");
    new PreferenceLog(p).appendComparison(cmp("c1"));
    byte[] tail = {'J', 'P', 'R', 'F', (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 0, 0, 0, 0};
    Files.write(p, tail, java.nio.file.StandardOpenOption.APPEND);
    long size = Files.size(p);
    // no record can be that long, so these bytes are no torn append: refused with their offset, never cut
    PreferenceLogException e = assertThrows(PreferenceLogException.class,
        () -> new PreferenceLog(p).appendChoice("c1", Choice.A, 1));
    assertTrue(e.getMessage().contains("damaged at byte " + (size - tail.length)), e.getMessage());
    assertEquals(size, Files.size(p));
  }

  @Test
  void concurrentThreadsNeverInterleaveRecords() throws Exception {
    PreferenceLog log = new PreferenceLog(dir.resolve("prefs.log"));
    ExecutorService ex = Executors.newFixedThreadPool(8);
    List<Future<?>> fs = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int tt = t;
      fs.add(ex.submit(() -> {
        for (int i = 0; i < 25; i++) {
          String id = "t" + tt + "-" + i;
          log.appendComparison(cmp(id));
          log.appendChoice(id, Choice.A, i);
        }
        return null;
      }));
    }
    for (Future<?> f : fs) f.get(60, TimeUnit.SECONDS);
    ex.shutdown();
    assertEquals(400, log.readAll().size());
    assertEquals(200, log.preferences().size());
  }

  static Process child(Path log, String prefix, int count) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    StringBuilder cp = new StringBuilder();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!e.isEmpty() && new File(e).exists()) cp.append(cp.length() == 0 ? "" : File.pathSeparator).append(e);
    }
    return new ProcessBuilder(java, "-cp", cp.toString(), LogWriterChild.class.getName(), log.toString(), prefix,
        Integer.toString(count)).redirectErrorStream(true).start();
  }

  @Test
  void twoProcessesAppendingConcurrentlyKeepEveryRecord() throws Exception {
    Path p = dir.resolve("prefs.log");
    Process a = child(p, "pa", 30);
    Process b = child(p, "pb", 30);
    assertTrue(a.waitFor(120, TimeUnit.SECONDS) && b.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, a.exitValue(), new String(a.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    assertEquals(0, b.exitValue());
    assertEquals(60, new PreferenceLog(p).preferences().size());
  }

  /** kill -9 a writer at random moments: every acknowledged record survives, the torn one is dropped. */
  static int killTrials(Path dir, int trials, long seed) throws Exception {
    SplittableRandom r = new SplittableRandom(seed);
    Path p = dir.resolve("killed.log");
    Set<String> acked = new HashSet<>();
    for (int t = 0; t < trials; t++) {
      Process c = child(p, "k" + t, 1_000_000);
      BufferedReader out = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8));
      String first = out.readLine(); // the JVM is up and writing
      assertTrue(first != null && first.startsWith("OK "), "child failed: " + first);
      acked.add(first.substring(3));
      long until = System.nanoTime() + (long) (r.nextDouble() * 150e6);
      while (System.nanoTime() < until) {
        if (out.ready()) {
          String l = out.readLine();
          if (l != null && l.startsWith("OK ")) acked.add(l.substring(3));
        } else {
          Thread.onSpinWait();
        }
      }
      c.destroyForcibly(); // SIGKILL
      c.waitFor(30, TimeUnit.SECONDS);
      try {
        String l;
        while ((l = out.readLine()) != null) {
          if (l.startsWith("OK ")) acked.add(l.substring(3));
        }
      } catch (java.io.IOException closed) {
        // the stream of a killed process may already be closed: nothing more was acknowledged
      }
      PreferenceLog log = new PreferenceLog(p);
      Set<String> present = new HashSet<>();
      for (PreferenceLog.Preference pr : log.preferences()) present.add(pr.comparison().id());
      for (String id : acked) assertTrue(present.contains(id), "acknowledged record " + id + " lost in trial " + t);
      log.repair(); // the next trial's writer starts from a clean end (it would also repair by itself)
    }
    return trials;
  }

  @Test
  void killNineMidAppendNeverLosesAcknowledgedRecords() throws Exception {
    assertEquals(8, killTrials(dir, 8, 42));
  }

  @Tag("slow")
  @Test
  void killNineManyTimes() throws Exception {
    assertEquals(100, killTrials(dir, 100, 7));
  }
}
