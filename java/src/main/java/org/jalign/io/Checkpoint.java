package org.jalign.io;

import com.google.flatbuffers.FlatBufferBuilder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.CRC32;
import org.jalign.io.fb.CheckpointMeta;
import org.jalign.io.fb.DoubleEntry;
import org.jalign.io.fb.ModelConfig;
import org.jalign.io.fb.StringEntry;
import org.jalign.io.fb.TensorEntry;
import org.jalign.model.GptConfig;
import org.jalign.tensor.DType;
import org.jalign.tensor.Tensor;

/**
 * A jalign checkpoint: model configuration, tokenizer bytes, named F32 tensors (model parameters, optimizer
 * moments, heads), step counters, RNG state, data cursor and string/double metadata (later stages keep their
 * KL-controller state, reward statistics and stage names there).
 *
 * <p>File layout (little-endian):
 * <pre>
 *   0   magic        8 bytes  "JALCKPT\0"
 *   8   version      u32      1 (container version)
 *   12  headerBytes  u32      64
 *   16  metaBytes    u64      length M of the FlatBuffer (schema checkpoint.fbs, identifier "JALC")
 *   24  dataBytes    u64      length D of the tensor data section
 *   32  payloadCrc   u32      CRC32 of every byte after the header
 *   36  headerCrc    u32      CRC32 of bytes [0, 36)
 *   40  zero         24 bytes
 *   64  meta         M bytes, then zero padding to a multiple of 64
 *   ..  data         D bytes: each tensor's F32 values at its entry's offset (64-byte aligned)
 * </pre>
 *
 * <p>Writing ({@link Writer#write}) is atomic: the file is built under a temporary name in the same directory,
 * forced to disk, renamed over the target, and the directory is forced; a failure at any point leaves the
 * previous checkpoint untouched.
 *
 * <p>Reading ({@link #open}) trusts nothing: the file length must match the header, both CRCs must match, the
 * FlatBuffer is walked with bounds checks on every offset, vtable and vector before the generated accessors
 * touch it (flatbuffers-java has no verifier), the configuration must be valid, and every tensor entry must lie
 * inside the data section with a size matching its shape and, for the standard names, the configuration. Any
 * failure is a {@link CheckpointException}; no allocation is sized by an unchecked field.
 *
 * <pre>{@code
 * new Checkpoint.Writer(model.config()).step(step).tensor(Checkpoint.PARAMS, model.params()).write(path);
 * try (Checkpoint ck = Checkpoint.open(path)) { ck.readInto(Checkpoint.PARAMS, model.params()); }
 * }</pre>
 */
public final class Checkpoint implements AutoCloseable {

  /** Standard tensor names. */
  public static final String PARAMS = "model/params";
  public static final String ADAM_M = "optim/m";
  public static final String ADAM_V = "optim/v";

  /** The conventional name of a head's parameters, e.g. {@code head("value")} = {@code "head/value"}. */
  public static String head(String name) {
    return "head/" + Objects.requireNonNull(name, "name");
  }

  static final byte[] MAGIC = {'J', 'A', 'L', 'C', 'K', 'P', 'T', 0};
  /** What a checkpoint writer may replace: a file that begins with the checkpoint magic. */
  public static final OutputFiles.Kind KIND = OutputFiles.Kind.magic("a jalign checkpoint", MAGIC);
  static final int VERSION = 1;
  static final int FORMAT_VERSION = 1;
  /** The format version of a checkpoint whose model block is not GPT-2 (the ModelConfig block fields). */
  static final int FORMAT_VERSION_BLOCK = 2;
  static final int HEADER_BYTES = 64;
  static final int ALIGN = 64;
  static final String FILE_ID = "JALC";
  private static final int CHUNK_FLOATS = 1 << 20;

  /** Metadata of one stored tensor. */
  public record TensorInfo(String name, long[] shape, long offset, long length) {
    public long numel() {
      return length / 4;
    }
  }

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final GptConfig config;
  private final byte[] tokenizer;
  private final long step;
  private final long optimizerStep;
  private final long[] rngState;
  private final long[] dataCursor;
  private final Map<String, String> strings;
  private final Map<String, Double> doubles;
  private final Map<String, TensorInfo> tensors;

