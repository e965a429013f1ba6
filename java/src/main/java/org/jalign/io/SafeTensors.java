package org.jalign.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The safetensors format: reading (with full validation) and writing.
 *
 * <p>Shape legend: a tensor's shape is any list of dimensions (d0, ..., dk-1), k ≥ 0, row-major;
 * numel = d0 × ... × dk-1 (1 for a scalar); e.g. a GPT token embedding is (V, C).
 *
 * <pre>
 *   u64 little-endian N          header length in bytes
 *   N bytes UTF-8 JSON header    {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 *                                 ..., "__metadata__": {"key": "value", ...}}   (optional metadata)
 *   data                         tensors' bytes, little-endian, row-major; offsets relative to here
 * </pre>
 *
 * <p>Validation on {@link #open}: N fits in the file and is at most {@link #MAX_HEADER_BYTES}; the header is
 * strict UTF-8 JSON (no duplicate names) whose top level is an object; metadata values are strings; every
 * tensor has a known dtype, a shape of non-negative integers whose element count and byte size do not
 * overflow, and data_offsets [begin, end] with end - begin = elements × dtype size; the tensors' byte
 * ranges do not overlap and tile the data section exactly (no gaps, nothing after the last). All of this is
 * checked before any tensor memory is allocated, and tensor data is only read on demand: streamed in
 * chunks ({@link #readFloats}) or memory-mapped ({@link #map}).
 *
 * <p>An open file holds a channel; close it (try-with-resources).
 */
public final class SafeTensors implements AutoCloseable {
    /** What a SafeTensors writer may replace: a file that begins with a SafeTensors header. */
    public static final OutputFiles.Kind KIND = new OutputFiles.Kind("a SafeTensors file", p -> {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b) > 0) {
                // read on
            }
            if (b.position() < 9) return false;
            long n = b.getLong(0);
            return n > 0 && n <= ch.size() - 8 && b.get(8) == '{';
        }
    });


    /** Largest header accepted (the reference implementation's limit too). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Name of the optional metadata entry. */
    public static final String METADATA_KEY = "__metadata__";
    private static final int CHUNK_BYTES = 1 << 22;
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** Element types of the format with their sizes in bytes. */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4),
        I64(8), U64(8), F64(8);

        public final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }

        /** Whether {@link SafeTensors#readFloats} converts this type. */
        public boolean isFloat() {
            return this == F16 || this == BF16 || this == F32 || this == F64;
        }
    }

    /** One tensor's header entry; begin/end are byte offsets into the data section. */
    public record TensorInfo(String name, Dtype dtype, long[] shape, long begin, long end) {
        public TensorInfo {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Number of elements (1 for a scalar with shape []). */
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d; // checked for overflow when the header was read
            return n;
        }

        public long byteSize() {
            return end - begin;
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
        }
    }

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors; // header order
    private final Map<String, String> metadata;

    private SafeTensors(Path file, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    // ------------------------------------------------------------------------------------ reading

    /** Opens and validates a safetensors file; tensor data is read later, on demand. */
    public static SafeTensors open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) throw bad(file, "file has " + size + " bytes, fewer than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, file);
            long n = lenBuf.flip().getLong();
            if (n < 0 || n > size - 8) {
                throw bad(file, "header length " + Long.toUnsignedString(n) + " exceeds the " + (size - 8)
                        + " bytes after the length field");
            }
            if (n > MAX_HEADER_BYTES) throw bad(file, "header length " + n + " exceeds the limit " + MAX_HEADER_BYTES);
            if (n < 2) throw bad(file, "header length " + n + " is too small for a JSON object");
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8, file);
            hb.flip();
            String json;
            try {
                json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb).toString();
            } catch (CharacterCodingException e) {
                throw bad(file, "header is not valid UTF-8");
            }
            long dataStart = 8 + n;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(file, json, size - dataStart, metadata);
            return new SafeTensors(file, ch, dataStart, tensors, metadata);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static Map<String, TensorInfo> parseHeader(Path file, String json, long dataLen, Map<String, String> metadata)
            throws SafeTensorsException {
        JsonElement root;
        try {
            root = StrictJson.parse(json);
        } catch (JsonParseException e) {
            throw bad(file, "header: " + e.getMessage());
        }
        if (!root.isJsonObject()) throw bad(file, "header must be a JSON object, got " + StrictJson.typeName(root));
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : root.getAsJsonObject().entrySet()) {
            String name = e.getKey();
            JsonElement v = e.getValue();
            if (name.equals(METADATA_KEY)) {
                if (!v.isJsonObject()) throw bad(file, "__metadata__ must be an object of strings");
                for (Map.Entry<String, JsonElement> m : v.getAsJsonObject().entrySet()) {
                    if (!StrictJson.isString(m.getValue())) {
                        throw bad(file, "__metadata__ value of \"" + m.getKey() + "\" must be a string, got "
                                + StrictJson.typeName(m.getValue()));
                    }
                    metadata.put(m.getKey(), m.getValue().getAsString());
                }
                continue;
            }
            tensors.put(name, parseTensor(file, name, v, dataLen));
        }
        // byte ranges must tile [0, dataLen) exactly: sorted by offsets, each starts where the last ended
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long pos = 0;
        String prev = null;
        for (TensorInfo t : byOffset) {
            if (t.begin() < pos) throw bad(file, "tensor \"" + t.name() + "\" overlaps tensor \"" + prev + "\"");
            if (t.begin() > pos) {
                throw bad(file, "gap in the data section: bytes [" + pos + ", " + t.begin() + ") before tensor \""
                        + t.name() + "\" belong to no tensor");
            }
            pos = t.end();
            prev = t.name();
        }
        if (pos != dataLen) {
            throw bad(file, "data section has " + dataLen + " bytes but the tensors cover " + pos);
        }
        return tensors;
    }

    private static TensorInfo parseTensor(Path file, String name, JsonElement v, long dataLen) throws SafeTensorsException {
        String where = "tensor \"" + name + "\"";
        if (!v.isJsonObject()) throw bad(file, where + " must be an object, got " + StrictJson.typeName(v));
        JsonObject o = v.getAsJsonObject();
        JsonElement dt = o.get("dtype");
        if (!StrictJson.isString(dt)) throw bad(file, where + ": \"dtype\" must be a string");
        Dtype dtype;
        try {
            dtype = Dtype.valueOf(dt.getAsString());
        } catch (IllegalArgumentException e) {
            throw bad(file, where + ": unknown dtype \"" + dt.getAsString() + "\"");
        }
        JsonElement sh = o.get("shape");
        if (sh == null || !sh.isJsonArray()) throw bad(file, where + ": \"shape\" must be an array");
        JsonArray sa = sh.getAsJsonArray();
        long[] shape = new long[sa.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(file, where + ": shape[" + i + "]", sa.get(i));
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException ex) {
                throw bad(file, where + ": shape " + sa + " has too many elements (overflow)");
            }
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, (long) dtype.bytes);
        } catch (ArithmeticException ex) {
            throw bad(file, where + ": shape " + sa + " × " + dtype.bytes + " bytes overflows");
        }
        JsonElement off = o.get("data_offsets");
        if (off == null || !off.isJsonArray() || off.getAsJsonArray().size() != 2) {
            throw bad(file, where + ": \"data_offsets\" must be an array [begin, end]");
        }
        long begin = nonNegativeLong(file, where + ": data_offsets[0]", off.getAsJsonArray().get(0));
        long end = nonNegativeLong(file, where + ": data_offsets[1]", off.getAsJsonArray().get(1));
        if (end < begin) throw bad(file, where + ": data_offsets [" + begin + ", " + end + "] end before begin");
        if (end > dataLen) {
            throw bad(file, where + ": data_offsets [" + begin + ", " + end + "] run past the " + dataLen
                    + "-byte data section");
        }
        if (end - begin != bytes) {
            throw bad(file, where + ": data_offsets span " + (end - begin) + " bytes but " + dtype + " " + sa
                    + " needs " + bytes);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long nonNegativeLong(Path file, String what, JsonElement e) throws SafeTensorsException {
        if (!StrictJson.isInteger(e)) throw bad(file, what + " must be a non-negative integer, got " + e);
        BigDecimal d = e.getAsBigDecimal();
        if (d.signum() < 0) throw bad(file, what + " is negative: " + d);
        try {
            return d.longValueExact();
        } catch (ArithmeticException ex) {
            throw bad(file, what + " = " + d + " does not fit in 64 bits");
        }
    }

    /** Tensor names in header order. */
    public Set<String> names() {
        return tensors.keySet();
    }

    /** All tensor entries, in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The __metadata__ entries (empty if none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** A tensor's header entry; throws naming the file and tensor if absent. */
    public TensorInfo info(String name) throws SafeTensorsException {
        TensorInfo t = tensors.get(name);
        if (t == null) throw bad(file, "no tensor named \"" + name + "\"");
        return t;
    }

    /** Reads a F32, F16, BF16 or F64 tensor into a new float[] (F64 is rounded to float). */
    public float[] readFloats(String name) throws IOException {
        TensorInfo t = info(name);
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw bad(file, "tensor \"" + name + "\" has " + n + " elements, too many for one float[]; use map()");
        }
        float[] out = new float[(int) n];
        readFloats(name, out, 0);
        return out;
    }

    /** Reads a float tensor into dst[offset, offset + numel), streaming the file in chunks. */
    public void readFloats(String name, float[] dst, int offset) throws IOException {
        TensorInfo t = info(name);
        if (!t.dtype().isFloat()) {
            throw bad(file, "tensor \"" + name + "\" has dtype " + t.dtype() + "; readFloats converts F16, BF16, F32, F64");
        }
        long n = t.numel();
        if (offset < 0 || n > dst.length - (long) offset) {
            throw new IllegalArgumentException("tensor \"" + name + "\" has " + n + " elements; dst has "
                    + dst.length + " from offset " + offset);
        }
        int es = t.dtype().bytes;
        long pos = dataStart + t.begin();
        long left = t.byteSize();
        int k = offset;
        ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, Math.max(left, 8))).order(ByteOrder.LITTLE_ENDIAN);
        while (left > 0) {
            chunk.clear();
            chunk.limit((int) Math.min(chunk.capacity(), left));
            readFully(channel, chunk, pos, file);
            chunk.flip();
            int count = chunk.remaining() / es;
            switch (t.dtype()) {
                case F32 -> chunk.asFloatBuffer().get(dst, k, count);
                case F64 -> {
                    for (int i = 0; i < count; i++) dst[k + i] = (float) chunk.getDouble(i * 8);
                }
                case BF16 -> {
                    for (int i = 0; i < count; i++) dst[k + i] = HalfFloats.bf16ToFloat(chunk.getShort(i * 2));
                }
                case F16 -> {
                    for (int i = 0; i < count; i++) dst[k + i] = HalfFloats.f16ToFloat(chunk.getShort(i * 2));
                }
                default -> throw new IllegalStateException();
            }
            k += count;
            pos += (long) count * es;
            left -= (long) count * es;
        }
    }

    /** Memory-maps a tensor's bytes (read-only, little-endian order set) without copying. */
    public ByteBuffer map(String name) throws IOException {
        TensorInfo t = info(name);
        if (t.byteSize() > Integer.MAX_VALUE) {
            throw bad(file, "tensor \"" + name + "\" has " + t.byteSize() + " bytes, more than one mapping holds");
        }
        return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads every float tensor of a file (header order). */
    public static Map<String, float[]> readAllFloats(Path file) throws IOException {
        try (SafeTensors st = open(file)) {
            Map<String, float[]> out = new LinkedHashMap<>();
            for (String name : st.names()) out.put(name, st.readFloats(name));
            return out;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) throw bad(file, "unexpected end of file at byte " + pos);
            pos += r;
        }
    }

    private static SafeTensorsException bad(Path file, String problem) {
        return new SafeTensorsException(file + ": " + problem);
    }

    // ------------------------------------------------------------------------------------ writing

    /** A new writer. */
    public static Writer writer() {
        return new Writer();
    }

    /** Collects tensors (written in the order added) and metadata, then writes one file. */
    public static final class Writer {
        private record Entry(String name, Dtype dtype, long[] shape, float[] data) {}

        private final Map<String, Entry> entries = new LinkedHashMap<>();
        private final Map<String, String> metadata = new LinkedHashMap<>();

        private Writer() {}

        /** Adds a tensor stored as F32. */
        public Writer add(String name, float[] data, long... shape) {
            return add(name, Dtype.F32, data, shape);
        }

        /** Adds a tensor stored as F32, BF16 or F16 (rounded to nearest even). data.length must equal numel. */
        public Writer add(String name, Dtype dtype, float[] data, long... shape) {
            if (name == null || name.isEmpty()) throw new IllegalArgumentException("tensor name must be non-empty");
            if (name.equals(METADATA_KEY)) throw new IllegalArgumentException("\"" + METADATA_KEY + "\" is reserved");
            if (entries.containsKey(name)) throw new IllegalArgumentException("tensor \"" + name + "\" added twice");
            if (dtype != Dtype.F32 && dtype != Dtype.BF16 && dtype != Dtype.F16) {
                throw new IllegalArgumentException("tensor \"" + name + "\": can write F32, BF16 or F16, not " + dtype);
            }
            long n = 1;
            for (long d : shape) {
                if (d < 0) throw new IllegalArgumentException("tensor \"" + name + "\": negative dimension in " + Arrays.toString(shape));
                n = Math.multiplyExact(n, d);
            }
            if (n != data.length) {
                throw new IllegalArgumentException("tensor \"" + name + "\": shape " + Arrays.toString(shape) + " has "
                        + n + " elements but data has " + data.length);
            }
            entries.put(name, new Entry(name, dtype, shape.clone(), data));
            return this;
        }

        /** Adds a __metadata__ entry. */
        public Writer metadata(String key, String value) {
            metadata.put(key, value);
            return this;
        }

        /**
         * Writes the file atomically through {@link OutputFiles} (header padded with spaces to a multiple of 8
         * bytes so data is aligned); an existing file is replaced only when it is a SafeTensors file.
         */
        public void write(Path file) throws IOException {
            OutputFiles.write(file, KIND, this::writeTo);
        }

        private void writeTo(Path file) throws IOException {
            JsonObject header = new JsonObject();
            if (!metadata.isEmpty()) {
                JsonObject m = new JsonObject();
                metadata.forEach(m::addProperty);
                header.add(METADATA_KEY, m);
            }
            long offset = 0;
            for (Entry e : entries.values()) {
                JsonObject t = new JsonObject();
                t.addProperty("dtype", e.dtype.name());
                JsonArray shape = new JsonArray();
                for (long d : e.shape) shape.add(d);
                t.add("shape", shape);
                long bytes = (long) e.data.length * e.dtype.bytes;
                JsonArray off = new JsonArray();
                off.add(offset);
                off.add(offset + bytes);
                t.add("data_offsets", off);
                header.add(e.name, t);
                offset += bytes;
            }
            byte[] json = GSON.toJson(header).getBytes(StandardCharsets.UTF_8);
            int padded = (json.length + 7) & ~7;
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) head.put((byte) ' ');
            head.flip();
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, head);
                ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (Entry e : entries.values()) {
                    for (float f : e.data) {
                        if (buf.remaining() < 4) {
                            buf.flip();
                            writeFully(ch, buf);
                            buf.clear();
                        }
                        switch (e.dtype) {
                            case F32 -> buf.putFloat(f);
                            case BF16 -> buf.putShort(HalfFloats.floatToBf16(f));
                            default -> buf.putShort(HalfFloats.floatToF16(f));
                        }
                    }
                }
                buf.flip();
                writeFully(ch, buf);
            }
        }

        private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
            while (b.hasRemaining()) ch.write(b);
        }
    }
}
