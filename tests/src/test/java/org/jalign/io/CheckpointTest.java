package org.jalign.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import org.jalign.backend.CpuBackend;
import org.jalign.model.GptConfig;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint round trip, atomic writes, and rejection of every truncation and of corrupted bytes. */
class CheckpointTest {
  static final CpuBackend CPU = new CpuBackend();
  static final GptConfig CFG = new GptConfig(1, 2, 8, 4, 10); // Vp = 64: 64*8 + 4*8 + ... parameters
  @TempDir Path dir;

  static float[] values(int n, long seed) {
    return Ref.randn(new SplittableRandom(seed), n, 1);
  }

  static final GptConfig MINI = new GptConfig(1, 1, 2, 2, 3); // 212 parameters: a file of about 1.2 KB

  private Path writeSmall(Path p, long seed) throws IOException {
    return writeSmall(p, seed, CFG);
  }

  private Path writeSmall(Path p, long seed, GptConfig cfg) throws IOException {
    return writeSmall(p, seed, cfg, true);
  }

  private Path writeSmall(Path p, long seed, GptConfig cfg, boolean withOptimizer) throws IOException {
    int n = (int) cfg.parameterCount();
    try (Scope s = Scope.open()) {
      Tensor params = CPU.fromArray(values(n, seed), n);
      Checkpoint.Writer w = new Checkpoint.Writer(cfg)
          .tokenizer("tok-bytes".getBytes(StandardCharsets.UTF_8))
          .step(17).optimizerStep(15)
          .rngState(1234567890123L, -5).dataCursor(10, 2, 77)
          .string("stage", "pretrain").string("note", "héllo")
          .number("kl.coef", 0.125).number("reward.mean", -3.5)
          .tensor(Checkpoint.PARAMS, params)
          .tensor("head/value", values(9, seed + 3), 1, 9);
      if (withOptimizer) {
        w.tensor(Checkpoint.ADAM_M, values(n, seed + 1), n).tensor(Checkpoint.ADAM_V, values(n, seed + 2), n);
      }
      w.write(p);
    }
    return p;
  }

  @Test
  void roundTrip() throws IOException {
    Path p = writeSmall(dir.resolve("a.ckpt"), 3);
    int n = (int) CFG.parameterCount();
    try (Checkpoint ck = Checkpoint.open(p); Scope s = Scope.open()) {
      assertEquals(CFG, ck.config());
      assertEquals("tok-bytes", new String(ck.tokenizer(), StandardCharsets.UTF_8));
      assertEquals(17, ck.step());
      assertEquals(15, ck.optimizerStep());
      assertArrayEquals(new long[] {1234567890123L, -5}, ck.rngState());
      assertArrayEquals(new long[] {10, 2, 77}, ck.dataCursor());
      assertEquals(Map.of("stage", "pretrain", "note", "héllo"), ck.strings());
      assertEquals(Map.of("kl.coef", 0.125, "reward.mean", -3.5), ck.doubles());
      assertArrayEquals(values(n, 3), ck.tensor(Checkpoint.PARAMS));
      assertArrayEquals(values(n, 5), ck.tensor(Checkpoint.ADAM_V));
      assertArrayEquals(new long[] {1, 9}, ck.tensors().get(Checkpoint.head("value")).shape());
      Tensor dst = CPU.zeros(org.jalign.tensor.DType.F32, n);
      ck.readInto(Checkpoint.ADAM_M, dst);
      assertArrayEquals(values(n, 4), dst.toFloatArray());
      assertThrows(CheckpointException.class, () -> ck.tensor("missing"));
      CheckpointException e = assertThrows(CheckpointException.class, () -> ck.readInto("head/value", dst));
      assertTrue(e.getMessage().startsWith(ck.path().toString()), e.getMessage());
    }
  }

