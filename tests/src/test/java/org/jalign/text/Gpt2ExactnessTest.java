package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2 exactness. jalign ships no GPT-2 files; this test rebuilds GPT-2's vocab.json and merges.txt from
 * the r50k_base ranks inside the jtokkit test dependency (r50k_base is GPT-2's BPE: token rank = GPT-2 id),
 * using the standard tiktoken → GPT-2 conversion (a token's merge is the two-part split reached by running
 * BPE on its bytes with only lower ranks), loads them with {@link BpeTokenizer#fromGpt2Files}, and compares
 * encodings with jtokkit's.
 */
class Gpt2ExactnessTest {
    static Encoding jtokkit;
    static BpeTokenizer gpt2;
    static Map<String, Integer> ranks; // byte-level spelling → rank

    @TempDir static Path dir;

    @BeforeAll
    static void build() throws IOException {
        jtokkit = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
        Map<String, Integer> mergeable = new HashMap<>(); // token bytes as ISO-8859-1 text → rank
        List<byte[]> byRank = new ArrayList<>();
        try (InputStream in = Encodings.class.getResourceAsStream("/com/knuddels/jtokkit/r50k_base.tiktoken");
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isBlank()) continue;
                String[] p = line.split(" ");
                byte[] tok = Base64.getDecoder().decode(p[0]);
                int rank = Integer.parseInt(p[1]);
                assertEquals(byRank.size(), rank, "ranks are dense");
                byRank.add(tok);
                mergeable.put(new String(tok, StandardCharsets.ISO_8859_1), rank);
            }
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        StringBuilder merges = new StringBuilder("#version: 0.2\n");
        for (int rank = 0; rank < byRank.size(); rank++) {
            byte[] tok = byRank.get(rank);
            vocab.put(ByteLevel.encode(tok), rank);
            if (tok.length == 1) continue;
            List<byte[]> parts = bpeWithRanksBelow(mergeable, tok, rank);
            assertEquals(2, parts.size(), "token " + rank + " splits into two lower-ranked tokens");
            merges.append(ByteLevel.encode(parts.get(0))).append(' ').append(ByteLevel.encode(parts.get(1))).append('\n');
        }
        vocab.put(Tokenizer.ENDOFTEXT, byRank.size());
        ranks = vocab;
        Gson gson = new GsonBuilder().disableHtmlEscaping().create();
        Path v = dir.resolve("vocab.json");
        Path m = dir.resolve("merges.txt");
        Files.writeString(v, gson.toJson(vocab), StandardCharsets.UTF_8);
        Files.writeString(m, merges.toString(), StandardCharsets.UTF_8);
        gpt2 = BpeTokenizer.fromGpt2Files(v, m);
        mergeText = merges.toString();
    }

    static String mergeText;

    /** tiktoken's BPE, stopping before any merge of rank ≥ maxRank. */
    static List<byte[]> bpeWithRanksBelow(Map<String, Integer> ranks, byte[] tok, int maxRank) {
        List<byte[]> parts = new ArrayList<>();
        for (byte b : tok) parts.add(new byte[] {b});
        while (true) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < parts.size(); i++) {
                byte[] pair = BpeTokenizer.concat(parts.get(i), parts.get(i + 1));
                Integer r = ranks.get(new String(pair, StandardCharsets.ISO_8859_1));
                if (r != null && r < bestRank) {
                    best = i;
                    bestRank = r;
                }
            }
            if (best < 0 || bestRank >= maxRank) return parts;
            parts.set(best, BpeTokenizer.concat(parts.get(best), parts.get(best + 1)));
            parts.remove(best + 1);
        }
    }

    static final List<String> TRICKY = List.of(
            "Hello world",
            "hello world!",
            " leading space",
            "trailing space ",
            "  two leading spaces",
            "trailing spaces   ",
            "multiple     inner    spaces",
            "   ",
            " ",
            "",
            "a\nb",
            "line one\n\nline three\n",
            "\n\n\n",
            "tab\tseparated\tvalues\t",
            " \t \n mixed whitespace \r\n windows",
            "numbers 1234567890 3.14159 -42 1,000,000",
            "2024-11-30T01:50:52Z",
            "I'm don't we'll they've she'd it's you're",
            "I'M DON'T WE'LL",
            "'s 't 're 've 'm 'll 'd",
            "quotes ''' \"\" `` ’ ‘ “ ”",
            "emoji 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 flags",
            "naïve café résumé façade",
            "Ünïcödé ÀÉÎÕÜ",
            "日本語のテキストと漢字",
            "中文字符和English混合",
            "한국어 텍스트",
            "Русский текст и English",
            "العربية النص",
            "עברית",
            "ελληνικά",
            "हिन्दी पाठ",
            "ไทย",
            "math: ∑_{i=1}^{n} x_i² ≤ ∞ ≠ ∅ ∀∃",
            "code: for (int i = 0; i < n; i++) { x += y[i]; }",
            "def f(x):\n    return x ** 2  # square\n",
            "https://example.com/path?query=1&b=2#frag",
            "email: someone@example.org",
            "<|endoftext|> is plain text here",
            "pneumonoultramicroscopicsilicovolcanoconiosis",
            "Supercalifragilisticexpialidocious".repeat(20),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "!!!???...,,,;;;:::",
            "\u00a0non-breaking\u00a0space\u2003em space\u3000ideographic",
            "zero\u200bwidth\u200djoiner",
            "control \u0001\u0002\u001f chars",
            "combining e\u0301 a\u0308",
            "mixed123abc456 abc 123abc",
            "   leading and trailing   \n");

    @Test
    void vocabularyMatchesRanks() {
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50000, gpt2.mergeCount());
        assertEquals(50256, gpt2.tokenId(Tokenizer.ENDOFTEXT));
        assertEquals(ranks, gpt2.vocabulary());
    }

    @Test
    void trickyStringsEncodeExactlyLikeGpt2() {
        for (String s : TRICKY) {
            int[] expected = jtokkit.encodeOrdinary(s).toArray();
            assertArrayEquals(expected, gpt2.encode(s), () -> "encoding of \"" + s + "\"");
            assertEquals(s, gpt2.decode(gpt2.encode(s)));
        }
    }

    @Test
    void huggingFaceTokenizerJsonOfGpt2EncodesLikeGpt2() throws IOException {
        JsonObject root = new JsonObject();
        JsonArray added = new JsonArray();
        JsonObject eot = new JsonObject();
        eot.addProperty("id", 50256);
        eot.addProperty("content", Tokenizer.ENDOFTEXT);
        eot.addProperty("special", true);
        added.add(eot);
        root.add("added_tokens", added);
        JsonObject pre = new JsonObject();
        pre.addProperty("type", "ByteLevel");
        pre.addProperty("add_prefix_space", false);
        root.add("pre_tokenizer", pre);
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        JsonObject vocab = new JsonObject();
        ranks.forEach(vocab::addProperty);
        model.add("vocab", vocab);
        JsonArray merges = new JsonArray();
        for (String line : mergeText.split("\n")) {
            if (line.startsWith("#")) continue;
            JsonArray pair = new JsonArray();
            pair.add(line.split(" ")[0]);
            pair.add(line.split(" ")[1]);
            merges.add(pair);
        }
        model.add("merges", merges);
        root.add("model", model);
        Path p = dir.resolve("tokenizer.json");
        Files.writeString(p, new GsonBuilder().disableHtmlEscaping().create().toJson(root), StandardCharsets.UTF_8);
        BpeTokenizer hf = BpeTokenizer.fromHuggingFaceJson(p);
        for (String s : TRICKY) assertArrayEquals(jtokkit.encodeOrdinary(s).toArray(), hf.encode(s), () -> "\"" + s + "\"");
        assertEquals(50256, hf.tokenId(Tokenizer.ENDOFTEXT));
    }

    @Test
    void addingChatSpecialsKeepsGpt2Ids() {
        BpeTokenizer chat = gpt2.withSpecials(Tokenizer.STANDARD_SPECIALS);
        assertEquals(50257 + 5, chat.vocabSize());
        assertEquals(50256, chat.tokenId(Tokenizer.ENDOFTEXT));
        assertEquals(50257, chat.tokenId(Tokenizer.PAD));
        assertEquals(50261, chat.tokenId(Tokenizer.END));
        for (String s : TRICKY) assertArrayEquals(gpt2.encode(s), chat.encode(s));
        assertArrayEquals(new int[] {50259, 15496, 50261}, chat.encodeWithSpecials("<|user|>Hello<|end|>"));
        assertEquals(gpt2, gpt2.withSpecials(List.of(Tokenizer.ENDOFTEXT)));
    }

    @Test
    void specialTokenMatchesGpt2() {
        String a = "first document", b = " second document";
        int[] x = jtokkit.encodeOrdinary(a).toArray(), y = jtokkit.encodeOrdinary(b).toArray();
        int[] expected = new int[x.length + 1 + y.length];
        System.arraycopy(x, 0, expected, 0, x.length);
        expected[x.length] = 50256;
        System.arraycopy(y, 0, expected, x.length + 1, y.length);
        assertArrayEquals(expected, gpt2.encodeWithSpecials(a + Tokenizer.ENDOFTEXT + b));
        assertArrayEquals(jtokkit.encodeOrdinary(a + Tokenizer.ENDOFTEXT + b).toArray(), gpt2.encode(a + Tokenizer.ENDOFTEXT + b));
    }

    @Test
    void randomTextEncodesExactlyLikeGpt2() {
        Random rnd = new Random(7);
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFG0123456789 \n\t.,'!?-éü日本😀\u00a0";
        int[] cps = alphabet.codePoints().toArray();
        for (int trial = 0; trial < 300; trial++) {
            StringBuilder sb = new StringBuilder();
            int len = rnd.nextInt(80);
            for (int i = 0; i < len; i++) sb.appendCodePoint(cps[rnd.nextInt(cps.length)]);
            String s = sb.toString();
            assertArrayEquals(jtokkit.encodeOrdinary(s).toArray(), gpt2.encode(s), () -> "encoding of \"" + s + "\"");
        }
    }
}
