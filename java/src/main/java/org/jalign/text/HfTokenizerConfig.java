package org.jalign.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jalign.io.StrictJson;

/**
 * The parts of a Hugging Face {@code tokenizer_config.json} that chat rendering needs: {@code bos_token},
 * {@code eos_token}, {@code pad_token}, {@code unk_token} (each a string or an AddedToken object with
 * {@code content}), {@code add_bos_token} / {@code add_eos_token}, and {@code chat_template}: one template
 * string, or a list of {@code {"name", "template"}} objects of which the one named "default" is used. Every
 * problem is a {@link TokenizerFormatException} naming the file and the field.
 */
public final class HfTokenizerConfig {
    private final String file;
    private final String bosToken, eosToken, padToken, unkToken;
    private final Boolean addBosToken, addEosToken;
    private final Map<String, String> templates;

    private HfTokenizerConfig(String file, JsonObject o) {
        this.file = file;
        bosToken = token(o, "bos_token");
        eosToken = token(o, "eos_token");
        padToken = token(o, "pad_token");
        unkToken = token(o, "unk_token");
        addBosToken = TokenizerJson.isNull(o.get("add_bos_token")) ? null : TokenizerJson.optBool(o, "add_bos_token", file, false);
        addEosToken = TokenizerJson.isNull(o.get("add_eos_token")) ? null : TokenizerJson.optBool(o, "add_eos_token", file, false);
        templates = new LinkedHashMap<>();
        JsonElement t = o.get("chat_template");
        if (TokenizerJson.isNull(t)) return;
        if (StrictJson.isString(t)) {
            templates.put("default", t.getAsString());
        } else if (t.isJsonArray()) {
            JsonArray a = t.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                String w = file + ": chat_template[" + i + "]";
                JsonObject e = TokenizerJson.object(a.get(i), w);
                String name = TokenizerJson.string(e, "name", w);
                if (templates.put(name, TokenizerJson.string(e, "template", w)) != null) {
                    throw new TokenizerFormatException(w + ": a second template named \"" + name + "\"");
                }
            }
        } else {
            throw new TokenizerFormatException(file + ": chat_template must be a string or a list of {name, template}, got "
                    + StrictJson.typeName(t));
        }
    }

    /** Loads a tokenizer_config.json. */
    public static HfTokenizerConfig load(Path tokenizerConfigJson) throws IOException {
        return parse(TokenizerJson.readText(tokenizerConfigJson), tokenizerConfigJson.toString());
    }

    /** Parses tokenizer_config.json text; {@code name} (usually the file) starts every error message. */
    public static HfTokenizerConfig parse(String json, String name) {
        return new HfTokenizerConfig(name, TokenizerJson.parseObject(json, name));
    }

    private String token(JsonObject o, String key) {
        JsonElement e = o.get(key);
        if (TokenizerJson.isNull(e)) return null;
        if (StrictJson.isString(e)) return e.getAsString();
        if (e.isJsonObject()) return TokenizerJson.string(e.getAsJsonObject(), "content", file + ": " + key);
        throw new TokenizerFormatException(file + ": " + key + " must be a string or an object with \"content\", got "
                + StrictJson.typeName(e));
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