  @Test
  void everyTruncationIsRejected() throws IOException {
    byte[] good = Files.readAllBytes(writeSmall(dir.resolve("a.ckpt"), 1, MINI, false));
    Path t = dir.resolve("t.ckpt");
    for (int len = 0; len < good.length; len++) {
      Files.write(t, Arrays.copyOf(good, len));
      CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(t).close(), "len " + len);
      assertTrue(e.getMessage().contains(t.toString()), e.getMessage());
    }
    Files.write(t, Arrays.copyOf(good, good.length + 1)); // trailing garbage
    assertThrows(CheckpointException.class, () -> Checkpoint.open(t).close());
  }

  @Test
  void randomByteFlipsAreRejected() throws IOException {
    byte[] good = Files.readAllBytes(writeSmall(dir.resolve("a.ckpt"), 2, MINI));
    SplittableRandom r = new SplittableRandom(11);
    Path t = dir.resolve("t.ckpt");
    for (int i = 0; i < 400; i++) {
      byte[] bad = good.clone();
      int at = r.nextInt(bad.length);
      bad[at] ^= (byte) (1 + r.nextInt(255));
      Files.write(t, bad);
      assertThrows(CheckpointException.class, () -> Checkpoint.open(t).close(), "flip at " + at);
    }
  }

  /** Fixes both checksums so corruption reaches the structural checks (the verifier and the size checks). */
  static void fixChecksums(byte[] b) {
    ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    CRC32 c = new CRC32();
    c.update(b, 64, b.length - 64);
    h.putInt(32, (int) c.getValue());
    CRC32 hc = new CRC32();
    hc.update(b, 0, 36);
    h.putInt(36, (int) hc.getValue());
  }

  @Test
  void corruptMetadataWithValidChecksumsNeverCrashes() throws IOException {
    byte[] good = Files.readAllBytes(writeSmall(dir.resolve("a.ckpt"), 4, MINI));
    long metaBytes = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getLong(16);
    SplittableRandom r = new SplittableRandom(12);
    Path t = dir.resolve("t.ckpt");
    int rejected = 0, accepted = 0;
    for (int i = 0; i < 1000; i++) {
      byte[] bad = good.clone();
      int flips = 1 + r.nextInt(3);
      for (int k = 0; k < flips; k++) {
        int at = 64 + r.nextInt((int) metaBytes);
        bad[at] = (byte) (r.nextBoolean() ? r.nextInt(256) : bad[at] ^ (1 << r.nextInt(8)));
      }
      fixChecksums(bad);
      Files.write(t, bad);
      try (Checkpoint ck = Checkpoint.open(t)) {
        accepted++; // a flip in a value (a step, a name's letter, a float) can still be a valid checkpoint
        for (String name : ck.tensors().keySet()) ck.tensor(name);
        ck.strings();
        ck.tokenizer();
      } catch (CheckpointException e) {
        rejected++;
      } catch (RuntimeException | OutOfMemoryError e) {
        fail("corruption " + i + " gave " + e, e);
      }
    }
    assertTrue(rejected > 200, "rejected " + rejected + ", accepted " + accepted);
  }

  @Test
  void headerFieldsAndSizesAreChecked() throws IOException {
    byte[] good = Files.readAllBytes(writeSmall(dir.resolve("a.ckpt"), 5));
    Path t = dir.resolve("t.ckpt");
    byte[] v = good.clone();
    v[8] = 2;
    fixChecksums(v);
    Files.write(t, v);
    assertTrue(assertThrows(CheckpointException.class, () -> Checkpoint.open(t)).getMessage().contains("version 2"));
    byte[] huge = good.clone();
    ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(24, Long.MAX_VALUE - 10);
    fixChecksums(huge);
    Files.write(t, huge);
    assertThrows(CheckpointException.class, () -> Checkpoint.open(t));
    byte[] magic = good.clone();
    magic[0] = 'X';
    Files.write(t, magic);
    assertTrue(assertThrows(CheckpointException.class, () -> Checkpoint.open(t)).getMessage().contains("magic"));
    assertThrows(CheckpointException.class, () -> Checkpoint.open(dir.resolve("missing.ckpt")));
    // parameter count must match the configuration
    assertThrows(IllegalArgumentException.class,
        () -> new Checkpoint.Writer(CFG).tensor(Checkpoint.PARAMS, new float[5], 5).write(dir.resolve("b.ckpt")));
  }

  @Test
  void aFailedWriteKeepsThePreviousCheckpoint() throws IOException {
    Path p = writeSmall(dir.resolve("a.ckpt"), 6);
    byte[] before = Files.readAllBytes(p);
    Tensor closed = CPU.fromArray(new float[4], 4);
    closed.close();
    Checkpoint.Writer w = new Checkpoint.Writer(CFG).step(99).tensor("ok", new float[3], 3).tensor("gone", closed);
    assertThrows(IllegalStateException.class, () -> w.write(p));
    assertArrayEquals(before, Files.readAllBytes(p));
    try (var files = Files.list(dir)) {
      assertEquals(1, files.count(), "no temporary file is left behind");
    }
    try (Checkpoint ck = Checkpoint.open(p)) {
      assertEquals(17, ck.step());
    }
  }
}
