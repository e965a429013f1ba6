package org.jalign.feedback;

import com.google.flatbuffers.FlatBufferBuilder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32;
import org.jalign.io.fb.PrefChoice;
import org.jalign.io.fb.PrefKind;
import org.jalign.io.fb.PrefRecord;

/**
 * The durable, append-only log of user preferences: one record per comparison shown and one per choice made.
 *
 * <p>Each record is framed as {@code u32 magic "JPRF" | u32 payload length | u32 CRC32(payload) | payload}
 * (little-endian) where the payload is a FlatBuffer {@code PrefRecord} (schema {@code feedback.fbs}). Every
 * append takes an exclusive file lock (safe across processes) and an in-process lock (safe across threads),
 * writes the whole record at the end and forces it to disk before returning.
 *
 * <p>Crash safety: a writer killed mid-append leaves a torn tail: a proper prefix of one record frame (the
 * magic or a part of it, then a length no larger than {@link #MAX_PAYLOAD} that the bytes left do not reach).
 * Readers stop at it; the next writer (or {@link #repair()}) truncates it away before appending, so every
 * record completed before the crash stays and the torn one is gone. Nothing else is ever cut: a file that does
 * not begin with a record (or a torn first record) is "not a preference log", and bytes after the last record
 * that cannot be the start of one are damage; both raise {@link PreferenceLogException} naming the byte
 * offset and leave the file exactly as it was.
 */
public final class PreferenceLog {
  static final byte[] MAGIC_BYTES = {'J', 'P', 'R', 'F'};
  static final int HEADER = 12;
  /** Upper bound of one record's payload: a length field beyond it is damage, never an allocation. */
  static final int MAX_PAYLOAD = 16 << 20;

  private static final Map<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();
  /**
   * The log as this process left it after its last append: the file's identity, size and modification time. The
   * next append in this process skips the scan only while all three are unchanged; anything else (another
   * writer, a rewrite in place, a replaced file) sends it back to a scan from byte 0.
   */
  private record Validated(Object fileKey, long size, FileTime modified) {}

  private static final Map<Path, Validated> VALIDATED = new ConcurrentHashMap<>();

  private final Path path;

  /** A log at {@code path} (created on the first append). */
  public PreferenceLog(Path path) {
    this.path = path.toAbsolutePath().normalize();
  }

  public Path path() {
    return path;
  }

  // ------------------------------------------------------------------ records

  /** A decoded record: exactly one of {@code comparison} and {@code choice} is set. */
  public record Entry(String id, long createdMillis, Comparison comparison, Choice choice, long offset) {}

  /** A comparison with its recorded choice. */
  public record Preference(Comparison comparison, Choice choice) {}

  /** Appends a comparison record (durable on return). */
  public void appendComparison(Comparison c) throws IOException {
    FlatBufferBuilder b = new FlatBufferBuilder(256 + c.prompt().length() + c.responseA().length()
        + c.responseB().length());
    int id = b.createString(c.id());
    int prompt = b.createString(c.prompt());
    int ra = b.createString(c.responseA());
    int rb = b.createString(c.responseB());
    int ta = PrefRecord.createTokensAVector(b, c.tokensA());
    int tb = PrefRecord.createTokensBVector(b, c.tokensB());
    int la = PrefRecord.createLogprobsAVector(b, c.logprobsA());
    int lb = PrefRecord.createLogprobsBVector(b, c.logprobsB());
    int pv = b.createString(c.policyVersion());
    PrefRecord.startPrefRecord(b);
    PrefRecord.addKind(b, PrefKind.Comparison);
    PrefRecord.addId(b, id);
    PrefRecord.addCreatedMs(b, c.createdMillis());
    PrefRecord.addPrompt(b, prompt);
    PrefRecord.addResponseA(b, ra);
    PrefRecord.addResponseB(b, rb);
    PrefRecord.addTokensA(b, ta);
    PrefRecord.addTokensB(b, tb);
    PrefRecord.addLogprobsA(b, la);
    PrefRecord.addLogprobsB(b, lb);
    PrefRecord.addPolicyVersion(b, pv);
    PrefRecord.finishPrefRecordBuffer(b, PrefRecord.endPrefRecord(b));
    append(b.sizedByteArray());
  }

  /** Appends a choice record for comparison {@code id} (durable on return). */
  public void appendChoice(String id, Choice choice, long createdMillis) throws IOException {
    FlatBufferBuilder b = new FlatBufferBuilder(64);
    int sid = b.createString(id);
    PrefRecord.startPrefRecord(b);
    PrefRecord.addKind(b, PrefKind.Choice);
    PrefRecord.addId(b, sid);
    PrefRecord.addCreatedMs(b, createdMillis);
    PrefRecord.addChoice(b, (byte) choice.ordinal());
    PrefRecord.finishPrefRecordBuffer(b, PrefRecord.endPrefRecord(b));
    append(b.sizedByteArray());
  }