  private Checkpoint(Path path, FileChannel channel, long dataStart, GptConfig config, byte[] tokenizer, long step,
      long optimizerStep, long[] rngState, long[] dataCursor, Map<String, String> strings, Map<String, Double> doubles,
      Map<String, TensorInfo> tensors) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.config = config;
    this.tokenizer = tokenizer;
    this.step = step;
    this.optimizerStep = optimizerStep;
    this.rngState = rngState;
    this.dataCursor = dataCursor;
    this.strings = strings;
    this.doubles = doubles;
    this.tensors = tensors;
  }

  // ================================================================== reading

  public GptConfig config() {
    return config;
  }

  /** The tokenizer bytes ({@code Tokenizer.fromBytes}); empty when none was stored. */
  public byte[] tokenizer() {
    return tokenizer.clone();
  }

  public long step() {
    return step;
  }

  public long optimizerStep() {
    return optimizerStep;
  }

  public long[] rngState() {
    return rngState.clone();
  }

  public long[] dataCursor() {
    return dataCursor.clone();
  }

  public Map<String, String> strings() {
    return strings;
  }

  public Map<String, Double> doubles() {
    return doubles;
  }

  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public boolean hasTensor(String name) {
    return tensors.containsKey(name);
  }

  public Path path() {
    return path;
  }

  /**
   * A number stored with {@link Writer#number}, finite; a {@link CheckpointException} naming the file and the
   * field when it is missing or not finite.
   */
  public double requireNumber(String key) throws CheckpointException {
    Double v = doubles.get(key);
    if (v == null) throw missing("number \"" + key + "\"");
    if (!Double.isFinite(v)) throw new CheckpointException(path + ": number \"" + key + "\" is " + v);
    return v;
  }

  /** A stored number that must be an integer in [min, max] (see {@link #requireNumber}). */
  public long requireInteger(String key, long min, long max) throws CheckpointException {
    double v = requireNumber(key);
    if (v != Math.rint(v) || v < min || v > max) {
      throw new CheckpointException(path + ": number \"" + key + "\" is " + v + ", expected an integer in [" + min
          + ", " + max + "]");
    }
    return (long) v;
  }

  /** A string stored with {@link Writer#string}; a {@link CheckpointException} naming the field when missing. */
  public String requireString(String key) throws CheckpointException {
    String v = strings.get(key);
    if (v == null) throw missing("string \"" + key + "\"");
    return v;
  }

  /** The RNG state, which must hold exactly {@code words} words. */
  public long[] rngState(int words) throws CheckpointException {
    return exactly("rng_state", rngState, words);
  }

  /** The data cursor, which must hold exactly {@code words} words. */
  public long[] dataCursor(int words) throws CheckpointException {
    return exactly("data_cursor", dataCursor, words);
  }

  private long[] exactly(String field, long[] v, int words) throws CheckpointException {
    if (v.length != words) {
      throw new CheckpointException(path + ": field " + field + " holds " + v.length + " words, a resume needs "
          + words + (v.length == 0 ? " (written by another stage or version, or edited)" : ""));
    }
    return v.clone();
  }

  private CheckpointException missing(String what) {
    return new CheckpointException(path + ": the checkpoint has no " + what + " (written by another stage or "
        + "version, or edited); it cannot be resumed from");
  }

  private TensorInfo info(String name) throws CheckpointException {
    TensorInfo t = tensors.get(name);
    if (t == null) throw new CheckpointException(path + ": no tensor named " + name + "; it has " + tensors.keySet());
    return t;
  }

  /** The values of a stored tensor on the heap. */
  public float[] tensor(String name) throws IOException {
    TensorInfo t = info(name);
    float[] out = new float[Math.toIntExact(t.numel())];
    long done = 0;
    while (done < out.length) {
      int n = (int) Math.min(CHUNK_FLOATS, out.length - done);
      readFloats(t, done, out, (int) done, n);
      done += n;
    }
    return out;
  }

  /**
   * The largest parameter magnitude a loaded tensor may hold: a value whose square overflows fp32 cannot pass
   * through a norm or a dot product, so it is damage, not a weight.
   */
  public static final double MAX_ABS_VALUE = Math.sqrt(Float.MAX_VALUE);

  /**
   * Copies a stored tensor into {@code dst} (any backend; F32 with the same element count), in chunks, then
   * checks it with one vectorised pass ({@link org.jalign.backend.Backend#sumSquares}): a NaN, an infinity or a
   * value beyond {@link #MAX_ABS_VALUE} is a {@link CheckpointException} naming the file, the tensor and (for
   * model parameters) the parameter and element.
   */
  public void readInto(String name, Tensor dst) throws IOException {
    TensorInfo t = info(name);
    Objects.requireNonNull(dst, "dst");
    if (dst.dtype() != DType.F32 || dst.numel() != t.numel()) {
      throw new CheckpointException(path + ": cannot read tensor " + name + " " + Arrays.toString(t.shape()) + " into a "
          + dst.dtype() + " tensor of " + dst.numel() + " elements");
    }
    float[] buf = new float[(int) Math.min(CHUNK_FLOATS, t.numel())];
    for (long done = 0; done < t.numel(); ) {
      int n = (int) Math.min(buf.length, t.numel() - done);
      float[] b = n == buf.length ? buf : new float[n];
      readFloats(t, done, b, 0, n);
      dst.slice(done, n).copyFrom(b);
      done += n;
    }
    double ss = dst.backend().sumSquares(dst);
    if (!(ss <= Float.MAX_VALUE)) throw nonFinite(t, dst.toFloatArray());
  }

  /** The error for a tensor whose sum of squares is not a finite fp32 number: names the first bad element. */
  private CheckpointException nonFinite(TensorInfo t, float[] v) {
    for (int i = 0; i < v.length; i++) {
      if (!(Math.abs(v[i]) <= MAX_ABS_VALUE)) {
        return new CheckpointException(path + ": tensor " + t.name() + elementName(t, i) + " is " + v[i]
            + (Float.isFinite(v[i]) ? ", beyond the " + (float) MAX_ABS_VALUE + " a weight can be" : "")
            + " (the checkpoint is corrupt or came from a diverged run)");
      }
    }
    return new CheckpointException(path + ": tensor " + t.name() + ": its sum of squares overflows fp32 (the "
        + "checkpoint is corrupt or came from a diverged run)");
  }

  /** " (parameter h.3.qkvw, element 17)" for a flat model-parameter tensor, else "[i]". */
  private String elementName(TensorInfo t, long i) {
    if (t.numel() == config.parameterCount()) {
      for (org.jalign.model.ParamSpec ps : config.paramSpecs()) {
        if (i >= ps.offset() && i < ps.offset() + ps.numel()) {
          return " (parameter " + ps.name() + ", element " + (i - ps.offset()) + ")";
        }
      }
    }
    return "[" + i + "]";
  }

  private void readFloats(TensorInfo t, long first, float[] dst, int off, int n) throws IOException {
    ByteBuffer bb = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
    long pos = dataStart + t.offset() + first * 4;
    while (bb.hasRemaining()) {
      int r = channel.read(bb, pos + bb.position());
      if (r < 0) throw new CheckpointException(path + ": file shrank while reading tensor " + t.name());
    }
    bb.flip();
    bb.asFloatBuffer().get(dst, off, n);
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  /** Opens and fully validates a checkpoint. */
  public static Checkpoint open(Path path) throws IOException {
    Objects.requireNonNull(path, "path");
    if (Files.isDirectory(path)) {
      throw new CheckpointException(path + ": is a directory, not a checkpoint file");
    }
    FileChannel ch;
    try {
      ch = FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new CheckpointException(path + ": no such checkpoint file", e);
    } catch (FileSystemException e) {
      throw new CheckpointException(path + ": cannot be read: " + IoMessages.describe(e), e);
    }
    try {
      return validate(path, ch);
    } catch (CheckpointException e) {
      ch.close();
      throw e;
    } catch (IndexOutOfBoundsException | IllegalArgumentException | java.nio.BufferUnderflowException e) {
      ch.close();
      throw new CheckpointException(path + ": corrupt checkpoint (" + e + ")", e);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static Checkpoint validate(Path path, FileChannel ch) throws IOException {
    long size = ch.size();
    if (size < HEADER_BYTES) {
      throw new CheckpointException(path + ": " + size + " bytes, shorter than the " + HEADER_BYTES
          + "-byte checkpoint header (truncated or not a checkpoint)");
    }
    ByteBuffer h = readFully(ch, 0, HEADER_BYTES);
    for (int i = 0; i < MAGIC.length; i++) {
      if (h.get(i) != MAGIC[i]) throw new CheckpointException(path + ": not a jalign checkpoint (bad magic)");
    }
    CRC32 hc = new CRC32();
    hc.update(h.array(), 0, 36);
    if ((int) hc.getValue() != h.getInt(36)) throw new CheckpointException(path + ": header checksum mismatch (corrupt)");
    int version = h.getInt(8);
    if (version != VERSION) {
      throw new CheckpointException(path + ": checkpoint container version " + version + ", this build reads " + VERSION);
    }
    if (h.getInt(12) != HEADER_BYTES) throw new CheckpointException(path + ": header size " + h.getInt(12));
    for (int i = 40; i < HEADER_BYTES; i++) {
      if (h.get(i) != 0) throw new CheckpointException(path + ": reserved header byte " + i + " is not zero (corrupt)");
    }
    long metaBytes = h.getLong(16), dataBytes = h.getLong(24);
    if (metaBytes < 8 || metaBytes > Integer.MAX_VALUE - ALIGN || dataBytes < 0) {
      throw new CheckpointException(path + ": impossible section sizes meta=" + metaBytes + " data=" + dataBytes);
    }
    long dataStart = HEADER_BYTES + align(metaBytes);
    if (dataBytes > Long.MAX_VALUE - dataStart || dataStart + dataBytes != size) {
      throw new CheckpointException(path + ": the header describes " + (dataStart + dataBytes) + " bytes but the file has "
          + size + " (truncated or corrupt)");
    }
    // payload CRC, streamed
    CRC32 crc = new CRC32();
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    for (long pos = HEADER_BYTES; pos < size; ) {
      buf.clear();
      buf.limit((int) Math.min(buf.capacity(), size - pos));
      int r = ch.read(buf, pos);
      if (r < 0) throw new CheckpointException(path + ": unexpected end of file");
      buf.flip();
      crc.update(buf);
      pos += r;
    }
    if ((int) crc.getValue() != h.getInt(32)) {
      throw new CheckpointException(path + ": payload checksum mismatch (the file is corrupt)");
    }
    ByteBuffer meta = readFully(ch, HEADER_BYTES, (int) metaBytes);
    return parseMeta(path, ch, meta, dataStart, dataBytes);
  }

  /** Parses and checks the metadata FlatBuffer (also used directly by tests with a recomputed CRC). */
  static Checkpoint parseMeta(Path path, FileChannel ch, ByteBuffer meta, long dataStart, long dataBytes)
      throws CheckpointException {
    meta.order(ByteOrder.LITTLE_ENDIAN);
    new Verifier(path, meta).verifyRoot();
    CheckpointMeta m = CheckpointMeta.getRootAsCheckpointMeta(meta);
    if (m.formatVersion() != FORMAT_VERSION && m.formatVersion() != FORMAT_VERSION_BLOCK) {
      throw new CheckpointException(path + ": checkpoint format version " + m.formatVersion() + ", this build reads "
          + FORMAT_VERSION + " and " + FORMAT_VERSION_BLOCK);
    }
    ModelConfig mc = m.modelConfig();
    if (mc == null) throw new CheckpointException(path + ": no model configuration");
    GptConfig config;
    try {
      config = readModelConfig(mc);
      if (m.formatVersion() == FORMAT_VERSION && !config.isGpt2()) {
        throw new IllegalArgumentException("a version " + FORMAT_VERSION + " checkpoint holds GPT-2 only, not " + config);
      }
    } catch (IllegalArgumentException e) {
      throw new CheckpointException(path + ": invalid model configuration: " + e.getMessage(), e);
    }
    byte[] tok = new byte[m.tokenizerLength()];
    for (int i = 0; i < tok.length; i++) tok[i] = (byte) m.tokenizer(i);
    long[] rng = new long[m.rngStateLength()];
    for (int i = 0; i < rng.length; i++) rng[i] = m.rngState(i);
    long[] cur = new long[m.dataCursorLength()];
    for (int i = 0; i < cur.length; i++) cur[i] = m.dataCursor(i);
    if (m.step() < 0 || m.optimizerStep() < 0) {
      throw new CheckpointException(path + ": negative step " + m.step() + "/" + m.optimizerStep());
    }
    Map<String, String> strs = new LinkedHashMap<>();
    for (int i = 0; i < m.stringsLength(); i++) {
      StringEntry e = m.strings(i);
      if (e.key() == null || e.value() == null) throw new CheckpointException(path + ": string entry " + i + " incomplete");
      if (strs.put(e.key(), e.value()) != null) throw new CheckpointException(path + ": duplicate string key " + e.key());
    }
    Map<String, Double> dbls = new LinkedHashMap<>();
    for (int i = 0; i < m.doublesLength(); i++) {
      DoubleEntry e = m.doubles(i);
      if (e.key() == null) throw new CheckpointException(path + ": double entry " + i + " has no key");
      if (dbls.put(e.key(), e.value()) != null) throw new CheckpointException(path + ": duplicate double key " + e.key());
    }
    Map<String, TensorInfo> ts = new LinkedHashMap<>();
    for (int i = 0; i < m.tensorsLength(); i++) {
      TensorEntry e = m.tensors(i);
      String name = e.name();
      if (name == null || name.isEmpty()) throw new CheckpointException(path + ": tensor entry " + i + " has no name");
      if (e.dtype() != 0) throw new CheckpointException(path + ": tensor " + name + " has unknown dtype " + e.dtype());
      long[] shape = new long[e.shapeLength()];
      long numel = 1;
      for (int j = 0; j < shape.length; j++) {
        shape[j] = e.shape(j);
        if (shape[j] < 0) throw new CheckpointException(path + ": tensor " + name + " has a negative dimension");
        try {
          numel = Math.multiplyExact(numel, shape[j]);
        } catch (ArithmeticException x) {
          throw new CheckpointException(path + ": tensor " + name + " shape overflows");
        }
      }
      long off = e.offset(), len = e.length();
      if (numel > Long.MAX_VALUE / 4 || len != numel * 4) {
        throw new CheckpointException(path + ": tensor " + name + " has " + len + " bytes for shape " + Arrays.toString(shape));
      }
      if (off < 0 || off % ALIGN != 0 || len > dataBytes || off > dataBytes - len) {
        throw new CheckpointException(path + ": tensor " + name + " [" + off + ", +" + len
            + ") lies outside the data section of " + dataBytes + " bytes");
      }
      if (ts.put(name, new TensorInfo(name, shape, off, len)) != null) {
        throw new CheckpointException(path + ": duplicate tensor " + name);
      }
    }
    long n = config.parameterCount();
    for (String k : List.of(PARAMS, ADAM_M, ADAM_V)) {
      TensorInfo t = ts.get(k);
      if (t != null && t.numel() != n) {
        throw new CheckpointException(path + ": tensor " + k + " has " + t.numel() + " elements but " + config
            + " has " + n + " parameters");
      }
    }
    return new Checkpoint(path, ch, dataStart, config, tok, m.step(), m.optimizerStep(), rng, cur,
        Collections.unmodifiableMap(strs), Collections.unmodifiableMap(dbls), Collections.unmodifiableMap(ts));
  }

  private static ByteBuffer readFully(FileChannel ch, long pos, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    while (b.hasRemaining()) {
      if (ch.read(b, pos + b.position()) < 0) throw new CheckpointException("unexpected end of checkpoint file");
    }
    b.flip();
    return b;
  }

  static long align(long n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
  }

  // ================================================================== verifier

  /**
   * Bounds checks for the metadata FlatBuffer, walking the schema of checkpoint.fbs: every uoffset, vtable,
   * table, vector and string is inside the buffer and aligned, strings are NUL-terminated, before any generated
   * accessor reads it.
   */
  static final class Verifier {
    private final Path path;
    private final ByteBuffer bb;
    private final long limit;
    private int tables;

    Verifier(Path path, ByteBuffer bb) {
      this.path = path;
      this.bb = bb;
      this.limit = bb.limit();
    }

    private void check(boolean ok, String what) throws CheckpointException {
      if (!ok) throw new CheckpointException(path + ": corrupt checkpoint metadata: " + what);
    }

    /** Sizes of the ModelConfig fields in schema order (the GPT-2 shape, then the block fields). */
    private static final int[] MODEL_CONFIG_FIELD_BYTES = {4, 4, 4, 4, 4, 4, 4, 1, 4, 8, 8, 8, 8, 8, 1, 1, 1};

    void verifyRoot() throws CheckpointException {
      check(limit >= 8, "buffer too small");
      byte[] id = new byte[4];
      for (int i = 0; i < 4; i++) id[i] = bb.get(4 + i);
      check(new String(id, StandardCharsets.US_ASCII).equals(FILE_ID), "file identifier is not " + FILE_ID);
      long root = u32(0);
      int t = table(root);
      // CheckpointMeta fields
      scalar(t, 0, 4);
      int cfg = tableField(t, 1);
      if (cfg >= 0) {
        for (int i = 0; i < MODEL_CONFIG_FIELD_BYTES.length; i++) scalar(cfg, i, MODEL_CONFIG_FIELD_BYTES[i]);
      }
      vector(t, 2, 1);
      int tensors = vector(t, 3, 4);
      for (int i = 0; i < count(tensors); i++) {
        int e = table(element(tensors, i));
        string(e, 0);
        vector(e, 1, 8);
        scalar(e, 2, 1);
        scalar(e, 3, 8);
        scalar(e, 4, 8);
      }
      scalar(t, 4, 8);
      scalar(t, 5, 8);
      vector(t, 6, 8);
      vector(t, 7, 8);
      int strs = vector(t, 8, 4);
      for (int i = 0; i < count(strs); i++) {
        int e = table(element(strs, i));
        string(e, 0);
        string(e, 1);
      }
      int dbls = vector(t, 9, 4);
      for (int i = 0; i < count(dbls); i++) {
        int e = table(element(dbls, i));
        string(e, 0);
        scalar(e, 1, 8);
      }
    }

    private long u32(long pos) throws CheckpointException {
      check(pos >= 0 && pos % 4 == 0 && pos + 4 <= limit, "offset at " + pos + " out of bounds or misaligned");
      return Integer.toUnsignedLong(bb.getInt((int) pos));
    }

    private int u16(long pos) throws CheckpointException {
      check(pos >= 0 && pos % 2 == 0 && pos + 2 <= limit, "vtable entry at " + pos + " out of bounds");
      return Short.toUnsignedInt(bb.getShort((int) pos));
    }

    /** Checks a table at pos; returns pos. */
    private int table(long pos) throws CheckpointException {
      check(++tables < 10_000_000, "too many tables");
      check(pos >= 0 && pos % 4 == 0 && pos + 4 <= limit, "table at " + pos + " out of bounds");
      long vt = pos - bb.getInt((int) pos);
      int vtSize = u16(vt);
      int tableSize = u16(vt + 2);
      check(vtSize >= 4 && vtSize % 2 == 0 && vt + vtSize <= limit, "vtable at " + vt + " of size " + vtSize);
      check(tableSize >= 4 && pos + tableSize <= limit, "table at " + pos + " of size " + tableSize);
      return (int) pos;
    }

    private long vtable(int table) {
      return table - bb.getInt(table);
    }

    /** Absolute position of field idx of a table, or -1 when absent; checks it lies inside the table. */
    private long field(int table, int idx, int size) throws CheckpointException {
      long vt = vtable(table);
      int vtSize = u16(vt);
      int voff = 4 + 2 * idx;
      if (voff >= vtSize) return -1;
      int o = u16(vt + voff);
      if (o == 0) return -1;
      int tableSize = u16(vt + 2);
      check(o + size <= tableSize, "field " + idx + " of the table at " + table + " overruns it");
      long p = table + o;
      check(p % size == 0, "field " + idx + " of the table at " + table + " misaligned");
      return p;
    }

    private void scalar(int table, int idx, int size) throws CheckpointException {
      field(table, idx, size);
    }

    private int tableField(int table, int idx) throws CheckpointException {
      long p = field(table, idx, 4);
      if (p < 0) return -1;
      return table(p + u32(p));
    }

    /** Checks a vector field of elemSize-byte elements; returns the vector position or -1 when absent. */
    private int vector(int table, int idx, int elemSize) throws CheckpointException {
      long p = field(table, idx, 4);
      if (p < 0) return -1;
      long v = p + u32(p);
      long n = u32(v);
      check(v + 4 + n * elemSize <= limit, "vector at " + v + " of " + n + " elements overruns the buffer");
      check((v + 4) % Math.min(elemSize, 8) == 0, "vector at " + v + " misaligned");
      return (int) v;
    }

    private int count(int vector) throws CheckpointException {
      return vector < 0 ? 0 : (int) u32(vector);
    }

    /** Position of the table that element i of a vector of tables points to. */
    private long element(int vector, int i) throws CheckpointException {
      long p = vector + 4L + 4L * i;
      return p + u32(p);
    }

    private void string(int table, int idx) throws CheckpointException {
      int v = vector(table, idx, 1);
      if (v < 0) return;
      long n = u32(v);
      check(v + 4 + n < limit && bb.get((int) (v + 4 + n)) == 0, "string at " + v + " is not NUL-terminated");
    }
  }

  // ================================================================== writing

  /** Collects the contents of a checkpoint and writes it atomically. */
  public static final class Writer {
    private final GptConfig config;
    private byte[] tokenizer = new byte[0];
    private long step;
    private long optimizerStep;
    private long[] rngState = new long[0];
    private long[] dataCursor = new long[0];
    private final Map<String, String> strings = new LinkedHashMap<>();
    private final Map<String, Double> doubles = new LinkedHashMap<>();
    private final Map<String, Object> tensors = new LinkedHashMap<>(); // Tensor or float[]
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    public Writer(GptConfig config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    public Writer tokenizer(byte[] bytes) {
      this.tokenizer = bytes == null ? new byte[0] : bytes.clone();
      return this;
    }

    public Writer step(long s) {
      this.step = s;
      return this;
    }

    public Writer optimizerStep(long s) {
      this.optimizerStep = s;
      return this;
    }

    public Writer rngState(long... s) {
      this.rngState = s.clone();
      return this;
    }

    public Writer dataCursor(long... c) {
      this.dataCursor = c.clone();
      return this;
    }

    public Writer string(String key, String value) {
      strings.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
      return this;
    }

    public Writer number(String key, double value) {
      doubles.put(Objects.requireNonNull(key, "key"), value);
      return this;
    }

    /** Adds an F32 tensor (any backend); it is read when {@link #write} runs. */
    public Writer tensor(String name, Tensor t) {
      Objects.requireNonNull(t, name);
      if (t.dtype() != DType.F32) throw new IllegalArgumentException("tensor " + name + " must be F32, got " + t.dtype());
      put(name, t, t.shape());
      return this;
    }

    /** Adds host values with a shape. */
    public Writer tensor(String name, float[] values, long... shape) {
      Objects.requireNonNull(values, name);
      if (Tensor.numelOf(shape) != values.length) {
        throw new IllegalArgumentException("tensor " + name + " has " + values.length + " values for shape "
            + Arrays.toString(shape));
      }
      put(name, values, shape);
      return this;
    }

    private void put(String name, Object o, long[] shape) {
      if (name == null || name.isEmpty()) throw new IllegalArgumentException("tensor name is empty");
      if (tensors.containsKey(name)) throw new IllegalArgumentException("duplicate tensor " + name);
      tensors.put(name, o);
      shapes.put(name, shape.clone());
    }

    /**
     * Writes the checkpoint to {@code target} atomically through {@link OutputFiles}: an existing file is
     * replaced only when it is a jalign checkpoint.
     */
    public void write(Path target) throws IOException {
      long n = config.parameterCount();
      for (String k : List.of(PARAMS, ADAM_M, ADAM_V)) {
        long[] s = shapes.get(k);
        if (s != null && Tensor.numelOf(s) != n) {
          throw new IllegalArgumentException("tensor " + k + " has " + Tensor.numelOf(s) + " elements, " + config
              + " has " + n + " parameters");
        }
      }
      // layout of the data section
      List<String> names = new ArrayList<>(tensors.keySet());
      long[] offsets = new long[names.size()];
      long dataBytes = 0;
      for (int i = 0; i < names.size(); i++) {
        offsets[i] = dataBytes;
        dataBytes = align(dataBytes + Tensor.numelOf(shapes.get(names.get(i))) * 4);
      }
      final long dataBytesAll = dataBytes;
      byte[] meta = buildMeta(names, offsets);
      long dataStart = HEADER_BYTES + align(meta.length);

      OutputFiles.write(target, KIND, tmp -> {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
          CRC32 crc = new CRC32();
          ByteBuffer mb = ByteBuffer.allocate((int) (dataStart - HEADER_BYTES));
          mb.put(meta);
          mb.position(0);
          crc.update(mb.duplicate());
          writeFully(ch, mb, HEADER_BYTES);
          long pos = dataStart;
          for (int i = 0; i < names.size(); i++) {
            long start = dataStart + offsets[i];
            if (pos < start) { // zero padding
              ByteBuffer pad = ByteBuffer.allocate((int) (start - pos));
              crc.update(pad.duplicate());
              writeFully(ch, pad, pos);
              pos = start;
            }
            pos = writeTensor(ch, crc, pos, tensors.get(names.get(i)));
          }
          if (pos < dataStart + dataBytesAll) {
            ByteBuffer pad = ByteBuffer.allocate((int) (dataStart + dataBytesAll - pos));
            crc.update(pad.duplicate());
            writeFully(ch, pad, pos);
          }
          ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
          h.put(MAGIC).putInt(VERSION).putInt(HEADER_BYTES).putLong(meta.length).putLong(dataBytesAll)
              .putInt((int) crc.getValue());
          CRC32 hc = new CRC32();
          hc.update(h.array(), 0, 36);
          h.putInt((int) hc.getValue());
          h.position(0);
          writeFully(ch, h, 0);
          ch.force(true);
        }
      });
    }

    private long writeTensor(FileChannel ch, CRC32 crc, long pos, Object src) throws IOException {
      ByteBuffer bb = ByteBuffer.allocate(CHUNK_FLOATS * 4).order(ByteOrder.LITTLE_ENDIAN);
      if (src instanceof float[] a) {
        for (int done = 0; done < a.length; ) {
          int n = Math.min(CHUNK_FLOATS, a.length - done);
          bb.clear();
          bb.asFloatBuffer().put(a, done, n);
          bb.limit(n * 4);
          crc.update(bb.duplicate());
          pos = writeFully(ch, bb, pos);
          done += n;
        }
      } else {
        Tensor t = (Tensor) src;
        t.checkOpen("checkpoint tensor");
        float[] host = new float[(int) Math.min(CHUNK_FLOATS, t.numel())];
        for (long done = 0; done < t.numel(); ) {
          int n = (int) Math.min(host.length, t.numel() - done);
          float[] h = n == host.length ? host : new float[n];
          t.backend().copyToHost(h, t.slice(done, n));
          bb.clear();
          bb.asFloatBuffer().put(h, 0, n);
          bb.limit(n * 4);
          crc.update(bb.duplicate());
          pos = writeFully(ch, bb, pos);
          done += n;
        }
      }
      return pos;
    }

    private byte[] buildMeta(List<String> names, long[] offsets) {
      FlatBufferBuilder b = new FlatBufferBuilder(1024 + tokenizer.length);
      int tok = CheckpointMeta.createTokenizerVector(b, tokenizer);
      int[] te = new int[names.size()];
      for (int i = 0; i < te.length; i++) {
        long[] shape = shapes.get(names.get(i));
        int nm = b.createString(names.get(i));
        int sh = TensorEntry.createShapeVector(b, shape);
        te[i] = TensorEntry.createTensorEntry(b, nm, sh, (byte) 0, offsets[i], Tensor.numelOf(shape) * 4);
      }
      int tv = CheckpointMeta.createTensorsVector(b, te);
      int rng = CheckpointMeta.createRngStateVector(b, rngState);
      int cur = CheckpointMeta.createDataCursorVector(b, dataCursor);
      int[] se = new int[strings.size()];
      int k = 0;
      for (Map.Entry<String, String> e : strings.entrySet()) {
        se[k++] = StringEntry.createStringEntry(b, b.createString(e.getKey()), b.createString(e.getValue()));
      }
      int sv = CheckpointMeta.createStringsVector(b, se);
      int[] de = new int[doubles.size()];
      k = 0;
      for (Map.Entry<String, Double> e : doubles.entrySet()) {
        de[k++] = DoubleEntry.createDoubleEntry(b, b.createString(e.getKey()), e.getValue());
      }
      int dv = CheckpointMeta.createDoublesVector(b, de);
      int mc = writeModelConfig(b, config);
      int version = config.isGpt2() ? FORMAT_VERSION : FORMAT_VERSION_BLOCK;
      int root = CheckpointMeta.createCheckpointMeta(b, version, mc, tok, tv, step, optimizerStep, rng, cur, sv, dv);
      b.finish(root, FILE_ID);
      return b.sizedByteArray();
    }
  }

  /**
   * The ModelConfig table of {@code config}: a field holding the GPT-2 choice is left at its default (not
   * written), so a GPT-2 configuration gives exactly the five-field table of format version 1.
   */
  static int writeModelConfig(FlatBufferBuilder b, GptConfig c) {
    org.jalign.model.RopeConfig rope = c.rope();
    org.jalign.model.RopeConfig.Llama3Scaling sc = rope == null ? null : rope.scaling();
    return ModelConfig.createModelConfig(b, c.layers(), c.heads(), c.channels(), c.contextLength(), c.vocabSize(),
        c.kvHeads() == c.heads() ? 0 : c.kvHeads(),
        (long) c.intermediateSize() == 4L * c.channels() ? 0 : c.intermediateSize(),
        (byte) c.norm().ordinal(),
        Float.floatToIntBits(c.normEps()) == Float.floatToIntBits(GptConfig.GPT2_EPS) ? 0f : c.normEps(),
        rope == null ? 0 : rope.theta(), sc == null ? 0 : sc.factor(), sc == null ? 0 : sc.lowFreqFactor(),
        sc == null ? 0 : sc.highFreqFactor(), sc == null ? 0 : sc.originalMaxPositionEmbeddings(),
        (byte) c.mlp().ordinal(), (byte) c.biases().ordinal(), !c.tiedHead());
  }

  /** The configuration of a ModelConfig table (absent block fields: the GPT-2 choices); throws if invalid. */
  static GptConfig readModelConfig(ModelConfig mc) {
    int heads = mc.heads(), channels = mc.channels();
    int kv = mc.kvHeads() == 0 ? heads : mc.kvHeads();
    int f = mc.intermediateSize();
    if (f == 0) {
      if (channels > Integer.MAX_VALUE / 4) throw new IllegalArgumentException("channels " + channels + " too large");
      f = 4 * channels;
    }
    GptConfig.Norm norm = enumAt(GptConfig.Norm.values(), mc.norm(), "norm");
    GptConfig.Mlp mlp = enumAt(GptConfig.Mlp.values(), mc.mlp(), "mlp");
    GptConfig.Biases biases = enumAt(GptConfig.Biases.values(), mc.biases(), "biases");
    float eps = mc.normEps() == 0f ? GptConfig.GPT2_EPS : mc.normEps();
    org.jalign.model.RopeConfig rope = null;
    if (mc.ropeTheta() != 0) {
      if (heads <= 0 || channels <= 0 || channels % heads != 0) {
        throw new IllegalArgumentException("channels " + channels + " must be divisible by heads " + heads);
      }
      org.jalign.model.RopeConfig.Llama3Scaling sc = mc.ropeFactor() == 0 ? null
          : new org.jalign.model.RopeConfig.Llama3Scaling(mc.ropeFactor(), mc.ropeLowFreqFactor(),
              mc.ropeHighFreqFactor(), mc.ropeOriginalMaxPositions());
      rope = new org.jalign.model.RopeConfig(mc.ropeTheta(), channels / heads, sc);
    }
    return new GptConfig(mc.layers(), heads, channels, mc.contextLength(), mc.vocabSize(), kv, f, norm, eps, rope, mlp,
        biases, !mc.untiedHead());
  }

  private static <E extends Enum<E>> E enumAt(E[] values, byte code, String field) {
    if (code < 0 || code >= values.length) {
      throw new IllegalArgumentException(field + " code " + code + " is not one of 0.." + (values.length - 1));
    }
    return values[code];
  }

  private static long writeFully(FileChannel ch, ByteBuffer bb, long pos) throws IOException {
    while (bb.hasRemaining()) pos += ch.write(bb, pos);
    return pos;
  }
}
