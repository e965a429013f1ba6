package org.jalign.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.jalign.io.OutputFiles;

/**
 * A tokenised corpus on disk, memory-mapped for reading: text is tokenised once ({@link #tokenize}), then
 * every training run reads the ids straight from the page cache.
 *
 * <p>Shape legend: N = number of tokens, V = vocabulary size.
 *
 * <p>Format (little-endian), a 64-byte header then N ids:
 * <pre>
 *   0  magic      8 bytes  "JALTOKS\0"
 *   8  version    u32      1
 *  12  width      u32      2 (uint16 ids, used when V &lt;= 65535) or 4 (uint32 ids)
 *  16  count      u64      N (&gt; 0)
 *  24  vocab      u32      V (&gt; 0)
 *  28  reserved   u32      0
 *  32  sourceKey  u64      fingerprint of the inputs and tokenizer (see {@link #tokenize}); 0 if unknown
 *  40  reserved   24 bytes 0
 *  64  ids        N * width bytes
 * </pre>
 * {@link #open} checks the magic, version, width (and that width 2 implies V &lt;= 65535), and that the file
 * length is exactly 64 + N * width. Ids are range-checked against V as they are read.
 */
public final class TokenFile implements TokenSource, AutoCloseable {

  static final byte[] MAGIC = {'J', 'A', 'L', 'T', 'O', 'K', 'S', 0};
  /** What a token-file writer may replace: a jalign token file. */
  public static final OutputFiles.Kind KIND = OutputFiles.Kind.magic("a jalign token file", MAGIC);
  static final int VERSION = 1;
  static final int HEADER_BYTES = 64;
  private static final long CHUNK = 1L << 30; // bytes per mapping (a multiple of 4)
  /** Characters per encoded piece of a large text file (package-private so tests can make it small). */
  static int pieceChars = 4 << 20;

  private final Path path;
  private final FileChannel channel;
  private final MappedByteBuffer[] chunks;
  private final int width;
  private final long count;
  private final int vocab;
  private final long sourceKey;

  private TokenFile(Path path, FileChannel channel, MappedByteBuffer[] chunks, int width, long count, int vocab,
      long sourceKey) {
    this.path = path;
    this.channel = channel;
    this.chunks = chunks;
    this.width = width;
    this.count = count;
    this.vocab = vocab;
    this.sourceKey = sourceKey;
  }

  /** Thrown for a token file that is missing, truncated, or not in this format. */
  public static final class BadTokenFileException extends IOException {
    public BadTokenFileException(String message) {
      super(message);
    }
  }

  // ------------------------------------------------------------------ reading

