package org.jalign.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The one way jalign writes a file: check that the target may be replaced, write a temporary file beside it,
 * force it to disk, rename it over the target, force the directory.
 *
 * <p>The rule: <b>jalign never modifies or truncates a file it did not create as that kind of file, and a
 * failed write leaves the old file intact.</b> A writer replaces an existing file only when it is empty or
 * {@link Kind#recognises recognisably} of the writer's own kind (a checkpoint writer replaces a checkpoint,
 * never a report or a preference log), unless the caller allowed it with {@link #allowReplacing} (the command
 * line's {@code --overwrite}; a run directory claimed with {@link #claimRunDirectory}). Otherwise it throws
 * {@link FileAlreadyExistsException} naming the file, what it holds and what would have been written.
 */
public final class OutputFiles {
  private OutputFiles() {}

  /** Name of the marker file that makes a directory a jalign run directory. */
  public static final String RUN_MARKER = ".jalign-run";

  /** Paths (files, or directories covering everything below them) a caller allowed to be replaced. */
  private static final Map<Path, Integer> ALLOWED = new ConcurrentHashMap<>();

  /** Recognises a file's content as one kind of jalign output. */
  @FunctionalInterface
  public interface Recogniser {
    boolean test(Path existing) throws IOException;
  }

  /** A kind of file a writer produces; {@code description} reads as "a jalign checkpoint". */
  public record Kind(String description, Recogniser recogniser) {
    /** Whether {@code existing} (a regular, non-empty file) is of this kind. */
    public boolean recognises(Path existing) throws IOException {
      return recogniser.test(existing);
    }

    /** Files that begin with {@code magic}. */
    public static Kind magic(String description, byte[] magic) {
      byte[] m = magic.clone();
      return new Kind(description, p -> Arrays.equals(head(p, m.length), m));
    }

    /** JSON Lines whose first line is an object holding every one of {@code keys}. */
    public static Kind jsonl(String description, String... keys) {
      return new Kind(description, p -> {
        try (BufferedReader r = utf8(p)) {
          String line = r.readLine();
          return line != null && line.length() < (1 << 24) && holds(line, keys);
        }
      });
    }

    /** A JSON document (at most 64 MiB) that is an object holding every one of {@code keys}. */
    public static Kind json(String description, String... keys) {
      return new Kind(description, p -> Files.size(p) < (64L << 20)
          && holds(new String(Files.readAllBytes(p), StandardCharsets.UTF_8), keys));
    }

    /** A kind no existing file is taken for: such files are replaced only where the caller allowed it. */
    public static Kind unrecognised(String description) {
      return new Kind(description, p -> false);
    }
  }

  /** Everything jalign writes is written by a body given a fresh temporary path. */
  @FunctionalInterface
  public interface Body {
    void write(Path tmp) throws IOException;
  }

  /** An allowance made by {@link #allowReplacing}; closing it takes the allowance back. */
  public static final class Grant implements AutoCloseable {
    private final Path[] paths;
    private boolean closed;

    private Grant(Path[] paths) {
      this.paths = paths;
    }

    @Override
    public void close() {
      if (closed) return;
      closed = true;
      for (Path p : paths) ALLOWED.computeIfPresent(p, (k, n) -> n == 1 ? null : n - 1);
    }
  }

  /**
   * Allows every writer in this process to replace {@code targets} (and, for a directory, every file below
   * it) whatever they hold, until the grant is closed. Null entries are ignored.
   */
  public static Grant allowReplacing(Path... targets) {
    Path[] ps = Stream.of(targets).filter(t -> t != null).map(OutputFiles::key).toArray(Path[]::new);
    for (Path p : ps) ALLOWED.merge(p, 1, Integer::sum);
    return new Grant(ps);
  }

  private static boolean allowed(Path abs) {
    for (Path p = abs; p != null; p = p.getParent()) {
      if (ALLOWED.containsKey(p)) return true;
    }
    return false;
  }

  private static Path key(Path p) {
    return p.toAbsolutePath().normalize();
  }

  /**
   * Throws unless {@code target} may be written as {@code kind}: it does not exist, is an empty regular
   * file, holds {@code kind}, or was allowed. Call it before long work so a refusal comes first; {@link
   * #write} checks again.
   */
  public static void checkTarget(Path target, Kind kind) throws IOException {
    Path abs = key(target);
    if (Files.isDirectory(abs)) {
      throw new FileAlreadyExistsException(abs.toString(), null,
          "is a directory; expected a file for " + kind.description());
    }
    if (!Files.exists(abs, LinkOption.NOFOLLOW_LINKS) || allowed(abs)) return;
    if (!Files.isRegularFile(abs)) {
      throw new FileAlreadyExistsException(abs.toString(), null,
          "exists and is not a regular file; refusing to replace it with " + kind.description());
    }
    if (Files.size(abs) == 0) return;
    boolean ours;
    try {
      ours = kind.recognises(abs);
    } catch (IOException | RuntimeException e) {
      ours = false;
    }
    if (!ours) {
      throw new FileAlreadyExistsException(abs.toString(), null, "exists and is not " + kind.description()
          + "; refusing to replace it (choose another output path, or pass --overwrite to replace it)");
    }
  }

  /**
   * Writes {@code target} atomically: after {@link #checkTarget}, {@code body} fills a temporary file in the
   * same directory, which is forced to disk and renamed over the target. Whatever fails, the old file stays
   * as it was and the temporary file is removed.
   */
  public static void write(Path target, Kind kind, Body body) throws IOException {
    Path abs = key(target);
    checkTarget(abs, kind);
    Path dir = abs.getParent();
    Path tmp;
    try {
      Files.createDirectories(dir);
      tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
    } catch (FileSystemException e) {
      throw new FileSystemException(abs.toString(), null, "cannot be written: " + IoMessages.describe(e));
    }
    boolean done = false;
    try {
      body.write(tmp);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ch.force(true);
      }
      checkTarget(abs, kind); // the body may have run for hours; refuse what appeared meanwhile
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
      done = true;
      forceDirectory(dir);
    } finally {
      if (!done) Files.deleteIfExists(tmp);
    }
  }

  /** {@link #write} of a UTF-8 text. */
  public static void writeText(Path target, Kind kind, String text) throws IOException {
    write(target, kind, tmp -> Files.writeString(tmp, text, StandardCharsets.UTF_8));
  }

  /**
   * Makes {@code dir} a run directory and allows replacing any file in it until the grant is closed. The
   * directory must not exist, be empty, or already be a run directory (it holds {@link #RUN_MARKER});
   * otherwise, unless it was {@linkplain #allowReplacing allowed}, it is refused, so a run never writes into a
   * user's own folder.
   */
  public static Grant claimRunDirectory(Path dir) throws IOException {
    Path abs = key(dir);
    boolean overwrite = allowed(abs);
    if (Files.exists(abs) && !Files.isDirectory(abs)) {
      throw new FileAlreadyExistsException(abs.toString(), null, "exists and is not a directory; a run needs "
          + "a directory for its outputs");
    }
    if (Files.isDirectory(abs) && !overwrite && !Files.exists(abs.resolve(RUN_MARKER))) {
      try (Stream<Path> s = Files.list(abs)) {
        if (s.findAny().isPresent()) {
          throw new FileAlreadyExistsException(abs.toString(), null, "is a non-empty directory that is not a "
              + "jalign run directory (no " + RUN_MARKER + "); refusing to write into it (choose a new or "
              + "empty directory, or pass --overwrite)");
        }
      }
    }
    Files.createDirectories(abs);
    Path marker = abs.resolve(RUN_MARKER);
    if (!Files.exists(marker)) Files.write(marker, new byte[0]);
    return allowReplacing(abs);
  }

  /** Forces a directory entry to disk (best effort where the platform cannot open directories). */
  static void forceDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // not supported here (e.g. Windows); the rename itself is still atomic
    }
  }

  private static byte[] head(Path p, int n) throws IOException {
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate(n);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // read on
      }
      return Arrays.copyOf(b.array(), b.position());
    }
  }

  private static BufferedReader utf8(Path p) throws IOException {
    InputStream in = Files.newInputStream(p);
    return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)));
  }

  private static boolean holds(String json, String... keys) {
    JsonElement e;
    try {
      e = StrictJson.parse(json);
    } catch (RuntimeException ex) {
      return false;
    }
    if (!(e instanceof JsonObject o)) return false;
    for (String k : keys) {
      if (!o.has(k)) return false;
    }
    return true;
  }
}
