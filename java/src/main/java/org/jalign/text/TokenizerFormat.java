package org.jalign.text;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * jalign's tokenizer format (all integers big-endian):
 * <pre>
 *   magic    4 bytes  "JTOK"
 *   version  u16      1
 *   type     u8       1 = ByteTokenizer, 2 = BpeTokenizer, 3 = HfTokenizer, 4 = HfTokenizer with its config
 *   length   u32      payload length in bytes
 *   payload  ...      type-specific, below
 *   crc      u32      CRC-32 of every byte before it
 *
 *   ByteTokenizer payload: u32 S; S × (u32 n, n bytes UTF-8 special string)      specials at ids 256..
 *   BpeTokenizer payload:
 *     u8  pre-tokenizer   1 = GPT-2 regex
 *     u32 V               vocabulary size
 *     V × (u8 kind, u32 n, n bytes)   kind 0 = unused (n = 0), 1 = raw token bytes, 2 = special (UTF-8)
 *     u32 M               number of merges
 *     M × (u32 a, u32 b, u32 result)  in rank order
 *   HfTokenizer payload: u32 n, n bytes   the UTF-8 tokenizer.json text
 *   HfTokenizer-with-config payload: u32 n, n bytes tokenizer.json; u32 m, m bytes tokenizer_config.json (UTF-8)
 * </pre>
 * Readers check every length against the bytes left before allocating, and the CRC, and reject unknown
 * versions and types with a message saying which.
 */
public final class TokenizerFormat {
    static final byte[] MAGIC = {'J', 'T', 'O', 'K'};
    static final int VERSION = 1;
    static final int TYPE_BYTE = 1;
    static final int TYPE_BPE = 2;
    static final int TYPE_HF = 3;
    static final int TYPE_HF_WITH_CONFIG = 4;
    static final int PRETOKENIZER_GPT2 = 1;

    private TokenizerFormat() {}

    static byte[] writeByte(ByteTokenizer t) {
        return frame(TYPE_BYTE, out -> {
            out.writeInt(t.specials().size());
            for (String s : t.specials()) writeBytes(out, s.getBytes(StandardCharsets.UTF_8));
        });
    }

    static byte[] writeBpe(BpeTokenizer t) {
        return frame(TYPE_BPE, out -> {
            out.writeByte(PRETOKENIZER_GPT2);
            byte[][] bytes = t.rawTokenBytes();
            String[] special = t.rawSpecialText();
            out.writeInt(bytes.length);
            for (int id = 0; id < bytes.length; id++) {
                if (special[id] != null) {
                    out.writeByte(2);
                    writeBytes(out, special[id].getBytes(StandardCharsets.UTF_8));
                } else if (bytes[id] != null) {
                    out.writeByte(1);
                    writeBytes(out, bytes[id]);
                } else {
                    out.writeByte(0);
                    out.writeInt(0);
                }
            }
            int[][] merges = t.rawMerges();
            out.writeInt(merges.length);
            for (int[] m : merges) {
                out.writeInt(m[0]);
                out.writeInt(m[1]);
                out.writeInt(m[2]);
            }
        });
    }

    static byte[] writeHf(String tokenizerJson, String tokenizerConfigJson) {
        return frame(tokenizerConfigJson == null ? TYPE_HF : TYPE_HF_WITH_CONFIG, out -> {
            writeBytes(out, tokenizerJson.getBytes(StandardCharsets.UTF_8));
            if (tokenizerConfigJson != null) writeBytes(out, tokenizerConfigJson.getBytes(StandardCharsets.UTF_8));
        });
    }

    private interface Body {
        void write(DataOutputStream out) throws IOException;
    }

    private static byte[] frame(int type, Body body) {
        try {
            ByteArrayOutputStream payload = new ByteArrayOutputStream();
            body.write(new DataOutputStream(payload));
            ByteArrayOutputStream all = new ByteArrayOutputStream(payload.size() + 16);
            DataOutputStream out = new DataOutputStream(all);
            out.write(MAGIC);
            out.writeShort(VERSION);
            out.writeByte(type);
            out.writeInt(payload.size());
            payload.writeTo(out);
            CRC32 crc = new CRC32();
            crc.update(all.toByteArray());
            out.writeInt((int) crc.getValue());
            return all.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in-memory streams do not fail
        }
    }

