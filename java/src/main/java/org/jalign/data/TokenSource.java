package org.jalign.data;

/**
 * A read-only sequence of token ids in [0, V): a memory-mapped {@link TokenFile} or an in-memory array.
 *
 * <p>Shape legend: N = {@link #size()} tokens, V = {@link #vocabSize()}.
 */
public interface TokenSource {

  /** Number of tokens N. */
  long size();

  /** Vocabulary size V: every token is in [0, V). */
  int vocabSize();

  /** Copies tokens [start, start + len) into dst[off ..]; throws IllegalArgumentException when out of range. */
  void read(long start, int[] dst, int off, int len);

  /**
   * An in-memory source over documents: each is encoded with {@code tok} and followed by its end-of-text token
   * (the layout pretraining expects: documents never run into each other without a separator).
   */
  static TokenSource ofDocuments(java.util.List<String> docs, org.jalign.text.Tokenizer tok) {
    if (docs == null) throw new IllegalArgumentException("documents are null");
    if (tok == null) throw new IllegalArgumentException("tokenizer is null");
    int eot = tok.specialId(org.jalign.text.Tokenizer.ENDOFTEXT).orElseThrow(() -> new IllegalArgumentException(
        "the tokenizer has no " + org.jalign.text.Tokenizer.ENDOFTEXT + " token to separate documents"));
    java.util.List<int[]> parts = new java.util.ArrayList<>(docs.size());
    long total = 0;
    for (int i = 0; i < docs.size(); i++) {
      String d = docs.get(i);
      if (d == null) throw new IllegalArgumentException("document " + i + " is null");
      int[] e = tok.encode(d);
      parts.add(e);
      total += e.length + 1;
    }
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("the documents have " + total + " tokens, more than one in-memory source "
          + "holds; write them to a TokenFile");
    }
    int[] all = new int[(int) total];
    int k = 0;
    for (int[] e : parts) {
      System.arraycopy(e, 0, all, k, e.length);
      k += e.length;
      all[k++] = eot;
    }
    return of(all, tok.vocabSize());
  }

  /** An in-memory source over a copy of {@code tokens}; every token is checked to be in [0, vocabSize). */
  static TokenSource of(int[] tokens, int vocabSize) {
    if (vocabSize <= 0) throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
    int[] copy = tokens.clone();
    for (int i = 0; i < copy.length; i++) {
      if (copy[i] < 0 || copy[i] >= vocabSize) {
        throw new IllegalArgumentException("token " + copy[i] + " at index " + i + " outside [0, " + vocabSize + ")");
      }
    }
    return new TokenSource() {
      @Override
      public long size() {
        return copy.length;
      }

      @Override
      public int vocabSize() {
        return vocabSize;
      }

      @Override
      public void read(long start, int[] dst, int off, int len) {
        if (start < 0 || len < 0 || start + len > copy.length) {
          throw new IllegalArgumentException("read [" + start + ", " + (start + len) + ") outside [0, " + copy.length
              + ")");
        }
        System.arraycopy(copy, (int) start, dst, off, len);
      }
    };
  }
}
