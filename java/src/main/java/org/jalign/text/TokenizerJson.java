package org.jalign.text;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.nio.file.Path;
import org.jalign.io.JsonConfig;
import org.jalign.io.StrictJson;

/**
 * The one place where Hugging Face tokenizer files (tokenizer.json, tokenizer_config.json) are read and parsed
 * as JSON, plus typed field access whose errors name the file and the field. Every problem is a
 * {@link TokenizerFormatException}.
 */
final class TokenizerJson {
    /** Larger files are refused before they are read (the largest real tokenizer.json files are ~30 MB). */
    static final long MAX_FILE_BYTES = 256L << 20;

    private TokenizerJson() {}

    /** Reads a file as strict UTF-8 (a leading BOM is dropped), as every JSON file is read ({@link JsonConfig}). */
    static String readText(Path file) throws IOException {
        try {
            return JsonConfig.readUtf8(file, MAX_FILE_BYTES);
        } catch (JsonConfig.JsonConfigException e) {
            throw new TokenizerFormatException(e.getMessage(), e);
        }
    }

    /** Parses JSON text; the message names {@code name} (a file) and says what is wrong where. */
    static JsonObject parseObject(String text, String name) {
        JsonElement root;
        try {
            root = StrictJson.parse(text);
        } catch (JsonParseException e) {
            throw new TokenizerFormatException(name + ": " + e.getMessage(), e);
        }
        if (!root.isJsonObject()) throw new TokenizerFormatException(name + ": top level must be an object");
        return root.getAsJsonObject();
    }

    /** A string for a message: JSON-quoted, cut to at most max chars. */
    static String quoted(String s, int max) {
        String q = s.length() > max ? s.substring(0, max) + "..." : s;
        return new com.google.gson.Gson().toJson(q);
    }

    static boolean isNull(JsonElement e) {
        return e == null || e.isJsonNull();
    }

    static String string(JsonObject o, String key, String where) {
        JsonElement e = o.get(key);
        if (!StrictJson.isString(e)) {
            throw new TokenizerFormatException(where + "." + key + " must be a string, got " + StrictJson.typeName(e));
        }
        return e.getAsString();
    }

    static String optString(JsonObject o, String key, String where, String dflt) {
        return isNull(o.get(key)) ? dflt : string(o, key, where);
    }

    static boolean optBool(JsonObject o, String key, String where, boolean dflt) {
        JsonElement e = o.get(key);
        if (isNull(e)) return dflt;
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new TokenizerFormatException(where + "." + key + " must be true or false, got " + e);
        }
        return e.getAsBoolean();
    }

    static JsonObject object(JsonElement e, String where) {
        if (e == null || !e.isJsonObject()) {
            throw new TokenizerFormatException(where + " must be an object, got " + StrictJson.typeName(e));
        }
        return e.getAsJsonObject();
    }

    static String type(JsonObject o, String where) {
        return string(o, "type", where);
    }

    /** A non-negative id below 2^24. */
    static int id(JsonElement v, String where) {
        if (!StrictJson.isInteger(v)) throw new TokenizerFormatException(where + ": id must be an integer, got " + v);
        java.math.BigDecimal d = v.getAsBigDecimal();
        if (d.signum() < 0 || d.compareTo(java.math.BigDecimal.valueOf(1 << 24)) >= 0) {
            throw new TokenizerFormatException(where + ": id " + d + " outside [0, 2^24)");
        }
        return d.intValue();
    }

    static int optNonNegative(JsonObject o, String key, String where, int dflt) {
        JsonElement e = o.get(key);
        if (isNull(e)) return dflt;
        if (!StrictJson.isInteger(e) || e.getAsBigDecimal().signum() < 0
                || e.getAsBigDecimal().compareTo(java.math.BigDecimal.valueOf(1 << 20)) > 0) {
            throw new TokenizerFormatException(where + "." + key + " must be an integer in [0, 2^20], got " + e);
        }
        return e.getAsInt();
    }
}
