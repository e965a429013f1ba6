package org.jalign.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jalign.io.StrictJson;

/**
 * Loaders for byte-level BPE tokenizers written by other tools. Every problem in a file is reported as a
 * {@link TokenizerFormatException} naming the file and, where it applies, the line or JSON field.
 */
final class BpeLoaders {
    private BpeLoaders() {}

    /**
     * GPT-2's files: vocab.json (byte-level spelling → id) and merges.txt (an optional "#version" line,
     * then one "a b" merge per line in rank order). Entries of vocab.json whose text is one of
     * {@link Tokenizer#STANDARD_SPECIALS} (GPT-2 has {@code <|endoftext|>}) become special tokens.
     */
    static BpeTokenizer fromGpt2Files(Path vocabJson, Path mergesTxt) throws IOException {
        Map<String, Integer> vocab = readVocab(TokenizerJson.parseObject(TokenizerJson.readText(vocabJson), vocabJson.toString()), vocabJson, "");
        List<String[]> merges = new ArrayList<>();
        List<Integer> mergeLines = new ArrayList<>();
        String[] lines = TokenizerJson.readText(mergesTxt).split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.isEmpty() || (i == 0 && line.startsWith("#version"))) continue;
            String[] parts = line.split(" ", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new TokenizerFormatException(mergesTxt + ":" + (i + 1)
                        + ": expected two tokens separated by one space, got \"" + line + "\"");
            }
            merges.add(parts);
            mergeLines.add(i + 1);
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (String s : Tokenizer.STANDARD_SPECIALS) {
            if (vocab.containsKey(s)) specials.put(s, vocab.get(s));
        }
        return build(vocab, specials, merges, (k) -> mergesTxt + ":" + mergeLines.get(k), vocabJson.toString());
    }

    /**
     * A Hugging Face tokenizer.json whose model is byte-level BPE: model.type "BPE", model.vocab,
     * model.merges as "a b" strings or ["a", "b"] arrays, added_tokens as specials; the pre-tokenizer must
     * be ByteLevel (alone, without add_prefix_space) and no normalizer may be set, since jalign reproduces
     * exactly that pipeline. Anything else is rejected with a message saying which field is unsupported.
     */
    static BpeTokenizer fromHuggingFaceJson(Path file) throws IOException {
        JsonElement root = TokenizerJson.parseObject(TokenizerJson.readText(file), file.toString());
        String f = file.toString();
        if (!root.isJsonObject()) throw new TokenizerFormatException(f + ": top level must be an object");
        JsonObject o = root.getAsJsonObject();
        JsonElement normalizer = o.get("normalizer");
        if (normalizer != null && !normalizer.isJsonNull()) {
            throw new TokenizerFormatException(f + ": normalizer " + typeOf(normalizer)
                    + " is not supported (jalign's byte-level BPE uses none)");
        }
        checkPreTokenizer(o.get("pre_tokenizer"), f);
        JsonElement model = o.get("model");
        if (model == null || !model.isJsonObject()) throw new TokenizerFormatException(f + ": missing object \"model\"");
        JsonObject m = model.getAsJsonObject();
        JsonElement type = m.get("type");
        if (type != null && !(StrictJson.isString(type) && type.getAsString().equals("BPE"))) {
            throw new TokenizerFormatException(f + ": model.type is " + type + ", only \"BPE\" is supported");
        }
        for (String unsupported : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            JsonElement e = m.get(unsupported);
            if (e != null && !e.isJsonNull() && !(StrictJson.isString(e) && e.getAsString().isEmpty())) {
                throw new TokenizerFormatException(f + ": model." + unsupported + " is not supported");
            }
        }
        JsonElement dropout = m.get("dropout");
        if (dropout != null && !dropout.isJsonNull()
                && !(StrictJson.isNumber(dropout) && dropout.getAsDouble() == 0.0)) {
            throw new TokenizerFormatException(f + ": model.dropout " + dropout + " is not supported");
        }
        JsonElement fallback = m.get("byte_fallback");
        if (fallback != null && !fallback.isJsonNull() && !(fallback.isJsonPrimitive() && !fallback.getAsBoolean())) {
            throw new TokenizerFormatException(f + ": model.byte_fallback is not supported");
        }
        JsonElement vocabEl = m.get("vocab");
        if (vocabEl == null) throw new TokenizerFormatException(f + ": missing model.vocab");
        Map<String, Integer> vocab = readVocab(vocabEl, file, "model.vocab");
        JsonElement mergesEl = m.get("merges");
        if (mergesEl == null || !mergesEl.isJsonArray()) {
            throw new TokenizerFormatException(f + ": model.merges must be an array");
        }
        JsonArray arr = mergesEl.getAsJsonArray();
        List<String[]> merges = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            JsonElement e = arr.get(i);
            String[] parts;
            if (StrictJson.isString(e)) {
                parts = e.getAsString().split(" ", -1);
            } else if (e.isJsonArray() && e.getAsJsonArray().size() == 2
                    && StrictJson.isString(e.getAsJsonArray().get(0)) && StrictJson.isString(e.getAsJsonArray().get(1))) {
                parts = new String[] {e.getAsJsonArray().get(0).getAsString(), e.getAsJsonArray().get(1).getAsString()};
            } else {
                throw new TokenizerFormatException(f + ": model.merges[" + i + "] must be \"a b\" or [\"a\", \"b\"], got " + e);
            }
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new TokenizerFormatException(f + ": model.merges[" + i + "] must name two tokens, got " + e);
            }
            merges.add(parts);
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        JsonElement added = o.get("added_tokens");
        if (added != null && !added.isJsonNull()) {
            if (!added.isJsonArray()) throw new TokenizerFormatException(f + ": added_tokens must be an array");
            JsonArray a = added.getAsJsonArray();
            for (int i = 0; i < a.size(); i++) {
                String where = f + ": added_tokens[" + i + "]";
                if (!a.get(i).isJsonObject()) throw new TokenizerFormatException(where + " must be an object");
                JsonObject t = a.get(i).getAsJsonObject();
                if (!StrictJson.isInteger(t.get("id"))) throw new TokenizerFormatException(where + ".id must be an integer");
                if (!StrictJson.isString(t.get("content")) || t.get("content").getAsString().isEmpty()) {
                    throw new TokenizerFormatException(where + ".content must be a non-empty string");
                }
                int id = intId(t.get("id"), where + ".id");
                String content = t.get("content").getAsString();
                Integer prev = specials.put(content, id);
                if (prev != null && prev != id) {
                    throw new TokenizerFormatException(where + ": " + content + " added twice with ids " + prev + " and " + id);
                }
            }
        }
        return build(vocab, specials, merges, k -> f + ": model.merges[" + k + "]", f);
    }

    private static void checkPreTokenizer(JsonElement pre, String f) {
        if (pre == null || pre.isJsonNull() || !pre.isJsonObject()) {
            throw new TokenizerFormatException(f + ": pre_tokenizer must be a ByteLevel object");
        }
        JsonObject p = pre.getAsJsonObject();
        JsonElement type = p.get("type");
        if (!(StrictJson.isString(type) && type.getAsString().equals("ByteLevel"))) {
            throw new TokenizerFormatException(f + ": pre_tokenizer.type " + type + " is not supported (need \"ByteLevel\")");
        }
        JsonElement prefix = p.get("add_prefix_space");
        if (prefix != null && prefix.isJsonPrimitive() && prefix.getAsJsonPrimitive().isBoolean() && prefix.getAsBoolean()) {
            throw new TokenizerFormatException(f + ": pre_tokenizer.add_prefix_space=true is not supported");
        }
        JsonElement regex = p.get("use_regex");
        if (regex != null && regex.isJsonPrimitive() && regex.getAsJsonPrimitive().isBoolean() && !regex.getAsBoolean()) {
            throw new TokenizerFormatException(f + ": pre_tokenizer.use_regex=false is not supported");
        }
    }

    private interface Where {
        String of(int mergeIndex);
    }

    private static BpeTokenizer build(Map<String, Integer> vocab, Map<String, Integer> specials, List<String[]> merges,
            Where where, String vocabFile) {
        int maxId = -1;
        for (int id : vocab.values()) maxId = Math.max(maxId, id);
        for (int id : specials.values()) maxId = Math.max(maxId, id);
        byte[][] bytes = new byte[maxId + 1][];
        Map<String, Integer> specialIds = new LinkedHashMap<>(specials);
        Map<Integer, String> idOwner = new HashMap<>();
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String text = e.getKey();
            int id = e.getValue();
            String other = idOwner.put(id, text);
            if (other != null) {
                throw new TokenizerFormatException(vocabFile + ": tokens \"" + other + "\" and \"" + text + "\" share id " + id);
            }
            Integer sid = specialIds.get(text);
            if (sid != null) {
                if (sid != id) {
                    throw new TokenizerFormatException(vocabFile + ": special token " + text + " has id " + sid
                            + " but the vocabulary gives it " + id);
                }
                continue;
            }
            byte[] b = ByteLevel.decode(text);
            if (b == null || b.length == 0) {
                throw new TokenizerFormatException(vocabFile + ": token \"" + text + "\" (id " + id
                        + ") is not a byte-level spelling (a character outside GPT-2's byte-to-unicode table)");
            }
            bytes[id] = b;
        }
        for (Map.Entry<String, Integer> e : specialIds.entrySet()) {
            String other = idOwner.get(e.getValue());
            if (other != null && !other.equals(e.getKey())) {
                throw new TokenizerFormatException(vocabFile + ": special token " + e.getKey() + " has id " + e.getValue()
                        + ", which the vocabulary gives to \"" + other + "\"");
            }
        }
        int[][] m = new int[merges.size()][];
        for (int k = 0; k < merges.size(); k++) {
            String a = merges.get(k)[0], b = merges.get(k)[1];
            Integer ia = vocab.get(a), ib = vocab.get(b), ir = vocab.get(a + b);
            if (ia == null || ib == null) {
                throw new TokenizerFormatException(where.of(k) + ": merge \"" + a + " " + b + "\" names a token that is not in the vocabulary ("
                        + (ia == null ? a : b) + ")");
            }
            if (ir == null) {
                throw new TokenizerFormatException(where.of(k) + ": merge \"" + a + " " + b + "\" produces \"" + a + b
                        + "\", which is not in the vocabulary");
            }
            m[k] = new int[] {ia, ib, ir};
        }
        try {
            return new BpeTokenizer(bytes, specialIds, m);
        } catch (IllegalArgumentException e) {
            throw new TokenizerFormatException(vocabFile + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, Integer> readVocab(JsonElement el, Path file, String field) {
        String where = field.isEmpty() ? file.toString() : file + ": " + field;
        if (!el.isJsonObject()) throw new TokenizerFormatException(where + " must be an object of token → id");
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : el.getAsJsonObject().entrySet()) {
            vocab.put(e.getKey(), intId(e.getValue(), where + " token \"" + e.getKey() + "\""));
        }
        if (vocab.isEmpty()) throw new TokenizerFormatException(where + " is empty");
        return vocab;
    }

    private static int intId(JsonElement v, String what) {
        if (!StrictJson.isInteger(v)) throw new TokenizerFormatException(what + ": id must be an integer, got " + v);
        java.math.BigDecimal d = v.getAsBigDecimal();
        if (d.signum() < 0 || d.compareTo(java.math.BigDecimal.valueOf(1 << 24)) >= 0) {
            throw new TokenizerFormatException(what + ": id " + d + " outside [0, 2^24)");
        }
        return d.intValue();
    }

    private static String typeOf(JsonElement e) {
        return e.isJsonObject() && e.getAsJsonObject().has("type") ? e.getAsJsonObject().get("type").toString()
                : StrictJson.typeName(e);
    }
}
