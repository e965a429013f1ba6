package org.jalign.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.jalign.io.SafeTensors.Dtype;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-made safetensors files: what the format allows, and every way a header can lie. */
class SafeTensorsTest {
    @TempDir Path dir;
    int count;

    /** A file: u64 LE header length, the header text, then the given data bytes. */
    private Path file(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path p = dir.resolve("t" + (count++) + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    private static byte[] le(Object... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (Object v : values) {
            if (v instanceof Float f) b.putFloat(f);
            else if (v instanceof Short s) b.putShort(s);
            else if (v instanceof Double d) b.putDouble(d);
            else if (v instanceof Integer i) b.putInt(i);
            else throw new IllegalArgumentException();
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }

    @Test
    void readsHandMadeFileWithEveryFloatDtype() throws IOException {
        String header = "{\"__metadata__\": {\"format\": \"pt\", \"note\": \"é\"},"
                + " \"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]},"
                + " \"h\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [16, 22]},"
                + " \"b\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [22, 26]},"
                + " \"s\": {\"dtype\": \"F64\", \"shape\": [], \"data_offsets\": [26, 34]},"
                + " \"empty\": {\"dtype\": \"F32\", \"shape\": [0, 5], \"data_offsets\": [34, 34]},"
                + " \"ids\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [34, 38]}}   ";
        byte[] data = new byte[38];
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        b.putFloat(1f).putFloat(-2.5f).putFloat(3e-8f).putFloat(Float.MAX_VALUE);
        b.putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x0001); // 1, -2, 2^-24
        b.putShort((short) 0x3F80).putShort((short) 0xC049); // 1, -3.140625
        b.putDouble(0.1);
        b.putInt(7);
        Path p = file(header, data);
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(List.of("w", "h", "b", "s", "empty", "ids"), List.copyOf(st.names()));
            assertEquals(Map.of("format", "pt", "note", "é"), st.metadata());
            assertArrayEquals(new long[] {2, 2}, st.info("w").shape());
            assertArrayEquals(new float[] {1f, -2.5f, 3e-8f, Float.MAX_VALUE}, st.readFloats("w"));
            assertArrayEquals(new float[] {1f, -2f, 0x1p-24f}, st.readFloats("h"));
            assertArrayEquals(new float[] {1f, -3.140625f}, st.readFloats("b"));
            assertArrayEquals(new float[] {0.1f}, st.readFloats("s"));
            assertEquals(1, st.info("s").numel());
            assertEquals(0, st.readFloats("empty").length);
            assertEquals(7, st.map("ids").getInt(0));
            assertEquals(-2.5f, st.map("w").getFloat(4));
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> st.readFloats("ids"));
            assertTrue(e.getMessage().contains("I32"), e.getMessage());
            assertThrows(SafeTensorsException.class, () -> st.info("nope"));
        }
    }

