package org.jalign.text;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Decodes a token stream incrementally, for printing text while it is generated: {@link #push} returns the
 * text completed by one more token, holding back the bytes after the last complete character (a character
 * whose UTF-8 sequence is not finished yet, or malformed bytes until a valid character follows them);
 * {@link #finish} returns what is left (malformed or incomplete bytes become U+FFFD).
 *
 * <p>Concatenating every push and the finish gives exactly {@link Tokenizer#decode} of all the ids. Not
 * thread-safe: one decoder per stream.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    public StreamingDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token; returns the text it completes (possibly empty). */
    public String push(int id) {
        byte[] b = tokenizer.tokenBytes(id);
        pending.write(b, 0, b.length);
        byte[] all = pending.toByteArray();
        int cut = completePrefix(all);
        pending.reset();
        pending.write(all, cut, all.length - cut);
        return new String(all, 0, cut, StandardCharsets.UTF_8);
    }

    /** Returns the held-back bytes decoded (U+FFFD for an incomplete character) and resets the decoder. */
    public String finish() {
        String s = new String(pending.toByteArray(), StandardCharsets.UTF_8);
        pending.reset();
        return s;
    }

    /**
     * Length of the prefix that ends with the last complete, valid character (an ASCII byte or a well-formed
     * multi-byte sequence). Decoding never looks past such a character, so the prefix decodes exactly as it
     * does inside the whole stream; later bytes (an unfinished character, or malformed bytes that a later
     * valid character will delimit) are held back.
     */
    static int completePrefix(byte[] b) {
        for (int k = b.length - 1; k >= 0; k--) {
            int c = b[k] & 0xFF;
            if (c < 0x80) return k + 1;
            if ((c & 0xC0) != 0x80) continue; // a lead byte (or invalid byte) cannot end a complete character
            int lead = k - 1;
            while (lead >= 0 && lead > k - 4 && (b[lead] & 0xC0) == 0x80) lead--;
            if (lead < 0 || lead <= k - 4) continue;
            int lb = b[lead] & 0xFF;
            int need = lb >= 0xC2 && lb <= 0xDF ? 2 : lb >= 0xE0 && lb <= 0xEF ? 3 : lb >= 0xF0 && lb <= 0xF4 ? 4 : 0;
            if (need == k - lead + 1 && validPrefix(b, lead, need)) return k + 1;
        }
        return 0;
    }

    /** Whether the len bytes at start could begin a valid UTF-8 sequence (second-byte ranges checked). */
    private static boolean validPrefix(byte[] b, int start, int len) {
        if (len < 2) return true;
        int lead = b[start] & 0xFF, second = b[start + 1] & 0xFF;
        int lo = 0x80, hi = 0xBF;
        if (lead == 0xE0) lo = 0xA0;
        else if (lead == 0xED) hi = 0x9F;
        else if (lead == 0xF0) lo = 0x90;
        else if (lead == 0xF4) hi = 0x8F;
        return second >= lo && second <= hi;
    }
}
