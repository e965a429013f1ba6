package org.jalign.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * A typed, checked view of a JSON configuration file ({@code config.json}, {@code generation_config.json},
 * {@code tokenizer_config.json}, ...). Every error is a {@link JsonConfigException} naming the file and the key:
 * integers are checked exactly (no rounding of 2.7, no wrapping of 2^32 + 2), booleans must be JSON booleans,
 * strings must be strings, and the file must be strict UTF-8 JSON.
 *
 * <p>Keys of nested objects are named by their path, e.g. {@code rope_scaling.factor}.
 */
public final class JsonConfig {
  /** Largest file read (a configuration, not a tensor). */
  public static final long MAX_BYTES = 64L << 20;

  /** Any problem in a configuration file; the message names the file and, where one is at fault, the key. */
  public static final class JsonConfigException extends IOException {
    public JsonConfigException(String message) {
      super(message);
    }

    public JsonConfigException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final Path file;
  private final String prefix;
  private final JsonObject o;

  private JsonConfig(Path file, String prefix, JsonObject o) {
    this.file = file;
    this.prefix = prefix;
    this.o = o;
  }

  /** Reads {@code file}: strict UTF-8 (a leading BOM is skipped), strict JSON, an object at the top. */
  public static JsonConfig read(Path file) throws IOException {
    return parse(readUtf8(file, MAX_BYTES), file);
  }

  /** Parses configuration text that came from {@code file} (named in every message), as {@link #read} does. */
  public static JsonConfig parse(String text, Path file) throws IOException {
    JsonElement e;
    try {
      e = StrictJson.parse(text);
    } catch (JsonParseException ex) {
      throw new JsonConfigException(file + ": " + ex.getMessage(), ex);
    }
    if (!e.isJsonObject()) {
      throw new JsonConfigException(file + ": expected a JSON object at the top, got " + StrictJson.typeName(e));
    }
    return new JsonConfig(file, "", e.getAsJsonObject());
  }

  /**
   * The text of {@code file} as strict UTF-8 (a leading BOM dropped); a file over {@code maxBytes} or with
   * malformed bytes is refused with the byte offset.
   */
  public static String readUtf8(Path file, long maxBytes) throws IOException {
    long size = Files.size(file);
    if (size > maxBytes) {
      throw new JsonConfigException(file + ": " + size + " bytes, more than the " + maxBytes + " read as text");
    }
    byte[] b = Files.readAllBytes(file);
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(b);
    try {
      String s = d.decode(in).toString();
      return s.startsWith("\uFEFF") ? s.substring(1) : s;
    } catch (CharacterCodingException e) {
      throw new JsonConfigException(file + ": not valid UTF-8 (at byte " + firstBadByte(b) + ")", e);
    }
  }

  private static int firstBadByte(byte[] b) {
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(b);
    java.nio.CharBuffer out = java.nio.CharBuffer.allocate(b.length + 1);
    d.decode(in, out, true);
    return in.position();
  }

  public Path file() {
    return file;
  }

  /** The keys present at this level. */
  public Set<String> keys() {
    return o.keySet();
  }

  /** Whether {@code key} is present with a non-null value. */
  public boolean has(String key) {
    JsonElement e = o.get(key);
    return e != null && !e.isJsonNull();
  }

  /** The raw value, when present and not null. */
  public Optional<JsonElement> raw(String key) {
    return has(key) ? Optional.of(o.get(key)) : Optional.empty();
  }

  /** A failure about {@code key} of this file. */
  public JsonConfigException error(String key, String what) {
    return new JsonConfigException(file + ": \"" + prefix + key + "\" " + what);
  }

  private JsonElement required(String key) throws JsonConfigException {
    if (!has(key)) throw error(key, "is missing");
    return o.get(key);
  }

  // ------------------------------------------------------------------ integers

  /** A required integer in [min, max]. */
  public long getLong(String key, long min, long max) throws JsonConfigException {
    return integer(key, required(key), min, max);
  }

  /** An optional integer in [min, max]; {@code def} when absent or null. */
  public long getLong(String key, long def, long min, long max) throws JsonConfigException {
    return has(key) ? integer(key, o.get(key), min, max) : def;
  }

