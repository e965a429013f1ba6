package org.jalign.world;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * Word-level text matching robust to the malformed output of a small generator: case, punctuation,
 * apostrophes (straight, curly or missing), repeated spaces and stray byte garbage are all ignored. Text is
 * reduced to a list of lower-case alphanumeric words; phrases match as contiguous word sequences.
 */
final class Text {
  private Text() {
  }

  /** Lower-case alphanumeric words of {@code s}; every other character separates words. */
  static String[] words(String s) {
    if (s == null || s.isEmpty()) {
      return new String[0];
    }
    // Contractions read the same with or without the apostrophe: "can't", "can t" and "cant" all
    // become "cant"; "I'm" and "Im" become "im". A possessive "'s" stays a separate word "s".
    List<String> out = new ArrayList<>(16);
    StringBuilder cur = new StringBuilder(16);
    int n = s.length();
    for (int i = 0; i <= n; i++) {
      char c = i < n ? Character.toLowerCase(s.charAt(i)) : ' ';
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        cur.append(c);
      } else if (cur.length() > 0) {
        String x = cur.toString();
        cur.setLength(0);
        int last = out.size() - 1;
        if (last >= 0 && x.equals("t") && out.get(last).endsWith("n")) {
          out.set(last, out.get(last) + "t");
        } else if (last >= 0 && x.equals("m") && out.get(last).equals("i")) {
          out.set(last, "im");
        } else {
          out.add(x);
        }
      }
    }
    return out.toArray(new String[0]);
  }

  /**
   * A fixed set of phrases indexed by first word, so that matching a text costs one hash lookup per
   * word of the text rather than one scan per phrase.
   */
  static final class PhraseSet {
    private final List<String> phrases;
    private final java.util.Map<String, List<String[]>> byFirst = new java.util.HashMap<>();
    private final java.util.Map<String, String> original = new java.util.HashMap<>();

    PhraseSet(Collection<String> phrases) {
      this.phrases = List.copyOf(phrases);
      for (String p : this.phrases) {
        String[] w = words(p);
        if (w.length > 0) {
          byFirst.computeIfAbsent(w[0], k -> new ArrayList<>()).add(w);
          original.putIfAbsent(String.join(" ", w), p);
        }
      }
    }

    static PhraseSet of(Collection<String> phrases) {
      return new PhraseSet(phrases);
    }

    List<String> phrases() {
      return phrases;
    }

    /** True when some phrase occurs in {@code w}. */
    boolean in(String[] w) {
      for (int i = 0; i < w.length; i++) {
        List<String[]> cands = byFirst.get(w[i]);
        if (cands != null) {
          for (String[] c : cands) {
            if (matchesAt(w, i, c)) {
              return true;
            }
          }
        }
      }
      return false;
    }

    /** The distinct phrases (as given) that occur in {@code w}, in order of first occurrence. */
    List<String> found(String[] w) {
      java.util.LinkedHashSet<String> out = new java.util.LinkedHashSet<>();
      for (int i = 0; i < w.length; i++) {
        List<String[]> cands = byFirst.get(w[i]);
        if (cands != null) {
          for (String[] c : cands) {
            if (matchesAt(w, i, c)) {
              out.add(original.get(String.join(" ", c)));
            }
          }
        }
      }
      return new ArrayList<>(out);
    }

    private static boolean matchesAt(String[] w, int i, String[] c) {
      if (i + c.length > w.length) {
        return false;
      }
      for (int j = 1; j < c.length; j++) {
        if (!w[i + j].equals(c[j])) {
          return false;
        }
      }
      return true;
    }
  }

  /** True when any word is all digits. */
  static boolean hasNumber(String[] w) {
    for (String x : w) {
      if (!x.isEmpty() && x.chars().allMatch(Character::isDigit)) {
        return true;
      }
    }
    return false;
  }

  /** Fraction of distinct words among all words (1 for an empty text). */
  static double distinctRatio(String[] w) {
    if (w.length == 0) {
      return 1.0;
    }
    return (double) Arrays.stream(w).distinct().count() / w.length;
  }

  /** "a" or "an" for the next word. */
  static String article(String next) {
    char c = Character.toLowerCase(next.charAt(0));
    return "aeiou".indexOf(c) >= 0 ? "an" : "a";
  }

  static String capitalize(String s) {
    if (s.isEmpty()) {
      return s;
    }
    return Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }
}
