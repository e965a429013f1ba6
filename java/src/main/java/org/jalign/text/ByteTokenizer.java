package org.jalign.text;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The simplest lossless tokenizer: one id per UTF-8 byte (ids 0..255 = byte values), followed by the
 * special tokens (ids 256, 257, ... in the given order). Meant for tiny models and tests.
 */
public final class ByteTokenizer implements Tokenizer {
    private final SpecialTokens specials;

    /** A byte tokenizer with {@link Tokenizer#STANDARD_SPECIALS}. */
    public ByteTokenizer() {
        this(STANDARD_SPECIALS);
    }

    /** A byte tokenizer with the given specials (distinct, non-empty) at ids 256, 257, .... */
    public ByteTokenizer(List<String> specials) {
        Map<String, Integer> ids = new LinkedHashMap<>();
        for (String s : specials) {
            if (ids.putIfAbsent(s, 256 + ids.size()) != null) {
                throw new IllegalArgumentException("special token " + s + " given twice");
            }
        }
        this.specials = new SpecialTokens(ids);
    }

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xFF;
        return ids;
    }

    @Override
    public int[] encodeWithSpecials(String text) {
        SpecialTokens.IntList out = new SpecialTokens.IntList();
        specials.split(text, s -> out.addAll(encode(s)), out::add);
        return out.toArray();
    }

    @Override
    public String decode(int[] ids) {
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream(ids.length);
        for (int id : ids) {
            byte[] b = tokenBytes(id);
            buf.write(b, 0, b.length);
        }
        return new String(buf.toByteArray(), StandardCharsets.UTF_8);
    }

    @Override
    public int vocabSize() {
        return 256 + specials.list().size();
    }

    @Override
    public OptionalInt specialId(String special) {
        return specials.id(special);
    }

    @Override
    public List<String> specials() {
        return specials.list();
    }

    @Override
    public String tokenText(int id) {
        check(id);
        return id < 256 ? String.valueOf(ByteLevel.charOf(id)) : specials.list().get(id - 256);
    }

    @Override
    public byte[] tokenBytes(int id) {
        check(id);
        return id < 256 ? new byte[] {(byte) id} : specials.list().get(id - 256).getBytes(StandardCharsets.UTF_8);
    }

    private void check(int id) {
        if (id < 0 || id >= vocabSize()) {
            throw new IllegalArgumentException("token id " + id + " outside [0, " + vocabSize() + ")");
        }
    }

    @Override
    public byte[] toBytes() {
        return TokenizerFormat.writeByte(this);
    }
}
