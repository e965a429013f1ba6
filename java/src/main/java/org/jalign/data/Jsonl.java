package org.jalign.data;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.jalign.io.OutputFiles;
import org.jalign.io.StrictJson;

/**
 * JSON Lines reading and writing shared by the example types.
 *
 * <p>Reading policy: the file must be UTF-8 (a leading byte-order mark is ignored); lines are separated by
 * "\n" or "\r\n"; blank lines (empty or only whitespace) are skipped; every other line must be one strict
 * JSON object (see {@link StrictJson}); fields the record type does not know are ignored. Any problem
 * raises a {@link DataFormatException} naming the file and the 1-based line.
 *
 * <p>Writing: one compact JSON object per line, "\n" after each, UTF-8, no HTML escaping (so
 * {@code <|end|>} stays readable).
 */
public final class Jsonl {
    /**
     * The longest line accepted, in bytes (16 MiB). A longer line is a {@link DataFormatException}, raised before
     * the line is buffered, so a hostile file cannot make the reader allocate without bound.
     */
    public static final int MAX_LINE_BYTES = 16 << 20;

    static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    private Jsonl() {}

    /** Parses one JSON object into a record; IllegalArgumentException messages become the error text. */
    @FunctionalInterface
    public interface RecordParser<T> {
        T parse(JsonObject o);
    }

    /** Reads every non-blank line of a JSONL file as a JSON object and converts it. */
    public static <T> List<T> read(Path file, RecordParser<T> parser) throws IOException {
        List<T> out = new ArrayList<>();
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try (InputStream in = Files.newInputStream(file)) {
            LineSplitter lines = new LineSplitter(in);
            long lineNo = 0;
            while (true) {
                ByteBuffer raw;
                try {
                    raw = lines.next();
                } catch (LineTooLongException e) {
                    throw new DataFormatException(file, lineNo + 1, "line is longer than " + MAX_LINE_BYTES
                            + " bytes", null);
                }
                if (raw == null) break;
                lineNo++;
                String line;
                try {
                    line = decoder.decode(raw).toString();
                } catch (CharacterCodingException e) {
                    throw new DataFormatException(file, lineNo, "not valid UTF-8", e);
                }
                if (lineNo == 1 && line.startsWith("\uFEFF")) line = line.substring(1);
                if (line.isBlank()) continue;
                JsonElement e;
                try {
                    e = StrictJson.parse(line);
                } catch (JsonParseException ex) {
                    throw new DataFormatException(file, lineNo, ex.getMessage(), ex);
                }
                if (!e.isJsonObject()) {
                    throw new DataFormatException(file, lineNo, "expected a JSON object, got " + StrictJson.typeName(e), null);
                }
                try {
                    out.add(parser.parse(e.getAsJsonObject()));
                } catch (IllegalArgumentException ex) {
                    throw new DataFormatException(file, lineNo, ex.getMessage(), ex);
                }
            }
        }
        return out;
    }

    private static final class LineTooLongException extends IOException {
        LineTooLongException() {
            super("line too long");
        }
    }

    /**
     * Splits a stream into lines at '\n' bytes, reading in 64 KiB chunks; the last line may lack '\n'. A line
     * longer than {@link #MAX_LINE_BYTES} is a {@link LineTooLongException}.
     */
    private static final class LineSplitter {
        private final InputStream in;
        private byte[] buf = new byte[1 << 16];
        private int start;
        private int end;
        private boolean eof;

        LineSplitter(InputStream in) {
            this.in = in;
        }

        /** The next line without its '\n' (valid until the next call), or null at the end of the stream. */
        ByteBuffer next() throws IOException {
            int scan = start;
            while (true) {
                for (int i = scan; i < end; i++) {
                    if (buf[i] == '\n') {
                        ByteBuffer line = ByteBuffer.wrap(buf, start, i - start);
                        start = i + 1;
                        return line;
                    }
                }
                if (eof) {
                    if (start == end) return null;
                    ByteBuffer line = ByteBuffer.wrap(buf, start, end - start);
                    start = end;
                    return line;
                }
                // move the partial line to the front (growing the buffer for long lines), then read more
                int len = end - start;
                if (len >= MAX_LINE_BYTES) throw new LineTooLongException();
                if (len == buf.length) {
                    buf = java.util.Arrays.copyOf(buf, Math.min(buf.length * 2, MAX_LINE_BYTES + 1));
                }
                else if (start > 0) System.arraycopy(buf, start, buf, 0, len);
                start = 0;
                end = len;
                scan = len;
                int r = in.read(buf, end, buf.length - end);
                if (r < 0) eof = true;
                else end += r;
            }
        }
    }

