package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hugging Face tokenizer.json loading.
 *
 * <p>Byte-level files are built from the tiktoken ranks inside the jtokkit test dependency (standard tiktoken →
 * tokenizer.json conversion, see {@link HfFiles#ranks}) and their encodings compared with jtokkit's own encoder:
 * a Llama-3-shaped file (Split with cl100k's regex, Isolated, then ByteLevel without regex, ignore_merges) over
 * cl100k_base must give exactly jtokkit's cl100k_base ids; a GPT-2-shaped file (ByteLevel with its regex) over
 * r50k_base exactly jtokkit's r50k_base ids. The Qwen2-shaped file (single-digit regex, NFC) must equal cl100k on
 * text without numbers (where the two regexes coincide) and keep every digit apart. SentencePiece-style files
 * use a small vocabulary whose expected tokens are worked out by hand in the comments from the merge list.
 */
class HfTokenizerTest {
    @TempDir static Path dir;
    static Encoding cl100k;
    static Encoding r50k;
    static HfTokenizer llama3;
    static HfTokenizer qwen2;
    static HfTokenizer gpt2;
    static final List<String> LLAMA3_SPECIALS = List.of("<|begin_of_text|>", "<|end_of_text|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");

    @BeforeAll
    static void load() throws IOException {
        cl100k = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
        r50k = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
        llama3 = HfTokenizer.load(HfFiles.write(dir, "llama3.json",
                HfFiles.byteLevelRegexFile("cl100k_base", HfFiles.LLAMA3_REGEX, false, "<|begin_of_text|>", LLAMA3_SPECIALS)));
        qwen2 = HfTokenizer.load(HfFiles.write(dir, "qwen2.json",
                HfFiles.byteLevelRegexFile("cl100k_base", HfFiles.QWEN2_REGEX, true, null, List.of("<|im_start|>", "<|im_end|>"))));
        JsonObject g = HfFiles.byteLevelRegexFile("r50k_base", HfFiles.LLAMA3_REGEX, false, null, List.of("<|endoftext|>"));
        g.add("pre_tokenizer", HfFiles.json("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}"));
        g.getAsJsonObject("model").addProperty("ignore_merges", false);
        gpt2 = HfTokenizer.load(HfFiles.write(dir, "gpt2.json", g));
    }

    static List<String> tricky() {
        List<String> t = new ArrayList<>(Gpt2ExactnessTest.TRICKY);
        t.addAll(List.of("12345", "1234567 89", "x12345y", "٣٤٥ Arabic-Indic digits", "Ⅻ roman ⅷ", "don'T SHE'LL It'S",
                "trailing spaces  \n  ", "\r\n\r\n", "a\r\nb\r\n\r\nc", "  \n\n  x", "end with newline\n", "tabs\t\t\tx",
                "?!\n\n", "..\r\n", "e\u0301 i\u0308 n\u0303", "👩🏽‍💻 🏳️‍🌈 ✈️", "汉字，标点。", "かな カナ ｶﾅ",
                "ŞşĞğİı ǅ ǈ", "x  y   z    ", "   \t\n", "'''ll 'S 'Ll"));
        Random rnd = new Random(11);
        String alphabet = "aZ9 \n\r\t'sltvmdré日😀.,!-_١Ⅷ\u00a0\u2003\u0301";
        for (int k = 0; k < 300; k++) {
            StringBuilder sb = new StringBuilder();
            int n = 1 + rnd.nextInt(24);
            for (int i = 0; i < n; i++) sb.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0,
                    rnd.nextInt(alphabet.codePointCount(0, alphabet.length())))));
            t.add(sb.toString());
        }
        t.add(TextFixtures.corpus(5, 20000));
        return t;
    }

    @Test
    void llama3ShapedFileEncodesLikeCl100k() {
        for (String s : tricky()) {
            assertArrayEquals(cl100k.encodeOrdinary(s).toArray(), llama3.encode(s), () -> "\"" + s + "\"");
            assertEquals(s, llama3.decode(llama3.encode(s)), () -> "round trip of \"" + s + "\"");
        }
    }

    @Test
    void gpt2ShapedFileEncodesLikeR50k() {
        for (String s : tricky()) {
            assertArrayEquals(r50k.encodeOrdinary(s).toArray(), gpt2.encode(s), () -> "\"" + s + "\"");
            assertEquals(s, gpt2.decode(gpt2.encode(s)));
        }
    }

    @Test
    void qwen2ShapedFileKeepsDigitsApart() {
        Pattern number = Pattern.compile("\\p{N}");
        for (String s : tricky()) {
            int[] ids = qwen2.encode(s);
            String nfc = java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFC);
            assertEquals(nfc, qwen2.decode(ids), () -> "round trip of \"" + s + "\" (NFC-normalized)");
            if (!number.matcher(s).find()) {
                assertArrayEquals(cl100k.encodeOrdinary(nfc).toArray(), ids, () -> "\"" + s + "\"");
            }
        }
        // each digit is its own pre-token, and cl100k has every single digit as a token
        int[] ids = qwen2.encode("12345");
        assertEquals(5, ids.length);
        for (int i = 0; i < 5; i++) assertEquals(cl100k.encodeOrdinary(String.valueOf((char) ('1' + i))).toArray()[0], ids[i]);
        assertEquals(2, llama3.encode("12345").length, "Llama 3 groups digits in threes: 123 45");
        // NFC: a decomposed é encodes like the composed one
        assertArrayEquals(qwen2.encode("caf\u00e9"), qwen2.encode("cafe\u0301"));
        assertNotEquals(cl100k.encodeOrdinary("cafe\u0301").toArray().length, 0);
    }

    @Test
    void addedTokensAndPostProcessor() {
        int bos = llama3.tokenId("<|begin_of_text|>"); // HfFiles puts the added tokens right after the ranks
        assertEquals(HfFiles.ranks("cl100k_base").size(), bos);
        int eot = llama3.tokenId("<|eot_id|>");
        String text = "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>";
        int[] ids = llama3.encodeWithSpecials(text);
        List<Integer> expected = new ArrayList<>();
        expected.add(llama3.tokenId("<|start_header_id|>"));
        for (int id : cl100k.encodeOrdinary("user").toArray()) expected.add(id);
        expected.add(llama3.tokenId("<|end_header_id|>"));
        for (int id : cl100k.encodeOrdinary("\n\nHi!").toArray()) expected.add(id);
        expected.add(eot);
        assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), ids);
        // plain encode never produces a special id
        for (int id : llama3.encode(text)) assertFalse(llama3.isSpecial(id));
        assertArrayEquals(cl100k.encodeOrdinary(text).toArray(), llama3.encode(text));
        // the post-processor adds the BOS
        int[] model = llama3.encodeForModel("Hi");
        assertEquals(bos, model[0]);
        assertArrayEquals(cl100k.encodeOrdinary("Hi").toArray(), java.util.Arrays.copyOfRange(model, 1, model.length));
        assertEquals(text, llama3.decode(ids));
        // offsets cover the text
        HfTokenizer.Encoding e = llama3.encodeWithOffsets(text, true);
        assertArrayEquals(ids, e.ids());
        assertEquals(0, e.starts()[0]);
        assertEquals(text.length(), e.ends()[e.ends().length - 1]);
        for (int i = 0; i < ids.length; i++) {
            String piece = text.substring(e.starts()[i], e.ends()[i]);
            assertEquals(piece, llama3.decode(new int[] {ids[i]}), "token " + i + " spans its own text");
        }
        // jalign's own format keeps it
        Tokenizer back = Tokenizer.fromBytes(llama3.toBytes());
        assertArrayEquals(ids, back.encodeWithSpecials(text));
    }

    // ------------------------------------------------------------------------------------ SentencePiece style

    /**
     * A Llama-2-shaped vocabulary: 0 {@code <unk>}, 1 {@code <s>}, 2 {@code </s>}, 3..258 {@code <0x00>..<0xFF>},
     * then ▁ H e l o w r d h t i ! (259..270) and the merges, in rank order:
     * l l→ll 271, ▁ H→▁H 272, e ll→ell 273, ▁H ell→▁Hell 274, ▁Hell o→▁Hello 275, o r→or 276, ▁ w→▁w 277,
     * ▁w or→▁wor 278, l d→ld 279, ▁wor ld→▁world 280, ▁ ▁→▁▁ 281, H i→Hi 282.
     */
    static JsonObject sentencePieceFile(boolean metaspace, boolean byteFallback) {
        JsonObject vocab = new JsonObject();
        vocab.addProperty("<unk>", 0);
        vocab.addProperty("<s>", 1);
        vocab.addProperty("</s>", 2);
        for (int b = 0; b < 256; b++) vocab.addProperty(String.format("<0x%02X>", b), 3 + b);
        String[] chars = {"▁", "H", "e", "l", "o", "w", "r", "d", "h", "t", "i", "!"};
        for (int i = 0; i < chars.length; i++) vocab.addProperty(chars[i], 259 + i);
        String[][] merges = {{"l", "l"}, {"▁", "H"}, {"e", "ll"}, {"▁H", "ell"}, {"▁Hell", "o"}, {"o", "r"}, {"▁", "w"},
            {"▁w", "or"}, {"l", "d"}, {"▁wor", "ld"}, {"▁", "▁"}, {"H", "i"}};
        JsonArray m = new JsonArray();
        int id = 271;
        for (String[] mg : merges) {
            vocab.addProperty(mg[0] + mg[1], id++);
            m.add(mg[0] + " " + mg[1]); // "a b" strings, as older files write them
        }
        JsonObject root = new JsonObject();
        JsonArray added = new JsonArray();
        added.add(HfFiles.addedToken(0, "<unk>", true));
        added.add(HfFiles.addedToken(1, "<s>", true));
        added.add(HfFiles.addedToken(2, "</s>", true));
        root.add("added_tokens", added);
        if (metaspace) {
            root.add("normalizer", null);
            root.add("pre_tokenizer", HfFiles.json("{\"type\": \"Metaspace\", \"replacement\": \"▁\", \"prepend_scheme\": \"first\", \"split\": false}"));
            root.add("decoder", HfFiles.json("{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Metaspace\", \"replacement\": \"▁\","
                    + " \"prepend_scheme\": \"first\", \"split\": false}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}"));
        } else {
            root.add("normalizer", HfFiles.json("{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"▁\"},"
                    + " {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"▁\"}]}"));
            root.add("pre_tokenizer", null);
            root.add("decoder", HfFiles.json("{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"▁\"},"
                    + " \"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]}"));
        }
        root.add("post_processor", HfFiles.json("{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}},"
                + " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}}"));
        JsonObject model = HfFiles.json("{\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"byte_fallback\": " + byteFallback + "}");
        model.add("vocab", vocab);
        model.add("merges", m);
        root.add("model", model);
        return root;
    }

    static HfTokenizer sp(boolean metaspace, boolean byteFallback) throws IOException {
        return HfTokenizer.load(HfFiles.write(dir, "sp-" + metaspace + "-" + byteFallback + ".json", sentencePieceFile(metaspace, byteFallback)));
    }

    @Test
    void sentencePieceBpeWithByteFallback() throws IOException {
        for (boolean metaspace : new boolean[] {false, true}) {
            HfTokenizer t = sp(metaspace, true);
            // ▁Hello▁world: ll, ▁H, ell, ▁Hell, ▁Hello, or, ▁w, ▁wor, ld, ▁world
            assertArrayEquals(new int[] {275, 280}, t.encode("Hello world"));
            // ▁Hi!: ▁H (rank 1) is made before H i (rank 11) could be: ▁H i !
            assertArrayEquals(new int[] {272, 269, 270}, t.encode("Hi!"));
            // 日 is not in the vocabulary: its UTF-8 bytes E6 97 A5 as <0xE6> <0x97> <0xA5>
            assertArrayEquals(new int[] {259, 3 + 0xE6, 3 + 0x97, 3 + 0xA5}, t.encode("日"));
            assertArrayEquals(new int[] {1, 275, 280}, t.encodeForModel("Hello world"));
            for (String s : List.of("Hello world", "Hi!", "日本語 😀 text", "hello  there   world", "a\tb\nc", "ünïcödé"))
                assertEquals(s, t.decode(t.encode(s)), () -> "round trip of \"" + s + "\"");
            assertEquals("Hello world", t.decode(new int[] {275, 280}));
        }
        HfTokenizer legacy = sp(false, true);
        // Prepend normalizer: a leading space gives ▁▁Hello → ▁ then ▁Hello (▁ H outranks ▁ ▁); decoding strips one space
        assertArrayEquals(new int[] {259, 275}, legacy.encode(" Hello"));
        assertEquals(" Hello", legacy.decode(legacy.encode(" Hello")));
        // text after a special: Prepend applies to every stretch; Metaspace "first" only at the start of the input
        assertArrayEquals(new int[] {1, 275}, legacy.encodeWithSpecials("<s>Hello"));
        assertArrayEquals(new int[] {1, 260, 273, 263}, sp(true, true).encodeWithSpecials("<s>Hello"));
        // a lone invalid byte decodes to U+FFFD
        assertEquals("\uFFFD", legacy.decode(new int[] {3 + 0xE6}));
        assertArrayEquals(new byte[] {(byte) 0xE6}, legacy.tokenBytes(3 + 0xE6));
        assertArrayEquals(" Hello".getBytes(StandardCharsets.UTF_8), legacy.tokenBytes(275));
    }

    @Test
    void unknownTokenWithoutByteFallback() throws IOException {
        HfTokenizer t = sp(false, false);
        // ▁ then 日 and 本 unknown, fused into one <unk>
        assertArrayEquals(new int[] {259, 0}, t.encode("日本"));
        assertArrayEquals(new int[] {275, 259, 0}, t.encode("Hello 日本"));
    }

    @Test
    void addedTokenStripAndSingleWord() throws IOException {
        JsonObject f = sentencePieceFile(false, true);
        JsonObject tool = HfFiles.addedToken(283, "<tool>", false);
        tool.addProperty("lstrip", true);
        tool.addProperty("rstrip", true);
        f.getAsJsonArray("added_tokens").add(tool);
        JsonObject word = HfFiles.addedToken(284, "Hi", false);
        word.addProperty("single_word", true);
        f.getAsJsonArray("added_tokens").add(word);
        HfTokenizer t = HfTokenizer.load(HfFiles.write(dir, "added.json", f));
        // "<tool>" takes the spaces beside it; non-special added tokens are matched by plain encode
        HfTokenizer.Encoding e = t.encodeWithOffsets("Hello  <tool>  world", false);
        assertArrayEquals(new int[] {275, 283, 280}, e.ids());
        assertEquals(5, e.starts()[1]);
        assertEquals(15, e.ends()[1]);
        // single_word: "Hi" alone is the added token, inside "Hiw" it is not
        assertEquals(284, t.encode("Hi there")[0]);
        assertNotEquals(284, t.encode("Hiw")[0]);
        // specials are plain text for encode: <s> becomes bytes, not id 1
        int[] plain = t.encode("<s>");
        assertNotEquals(1, plain[0]);
        assertEquals("<s>", t.decode(plain));
    }

    // ------------------------------------------------------------------------------------ bad files

    static String message(Path p) {
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.load(p));
        assertTrue(e.getMessage().contains(p.toString()), () -> "names the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void badFilesAreRefusedByName() throws IOException {
        JsonObject f = sentencePieceFile(false, true);
        f.getAsJsonObject("model").addProperty("type", "Unigram");
        assertTrue(message(HfFiles.write(dir, "unigram.json", f)).contains("\"Unigram\" is not supported"));

        f = sentencePieceFile(false, true);
        f.add("pre_tokenizer", HfFiles.json("{\"type\": \"Whitespace\"}"));
        assertTrue(message(HfFiles.write(dir, "ws.json", f)).contains("\"Whitespace\" is not supported"));

        f = sentencePieceFile(false, true);
        f.add("normalizer", HfFiles.json("{\"type\": \"BertNormalizer\"}"));
        assertTrue(message(HfFiles.write(dir, "bert.json", f)).contains("\"BertNormalizer\" is not supported"));

        f = sentencePieceFile(false, true);
        f.add("pre_tokenizer", HfFiles.json("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(?i:'s|[\\\\p{L}+\"}, \"behavior\": \"Isolated\", \"invert\": false}"));
        assertTrue(message(HfFiles.write(dir, "regex.json", f)).contains("not a regex jalign knows"));

        f = sentencePieceFile(false, true);
        f.getAsJsonObject("model").getAsJsonArray("merges").add("x y");
        assertTrue(message(HfFiles.write(dir, "merge.json", f)).contains("merges[12]"));

        f = sentencePieceFile(false, true);
        f.add("decoder", HfFiles.json("{\"type\": \"WordPiece\"}"));
        assertTrue(message(HfFiles.write(dir, "dec.json", f)).contains("\"WordPiece\" is not supported"));

        Path nan = dir.resolve("nan.json");
        Files.writeString(nan, "{\"model\": {\"dropout\": NaN}}");
        message(nan);
        Path trunc = dir.resolve("trunc.json");
        Files.writeString(trunc, "{\"model\": {\"vocab\": {\"a\": 0}");
        message(trunc);
        f = sentencePieceFile(false, true);
        f.getAsJsonObject("model").getAsJsonObject("vocab").addProperty("far", 1 << 23);
        assertTrue(message(HfFiles.write(dir, "sparse.json", f)).contains("too sparse"));
    }

    @Test
    void fuzzSeedsOfEachFamilyLoadAndRoundTrip() throws IOException, java.net.URISyntaxException {
        Path seeds = Path.of(getClass().getResource("/org/jalign/reliability/HfTokenizerJsonFuzzTestInputs/fuzz").toURI());
        List<Path> hf;
        try (var files = Files.list(seeds)) {
            hf = files.filter(p -> p.getFileName().toString().startsWith("hf-")).sorted().toList();
        }
        assertEquals(5, hf.size());
        for (Path p : hf) {
            HfTokenizer t = HfTokenizer.load(p);
            for (String s : List.of("hello world 123", "Hello world", "x  y\n\n日本 😀")) {
                assertEquals(s, t.decode(t.encode(s)), () -> p + ": \"" + s + "\"");
            }
        }
    }

    @Test
    void existingGpt2LoaderIsUnchanged() throws IOException {
        // BpeTokenizer.fromHuggingFaceJson still refuses what it never supported, so its behaviour stays exact
        JsonObject f = sentencePieceFile(false, true);
        Path p = HfFiles.write(dir, "sp-for-bpe.json", f);
        assertThrows(TokenizerFormatException.class, () -> BpeTokenizer.fromHuggingFaceJson(p));
        Matcher unused = Pattern.compile("x").matcher("");
        assertFalse(unused.find());
    }
}
