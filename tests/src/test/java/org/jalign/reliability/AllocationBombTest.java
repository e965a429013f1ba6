package org.jalign.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.jalign.backend.CpuBackend;
import org.jalign.data.DataFormatException;
import org.jalign.data.Jsonl;
import org.jalign.data.PromptExample;
import org.jalign.data.TokenFile;
import org.jalign.io.Checkpoint;
import org.jalign.io.CheckpointException;
import org.jalign.io.SafeTensors;
import org.jalign.io.SafeTensorsException;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.tensor.DType;
import org.jalign.text.Tokenizer;
import org.jalign.text.TokenizerFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Allocation bombs: size fields that claim far more than the input holds (10^12-element tensors, huge
 * checkpoint sections, 2^31-position contexts, shapes whose product overflows, 100 MB JSONL lines) are rejected
 * with a documented exception before anything of that size is allocated. The whole set also runs in a child JVM
 * with a 64 MiB heap, where honouring any of the claims would be an OutOfMemoryError.
 */
class AllocationBombTest {
  @TempDir Path dir;

  @FunctionalInterface
  interface Bomb {
    void run(Path dir) throws Exception;
  }

  /** Each bomb, the exception it must raise, and a word its message must contain. */
  record Case(String name, Class<? extends Throwable> expected, String mention, Bomb bomb) {}

  static byte[] safetensors(String headerJson, int dataBytes) {
    byte[] h = headerJson.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    return b.array();
  }

  static Path writeValidCheckpoint(Path dir) throws Exception {
    GptConfig c = GptConfig.tiny();
    Path p = dir.resolve("ok.ckpt");
    new Checkpoint.Writer(c).step(3).tensor(Checkpoint.PARAMS, new float[(int) c.parameterCount()],
        c.parameterCount()).write(p);
    return p;
  }

  /** A valid checkpoint whose header field at {@code at} is replaced and whose header CRC is recomputed. */
  static Path patchedCheckpoint(Path dir, int at, long value) throws Exception {
    byte[] b = Files.readAllBytes(writeValidCheckpoint(dir));
    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    bb.putLong(at, value);
    CRC32 crc = new CRC32();
    crc.update(b, 0, 36);
    bb.putInt(36, (int) crc.getValue());
    Path p = dir.resolve("bomb.ckpt");
    Files.write(p, b);
    return p;
  }

