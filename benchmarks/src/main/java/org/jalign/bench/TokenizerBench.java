package org.jalign.bench;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.HfTokenizer;
import org.jalign.text.Tokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Tokenizer throughput on 1 MB of deterministic pseudo-English; {@link RunBenchmarks} reports MB/s of text.
 * <ul>
 *   <li>{@code regexSplit} (baseline): only GPT-2's pre-tokenisation, with java.util.regex;</li>
 *   <li>{@code encode}: the whole BpeTokenizer.encode (hand-written pre-tokenizer + BPE + cache), 2k vocabulary;</li>
 *   <li>{@code encodeLlama3}: HfTokenizer.encode of a Llama-3-shaped tokenizer.json (Split with Llama 3's regex in
 *       java.util.regex, ByteLevel, ignore_merges) over the same 2k vocabulary and merges;</li>
 *   <li>{@code train2k}: BPE training of a 2048-token vocabulary on the same 1 MB.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class TokenizerBench {
    static final int TEXT_BYTES = 1 << 20;

    String text;
    BpeTokenizer tok;
    HfTokenizer llama3;
    Pattern regex;

    /** Llama 3's pre-tokenizer regex. */
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    @Setup
    public void setup() {
        text = corpus(1, TEXT_BYTES);
        tok = BpeTokenizer.train(text, 2048, Tokenizer.STANDARD_SPECIALS);
        regex = Pattern.compile(BpeTokenizer.GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);
        llama3 = HfTokenizer.parse(llama3Json(tok), "llama3-shaped tokenizer.json");
    }

    /** A Llama-3-shaped tokenizer.json with the vocabulary and merges of a trained BpeTokenizer. */
    static String llama3Json(BpeTokenizer t) {
        JsonObject vocab = new JsonObject();
        JsonArray added = new JsonArray();
        for (int id = 0; id < t.vocabSize(); id++) {
            if (t.isSpecial(id)) {
                JsonObject a = new JsonObject();
                a.addProperty("id", id);
                a.addProperty("content", t.tokenText(id));
                a.addProperty("special", true);
                a.addProperty("normalized", false);
                added.add(a);
            } else {
                vocab.addProperty(t.tokenText(id), id);
            }
        }
        JsonArray merges = new JsonArray();
        for (String m : t.mergeLines()) merges.add(m);
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.addProperty("ignore_merges", true);
        model.add("vocab", vocab);
        model.add("merges", merges);
        JsonObject root = new JsonObject();
        root.add("added_tokens", added);
        root.add("pre_tokenizer", JsonParser.parseString("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\","
                + " \"pattern\": {\"Regex\": " + new Gson().toJson(LLAMA3_REGEX) + "}, \"behavior\": \"Isolated\", \"invert\": false},"
                + " {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}"));
        root.add("decoder", JsonParser.parseString("{\"type\": \"ByteLevel\"}"));
        root.add("model", model);
        return new Gson().toJson(root);
    }

    @Benchmark
    public int regexSplit() {
        Matcher m = regex.matcher(text);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    @Benchmark
    public int encode() {
        return tok.encode(text).length;
    }

    @Benchmark
    public int encodeLlama3() {
        return llama3.encode(text).length;
    }

    @Benchmark
    @Warmup(iterations = 1, time = 1)
    @Measurement(iterations = 3, time = 1)
    public int train2k() {
        return BpeTokenizer.train(text, 2048, Tokenizer.STANDARD_SPECIALS).vocabSize();
    }

    /** Text bytes per operation × 1000, so that RunBenchmarks' "per 1e9" column reads as MB/s. */
    public static double kiloBytes(String method) {
        return TEXT_BYTES * 1e3;
    }

    private static final String[] SYLLABLES = {"the", "an", "ing", "er", "re", "on", "at", "st", "en", "ion",
        "qu", "al", "ro", "ma", "ti", "ve", "co", "de", "la", "mo", "ne", "pe", "sa", "to", "un", "ly"};

    /** Deterministic pseudo-English with a Zipf-like word distribution, digits, punctuation and newlines. */
    static String corpus(long seed, int bytes) {
        Random rnd = new Random(seed);
        String[] words = new String[20000];
        for (int i = 0; i < words.length; i++) {
            StringBuilder w = new StringBuilder();
            int n = 1 + rnd.nextInt(4);
            for (int k = 0; k < n; k++) w.append(SYLLABLES[rnd.nextInt(SYLLABLES.length)]);
            if (rnd.nextInt(40) == 0) w.setLength(0);
            if (w.length() == 0) w.append(rnd.nextInt(10000));
            words[i] = w.toString();
        }
        StringBuilder sb = new StringBuilder(bytes + 32);
        while (sb.length() < bytes) {
            int r = (int) Math.floor(Math.pow(words.length, rnd.nextDouble())) - 1;
            sb.append(words[r]);
            int p = rnd.nextInt(30);
            sb.append(p == 0 ? ". " : p == 1 ? ", " : p == 2 ? "\n" : " ");
        }
        return new String(sb.toString().getBytes(StandardCharsets.UTF_8), 0, bytes, StandardCharsets.UTF_8);
    }
}
