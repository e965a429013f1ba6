package org.jalign.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.Pointer;
import org.jalign.backend.CpuBackend;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.Generator;
import org.jalign.io.Checkpoint;
import org.jalign.io.SafeTensors;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.tensor.DType;
import org.jalign.tensor.Scope;
import org.jalign.tensor.Tensor;
import org.jalign.text.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many allocate/close cycles of tensors, models, generators and checkpoints return the backend's live bytes
 * and JavaCPP's tracked bytes exactly to where they started, keep open file descriptors level (within the few the
 * JVM may open on its own threads meanwhile; a leak per cycle adds 30), and keep the
 * resident memory ({@link Pointer#physicalBytes()}) of a child JVM with a fixed, pre-touched heap from growing
 * with the number of cycles.
 */
class ResourceReleaseTest {
  static final GptConfig CFG = new GptConfig(2, 2, 64, 64, 320);
  @TempDir Path dir;

  /** Open file descriptors of this process: number -> what it points at (empty where /proc is missing). */
  static Map<String, String> openFds() {
    Map<String, String> out = new TreeMap<>();
    String[] fds = new File("/proc/self/fd").list();
    if (fds == null) return out;
    for (String fd : fds) {
      try {
        out.put(fd, Files.readSymbolicLink(Path.of("/proc/self/fd", fd)).toString());
      } catch (IOException | UnsupportedOperationException e) {
        out.put(fd, "?"); // closed while listing (e.g. the listing's own descriptor)
      }
    }
    return out;
  }

  @Test
  void cyclesReturnToTheStartingLevel() throws Exception {
    Path ck = dir.resolve("m.ckpt");
    Path st = dir.resolve("m.safetensors");
    try (CpuBackend cpu = new CpuBackend()) {
      long own; // what the backend keeps for itself: its one-float reduction scratch, freed when it closes
      try (Scope s = Scope.open()) {
        cpu.sumSquares(cpu.fromArray(new float[] {1f}, 1));
      }
      own = cpu.liveBytes();
      cycle(cpu, ck, st); // warm up: class loading, thread pools, page cache
      System.gc();
      long live0 = cpu.liveBytes();
      long tracked0 = Pointer.totalBytes();
      Map<String, String> fd0 = openFds();
      for (int i = 0; i < 30; i++) cycle(cpu, ck, st);
      System.gc();
      assertEquals(live0, cpu.liveBytes(), "backend live bytes");
      assertEquals(tracked0, Pointer.totalBytes(), "JavaCPP tracked bytes");
      // A leak of one descriptor per cycle adds 30; the JVM's own threads (class loading from a jar, the test
      // runner) may open one or two on their own while the cycles run.
      Map<String, String> fd1 = openFds();
      Map<String, String> added = new TreeMap<>(fd1);
      added.keySet().removeAll(fd0.keySet());
      assertTrue(fd1.size() - fd0.size() < 5, "open file descriptors " + fd0.size() + " -> " + fd1.size()
          + ", new: " + added);
      assertEquals(own, cpu.liveBytes(), "everything was closed");
    }
    // Resident memory, for native leaks nothing above tracks (malloc inside the kernels, OpenBLAS): measured in a
    // child JVM whose heap is fixed and touched at start, so the heap's own growth cannot pass for a leak.
    Process child = ChildJvm.start(List.of("-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch"), ResourceReleaseTest.class,
        dir.toString());
    String out = new String(child.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(child.waitFor(300, java.util.concurrent.TimeUnit.SECONDS) && child.exitValue() == 0, out);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("GROWN (-?\\d+)").matcher(out);
    assertTrue(m.find(), out);
    long grown = Long.parseLong(m.group(1));
    // one cycle allocates ~2 MB of native memory; 30 leaked cycles would add far more than this bound
    assertTrue(grown < 48L << 20, "resident memory grew by " + (grown >> 20) + " MiB over 30 cycles");
    System.out.println("[reliability] resident growth over 30 cycles: " + (grown >> 10) + " KiB");
  }

  /** The child of the resident-memory check: warm-up, then 30 cycles; prints "GROWN bytes". */
  public static void main(String[] args) throws Exception {
    Path d = Path.of(args[0]);
    try (CpuBackend cpu = new CpuBackend()) {
      Path ck = d.resolve("child.ckpt"), st = d.resolve("child.safetensors");
      for (int i = 0; i < 3; i++) cycle(cpu, ck, st);
      System.gc();
      long rss0 = Pointer.physicalBytes();
      for (int i = 0; i < 30; i++) cycle(cpu, ck, st);
      System.gc();
      System.out.println("GROWN " + (Pointer.physicalBytes() - rss0));
    }
  }

  private static void cycle(CpuBackend cpu, Path ck, Path st) throws Exception {
    for (int i = 0; i < 50; i++) {
      Tensor t = cpu.zeros(DType.F32, 256, 64);
      t.close();
    }
    try (Scope s = Scope.open()) {
      for (int i = 0; i < 50; i++) cpu.zeros(DType.F32, 64, 64);
    }
    try (Gpt model = new Gpt(CFG, cpu, 3)) {
      new Generator(model, new ByteTokenizer()).generate(List.of("ab", "cde"), GenerationConfig.greedy(6));
      new Checkpoint.Writer(CFG).step(1).tensor(Checkpoint.PARAMS, model.params()).write(ck);
      try (Checkpoint c = Checkpoint.open(ck)) {
        c.readInto(Checkpoint.PARAMS, model.params());
      }
      SafeTensors.writer().add("w", model.paramsToArray(), CFG.parameterCount()).write(st);
      try (SafeTensors f = SafeTensors.open(st)) {
        f.readFloats("w");
      }
    }
  }
}
