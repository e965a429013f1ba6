package org.jalign.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.jalign.io.Checkpoint;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash consistency of checkpoint saving: a child JVM saves checkpoints to one path in a loop and is killed with
 * SIGKILL ({@link Process#destroyForcibly}) at a random moment, many times. After every kill the path holds a
 * complete checkpoint that opens, passes its CRCs and holds exactly the values of the last save that returned
 * or a later one (never an older one); a leftover temporary file is never at the
 * checkpoint's name and never looks like a checkpoint name.
 */
class CheckpointCrashTest {
  @TempDir Path dir;

  /** Kill-9 trials survived, across the tests of this JVM (printed for the report). */
  static int survived;

  @Test
  void killedWritersNeverLeaveABrokenCheckpoint() throws Exception {
    trials(12, 1);
  }

  @Test
  @Tag("slow")
  void hundredsOfKills() throws Exception {
    trials(120, 2);
  }

  private void trials(int n, long seed) throws Exception {
    Path target = dir.resolve("model.ckpt");
    SplittableRandom rnd = new SplittableRandom(seed);
    long next = 1;
    for (int trial = 0; trial < n; trial++) {
      Process child = ChildJvm.start(List.of("-Xmx256m"), CheckpointWriterChild.class, target.toString(),
          Long.toString(next));
      // a reader thread records every "saved k" line; destroyForcibly closes the pipe, which ends it
      AtomicLong lastSaved = new AtomicLong(-1);
      CountDownLatch firstSave = new CountDownLatch(1);
      Thread reader = new Thread(() -> {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
            StandardCharsets.UTF_8))) {
          String l;
          while ((l = out.readLine()) != null) {
            if (l.startsWith("saved ")) {
              lastSaved.set(Long.parseLong(l.substring(6)));
              firstSave.countDown();
            }
          }
        } catch (IOException ignored) {
          // the pipe was closed by the kill
        }
      });
      reader.start();
      // the first trial waits for one completed save; later ones may also kill before the first save returns
      if (trial == 0) assertTrue(firstSave.await(60, TimeUnit.SECONDS), "the child never saved");
      Thread.sleep(rnd.nextInt(200, 1200)); // JVM start-up takes a few hundred ms
      long seenBeforeKill = lastSaved.get();
      child.destroyForcibly(); // SIGKILL
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not die");
      reader.join(10_000);
      long saved = Math.max(seenBeforeKill, lastSaved.get());
      if (!Files.exists(target)) {
        assertEquals(-1, saved, "a save returned but no checkpoint exists");
        continue;
      }
      long step;
      try (Checkpoint ck = Checkpoint.open(target)) {
        step = ck.step();
        // never older than a save that returned, nor than what the previous trial verified (lines the child
        // printed just before the kill may be lost with the pipe, so newer steps than reported are expected)
        assertTrue(step >= Math.max(Math.max(saved, next - 1), 1),
            "trial " + trial + ": loaded step " + step + ", last save that returned " + saved + ", previous " + (next - 1));
        assertEquals("crash-test", ck.strings().get("writer"));
        float[] p = ck.tensor(Checkpoint.PARAMS);
        float[] want = CheckpointWriterChild.params(step);
        for (int i = 0; i < p.length; i++) {
          if (p[i] != want[i]) fail("trial " + trial + ": step " + step + " param " + i + " = " + p[i]);
        }
      }
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          String name = f.getFileName().toString();
          if (name.equals("model.ckpt")) continue;
          assertTrue(name.startsWith(".model.ckpt.") && name.endsWith(".tmp"), "unexpected file " + name);
        }
      }
      next = step + 1;
      survived++;
    }
    System.out.println("[reliability] checkpoint kill -9 trials survived: " + survived);
  }

}