  /** Opens and validates a token file; the ids are memory-mapped. */
  public static TokenFile open(Path path) throws IOException {
    Objects.requireNonNull(path, "path");
    FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
    try {
      long fileSize = ch.size();
      if (fileSize < HEADER_BYTES) {
        throw new BadTokenFileException(path + ": " + fileSize + " bytes is shorter than the " + HEADER_BYTES
            + "-byte token file header");
      }
      ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      while (h.hasRemaining()) {
        if (ch.read(h, h.position()) < 0) throw new BadTokenFileException(path + ": unexpected end of header");
      }
      h.flip();
      for (int i = 0; i < MAGIC.length; i++) {
        if (h.get(i) != MAGIC[i]) throw new BadTokenFileException(path + ": not a jalign token file (bad magic)");
      }
      int version = h.getInt(8);
      if (version != VERSION) {
        throw new BadTokenFileException(path + ": token file version " + version + ", this build reads " + VERSION);
      }
      int width = h.getInt(12);
      long count = h.getLong(16);
      int vocab = h.getInt(24);
      long key = h.getLong(32);
      if (width != 2 && width != 4) throw new BadTokenFileException(path + ": token width " + width + " is not 2 or 4");
      if (vocab <= 0) throw new BadTokenFileException(path + ": vocabulary size " + vocab + " is not positive");
      if (width == 2 && vocab > 65535) {
        throw new BadTokenFileException(path + ": uint16 ids cannot hold vocabulary size " + vocab);
      }
      if (count <= 0) throw new BadTokenFileException(path + ": token count " + count + " (the corpus is empty)");
      if (count > (fileSize - HEADER_BYTES) / width || HEADER_BYTES + count * width != fileSize) {
        throw new BadTokenFileException(path + ": header says " + count + " tokens of " + width + " bytes but the file has "
            + (fileSize - HEADER_BYTES) + " data bytes (truncated or corrupt)");
      }
      long dataBytes = count * width;
      int n = (int) ((dataBytes + CHUNK - 1) / CHUNK);
      MappedByteBuffer[] maps = new MappedByteBuffer[n];
      for (int i = 0; i < n; i++) {
        long start = i * CHUNK;
        long len = Math.min(CHUNK, dataBytes - start);
        maps[i] = ch.map(FileChannel.MapMode.READ_ONLY, HEADER_BYTES + start, len);
        maps[i].order(ByteOrder.LITTLE_ENDIAN);
      }
      return new TokenFile(path, ch, maps, width, count, vocab, key);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  @Override
  public long size() {
    return count;
  }

  @Override
  public int vocabSize() {
    return vocab;
  }

  /** 2 or 4 bytes per id. */
  public int width() {
    return width;
  }

  public long sourceKey() {
    return sourceKey;
  }

  public Path path() {
    return path;
  }

  /** The id at index i. */
  public int get(long i) {
    if (i < 0 || i >= count) throw new IllegalArgumentException("index " + i + " outside [0, " + count + ")");
    long b = i * width;
    MappedByteBuffer m = chunks[(int) (b / CHUNK)];
    int at = (int) (b % CHUNK);
    int id = width == 2 ? Short.toUnsignedInt(m.getShort(at)) : m.getInt(at);
    if (id < 0 || id >= vocab) {
      throw new IllegalStateException(path + ": token " + Integer.toUnsignedString(id) + " at index " + i
          + " is outside [0, " + vocab + ") (corrupt file)");
    }
    return id;
  }

  @Override
  public void read(long start, int[] dst, int off, int len) {
    if (start < 0 || len < 0 || start + len > count) {
      throw new IllegalArgumentException("read [" + start + ", " + (start + len) + ") outside [0, " + count + ")");
    }
    Objects.checkFromIndexSize(off, len, dst.length);
    for (int i = 0; i < len; i++) dst[off + i] = get(start + i);
  }

  /** All ids (for small files and tests). */
  public int[] toArray() {
    int[] a = new int[Math.toIntExact(count)];
    read(0, a, 0, a.length);
    return a;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  // ------------------------------------------------------------------ writing

  /**
   * Writes token documents to {@code out} (atomically: a temporary file in the same directory, then a rename).
   * Each array from {@code docs} is appended; when {@code separator >= 0} it is written after every document.
   * Throws IllegalArgumentException for an id outside [0, V) and for an empty corpus.
   */
  public static void write(Path out, Iterator<int[]> docs, int vocabSize, int separator, long sourceKey)
      throws IOException {
    if (vocabSize <= 0) throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
    if (separator >= vocabSize) {
      throw new IllegalArgumentException("separator " + separator + " outside [0, " + vocabSize + ")");
    }
    int width = vocabSize <= 65535 ? 2 : 4;
    OutputFiles.write(out, KIND, tmp -> {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ch.position(HEADER_BYTES);
        ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        long n = 0;
        while (docs.hasNext()) {
          int[] doc = docs.next();
          for (int k = 0; k <= doc.length; k++) {
            int id;
            if (k == doc.length) {
              if (separator < 0) break;
              id = separator;
            } else {
              id = doc[k];
            }
            if (id < 0 || id >= vocabSize) {
              throw new IllegalArgumentException("token " + id + " in document outside [0, " + vocabSize + ")");
            }
            if (buf.remaining() < 4) {
              buf.flip();
              while (buf.hasRemaining()) ch.write(buf);
              buf.clear();
            }
            if (width == 2) buf.putShort((short) id);
            else buf.putInt(id);
            n++;
          }
        }
        buf.flip();
        while (buf.hasRemaining()) ch.write(buf);
        if (n == 0) throw new IllegalArgumentException("the corpus is empty: no tokens to write to " + out);
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        h.put(MAGIC).putInt(VERSION).putInt(width).putLong(n).putInt(vocabSize).putInt(0).putLong(sourceKey);
        h.position(0).limit(HEADER_BYTES);
        while (h.hasRemaining()) ch.write(h, h.position());
        ch.force(true);
      }
    });
  }

  /** Writes one token array (a single document, no separator). */
  public static void write(Path out, int[] tokens, int vocabSize) throws IOException {
    write(out, List.of(tokens).iterator(), vocabSize, -1, 0);
  }

  /**
   * Tokenises UTF-8 text files into {@code out} once: when {@code out} already exists, is valid, and its
   * source key matches (a fingerprint of the input paths, sizes and modification times, the vocabulary size,
   * the separator and {@code tokenizerKey}), it is opened as is. Each input file is a document followed by
   * {@code separator} (e.g. the end-of-text id; -1 for none).
   *
   * <p>Large files are encoded in pieces of about 4 MiB cut just after a newline that is followed by a
   * non-space character: a GPT-2-style pre-tokeniser never joins across such a point, so the ids equal those of
   * encoding the whole file at once.
   *
   * @param encoder text to ids (e.g. {@code tokenizer::encode})
   * @param tokenizerKey a fingerprint of the tokenizer (e.g. a hash of its serialised bytes)
   */
  public static TokenFile tokenize(List<Path> inputs, Function<String, int[]> encoder, int vocabSize, int separator,
      long tokenizerKey, Path out) throws IOException {
    Objects.requireNonNull(encoder, "encoder");
    if (inputs.isEmpty()) throw new IllegalArgumentException("no input text files");
    long totalBytes = 0;
    for (Path p : inputs) totalBytes += Files.size(p);
    if (totalBytes == 0) throw new IllegalArgumentException("the corpus is empty: the input files " + inputs + " hold no text");
    long key = sourceKey(inputs, vocabSize, separator, tokenizerKey);
    if (Files.exists(out)) {
      try {
        TokenFile existing = open(out);
        if (existing.sourceKey() == key && existing.vocabSize() == vocabSize) return existing;
        existing.close();
      } catch (BadTokenFileException stale) {
        // rebuilt below
      }
    }
    Iterator<int[]> docs = new Iterator<>() {
      int file = 0;
      BufferedReader reader;
      final StringBuilder pending = new StringBuilder();
      int[] next;

      @Override
      public boolean hasNext() {
        try {
          while (next == null) {
            if (reader == null) {
              if (file == inputs.size()) return false;
              reader = Files.newBufferedReader(inputs.get(file++), StandardCharsets.UTF_8);
              pending.setLength(0);
            }
            char[] cbuf = new char[1 << 16];
            boolean eof = false;
            while (!eof && pending.length() < pieceChars) {
              int r = reader.read(cbuf);
              if (r < 0) eof = true;
              else pending.append(cbuf, 0, r);
            }
            int cut = eof ? 0 : cutPoint(pending);
            while (!eof && cut == 0) { // no safe cut point yet (a single huge line): read on
              int r = reader.read(cbuf);
              if (r < 0) eof = true;
              else pending.append(cbuf, 0, r);
              cut = eof ? 0 : cutPoint(pending);
            }
            if (eof) {
              String text = pending.toString();
              pending.setLength(0);
              reader.close();
              reader = null;
              int[] ids = text.isEmpty() ? new int[0] : encoder.apply(text);
              next = withSeparator(ids, separator);
            } else {
              String text = pending.substring(0, cut);
              pending.delete(0, cut);
              next = encoder.apply(text);
            }
          }
          return true;
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }

      @Override
      public int[] next() {
        if (!hasNext()) throw new java.util.NoSuchElementException();
        int[] r = next;
        next = null;
        return r;
      }
    };
    try {
      write(out, docs, vocabSize, -1, key);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("the corpus is empty")) {
        throw new IllegalArgumentException("the corpus is empty: the input files " + inputs + " hold no text", e);
      }
      throw e;
    }
    return open(out);
  }

  /**
   * Tokenises text files once with a jalign {@link org.jalign.text.Tokenizer}: plain-text encoding (special
   * strings in the text are not special), each file followed by {@code <|endoftext|>} when the tokenizer has it;
   * the tokenizer's serialised bytes are part of the reuse fingerprint.
   */
  public static TokenFile tokenize(List<Path> inputs, org.jalign.text.Tokenizer tokenizer, Path out)
      throws IOException {
    Objects.requireNonNull(tokenizer, "tokenizer");
    int eot = tokenizer.specialId(org.jalign.text.Tokenizer.ENDOFTEXT).orElse(-1);
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    byte[] bytes = tokenizer.toBytes();
    crc.update(bytes);
    long key = crc.getValue() ^ ((long) bytes.length << 32);
    return tokenize(inputs, tokenizer::encode, tokenizer.vocabSize(), eot, key, out);
  }

  private static int[] withSeparator(int[] ids, int separator) {
    if (separator < 0) return ids;
    int[] r = java.util.Arrays.copyOf(ids, ids.length + 1);
    r[ids.length] = separator;
    return r;
  }

  /** Index just after the last '\n' that is followed by a non-whitespace character, or 0. */
  static int cutPoint(CharSequence s) {
    for (int i = s.length() - 2; i >= 0; i--) {
      if (s.charAt(i) == '\n' && !Character.isWhitespace(s.charAt(i + 1))) return i + 1;
    }
    return 0;
  }

  static long sourceKey(List<Path> inputs, int vocabSize, int separator, long tokenizerKey) throws IOException {
    long h = 0x9E3779B97F4A7C15L ^ tokenizerKey;
    List<Object> parts = new ArrayList<>();
    for (Path p : inputs) {
      parts.add(p.toAbsolutePath().normalize().toString());
      parts.add(Files.size(p));
      parts.add(Files.getLastModifiedTime(p).toMillis());
    }
    parts.add(vocabSize);
    parts.add(separator);
    for (Object o : parts) {
      h = mix(h ^ o.toString().hashCode()) + o.toString().length();
    }
    return h == 0 ? 1 : h;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** For tests: writes raw bytes to a file (used to craft bad files). */
  static void writeRaw(Path p, byte[] bytes) throws IOException {
    try (OutputStream o = Files.newOutputStream(p)) {
      o.write(bytes);
    }
  }
}
