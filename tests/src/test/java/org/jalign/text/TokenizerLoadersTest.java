package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GPT-2 files and Hugging Face tokenizer.json: round trips and clear errors for malformed files. */
class TokenizerLoadersTest {
    static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    static BpeTokenizer tok;
    static final String SAMPLE = "Hello there, it's 2026!\n  naïve 日本 😀 <|user|>x<|end|>";

    @TempDir Path dir;

    @BeforeAll
    static void train() {
        tok = BpeTokenizer.train(TextFixtures.corpus(5, 30_000), 400, List.of(Tokenizer.ENDOFTEXT, Tokenizer.USER, Tokenizer.END));
    }

    private Path write(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text, StandardCharsets.UTF_8);
        return p;
    }

    private JsonObject hfJson(boolean arrayMerges) {
        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        JsonArray added = new JsonArray();
        for (String s : tok.specials()) {
            JsonObject t = new JsonObject();
            t.addProperty("id", tok.tokenId(s));
            t.addProperty("content", s);
            t.addProperty("special", true);
            added.add(t);
        }
        root.add("added_tokens", added);
        root.add("normalizer", null);
        JsonObject pre = new JsonObject();
        pre.addProperty("type", "ByteLevel");
        pre.addProperty("add_prefix_space", false);
        pre.addProperty("trim_offsets", true);
        pre.addProperty("use_regex", true);
        root.add("pre_tokenizer", pre);
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", null);
        JsonObject vocab = new JsonObject();
        for (Map.Entry<String, Integer> e : tok.vocabulary().entrySet()) {
            if (!tok.isSpecial(e.getValue())) vocab.addProperty(e.getKey(), e.getValue());
        }
        model.add("vocab", vocab);
        JsonArray merges = new JsonArray();
        for (String line : tok.mergeLines()) {
            if (arrayMerges) {
                JsonArray pair = new JsonArray();
                pair.add(line.split(" ")[0]);
                pair.add(line.split(" ")[1]);
                merges.add(pair);
            } else {
                merges.add(line);
            }
        }
        model.add("merges", merges);
        root.add("model", model);
        return root;
    }

    private Path hf(Consumer<JsonObject> edit) throws IOException {
        JsonObject o = hfJson(false);
        edit.accept(o);
        return write("tokenizer.json", GSON.toJson(o));
    }

    @Test
    void gpt2FilesRoundTrip() throws IOException {
        Path v = write("vocab.json", GSON.toJson(tok.vocabulary()));
        Path m = write("merges.txt", "#version: 0.2\n" + String.join("\n", tok.mergeLines()) + "\n");
        BpeTokenizer back = BpeTokenizer.fromGpt2Files(v, m);
        assertArrayEquals(tok.encodeWithSpecials(SAMPLE), back.encodeWithSpecials(SAMPLE));
        assertEquals(tok.vocabulary(), back.vocabulary());
    }

    @Test
    void huggingFaceJsonRoundTripsInBothMergeForms() throws IOException {
        for (boolean arrays : new boolean[] {false, true}) {
            Path p = write("tokenizer-" + arrays + ".json", GSON.toJson(hfJson(arrays)));
            BpeTokenizer back = BpeTokenizer.fromHuggingFaceJson(p);
            assertArrayEquals(tok.encodeWithSpecials(SAMPLE), back.encodeWithSpecials(SAMPLE));
            assertArrayEquals(tok.encode(SAMPLE), back.encode(SAMPLE));
            assertEquals(tok.specials(), back.specials());
        }
    }

    private void assertRejected(Path file, String... fragments) {
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> {
            if (file.getFileName().toString().startsWith("tokenizer")) {
                BpeTokenizer.fromHuggingFaceJson(file);
            } else {
                BpeTokenizer.fromGpt2Files(file, dir.resolve("merges.txt"));
            }
        });
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "expected \"" + f + "\" in: " + e.getMessage());
    }

    @Test
    void malformedHuggingFaceFilesAreRejectedWithTheReason() throws IOException {
        assertRejected(write("tokenizer.json", "{\"model\": "), "invalid JSON");
        assertRejected(write("tokenizer.json", "[1, 2]"), "top level");
        assertRejected(hf(o -> o.getAsJsonObject("model").addProperty("type", "WordPiece")), "model.type");
        assertRejected(hf(o -> o.getAsJsonObject("model").remove("merges")), "model.merges");
        assertRejected(hf(o -> o.getAsJsonObject("model").remove("vocab")), "model.vocab");
        assertRejected(hf(o -> o.getAsJsonObject("model").getAsJsonArray("merges").set(3, new com.google.gson.JsonPrimitive("Ġ"))),
                "model.merges[3]");
        assertRejected(hf(o -> o.getAsJsonObject("model").getAsJsonArray("merges").set(5, new com.google.gson.JsonPrimitive("zzzq Ġ"))),
                "model.merges[5]", "not in the vocabulary");
        assertRejected(hf(o -> o.getAsJsonObject("model").getAsJsonObject("vocab").addProperty("a", 1.5)), "\"a\"", "integer");
        assertRejected(hf(o -> o.getAsJsonObject("model").getAsJsonObject("vocab").addProperty("a", "x")), "\"a\"", "integer");
        assertRejected(hf(o -> o.getAsJsonObject("model").getAsJsonObject("vocab").remove("Ā")), "no token for byte 0x0");
        assertRejected(hf(o -> o.getAsJsonObject("model").getAsJsonObject("vocab").addProperty("中", 390)), "中");
        assertRejected(hf(o -> o.getAsJsonObject("pre_tokenizer").addProperty("type", "Metaspace")), "pre_tokenizer.type");
        assertRejected(hf(o -> o.getAsJsonObject("pre_tokenizer").addProperty("add_prefix_space", true)), "add_prefix_space");
        assertRejected(hf(o -> o.add("normalizer", new JsonObject())), "normalizer");
        assertRejected(hf(o -> o.getAsJsonArray("added_tokens").get(0).getAsJsonObject().remove("content")), "added_tokens[0].content");
    }

    @Test
    void malformedGpt2FilesAreRejectedWithFileAndLine() throws IOException {
        Path v = write("vocab.json", GSON.toJson(tok.vocabulary()));
        List<String> lines = tok.mergeLines();
        Path m = write("merges.txt", "#version: 0.2\n" + String.join("\n", lines.subList(0, 10)) + "\nonlyonetoken\n");
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> BpeTokenizer.fromGpt2Files(v, m));
        assertTrue(e.getMessage().contains(m + ":12:"), e.getMessage());
        write("merges.txt", "#version: 0.2\n" + String.join("\n", lines.subList(0, 4)) + "\nĠ notatoken\n");
        e = assertThrows(TokenizerFormatException.class, () -> BpeTokenizer.fromGpt2Files(v, m));
        assertTrue(e.getMessage().contains(m + ":6:") && e.getMessage().contains("notatoken"), e.getMessage());
        write("merges.txt", String.join("\n", lines));
        assertRejected(write("vocab.json", "{\"a\": 1, \"a\": 2}"), "duplicate key");
        assertRejected(write("vocab.json", "{\"a\": -1}"), "outside");
        assertRejected(write("vocab.json", "{}"), "empty");
        Files.write(dir.resolve("vocab.json"), new byte[] {'{', (byte) 0xC3, '}'});
        assertRejected(dir.resolve("vocab.json"), "UTF-8");
    }
}
