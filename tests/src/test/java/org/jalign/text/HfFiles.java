package org.jalign.text;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.knuddels.jtokkit.Encodings;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** tokenizer.json files for tests, built from tiktoken ranks shipped in jtokkit or from small hand-made vocabularies. */
final class HfFiles {
    private HfFiles() {}

    /** Llama 3's pre-tokenizer regex (cl100k_base's). */
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Qwen2's: the same with single digits. */
    static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** A tiktoken rank file as {vocab (byte-level spelling → rank), merges ([a, b] in rank order)}. */
    record Ranks(JsonObject vocab, JsonArray merges, int size) {}

    private static final Map<String, Ranks> RANKS = new HashMap<>();

    /** The standard tiktoken → tokenizer.json conversion: a token's merge is the two-part split tiktoken's BPE reaches with lower ranks. */
    static synchronized Ranks ranks(String name) {
        return RANKS.computeIfAbsent(name, n -> {
            Map<String, Integer> mergeable = new HashMap<>();
            List<byte[]> byRank = new ArrayList<>();
            try (InputStream in = Encodings.class.getResourceAsStream("/com/knuddels/jtokkit/" + n + ".tiktoken");
                    BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.isBlank()) continue;
                    String[] p = line.split(" ");
                    byte[] tok = Base64.getDecoder().decode(p[0]);
                    if (Integer.parseInt(p[1]) != byRank.size()) throw new IllegalStateException("ranks not dense");
                    byRank.add(tok);
                    mergeable.put(new String(tok, StandardCharsets.ISO_8859_1), byRank.size() - 1);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            JsonObject vocab = new JsonObject();
            JsonArray merges = new JsonArray();
            for (int rank = 0; rank < byRank.size(); rank++) {
                byte[] tok = byRank.get(rank);
                vocab.addProperty(ByteLevel.encode(tok), rank);
                if (tok.length == 1) continue;
                List<byte[]> parts = Gpt2ExactnessTest.bpeWithRanksBelow(mergeable, tok, rank);
                if (parts.size() != 2) throw new IllegalStateException("token " + rank + " has no two-part merge");
                JsonArray pair = new JsonArray();
                pair.add(ByteLevel.encode(parts.get(0)));
                pair.add(ByteLevel.encode(parts.get(1)));
                merges.add(pair);
            }
            return new Ranks(vocab, merges, byRank.size());
        });
    }

    static JsonObject json(String text) {
        return JsonParser.parseString(text).getAsJsonObject();
    }

    static JsonObject addedToken(int id, String content, boolean special) {
        return json("{\"id\": " + id + ", \"content\": " + quote(content) + ", \"single_word\": false, \"lstrip\": false,"
                + " \"rstrip\": false, \"normalized\": false, \"special\": " + special + "}");
    }

    static String quote(String s) {
        return new GsonBuilder().disableHtmlEscaping().create().toJson(s);
    }

    /** A Llama-3-shaped tokenizer.json over tiktoken ranks, with the given regex and (for Qwen2) an NFC normalizer. */
    static JsonObject byteLevelRegexFile(String ranksName, String regex, boolean nfc, String bos, List<String> specials) {
        Ranks r = ranks(ranksName);
        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        JsonArray added = new JsonArray();
        for (int i = 0; i < specials.size(); i++) added.add(addedToken(r.size() + i, specials.get(i), true));
        root.add("added_tokens", added);
        root.add("normalizer", nfc ? json("{\"type\": \"NFC\"}") : null);
        root.add("pre_tokenizer", json("{\"type\": \"Sequence\", \"pretokenizers\": ["
                + "{\"type\": \"Split\", \"pattern\": {\"Regex\": " + quote(regex) + "}, \"behavior\": \"Isolated\", \"invert\": false},"
                + "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]}"));
        if (bos != null) {
            int bosId = r.size() + specials.indexOf(bos);
            root.add("post_processor", json("{\"type\": \"Sequence\", \"processors\": ["
                    + "{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true},"
                    + "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": " + quote(bos) + ", \"type_id\": 0}},"
                    + "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {" + quote(bos)
                    + ": {\"id\": " + quote(bos) + ", \"ids\": [" + bosId + "], \"tokens\": [" + quote(bos) + "]}}}]}"));
        }
        root.add("decoder", json("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}"));
        JsonObject model = json("{\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null,"
                + " \"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": true}");
        model.add("vocab", r.vocab());
        model.add("merges", r.merges());
        root.add("model", model);
        return root;
    }

    static Path write(Path dir, String name, JsonObject root) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, new GsonBuilder().disableHtmlEscaping().serializeNulls().create().toJson(root), StandardCharsets.UTF_8);
        return p;
    }
}
