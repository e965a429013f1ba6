package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;

/** The hand-written pre-tokenizer against GPT-2's regex (java.util.regex, Unicode classes). */
class Gpt2PreTokenizerTest {

    static List<String> regex(String s) {
        List<String> out = new ArrayList<>();
        Matcher m = BpeTokenizer.PRETOKENIZER.matcher(s);
        while (m.find()) out.add(m.group());
        return out;
    }

    static List<String> scanner(String s) {
        List<String> out = new ArrayList<>();
        Gpt2PreTokenizer.split(s, (a, b) -> out.add(s.substring(a, b)));
        return out;
    }

    /** Representatives of every class the pattern distinguishes, and the characters it names. */
    static final String[] ALPHABET = {" ", "\t", "\n", "\u00a0", "\u2028", "\u0085", "\u001f", "'", "s", "r", "e", "l",
        "v", "m", "d", "t", "A", "é", "日", "\u0301", "1", "²", "Ⅻ", "!", ".", "😀", "\ud835\udc00", "\ud800"};

    @Test
    void allStringsUpToLengthFourMatchTheRegex() {
        int k = ALPHABET.length;
        int[] idx = new int[4];
        for (int len = 0; len <= 4; len++) {
            int total = (int) Math.pow(k, len);
            for (int code = 0; code < total; code++) {
                StringBuilder sb = new StringBuilder();
                int c = code;
                for (int i = 0; i < len; i++) {
                    idx[i] = c % k;
                    c /= k;
                    sb.append(ALPHABET[idx[i]]);
                }
                String s = sb.toString();
                assertEquals(regex(s), scanner(s), () -> "\"" + escape(s) + "\"");
            }
        }
    }

    @Test
    void randomLongTextMatchesTheRegex() {
        Random rnd = new Random(5);
        for (int t = 0; t < 2000; t++) {
            StringBuilder sb = new StringBuilder();
            int len = rnd.nextInt(60);
            for (int i = 0; i < len; i++) {
                sb.append(rnd.nextInt(3) == 0 ? ALPHABET[rnd.nextInt(8)] : ALPHABET[rnd.nextInt(ALPHABET.length)]);
            }
            String s = sb.toString();
            assertEquals(regex(s), scanner(s), () -> "\"" + escape(s) + "\"");
        }
        String corpus = TextFixtures.corpus(8, 20_000);
        assertEquals(regex(corpus), scanner(corpus));
    }

    @Test
    void everyBmpCharacterIsClassifiedLikeTheRegex() {
        for (int cp = 0; cp < 0x10000; cp++) {
            String s = "a" + new String(Character.toChars(cp)) + "a";
            String ws = "  " + new String(Character.toChars(cp)) + "x";
            assertEquals(regex(s), scanner(s), "U+" + Integer.toHexString(cp));
            assertEquals(regex(ws), scanner(ws), "U+" + Integer.toHexString(cp));
        }
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c < 0x20 || c > 0x7e) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.toString();
    }
}