    @Test
    void writerRoundTripsAndAlignsData() throws IOException {
        Random rnd = new Random(3);
        float[] a = new float[1000];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 10;
        float[] scalar = {42f};
        Path p = dir.resolve("w.safetensors");
        SafeTensors.writer().metadata("step", "12").add("a", a, 10, 100).add("a.bf16", Dtype.BF16, a, 1000)
                .add("a.f16", Dtype.F16, a, 1000).add("scalar", scalar).add("none", new float[0], 0, 3).write(p);
        byte[] bytes = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "data section starts 8-byte aligned");
        assertEquals('{', bytes[8]);
        assertEquals(8 + n + 4000 + 2000 + 2000 + 4, bytes.length);
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(Map.of("step", "12"), st.metadata());
            assertArrayEquals(a, st.readFloats("a"));
            float[] bf = st.readFloats("a.bf16");
            float[] hf = st.readFloats("a.f16");
            for (int i = 0; i < a.length; i++) {
                assertEquals(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(a[i])), bf[i]);
                assertEquals(a[i], bf[i], Math.abs(a[i]) * 0x1p-8);
                assertEquals(a[i], hf[i], Math.abs(a[i]) * 0x1p-11 + 0x1p-25);
            }
            assertEquals(Dtype.BF16, st.info("a.bf16").dtype());
            assertArrayEquals(new long[0], st.info("scalar").shape());
            assertArrayEquals(scalar, st.readFloats("scalar"));
            float[] into = new float[1003];
            st.readFloats("a", into, 3);
            assertEquals(a[999], into[1002]);
            assertThrows(IllegalArgumentException.class, () -> st.readFloats("a", new float[999], 0));
        }
        assertEquals(5, SafeTensors.readAllFloats(p).size());
    }

    @Test
    void largeTensorIsStreamedInChunks() throws IOException {
        float[] big = new float[3_000_000]; // 12 MB: several read chunks
        for (int i = 0; i < big.length; i++) big[i] = i * 0.5f;
        Path p = dir.resolve("big.safetensors");
        SafeTensors.writer().add("big", big, big.length).write(p);
        try (SafeTensors st = SafeTensors.open(p)) {
            assertArrayEquals(big, st.readFloats("big"));
        }
    }

    @Test
    void writerRejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("x", new float[3], 2, 2));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("x", new float[0], -1, 0));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("x", Dtype.I32, new float[1], 1));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("__metadata__", new float[1], 1));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("x", new float[1], 1).add("x", new float[1], 1));
    }

    private void assertRejected(Path p, String fragment) {
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "expected \"" + fragment + "\" in " + e.getMessage());
    }

    private String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": [" + begin + ", " + end + "]}";
    }

    @Test
    void rejectsBrokenFraming() throws IOException {
        Path tiny = dir.resolve("tiny");
        Files.write(tiny, new byte[5]);
        assertRejected(tiny, "fewer than the 8-byte");
        // header length larger than the file (and absurdly large: must not allocate)
        for (long claimed : new long[] {100, 1_000_000_000_000L, -1L}) {
            ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(claimed).put("{}   \"\"    ".getBytes());
            Path p = dir.resolve("len" + (count++));
            Files.write(p, b.array());
            assertRejected(p, "exceeds");
        }
        assertRejected(file("", new byte[0]), "too small");
        assertRejected(file("{\"a\": ", new byte[0]), "invalid JSON");
        assertRejected(file("[1, 2]", new byte[0]), "must be a JSON object");
        assertRejected(file("{} {}", new byte[0]), "invalid JSON");
        assertRejected(file("{\"a\": 1}", new byte[0]), "tensor \"a\" must be an object");
        Path badUtf8 = file("{\"\u00e9\": 1}", new byte[0]);
        byte[] raw = Files.readAllBytes(badUtf8);
        raw[10] = (byte) 0xFF;
        Files.write(badUtf8, raw);
        assertRejected(badUtf8, "UTF-8");
    }

    @Test
    void rejectsLyingTensorEntries() throws IOException {
        byte[] d16 = new byte[16];
        assertRejected(file("{" + t("a", "F33", "[4]", 0, 16) + "}", d16), "unknown dtype \"F33\"");
        assertRejected(file("{\"a\": {\"shape\": [4], \"data_offsets\": [0, 16]}}", d16), "\"dtype\" must be a string");
        assertRejected(file("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 16]}}", d16), "\"shape\" must be an array");
        assertRejected(file("{\"a\": {\"dtype\": \"F32\", \"shape\": [4]}}", d16), "data_offsets");
        assertRejected(file("{" + t("a", "F32", "[-4]", 0, 16) + "}", d16), "shape[0] is negative");
        assertRejected(file("{" + t("a", "F32", "[4.0]", 0, 16) + "}", d16), "shape[0] must be a non-negative integer");
        assertRejected(file("{" + t("a", "F32", "[\"4\"]", 0, 16) + "}", d16), "shape[0] must be a non-negative integer");
        assertRejected(file("{" + t("a", "F32", "[99999999999999999999]", 0, 16) + "}", d16), "does not fit in 64 bits");
        assertRejected(file("{" + t("a", "F32", "[4294967296, 4294967296]", 0, 16) + "}", d16), "overflow");
        assertRejected(file("{" + t("a", "F64", "[2305843009213693952]", 0, 16) + "}", d16), "overflows");
        // 10^12 elements: rejected from the header alone, nothing allocated
        assertRejected(file("{" + t("a", "F32", "[1000000000000]", 0, 4_000_000_000_000L) + "}", d16), "run past");
        assertRejected(file("{" + t("a", "F32", "[1000000000000]", 0, 16) + "}", d16), "needs 4000000000000");
        assertRejected(file("{" + t("a", "F32", "[3]", 0, 16) + "}", d16), "span 16 bytes but F32 [3] needs 12");
        assertRejected(file("{" + t("a", "F32", "[4]", 16, 0) + "}", d16), "end before begin");
        assertRejected(file("{" + t("a", "F32", "[4]", 0, 16) + ", " + t("b", "F32", "[2]", 8, 16) + "}", d16), "overlaps");
        assertRejected(file("{" + t("a", "F32", "[2]", 0, 8) + ", " + t("b", "F32", "[1]", 12, 16) + "}", d16), "gap");
        assertRejected(file("{" + t("a", "F32", "[2]", 0, 8) + "}", d16), "data section has 16 bytes but the tensors cover 8");
        assertRejected(file("{" + t("a", "F32", "[4]", 0, 16) + ", " + t("a", "F32", "[4]", 0, 16) + "}", d16), "duplicate key");
        assertRejected(file("{\"__metadata__\": {\"n\": 1}, " + t("a", "F32", "[4]", 0, 16) + "}", d16), "must be a string");
        assertRejected(file("{\"__metadata__\": [], " + t("a", "F32", "[4]", 0, 16) + "}", d16), "__metadata__ must be an object");
        // truncated data: header promises 16 bytes, file holds 12
        assertRejected(file("{" + t("a", "F32", "[4]", 0, 16) + "}", new byte[12]), "run past");
    }

    @Test
    void acceptsTensorsListedOutOfOffsetOrder() throws IOException {
        Path p = file("{" + t("b", "F32", "[1]", 4, 8) + ", " + t("a", "F32", "[1]", 0, 4) + "}", le(1f, 2f));
        try (SafeTensors st = SafeTensors.open(p)) {
            assertArrayEquals(new float[] {1f}, st.readFloats("a"));
            assertArrayEquals(new float[] {2f}, st.readFloats("b"));
        }
    }
}
