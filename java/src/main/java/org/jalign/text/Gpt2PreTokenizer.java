package org.jalign.text;

/**
 * A hand-written scanner that splits text exactly like GPT-2's pre-tokenisation regex
 * {@link BpeTokenizer#GPT2_PATTERN} compiled with {@code UNICODE_CHARACTER_CLASS}, several times faster
 * than java.util.regex. At each position the regex's alternatives are tried in order:
 * <ol>
 *   <li>a contraction {@code 's 't 're 've 'm 'll 'd} (lower case only);</li>
 *   <li>an optional U+0020 space, then a run of letters (\p{L});</li>
 *   <li>an optional space, then a run of numbers (\p{N});</li>
 *   <li>an optional space, then a run of characters that are neither whitespace, letter nor number;</li>
 *   <li>a run of whitespace not followed by a non-whitespace character: the whole run at the end of the
 *       text, otherwise the run minus its last character (so that last one can prefix the next word);</li>
 *   <li>a run of whitespace (the one-character case the previous rule left).</li>
 * </ol>
 * Whitespace is Unicode White_Space as java.util.regex defines it: the separators Zs, Zl, Zp, U+0009..U+000D
 * and U+0085. Tests compare this scanner with the regex on exhaustive short strings and random text.
 */
final class Gpt2PreTokenizer {
    private Gpt2PreTokenizer() {}

    static final int OTHER = 0, LETTER = 1, NUMBER = 2, SPACE = 3;
    private static final byte[] ASCII = new byte[128];

    static {
        for (int c = 0; c < 128; c++) ASCII[c] = (byte) classifySlow(c);
    }

    private static int classifySlow(int cp) {
        int type = Character.getType(cp);
        switch (type) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                    Character.MODIFIER_LETTER, Character.OTHER_LETTER -> {
                return LETTER;
            }
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> {
                return NUMBER;
            }
            case Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> {
                return SPACE;
            }
            default -> {
                return (cp >= 0x9 && cp <= 0xD) || cp == 0x85 ? SPACE : OTHER;
            }
        }
    }

    static int classify(int cp) {
        return cp < 128 ? ASCII[cp] : classifySlow(cp);
    }

    /** Receives each pre-token as a [start, end) range of the text. */
    interface Sink {
        void accept(int start, int end);
    }

    /** Splits text into pre-tokens, in order; together they cover the whole text. */
    static void split(String s, Sink sink) {
        int n = s.length();
        int i = 0;
        while (i < n) {
            int end = next(s, i, n);
            sink.accept(i, end);
            i = end;
        }
    }

    /** End of the pre-token that starts at i. */
    static int next(String s, int i, int n) {
        char c = s.charAt(i);
        // 1. contractions
        if (c == '\'' && i + 1 < n) {
            char d = s.charAt(i + 1);
            if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
            if (i + 2 < n) {
                char e = s.charAt(i + 2);
                if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return i + 3;
            }
        }
        // 2-4. optional space, then a run of one class
        int start = i;
        if (c == ' ' && i + 1 < n) start = i + 1;
        int cp = s.codePointAt(start);
        int cls = classify(cp);
        if (start > i && cls == SPACE) { // a space followed by whitespace: no space-prefixed run here
            start = i;
            cls = SPACE;
        }
        if (cls != SPACE) {
            int j = start + Character.charCount(cp);
            while (j < n) {
                int cp2 = s.codePointAt(j);
                if (classify(cp2) != cls) break;
                j += Character.charCount(cp2);
            }
            return j;
        }
        // 5-6. whitespace run starting at i
        int j = i + Character.charCount(s.codePointAt(i));
        int lastStart = i;
        while (j < n) {
            int cp2 = s.codePointAt(j);
            if (classify(cp2) != SPACE) break;
            lastStart = j;
            j += Character.charCount(cp2);
        }
        if (j == n) return j; // run reaches the end of the text: all of it
        return lastStart > i ? lastStart : j; // leave the last whitespace char to prefix what follows
    }
}