  /** A required integer in [min, max] that fits an int. */
  public int getInt(String key, int min, int max) throws JsonConfigException {
    return (int) getLong(key, min, max);
  }

  /** An optional integer in [min, max]; {@code def} when absent or null. */
  public int getInt(String key, int def, int min, int max) throws JsonConfigException {
    return (int) getLong(key, def, min, max);
  }

  private long integer(String key, JsonElement e, long min, long max) throws JsonConfigException {
    if (!StrictJson.isNumber(e)) throw error(key, "must be an integer, got " + describe(e));
    BigDecimal d = e.getAsBigDecimal();
    BigDecimal exact;
    try {
      exact = new BigDecimal(d.toBigIntegerExact());
    } catch (ArithmeticException notInteger) {
      throw error(key, "must be an integer, got " + d.toPlainString());
    }
    if (exact.compareTo(BigDecimal.valueOf(min)) < 0 || exact.compareTo(BigDecimal.valueOf(max)) > 0) {
      throw error(key, "must be in [" + min + ", " + max + "], got " + exact.toPlainString());
    }
    return exact.longValueExact();
  }

  /**
   * An integer or a list of integers (e.g. {@code eos_token_id}), each in [min, max]; an empty array when
   * absent or null.
   */
  public long[] getLongs(String key, long min, long max) throws JsonConfigException {
    if (!has(key)) return new long[0];
    JsonElement e = o.get(key);
    if (!e.isJsonArray()) return new long[] {integer(key, e, min, max)};
    JsonArray a = e.getAsJsonArray();
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) out[i] = integer(key + "[" + i + "]", a.get(i), min, max);
    return out;
  }

  // ------------------------------------------------------------------ other types

  /** A required finite number in [min, max]. */
  public double getDouble(String key, double min, double max) throws JsonConfigException {
    return number(key, required(key), min, max);
  }

  /** An optional finite number in [min, max]; {@code def} when absent or null. */
  public double getDouble(String key, double def, double min, double max) throws JsonConfigException {
    return has(key) ? number(key, o.get(key), min, max) : def;
  }

  private double number(String key, JsonElement e, double min, double max) throws JsonConfigException {
    if (!StrictJson.isNumber(e)) throw error(key, "must be a number, got " + describe(e));
    double v = e.getAsBigDecimal().doubleValue();
    if (!Double.isFinite(v) || v < min || v > max) {
      throw error(key, "must be in [" + min + ", " + max + "], got " + e.getAsBigDecimal().toString());
    }
    return v;
  }

  /** An optional boolean; {@code def} when absent or null. */
  public boolean getBoolean(String key, boolean def) throws JsonConfigException {
    if (!has(key)) return def;
    JsonElement e = o.get(key);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
      throw error(key, "must be true or false, got " + describe(e));
    }
    return e.getAsBoolean();
  }

  /** A required string. */
  public String getString(String key) throws JsonConfigException {
    return string(key, required(key));
  }

  /** An optional string; {@code def} when absent or null. */
  public String getString(String key, String def) throws JsonConfigException {
    return has(key) ? string(key, o.get(key)) : def;
  }

  private String string(String key, JsonElement e) throws JsonConfigException {
    if (!StrictJson.isString(e)) throw error(key, "must be a string, got " + describe(e));
    return e.getAsString();
  }

  /** A nested object, when present and not null; its keys are named {@code key.inner} in errors. */
  public Optional<JsonConfig> getObject(String key) throws JsonConfigException {
    if (!has(key)) return Optional.empty();
    JsonElement e = o.get(key);
    if (!e.isJsonObject()) throw error(key, "must be an object, got " + describe(e));
    return Optional.of(new JsonConfig(file, prefix + key + ".", e.getAsJsonObject()));
  }

  private static String describe(JsonElement e) {
    String t = StrictJson.typeName(e);
    if (e.isJsonPrimitive()) {
      String v = e.toString();
      return t + " " + (v.length() > 40 ? v.substring(0, 40) + "..." : v);
    }
    return t.equals("object") || t.equals("array") ? "an " + t : t;
  }
}
