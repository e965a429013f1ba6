package org.jalign.text;

import java.util.Arrays;

/**
 * Text on its way through a Hugging Face tokenizer pipeline, with, for every char, the range of the original
 * input it came from (as the {@code tokenizers} library's NormalizedString keeps it). A prepended char has the
 * empty range at the first char's start; a replacement's chars each get the whole replaced range.
 */
final class HfText {
    final String s;
    private final int[] lo; // null: char i came from [base + i, base + i + 1)
    private final int[] hi;
    private final int base;

    HfText(String s, int base) {
        this.s = s;
        this.lo = null;
        this.hi = null;
        this.base = base;
    }

    private HfText(String s, int[] lo, int[] hi) {
        this.s = s;
        this.lo = lo;
        this.hi = hi;
        this.base = 0;
    }

    int length() {
        return s.length();
    }

    int lo(int i) {
        return lo == null ? base + i : lo[i];
    }

    int hi(int i) {
        return hi == null ? base + i + 1 : hi[i];
    }

    /** A [start, end) range of an HfText: one pre-token or a part still to be split. */
    record Span(HfText text, int start, int end) {
        String string() {
            return text.s.substring(start, end);
        }

        /** Start of this span in the original input (the start of its first char's range). */
        int originalStart() {
            return text.lo(start);
        }
    }

    /** Builds a new HfText char by char. */
    static final class Builder {
        private final StringBuilder sb;
        private int[] lo;
        private int[] hi;

        Builder(int capacity) {
            sb = new StringBuilder(capacity);
            lo = new int[Math.max(4, capacity)];
            hi = new int[lo.length];
        }

        void add(char c, int from, int to) {
            int n = sb.length();
            if (n == lo.length) {
                lo = Arrays.copyOf(lo, n * 2);
                hi = Arrays.copyOf(hi, n * 2);
            }
            sb.append(c);
            lo[n] = from;
            hi[n] = to;
        }

        void add(CharSequence cs, int from, int to) {
            for (int i = 0; i < cs.length(); i++) add(cs.charAt(i), from, to);
        }

        /** Copies chars [start, end) of t with their ranges. */
        void copy(HfText t, int start, int end) {
            for (int i = start; i < end; i++) add(t.s.charAt(i), t.lo(i), t.hi(i));
        }

        int length() {
            return sb.length();
        }

        HfText build() {
            int n = sb.length();
            return new HfText(sb.toString(), Arrays.copyOf(lo, n), Arrays.copyOf(hi, n));
        }
    }
}
