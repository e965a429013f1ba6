package org.jalign.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token files (format, validation, tokenise-once) and the batcher (order, determinism, resumable cursor). */
class TokenFileTest {
  @TempDir Path dir;

  /** A byte-level encoder: every UTF-8 byte is its own id (V = 256). */
  static final Function<String, int[]> BYTES = s -> {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    int[] r = new int[b.length];
    for (int i = 0; i < b.length; i++) r[i] = b[i] & 0xFF;
    return r;
  };

  @Test
  void documentsAreEncodedEachFollowedByEndOfText() {
    org.jalign.text.Tokenizer tok = new org.jalign.text.ByteTokenizer();
    int eot = tok.specialId(org.jalign.text.Tokenizer.ENDOFTEXT).orElseThrow();
    TokenSource s = TokenSource.ofDocuments(List.of("ab", "c"), tok);
    int[] got = new int[(int) s.size()];
    s.read(0, got, 0, got.length);
    assertArrayEquals(new int[] {'a', 'b', eot, 'c', eot}, got);
    assertEquals(tok.vocabSize(), s.vocabSize());
    List<String> withNull = new ArrayList<>(List.of("x"));
    withNull.add(null);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TokenSource.ofDocuments(withNull, tok));
    assertTrue(e.getMessage().contains("document 1 is null"), e.getMessage());
  }

  @Test
  void uint16AndUint32RoundTrip() throws IOException {
    int[] small = {0, 1, 65534, 7, 300};
    Path p = dir.resolve("a.tok");
    TokenFile.write(p, small, 65535);
    assertEquals(64 + 2 * small.length, Files.size(p));
    try (TokenFile f = TokenFile.open(p)) {
      assertEquals(2, f.width());
      assertEquals(5, f.size());
      assertArrayEquals(small, f.toArray());
    }
    int[] big = {0, 65535, 100_000, 50_256};
    Path q = dir.resolve("b.tok");
    TokenFile.write(q, big, 100_001);
    try (TokenFile f = TokenFile.open(q)) {
      assertEquals(4, f.width());
      assertArrayEquals(big, f.toArray());
      assertEquals(100_001, f.vocabSize());
    }
  }

  @Test
  void badFilesGiveClearErrors() throws IOException {
    Path p = dir.resolve("a.tok");
    TokenFile.write(p, new int[] {1, 2, 3}, 10);
    byte[] good = Files.readAllBytes(p);
    // every truncation
    for (int len = 0; len < good.length; len++) {
      Path t = dir.resolve("t" + len);
      TokenFile.writeRaw(t, Arrays.copyOf(good, len));
      assertThrows(TokenFile.BadTokenFileException.class, () -> TokenFile.open(t).close(), "length " + len);
    }
    byte[] badMagic = good.clone();
    badMagic[0] = 'X';
    assertMessage(badMagic, "bad magic");
    byte[] badVersion = good.clone();
    badVersion[8] = 9;
    assertMessage(badVersion, "version 9");
    byte[] badWidth = good.clone();
    badWidth[12] = 3;
    assertMessage(badWidth, "width 3");
    byte[] emptyCount = good.clone();
    ByteBuffer.wrap(emptyCount).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 0);
    assertMessage(emptyCount, "empty");
    byte[] hugeCount = good.clone();
    ByteBuffer.wrap(hugeCount).order(ByteOrder.LITTLE_ENDIAN).putLong(16, Long.MAX_VALUE / 2);
    assertMessage(hugeCount, "truncated");
    byte[] wideVocab = good.clone();
    ByteBuffer.wrap(wideVocab).order(ByteOrder.LITTLE_ENDIAN).putInt(24, 70000);
    assertMessage(wideVocab, "uint16");
    // an id beyond the vocabulary is reported when read
    byte[] badId = good.clone();
    ByteBuffer.wrap(badId).order(ByteOrder.LITTLE_ENDIAN).putShort(66, (short) 11);
    Path b = dir.resolve("badid");
    TokenFile.writeRaw(b, badId);
    try (TokenFile f = TokenFile.open(b)) {
      IllegalStateException e = assertThrows(IllegalStateException.class, f::toArray);
      assertTrue(e.getMessage().contains("token 11 at index 1"), e.getMessage());
    }
  }

  private void assertMessage(byte[] bytes, String part) throws IOException {
    Path p = dir.resolve("bad");
    TokenFile.writeRaw(p, bytes);
    TokenFile.BadTokenFileException e =
        assertThrows(TokenFile.BadTokenFileException.class, () -> TokenFile.open(p).close());
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }

  @Test
  void tokenizeOnceAndCutPointsAreExact() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 30_000; i++) sb.append("line ").append(i).append(i % 7 == 0 ? "\n\n  x\n" : "\n");
    Path a = dir.resolve("a.txt"), b = dir.resolve("b.txt");
    Files.writeString(a, sb.toString());
    Files.writeString(b, "héllo wörld");
    List<Integer> calls = new ArrayList<>();
    Function<String, int[]> counting = s -> {
      calls.add(s.length());
      return BYTES.apply(s);
    };
    Path out = dir.resolve("corpus.tok");
    int[] expected;
    {
      byte[] ab = Files.readAllBytes(a), bb = Files.readAllBytes(b);
      expected = new int[ab.length + bb.length + 2];
      for (int i = 0; i < ab.length; i++) expected[i] = ab[i] & 0xFF;
      expected[ab.length] = 256;
      for (int i = 0; i < bb.length; i++) expected[ab.length + 1 + i] = bb[i] & 0xFF;
      expected[expected.length - 1] = 256;
    }
    int oldPiece = TokenFile.pieceChars;
    TokenFile.pieceChars = 1 << 16;
    try (TokenFile f = TokenFile.tokenize(List.of(a, b), counting, 257, 256, 42, out)) {
      assertArrayEquals(expected, f.toArray());
    } finally {
      TokenFile.pieceChars = oldPiece;
    }
    assertTrue(calls.size() > 2, "the large file is encoded in pieces: " + calls.size());
    int n = calls.size();
    try (TokenFile f = TokenFile.tokenize(List.of(a, b), counting, 257, 256, 42, out)) {
      assertEquals(n, calls.size(), "a second call reuses the file");
    }
    try (TokenFile f = TokenFile.tokenize(List.of(a, b), counting, 257, 256, 43, out)) {
      assertNotEquals(n, calls.size(), "another tokenizer rebuilds the file");
      assertArrayEquals(expected, f.toArray());
    }
    assertEquals(0, TokenFile.cutPoint("abc\n  def"));
    assertEquals(4, TokenFile.cutPoint("abc\ndef\n"));
  }

  @Test
  void tokenizeWithAJalignTokenizer() throws IOException {
    org.jalign.text.ByteTokenizer tok = new org.jalign.text.ByteTokenizer(org.jalign.text.Tokenizer.STANDARD_SPECIALS);
    Path a = dir.resolve("a.txt");
    Files.writeString(a, "hi <|endoftext|>");
    try (TokenFile f = TokenFile.tokenize(List.of(a), tok, dir.resolve("t.tok"))) {
      int[] ids = f.toArray();
      int eot = tok.tokenId(org.jalign.text.Tokenizer.ENDOFTEXT);
      assertEquals(eot, ids[ids.length - 1], "each file ends with <|endoftext|>");
      assertEquals(tok.decode(Arrays.copyOf(ids, ids.length - 1)), "hi <|endoftext|>");
      for (int i = 0; i < ids.length - 1; i++) assertTrue(ids[i] != eot, "special text in a file is plain text");
      assertEquals(tok.vocabSize(), f.vocabSize());
    }
  }

  @Test
  void emptyCorpora() throws IOException {
    Path e = dir.resolve("empty.txt");
    Files.writeString(e, "");
    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
        () -> TokenFile.tokenize(List.of(e), BYTES, 256, -1, 0, dir.resolve("x.tok")));
    assertTrue(ex.getMessage().contains("empty"), ex.getMessage());
    assertThrows(IllegalArgumentException.class, () -> TokenFile.write(dir.resolve("y.tok"), new int[0], 10));
    assertThrows(IllegalArgumentException.class, () -> TokenFile.write(dir.resolve("z.tok"), new int[] {10}, 10));
    assertTrue(Files.notExists(dir.resolve("y.tok")) && Files.notExists(dir.resolve("z.tok")));
  }

  // ------------------------------------------------------------------ batcher

  static int[] ramp(int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) a[i] = i % 1000;
    return a;
  }

  @Test
  void sequentialWindowsShiftAndWrap() {
    TokenSource src = TokenSource.of(ramp(23), 1000);
    TokenBatcher tb = new TokenBatcher(src, 2, 5, TokenBatcher.Order.SEQUENTIAL, 0);
    TokenBatcher.Batch b = tb.next();
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, b.inputs());
    assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, b.targets());
    b = tb.next(); // windows at 10 and 15; then 20 + 6 > 23 wraps
    assertArrayEquals(new int[] {10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, b.inputs());
    assertEquals(new TokenBatcher.Cursor(0, 1, 0), tb.cursor());
    assertEquals(0, tb.next().inputs()[0]);
  }

  @Test
  void randomIsDeterministicAndResumable() {
    TokenSource src = TokenSource.of(ramp(5000), 1000);
    for (TokenBatcher.Order order : TokenBatcher.Order.values()) {
      TokenBatcher a = new TokenBatcher(src, 3, 16, order, 7);
      TokenBatcher b = new TokenBatcher(src, 3, 16, order, 7);
      List<int[]> seq = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        int[] x = a.next().inputs();
        assertArrayEquals(x, b.next().inputs());
        seq.add(x);
      }
      TokenBatcher c = new TokenBatcher(src, 3, 16, order, 7);
      for (int i = 0; i < 100; i++) c.next();
      TokenBatcher.Cursor cur = TokenBatcher.Cursor.fromArray(c.cursor().toArray());
      TokenBatcher d = new TokenBatcher(src, 3, 16, order, 7);
      d.seek(cur);
      for (int i = 100; i < 300; i++) assertArrayEquals(seq.get(i), d.next().inputs(), order + " batch " + i);
    }
    TokenBatcher r1 = new TokenBatcher(src, 3, 16, TokenBatcher.Order.RANDOM, 7);
    TokenBatcher r2 = new TokenBatcher(src, 3, 16, TokenBatcher.Order.RANDOM, 8);
    assertNotEquals(Arrays.toString(r1.next().inputs()), Arrays.toString(r2.next().inputs()));
  }

  @Test
  void randomStartsCoverTheRangeUniformly() {
    int n = 40, t = 7; // starts in [10, 33]
    TokenSource src = TokenSource.of(ramp(n + 10), 1000);
    TokenBatcher tb = new TokenBatcher(src, 10, n + 10, 1, t, TokenBatcher.Order.RANDOM, 1);
    int span = n - t;
    int[] counts = new int[span];
    int draws = 33_000;
    for (int i = 0; i < draws; i++) {
      int start = tb.next().inputs()[0];
      assertTrue(start >= 10 && start < 10 + span, "start " + start);
      counts[start - 10]++;
    }
    double chi2 = 0, e = (double) draws / span;
    for (int c : counts) chi2 += (c - e) * (c - e) / e;
    assertTrue(chi2 < 70, "chi^2 " + chi2 + " for " + (span - 1) + " degrees of freedom");
  }

  @Test
  void shortCorporaAreRejected() {
    TokenSource src = TokenSource.of(ramp(8), 1000);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new TokenBatcher(src, 1, 8, TokenBatcher.Order.SEQUENTIAL, 0));
    assertTrue(e.getMessage().contains("shorter than one window"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new TokenBatcher(src, 3, 3, 1, 1, TokenBatcher.Order.RANDOM, 0));
    TokenBatcher ok = new TokenBatcher(src, 1, 7, TokenBatcher.Order.SEQUENTIAL, 0);
    assertThrows(IllegalArgumentException.class, () -> ok.seek(new TokenBatcher.Cursor(5, 0, 0)));
  }
}