    /**
     * Writes one JSON object per record, atomically through {@link OutputFiles}; an existing file is replaced
     * only when it is JSONL that {@code parser} reads whole ({@code what} names the records in the refusal).
     */
    public static <T> void write(Path file, String what, RecordParser<T> parser, List<T> records,
            Function<T, JsonObject> toJson) throws IOException {
        OutputFiles.write(file, kind(what, parser), tmp -> {
            try (Writer w = new BufferedWriter(Files.newBufferedWriter(tmp, StandardCharsets.UTF_8))) {
                for (T rec : records) {
                    w.write(GSON.toJson(toJson.apply(rec)));
                    w.write('\n');
                }
            }
        });
    }

    /** JSON Lines of the records {@code parser} reads, as an output kind. */
    public static OutputFiles.Kind kind(String what, RecordParser<?> parser) {
        return new OutputFiles.Kind("JSON Lines of " + what, p -> {
            try {
                read(p, parser);
                return true;
            } catch (DataFormatException e) {
                return false;
            }
        });
    }

    // ---------------------------------------------------------------- field access with clear messages

    /** A required string field. */
    static String string(JsonObject o, String field) {
        JsonElement e = o.get(field);
        if (e == null) throw new IllegalArgumentException("missing field \"" + field + "\"");
        if (!StrictJson.isString(e)) {
            throw new IllegalArgumentException("field \"" + field + "\" must be a string, got " + StrictJson.typeName(e));
        }
        return e.getAsString();
    }

    /** A required array field. */
    static JsonArray array(JsonObject o, String field) {
        JsonElement e = o.get(field);
        if (e == null) throw new IllegalArgumentException("missing field \"" + field + "\"");
        if (!e.isJsonArray()) {
            throw new IllegalArgumentException("field \"" + field + "\" must be an array, got " + StrictJson.typeName(e));
        }
        return e.getAsJsonArray();
    }

    /** A list of strings from an array field. */
    static List<String> strings(JsonObject o, String field) {
        JsonArray a = array(o, field);
        List<String> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            if (!StrictJson.isString(a.get(i))) {
                throw new IllegalArgumentException(field + "[" + i + "] must be a string, got " + StrictJson.typeName(a.get(i)));
            }
            out.add(a.get(i).getAsString());
        }
        return out;
    }

    /** A list of ints from an array field (each written as an integer in int range). */
    static List<Integer> ints(JsonObject o, String field) {
        JsonArray a = array(o, field);
        List<Integer> out = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            JsonElement e = a.get(i);
            if (!StrictJson.isInteger(e)) {
                throw new IllegalArgumentException(field + "[" + i + "] must be an integer, got "
                        + (StrictJson.isNumber(e) ? e.toString() : StrictJson.typeName(e)));
            }
            try {
                out.add(e.getAsBigDecimal().intValueExact());
            } catch (ArithmeticException ex) {
                throw new IllegalArgumentException(field + "[" + i + "] = " + e + " is out of range");
            }
        }
        return out;
    }

    /** An optional finite number field; {@code absent} when missing or null. */
    static double number(JsonObject o, String field, double absent) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) return absent;
        if (!StrictJson.isNumber(e)) {
            throw new IllegalArgumentException("field \"" + field + "\" must be a number, got " + StrictJson.typeName(e));
        }
        double d = e.getAsDouble();
        if (!Double.isFinite(d)) throw new IllegalArgumentException("field \"" + field + "\" = " + e + " is not finite");
        return d;
    }

    static String requireNonEmpty(String value, String what) {
        if (value == null) throw new IllegalArgumentException(what + " is null");
        if (value.isEmpty()) throw new IllegalArgumentException(what + " is empty");
        return value;
    }
}
