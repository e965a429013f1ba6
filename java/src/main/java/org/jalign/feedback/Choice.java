package org.jalign.feedback;

/** A user's verdict on a comparison of two responses. */
public enum Choice {
  /** Response A is better. */
  A,
  /** Response B is better. */
  B,
  /** Both equally good. */
  TIE,
  /** Neither is acceptable. */
  NEITHER;

  /** Parses a key a user pressed: a, b, t (tie), n (neither); case-insensitive. */
  public static Choice fromKey(String key) {
    switch (key.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "a": return A;
      case "b": return B;
      case "t": case "tie": return TIE;
      case "n": case "neither": return NEITHER;
      default: throw new IllegalArgumentException("choice must be a, b, t (tie) or n (neither), got '" + key + "'");
    }
  }
}