    private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    static Tokenizer read(byte[] data) {
        if (data == null) throw new TokenizerFormatException("tokenizer bytes are null");
        if (data.length < 4 + 2 + 1 + 4 + 4) {
            throw new TokenizerFormatException("tokenizer bytes too short (" + data.length + " bytes)");
        }
        for (int i = 0; i < 4; i++) {
            if (data[i] != MAGIC[i]) throw new TokenizerFormatException("not a jalign tokenizer (bad magic)");
        }
        ByteBuffer buf = ByteBuffer.wrap(data);
        buf.position(4);
        int version = buf.getShort() & 0xFFFF;
        if (version != VERSION) {
            throw new TokenizerFormatException("unsupported tokenizer format version " + version
                    + " (this jalign reads version " + VERSION + ")");
        }
        int type = buf.get() & 0xFF;
        long length = buf.getInt() & 0xFFFFFFFFL;
        if (length != data.length - 15L) {
            throw new TokenizerFormatException("tokenizer payload length " + length + " does not match the "
                    + (data.length - 15L) + " bytes present");
        }
        CRC32 crc = new CRC32();
        crc.update(data, 0, data.length - 4);
        int stored = ByteBuffer.wrap(data, data.length - 4, 4).getInt();
        if ((int) crc.getValue() != stored) throw new TokenizerFormatException("tokenizer bytes corrupted (CRC mismatch)");
        Reader r = new Reader(ByteBuffer.wrap(data, 11, (int) length).slice());
        Tokenizer t;
        switch (type) {
            case TYPE_BYTE -> t = readByte(r);
            case TYPE_BPE -> t = readBpe(r);
            case TYPE_HF -> t = HfTokenizer.parse(r.utf8("tokenizer.json text"), "stored tokenizer.json");
            case TYPE_HF_WITH_CONFIG -> {
                String json = r.utf8("tokenizer.json text");
                String cfg = r.utf8("tokenizer_config.json text");
                HfTokenizerConfig config;
                try {
                    config = HfTokenizerConfig.parse(cfg, java.nio.file.Path.of("stored tokenizer_config.json"));
                } catch (IOException e) {
                    throw new TokenizerFormatException(e.getMessage(), e);
                }
                t = HfTokenizer.parse(json, "stored tokenizer.json", config);
            }
            default -> throw new TokenizerFormatException("unknown tokenizer type " + type);
        }
        if (r.buf.hasRemaining()) {
            throw new TokenizerFormatException(r.buf.remaining() + " unexpected bytes after the tokenizer payload");
        }
        return t;
    }

    private static ByteTokenizer readByte(Reader r) {
        int n = r.count("special count", 4);
        java.util.List<String> specials = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) specials.add(r.utf8("special " + i));
        return new ByteTokenizer(specials);
    }

    private static BpeTokenizer readBpe(Reader r) {
        int pre = r.u8();
        if (pre != PRETOKENIZER_GPT2) throw new TokenizerFormatException("unknown pre-tokenizer " + pre);
        int vocab = r.count("vocabulary size", 5);
        byte[][] bytes = new byte[vocab][];
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (int id = 0; id < vocab; id++) {
            int kind = r.u8();
            switch (kind) {
                case 0 -> {
                    if (r.count("unused token " + id, 1) != 0) {
                        throw new TokenizerFormatException("unused token " + id + " has bytes");
                    }
                }
                case 1 -> bytes[id] = r.bytes("token " + id);
                case 2 -> {
                    String s = r.utf8("special token " + id);
                    if (specials.put(s, id) != null) throw new TokenizerFormatException("special " + s + " twice");
                }
                default -> throw new TokenizerFormatException("token " + id + " has unknown kind " + kind);
            }
        }
        int m = r.count("merge count", 12);
        int[][] merges = new int[m][];
        for (int i = 0; i < m; i++) merges[i] = new int[] {r.i32(), r.i32(), r.i32()};
        return new BpeTokenizer(bytes, specials, merges);
    }

    /** Bounds-checked reads from the payload. */
    private static final class Reader {
        final ByteBuffer buf;

        Reader(ByteBuffer buf) {
            this.buf = buf;
        }

        private void need(long n, String what) {
            if (n > buf.remaining()) {
                throw new TokenizerFormatException("tokenizer bytes truncated: " + what + " needs " + n
                        + " bytes, " + buf.remaining() + " left");
            }
        }

        int u8() {
            need(1, "a byte");
            return buf.get() & 0xFF;
        }

        int i32() {
            need(4, "an int");
            return buf.getInt();
        }

        /** A count whose items take at least minItemBytes each: checked against the bytes left. */
        int count(String what, int minItemBytes) {
            int n = i32();
            if (n < 0) throw new TokenizerFormatException(what + " is negative: " + n);
            need((long) n * minItemBytes, what + " (" + n + ")");
            return n;
        }

        byte[] bytes(String what) {
            int n = count(what + " length", 1);
            byte[] b = new byte[n];
            buf.get(b);
            return b;
        }

        String utf8(String what) {
            byte[] b = bytes(what);
            try {
                return StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                throw new TokenizerFormatException(what + " is not valid UTF-8");
            }
        }
    }
}
