package org.jalign.reliability;

import org.jalign.text.Tokenizer;

/** Uses a tokenizer that a fuzzed file produced: it must behave like any other. */
final class Exercise {
  private Exercise() {}

  static final String TEXT = "Hello there, it's 2026!\n  na\u00efve \u65e5\u672c \ud83d\ude00 <|endoftext|>x<|end|>";

  /** Any exception from a tokenizer that loaded is a finding (an AssertionError, never an allowed rejection). */
  static void tokenizer(Tokenizer t) {
    try {
      use(t, TEXT);
    } catch (RuntimeException e) {
      throw new AssertionError("a tokenizer that loaded then failed: " + e, e);
    }
  }

  private static void use(Tokenizer t, String text) {
    int[] ids = t.encode(text);
    for (int id : ids) {
      if (id < 0 || id >= t.vocabSize()) throw new AssertionError("id " + id + " outside the vocabulary");
    }
    t.decode(ids);
    t.encodeWithSpecials(text);
    for (int id = 0; id < Math.min(t.vocabSize(), 512); id++) {
      try {
        t.tokenBytes(id);
        t.tokenText(id);
      } catch (IllegalArgumentException e) {
        // a vocabulary may leave ids unassigned (gaps in vocab.json): asking for one is a documented rejection
        if (e.getMessage() == null || !e.getMessage().contains("unused")) throw e;
      }
    }
    Tokenizer.fromBytes(t.toBytes());
  }
}
