package org.jalign.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jalign.io.JsonConfig;
import org.jalign.io.StrictJson;

/**
 * The parts of a Hugging Face {@code tokenizer_config.json} that chat rendering needs: {@code bos_token},
 * {@code eos_token}, {@code pad_token}, {@code unk_token} (each a string or an AddedToken object with
 * {@code content}), {@code add_bos_token} / {@code add_eos_token}, and {@code chat_template}: one template
 * string, or a list of {@code {"name", "template"}} objects of which the one named "default" is used. Every
 * problem is a {@link JsonConfig.JsonConfigException} naming the file and the key.
 */
public final class HfTokenizerConfig {
    private final String file;
    private final String text; // the file's JSON text, kept so that the configuration can be stored and exported
    private final String bosToken, eosToken, padToken, unkToken;
    private final Boolean addBosToken, addEosToken;
    private final Map<String, String> templates;

    private HfTokenizerConfig(JsonConfig c, String text) throws IOException {
        this.file = c.file().toString();
        this.text = text;
        bosToken = token(c, "bos_token");
        eosToken = token(c, "eos_token");
        padToken = token(c, "pad_token");
        unkToken = token(c, "unk_token");
        addBosToken = c.has("add_bos_token") ? c.getBoolean("add_bos_token", false) : null;
        addEosToken = c.has("add_eos_token") ? c.getBoolean("add_eos_token", false) : null;
        templates = new LinkedHashMap<>();
        Optional<JsonElement> t = c.raw("chat_template");
        if (t.isEmpty()) return;
        if (StrictJson.isString(t.get())) {
            templates.put("default", t.get().getAsString());
        } else if (t.get().isJsonArray()) {
            JsonArray a = t.get().getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                String w = "chat_template[" + i + "]";
                if (!a.get(i).isJsonObject()) throw c.error(w, "must be an object {name, template}");
                JsonObject e = a.get(i).getAsJsonObject();
                if (!StrictJson.isString(e.get("name")) || !StrictJson.isString(e.get("template"))) {
                    throw c.error(w, "must have string fields \"name\" and \"template\"");
                }
                String name = e.get("name").getAsString();
                if (templates.put(name, e.get("template").getAsString()) != null) {
                    throw c.error(w, "is a second template named \"" + name + "\"");
                }
            }
        } else {
            throw c.error("chat_template", "must be a string or a list of {name, template}, got "
                    + StrictJson.typeName(t.get()));
        }
    }

    /** Loads a tokenizer_config.json (read by {@link JsonConfig}: errors name the file and the key). */
    public static HfTokenizerConfig load(Path tokenizerConfigJson) throws IOException {
        return parse(JsonConfig.readUtf8(tokenizerConfigJson, JsonConfig.MAX_BYTES), tokenizerConfigJson);
    }

    /** Parses tokenizer_config.json text that came from {@code file} (named in every message). */
    public static HfTokenizerConfig parse(String text, Path file) throws IOException {
        return new HfTokenizerConfig(JsonConfig.parse(text, file), text);
    }

    /** The JSON text this configuration was read from. */
    public String text() {
        return text;
    }

    private static String token(JsonConfig c, String key) throws IOException {
        Optional<JsonElement> e = c.raw(key);
        if (e.isEmpty()) return null;
        if (StrictJson.isString(e.get())) return e.get().getAsString();
        if (e.get().isJsonObject()) return c.getObject(key).orElseThrow().getString("content");
        throw c.error(key, "must be a string or an object with \"content\", got " + StrictJson.typeName(e.get()));
    }

    /** The file this configuration came from, for messages. */
    public String file() {
        return file;
    }

    public Optional<String> bosToken() {
        return Optional.ofNullable(bosToken);
    }

    public Optional<String> eosToken() {
        return Optional.ofNullable(eosToken);
    }

    public Optional<String> padToken() {
        return Optional.ofNullable(padToken);
    }

    public Optional<String> unkToken() {
        return Optional.ofNullable(unkToken);
    }

    /** {@code add_bos_token} when the file sets it. */
    public Optional<Boolean> addBosToken() {
        return Optional.ofNullable(addBosToken);
    }

    public Optional<Boolean> addEosToken() {
        return Optional.ofNullable(addEosToken);
    }

    /** The template used for chats: the single one, or the one named "default". */
    public Optional<String> chatTemplate() {
        return Optional.ofNullable(templates.get("default"));
    }

    /** Every named template ("default" for a single string). */
    public Map<String, String> chatTemplates() {
        return Map.copyOf(templates);
    }
}
