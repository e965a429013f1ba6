package org.jalign.world;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

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
        String lower = s.toLowerCase(Locale.ROOT);
        StringBuilder sb = new StringBuilder(lower.length());
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            boolean keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
            sb.append(keep ? c : ' ');
        }
        String t = sb.toString().trim();
        if (t.isEmpty()) {
            return new String[0];
        }
        // Contractions read the same with or without the apostrophe: "can't", "can t" and "cant" all
        // become "cant"; "I'm" and "Im" become "im". A possessive "'s" stays a separate word "s".
        String[] raw = t.split(" +");
        List<String> out = new ArrayList<>(raw.length);
        for (String x : raw) {
            int last = out.size() - 1;
            if (last >= 0 && x.equals("t") && out.get(last).endsWith("n")) {
                out.set(last, out.get(last) + "t");
            } else if (last >= 0 && x.equals("m") && out.get(last).equals("i")) {
                out.set(last, "im");
            } else {
                out.add(x);
            }
        }
        return out.toArray(new String[0]);
    }

    /** True when {@code phrase} (itself reduced to words) occurs as a contiguous run in {@code w}. */
    static boolean containsPhrase(String[] w, String phrase) {
        return indexOf(w, words(phrase), 0) >= 0;
    }

    static boolean containsAny(String[] w, Collection<String> phrases) {
        for (String p : phrases) {
            if (containsPhrase(w, p)) {
                return true;
            }
        }
        return false;
    }

    /** The phrases of {@code phrases} that occur in {@code w}, in the order of {@code phrases}. */
    static List<String> found(String[] w, Collection<String> phrases) {
        List<String> out = new ArrayList<>();
        for (String p : phrases) {
            if (containsPhrase(w, p)) {
                out.add(p);
            }
        }
        return out;
    }

    static int indexOf(String[] w, String[] p, int from) {
        if (p.length == 0) {
            return -1;
        }
        outer:
        for (int i = from; i + p.length <= w.length; i++) {
            for (int j = 0; j < p.length; j++) {
                if (!w[i + j].equals(p[j])) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
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