  private void append(byte[] payload) throws IOException {
    if (payload.length > MAX_PAYLOAD) {
      throw new IllegalArgumentException("record of " + payload.length + " bytes exceeds " + MAX_PAYLOAD);
    }
    CRC32 crc = new CRC32();
    crc.update(payload);
    ByteBuffer rec = ByteBuffer.allocate(HEADER + payload.length).order(ByteOrder.LITTLE_ENDIAN);
    rec.put(MAGIC_BYTES).putInt(payload.length).putInt((int) crc.getValue()).put(payload).flip();
    Files.createDirectories(path.getParent());
    ReentrantLock local = IN_PROCESS.computeIfAbsent(path, p -> new ReentrantLock());
    local.lock();
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE); FileLock lock = ch.lock()) {
      long end = scan(ch, null, VALIDATED.get(path) != null && VALIDATED.get(path).equals(state(ch)) ? ch.size() : 0)
          .validEnd();
      if (end < ch.size()) ch.truncate(end); // drop a torn tail left by a crashed writer
      ch.position(end);
      while (rec.hasRemaining()) ch.write(rec);
      ch.force(true);
      VALIDATED.put(path, state(ch));
    } finally {
      local.unlock();
    }
  }

  private Validated state(FileChannel ch) throws IOException {
    BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
    return new Validated(a.fileKey(), ch.size(), a.lastModifiedTime());
  }

  // ------------------------------------------------------------------ reading

  /**
   * What a read found: every complete record in file order, and the size of the torn tail after them (the
   * bytes the next append or {@link #repair()} drops; 0 for a clean log).
   */
  public record Contents(List<Entry> entries, long tornTailBytes) {}

  /**
   * Reads the whole log (a missing file is an empty log). A torn tail is reported in {@link
   * Contents#tornTailBytes()}, not an error; anything else that is not a record raises {@link
   * PreferenceLogException}.
   */
  public Contents read() throws IOException {
    if (!Files.exists(path)) return new Contents(List.of(), 0);
    List<Entry> out = new ArrayList<>();
    ReentrantLock local = IN_PROCESS.computeIfAbsent(path, p -> new ReentrantLock());
    local.lock();
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      ScanResult r = scan(ch, out, 0);
      return new Contents(Collections.unmodifiableList(out), ch.size() - r.validEnd());
    } finally {
      local.unlock();
    }
  }

  /** Every complete record in file order; a torn tail is ignored (not an error). */
  public List<Entry> readAll() throws IOException {
    return read().entries();
  }

  /** Comparisons that have a choice, in the order they were chosen; the latest choice for an id wins. */
  public List<Preference> preferences() throws IOException {
    return preferences(readAll());
  }

  /** The preferences in {@code entries} (as read from a log), by the rule of {@link #preferences()}. */
  public static List<Preference> preferences(List<Entry> entries) {
    Map<String, Comparison> shown = new LinkedHashMap<>();
    Map<String, Preference> chosen = new LinkedHashMap<>();
    for (Entry e : entries) {
      if (e.comparison() != null) {
        shown.put(e.id(), e.comparison());
      } else {
        Comparison c = shown.get(e.id());
        if (c != null) {
          chosen.remove(e.id());
          chosen.put(e.id(), new Preference(c, e.choice()));
        }
      }
    }
    return List.copyOf(chosen.values());
  }

  /** The comparison with this id, if logged. */
  public Optional<Comparison> comparison(String id) throws IOException {
    for (Entry e : readAll()) {
      if (e.comparison() != null && e.id().equals(id)) return Optional.of(e.comparison());
    }
    return Optional.empty();
  }

  /** Truncates a torn tail now; returns the number of bytes dropped (0 when the log was clean). */
  public long repair() throws IOException {
    if (!Files.exists(path)) return 0;
    ReentrantLock local = IN_PROCESS.computeIfAbsent(path, p -> new ReentrantLock());
    local.lock();
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock = ch.lock()) {
      long end = scan(ch, null, 0).validEnd();
      long dropped = ch.size() - end;
      if (dropped > 0) {
        ch.truncate(end);
        ch.force(true);
      }
      return dropped;
    } finally {
      local.unlock();
    }
  }

  private record ScanResult(long validEnd) {}

  /**
   * Walks the records from {@code from}; returns the end of the last valid record. What follows it must be a
   * torn tail (see the class comment); anything else throws, naming the offset.
   */
  private ScanResult scan(FileChannel ch, List<Entry> out, long from) throws IOException {
    long size = ch.size();
    long pos = from;
    ByteBuffer hdr = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
    while (pos < size) {
      byte[] payload = readRecord(ch, pos, size, hdr);
      if (payload == null) {
        if (isTornRecord(ch, pos, size, hdr)) return new ScanResult(pos);
        if (pos == 0) {
          throw new PreferenceLogException(path + " is not a preference log (it does not begin with a "
              + "preference-log record); refusing to read or modify it");
        }
        long next = findNextValid(ch, pos + 1, size, hdr);
        throw new PreferenceLogException("preference log " + path + " is damaged at byte " + pos + ": "
            + (next >= 0 ? "a valid record follows at byte " + next
                : (size - pos) + " bytes after the last record are not the start of one")
            + "; refusing to drop them");
      }
      if (out != null) out.add(decode(payload, pos));
      pos += HEADER + payload.length;
    }
    return new ScanResult(pos);
  }

  /**
   * Whether the bytes [pos, size) can be what a writer killed mid-append left: a proper prefix of one record
   * frame, i.e. (a prefix of) the magic, then a plausible length that the bytes left fall short of.
   */
  private static boolean isTornRecord(FileChannel ch, long pos, long size, ByteBuffer hdr) throws IOException {
    long n = size - pos;
    if (n >= HEADER + MAX_PAYLOAD) return false;
    hdr.clear();
    hdr.limit((int) Math.min(n, 8));
    readFully(ch, hdr, pos);
    hdr.flip();
    for (int i = 0; i < MAGIC_BYTES.length && hdr.hasRemaining(); i++) {
      if (hdr.get() != MAGIC_BYTES[i]) return false;
    }
    if (hdr.remaining() < 4) return true; // the length field itself is torn
    int len = hdr.getInt();
    return len > 0 && len <= MAX_PAYLOAD && n < HEADER + (long) len;
  }

  /** The payload of a valid record at pos, or null when the bytes there are not one. */
  private byte[] readRecord(FileChannel ch, long pos, long size, ByteBuffer hdr) throws IOException {
    if (size - pos < HEADER) return null;
    hdr.clear();
    readFully(ch, hdr, pos);
    hdr.flip();
    for (byte m : MAGIC_BYTES) {
      if (hdr.get() != m) return null;
    }
    int len = hdr.getInt();
    int crc = hdr.getInt();
    if (len <= 0 || len > MAX_PAYLOAD || len > size - pos - HEADER) return null;
    ByteBuffer p = ByteBuffer.allocate(len);
    readFully(ch, p, pos + HEADER);
    byte[] payload = p.array();
    CRC32 c = new CRC32();
    c.update(payload);
    if ((int) c.getValue() != crc) return null;
    try {
      decode(payload, pos);
    } catch (RuntimeException e) {
      return null; // right checksum, wrong structure: not one of ours
    }
    return payload;
  }

  private long findNextValid(FileChannel ch, long from, long size, ByteBuffer hdr) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    long base = from;
    while (base < size) {
      buf.clear();
      int n = ch.read(buf, base);
      if (n <= 0) break;
      byte[] a = buf.array();
      for (int i = 0; i + 3 < n; i++) {
        if (a[i] == 'J' && a[i + 1] == 'P' && a[i + 2] == 'R' && a[i + 3] == 'F') {
          if (readRecord(ch, base + i, size, hdr) != null) return base + i;
        }
      }
      base += Math.max(1, n - 3);
    }
    return -1;
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      int n = ch.read(b, pos + b.position());
      if (n < 0) throw new IOException("unexpected end of file");
    }
  }

  private static Entry decode(byte[] payload, long offset) {
    ByteBuffer bb = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
    if (!PrefRecord.PrefRecordBufferHasIdentifier(bb)) throw new IllegalStateException("bad identifier");
    PrefRecord r = PrefRecord.getRootAsPrefRecord(bb);
    String id = r.id();
    if (id == null || id.isEmpty()) throw new IllegalStateException("record without id");
    if (r.kind() == PrefKind.Comparison) {
      int[] ta = new int[r.tokensALength()];
      for (int i = 0; i < ta.length; i++) ta[i] = r.tokensA(i);
      int[] tb = new int[r.tokensBLength()];
      for (int i = 0; i < tb.length; i++) tb[i] = r.tokensB(i);
      float[] la = new float[r.logprobsALength()];
      for (int i = 0; i < la.length; i++) la[i] = r.logprobsA(i);
      float[] lb = new float[r.logprobsBLength()];
      for (int i = 0; i < lb.length; i++) lb[i] = r.logprobsB(i);
      Comparison c = new Comparison(id, nz(r.prompt()), nz(r.responseA()), nz(r.responseB()), ta, tb, la, lb,
          r.policyVersion(), r.createdMs());
      return new Entry(id, r.createdMs(), c, null, offset);
    }
    if (r.kind() == PrefKind.Choice) {
      byte ch = r.choice();
      if (ch < PrefChoice.A || ch > PrefChoice.Neither) throw new IllegalStateException("bad choice " + ch);
      return new Entry(id, r.createdMs(), null, Choice.values()[ch], offset);
    }
    throw new IllegalStateException("unknown record kind " + r.kind());
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }
}
