package org.jalign.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.math.BigDecimal;
import java.util.regex.Pattern;

/**
 * Strict JSON (RFC 8259) parsing on top of Gson's streaming reader: no comments, no single quotes, no
 * unquoted names, no NaN/Infinity, no trailing content, and no duplicate object keys. Numbers keep their
 * exact decimal value, so integer fields can be checked exactly ({@link #isInteger}).
 *
 * <p>Errors are {@link JsonParseException}s whose message says what was wrong and where (Gson's
 * "line L column C" position within the parsed text).
 */
public final class StrictJson {
    private static final Pattern INTEGER = Pattern.compile("-?(0|[1-9][0-9]*)");
    private static final int MAX_DEPTH = 64;

    private StrictJson() {}

    /**
     * Parses one JSON value that must span the whole text (surrounding whitespace allowed). A NaN or Infinity
     * literal is reported as such ("NaN/Infinity are not JSON at line L column C").
     */
    public static JsonElement parse(String text) {
        try {
            return parse(new StringReader(text));
        } catch (JsonParseException e) {
            java.util.regex.Matcher m = POSITION.matcher(String.valueOf(e.getMessage()));
            if (m.find() && nonFiniteLiteralAt(text, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)))) {
                throw new JsonParseException("NaN/Infinity are not JSON (at line " + m.group(1) + " column "
                        + m.group(2) + ")", e);
            }
            throw e;
        }
    }

    /** Parses one JSON value that must span the whole input. */
    public static JsonElement parse(Reader in) {
        try {
            JsonReader r = new JsonReader(in);
            r.setStrictness(Strictness.STRICT);
            JsonElement e = read(r, 0);
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new JsonParseException("unexpected content after the JSON value at " + where(r));
            }
            return e;
        } catch (java.io.EOFException e) {
            throw new JsonParseException("invalid JSON: unexpected end of input", e);
        } catch (IOException | IllegalStateException | NumberFormatException e) {
            throw new JsonParseException("invalid JSON: " + clean(e.getMessage()), e);
        }
    }

    private static final Pattern POSITION = Pattern.compile("line (\\d+) column (\\d+)");
    private static final Pattern NON_FINITE = Pattern.compile("-?(NaN|Infinity)\\b");

    /** Whether a NaN or Infinity literal starts at (1-based) line, column of text. */
    private static boolean nonFiniteLiteralAt(String text, int line, int column) {
        int i = 0;
        for (int l = 1; l < line && i >= 0; l++) {
            i = text.indexOf('\n', i);
            if (i >= 0) i++;
        }
        if (i < 0) return false;
        int at = i + column - 1;
        // Gson reports the column after a leading minus sign for "-Infinity"; look one back as well
        for (int k = Math.max(i, at - 1); k <= at && k < text.length(); k++) {
            if (k >= 0 && NON_FINITE.matcher(text).region(k, text.length()).lookingAt()) return true;
        }
        return false;
    }

    /** Gson's message without its advice to parse leniently and its troubleshooting links. */
    private static String clean(String gson) {
        if (gson == null) return "malformed JSON";
        return gson.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON")
                .replaceAll("\\s*See https?://\\S+", "").trim();
    }

    private static String where(JsonReader r) {
        String s = r.toString(); // "JsonReader at line L column C path $..."
        int i = s.indexOf(" at ");
        return i >= 0 ? s.substring(i + 4) : s;
    }

    private static JsonElement read(JsonReader r, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new JsonParseException("JSON nested deeper than " + MAX_DEPTH + " at " + where(r));
        switch (r.peek()) {
            case BEGIN_OBJECT -> {
                JsonObject o = new JsonObject();
                r.beginObject();
                while (r.hasNext()) {
                    String name = r.nextName();
                    if (o.has(name)) throw new JsonParseException("duplicate key \"" + name + "\" at " + where(r));
                    o.add(name, read(r, depth + 1));
                }
                r.endObject();
                return o;
            }
            case BEGIN_ARRAY -> {
                JsonArray a = new JsonArray();
                r.beginArray();
                while (r.hasNext()) a.add(read(r, depth + 1));
                r.endArray();
                return a;
            }
            case STRING -> {
                return new JsonPrimitive(r.nextString());
            }
            case NUMBER -> {
                return new JsonPrimitive(new BigDecimal(r.nextString()));
            }
            case BOOLEAN -> {
                return new JsonPrimitive(r.nextBoolean());
            }
            case NULL -> {
                r.nextNull();
                return JsonNull.INSTANCE;
            }
            default -> throw new JsonParseException("unexpected " + r.peek() + " at " + where(r));
        }
    }

    /** Whether e is a JSON number written as an integer (no fraction, no exponent). */
    public static boolean isInteger(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()
                && INTEGER.matcher(e.getAsJsonPrimitive().getAsBigDecimal().toString()).matches();
    }

    /** Whether e is a JSON string. */
    public static boolean isString(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString();
    }

    /** Whether e is a JSON number. */
    public static boolean isNumber(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber();
    }

    /** The JSON type of e, for error messages: object, array, string, number, boolean or null. */
    public static String typeName(JsonElement e) {
        if (e == null || e.isJsonNull()) return "null";
        if (e.isJsonObject()) return "object";
        if (e.isJsonArray()) return "array";
        JsonPrimitive p = e.getAsJsonPrimitive();
        return p.isString() ? "string" : p.isNumber() ? "number" : "boolean";
    }
}