  static List<Case> cases() {
    List<Case> cs = new ArrayList<>();
    Class<SafeTensorsException> ste = SafeTensorsException.class;
    cs.add(new Case("safetensors 10^12 elements", ste, "", d -> open(d, safetensors(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000],\"data_offsets\":[0,4000000000000]}}", 16))));
    cs.add(new Case("safetensors 10^12 elements, small offsets", ste, "", d -> open(d, safetensors(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000],\"data_offsets\":[0,16]}}", 16))));
    cs.add(new Case("safetensors negative shape", ste, "", d -> open(d, safetensors(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4,-1],\"data_offsets\":[0,16]}}", 16))));
    cs.add(new Case("safetensors overflowing shape", ste, "", d -> open(d, safetensors(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904,4],"
            + "\"data_offsets\":[0,0]}}", 0))));
    cs.add(new Case("safetensors header length 2^62", ste, "header length", d -> {
      byte[] b = new byte[64];
      ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 62);
      open(d, b);
    }));
    Class<CheckpointException> cke = CheckpointException.class;
    cs.add(new Case("checkpoint meta section 2^60 bytes", cke, "", d -> Checkpoint.open(patchedCheckpoint(d, 16,
        1L << 60)).close()));
    cs.add(new Case("checkpoint data section 2^62 bytes", cke, "", d -> Checkpoint.open(patchedCheckpoint(d, 24,
        1L << 62)).close()));
    cs.add(new Case("checkpoint negative section", cke, "", d -> Checkpoint.open(patchedCheckpoint(d, 24, -64))
        .close()));
    Class<IllegalArgumentException> iae = IllegalArgumentException.class;
    cs.add(new Case("GptConfig context 2^31 - 1", iae, "contextLength",
        d -> new GptConfig(1, 1, 64, Integer.MAX_VALUE, 64)));
    cs.add(new Case("GptConfig channels 2^20", iae, "elements", d -> new GptConfig(1, 1, 1 << 20, 16, 64)));
    cs.add(new Case("Gpt with context 2^24 and C=4096", iae, "elements", d -> {
      try (CpuBackend cpu = new CpuBackend()) {
        new Gpt(new GptConfig(1, 64, 4096, 1 << 24, 64), cpu, 1).close();
      }
    }));
    cs.add(new Case("tensor shape product overflows", iae, "overflow", d -> {
      try (CpuBackend cpu = new CpuBackend()) {
        cpu.zeros(DType.F32, 1L << 40, 1L << 40).close();
      }
    }));
    cs.add(new Case("tensor 2^41 elements", iae, "limit", d -> {
      try (CpuBackend cpu = new CpuBackend()) {
        cpu.zeros(DType.F32, 1L << 41).close();
      }
    }));
    cs.add(new Case("tensor negative dimension", iae, "negative", d -> {
      try (CpuBackend cpu = new CpuBackend()) {
        cpu.zeros(DType.F32, 4, -3).close();
      }
    }));
    cs.add(new Case("JSONL line of 100 MB", DataFormatException.class, "longer than", d -> {
      Path p = d.resolve("big.jsonl");
      try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(p), 1 << 16)) {
        o.write("{\"prompt\":\"ok\"}\n{\"prompt\":\"".getBytes(StandardCharsets.UTF_8));
        byte[] a = new byte[1 << 20];
        java.util.Arrays.fill(a, (byte) 'a');
        for (int i = 0; i < 100; i++) o.write(a);
        o.write("\"}\n".getBytes(StandardCharsets.UTF_8));
      }
      try {
        PromptExample.readJsonl(p);
      } finally {
        Files.delete(p);
      }
    }));
    cs.add(new Case("tokenizer payload length 2^31 - 1", TokenizerFormatException.class, "", d -> {
      ByteBuffer b = ByteBuffer.allocate(64);
      b.put(new byte[] {'J', 'T', 'O', 'K'}).putShort((short) 1).put((byte) 2).putInt(Integer.MAX_VALUE);
      b.put((byte) 1).putInt(Integer.MAX_VALUE); // BPE: vocabulary size 2^31 - 1
      Tokenizer.fromBytes(b.array());
    }));
    cs.add(new Case("token file count 2^62", TokenFile.BadTokenFileException.class, "", d -> {
      Path p = d.resolve("ok.tok");
      TokenFile.write(p, new int[] {1, 2, 3}, 16);
      byte[] b = Files.readAllBytes(p);
      ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 1L << 62);
      Files.write(p, b);
      TokenFile.open(p).close();
    }));
    return cs;
  }

  private static void open(Path d, byte[] bytes) throws Exception {
    Path p = d.resolve("bomb.safetensors");
    Files.write(p, bytes);
    try (SafeTensors st = SafeTensors.open(p)) {
      for (String n : st.names()) st.readFloats(n);
    }
  }

  /** Runs every case; returns the failures (empty when every bomb was defused as documented). */
  static Map<String, String> defuse(Path d) {
    Map<String, String> failures = new LinkedHashMap<>();
    for (Case c : cases()) {
      try {
        c.bomb().run(d);
        failures.put(c.name(), "accepted");
      } catch (Throwable t) {
        if (!c.expected().isInstance(t)) {
          failures.put(c.name(), "threw " + t);
        } else if (t.getMessage() == null || !t.getMessage().contains(c.mention())) {
          failures.put(c.name(), "message lacks \"" + c.mention() + "\": " + t.getMessage());
        }
      }
    }
    return failures;
  }

  @Test
  void bombsAreRejectedWithDocumentedExceptions() {
    assertEquals(Map.of(), defuse(dir));
  }

  @Test
  void bombsAreRejectedInA64MiBHeap() throws Exception {
    Process p = ChildJvm.start(List.of("-Xmx64m", "-XX:+ExitOnOutOfMemoryError"), AllocationBombTest.class,
        dir.toString());
    StringBuilder out = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String l;
      while ((l = r.readLine()) != null) out.append(l).append('\n');
    }
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out.toString());
    assertTrue(out.toString().contains("defused " + cases().size()), out.toString());
  }

  /** Child entry point: exit 0 when every bomb is defused. */
  public static void main(String[] args) {
    Map<String, String> f = defuse(Path.of(args[0]));
    f.forEach((k, v) -> System.out.println("FAILED " + k + ": " + v));
    System.out.println("defused " + (cases().size() - f.size()));
    System.exit(f.isEmpty() ? 0 : 1);
  }
}
