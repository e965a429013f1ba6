package org.jalign.text;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Random;
import java.util.zip.CRC32;

/** Deterministic test text. */
final class TextFixtures {
    private TextFixtures() {}

    private static final String[] SYLLABLES = {"the", "an", "ing", "er", "re", "on", "at", "st", "en", "ion",
        "qu", "al", "ro", "ma", "ti", "ve", "co", "de", "la", "mo", "ne", "pe", "sa", "to", "un", "ly"};

    /** Zipf-ish pseudo-English: words of 1-4 syllables, punctuation, digits, newlines, some non-ASCII. */
    static String corpus(long seed, int chars) {
        Random rnd = new Random(seed);
        String[] words = new String[2000];
        for (int i = 0; i < words.length; i++) {
            StringBuilder w = new StringBuilder();
            int n = 1 + rnd.nextInt(4);
            for (int k = 0; k < n; k++) w.append(SYLLABLES[rnd.nextInt(SYLLABLES.length)]);
            if (rnd.nextInt(20) == 0) w.append("é");
            if (rnd.nextInt(40) == 0) w.setLength(0);
            if (w.length() == 0) w.append(rnd.nextInt(1000));
            words[i] = w.toString();
        }
        StringBuilder sb = new StringBuilder(chars + 32);
        while (sb.length() < chars) {
            int r = (int) Math.floor(Math.pow(words.length, rnd.nextDouble())) - 1; // log-uniform rank
            String w = words[r];
            if (rnd.nextInt(12) == 0) w = Character.toUpperCase(w.charAt(0)) + w.substring(1);
            sb.append(w);
            int p = rnd.nextInt(30);
            if (p == 0) sb.append(". ");
            else if (p == 1) sb.append(", ");
            else if (p == 2) sb.append("\n");
            else if (p == 3) sb.append("'s ");
            else sb.append(' ');
        }
        return sb.toString();
    }

    private static final int[] POOL = "abcdefghijklmnopqrstuvwxyz ABC  \n\t0123456789.,;:!?'\"-()<>|éüßøñ日本語中文한국어Русский😀👍🏽\u00a0\u200d\u0301"
            .codePoints().toArray();

    /** Random text mixing ASCII, whitespace, scripts and emoji (valid Unicode). */
    static String randomText(Random rnd, int codePoints) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < codePoints; i++) sb.appendCodePoint(POOL[rnd.nextInt(POOL.length)]);
        return sb.toString();
    }

    /** A jalign tokenizer frame around an arbitrary payload, with a correct CRC. */
    static byte[] frame(int type, byte[] payload) {
        try {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(all);
            out.write(new byte[] {'J', 'T', 'O', 'K'});
            out.writeShort(1);
            out.writeByte(type);
            out.writeInt(payload.length);
            out.write(payload);
            CRC32 crc = new CRC32();
            crc.update(all.toByteArray());
            out.writeInt((int) crc.getValue());
            return all.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
