package org.jalign.text;

import static org.jalign.text.TokenizerJson.isNull;
import static org.jalign.text.TokenizerJson.object;
import static org.jalign.text.TokenizerJson.optBool;
import static org.jalign.text.TokenizerJson.string;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jalign.io.StrictJson;
import org.jalign.text.HfText.Span;

/**
 * A Hugging Face {@code tokenizer.json} with a BPE model, run with the {@code tokenizers} library's semantics:
 * the byte-level BPE of GPT-2, Llama 3, SmolLM2 and Qwen2 (Split regex / Digits / ByteLevel pre-tokenizers) and
 * the SentencePiece-style BPE with byte fallback of Llama 2, TinyLlama and Mistral (Prepend + Replace normalizers
 * or a Metaspace pre-tokenizer; Replace, ByteFallback, Fuse, Strip decoders).
 *
 * <p>Encoding: added tokens are matched first (leftmost, longest first; {@code lstrip}/{@code rstrip} take the
 * whitespace beside them, {@code single_word} needs word boundaries; {@code normalized: true} ones are matched in
 * the normalized text); each stretch between them is normalized, pre-tokenized and each pre-token run through
 * BPE: a word that is itself a vocabulary token stays whole when {@code ignore_merges} is set, otherwise its
 * characters (bytes for byte-level models) are merged lowest rank first, leftmost among equals. A character
 * outside the vocabulary becomes its UTF-8 bytes as {@code <0xNN>} tokens with {@code byte_fallback}, else the
 * unknown token, else it is dropped.
 *
 * <p>{@link #encode} matches only non-special added tokens, {@link #encodeWithSpecials} all of them; neither adds
 * what the post-processor would ({@link #encodeForModel} does, e.g. Llama's BOS). {@link #decode} runs the file's
 * decoder over every token, added tokens included, as the library does.
 *
 * <p>Every problem in a file is a {@link TokenizerFormatException} naming the file and the field; unsupported
 * component types are refused by name. Immutable and thread-safe.
 */
public final class HfTokenizer implements Tokenizer {
    private static final int CACHE_MAX_PIECE = 64;
    private static final int CACHE_MAX_ENTRIES = 1 << 16;

    private final String source; // the tokenizer.json text, kept for toBytes()
    private final HfTokenizerConfig config; // the tokenizer_config.json beside it; null when none was given
    private final String[] idToToken; // (V) model or added token text; null for unused ids
    private final boolean[] isSpecial; // (V)
    private final Map<String, Integer> vocab; // model vocabulary
    private final int[] byteSymbol; // (256) byte-level models: id of each byte's spelling, -1 if absent
    private final int[] fallbackId; // (256) byte_fallback: id of <0xNN>, -1 if absent; null without byte_fallback
    private final int unkId; // -1 without an unknown token
    private final boolean fuseUnk;
    private final boolean ignoreMerges;
    private final LongIntMap mergeRank; // pair(a, b) → rank
    private final int[] mergeResult; // (M)
    private final HfPipeline.Normalizer normalizer;
    private final HfPipeline.PreTokenizers preTokenizers;
    private final HfPipeline.Decoders decoders;
    private final AddedTokens added;
    private final int[] prefixIds; // post-processor: ids before a single sequence
    private final int[] suffixIds; // and after it
    private final ThreadLocal<HashMap<String, int[]>> cache = ThreadLocal.withInitial(HashMap::new);

    /** Loads a tokenizer.json (without a tokenizer_config.json: {@link #config()} is empty). */
    public static HfTokenizer load(Path tokenizerJson) throws IOException {
        return parse(TokenizerJson.readText(tokenizerJson), tokenizerJson.toString());
    }

    /**
     * Loads the tokenizer of a Hugging Face model directory: its {@value #TOKENIZER_JSON} (required) and, when
     * present, its {@value #TOKENIZER_CONFIG_JSON} (chat template, BOS/EOS settings), which the tokenizer keeps:
     * it is stored with it in checkpoints and written back by {@link #files()}.
     */
    public static HfTokenizer fromDirectory(Path dir) throws IOException {
        Path json = dir.resolve(TOKENIZER_JSON);
        if (!java.nio.file.Files.isRegularFile(json)) {
            throw new TokenizerFormatException(dir + ": no " + TOKENIZER_JSON + " (jalign reads Hugging Face "
                    + "tokenizers from tokenizer.json; slow-tokenizer files alone are not supported)");
        }
        Path cfg = dir.resolve(TOKENIZER_CONFIG_JSON);
        HfTokenizerConfig config = java.nio.file.Files.exists(cfg) ? HfTokenizerConfig.load(cfg) : null;
        String text = TokenizerJson.readText(json);
        return new HfTokenizer(text, TokenizerJson.parseObject(text, json.toString()), json.toString(), config);
    }

    /** Parses tokenizer.json text; {@code name} (usually the file) starts every error message. */
    public static HfTokenizer parse(String json, String name) {
        return parse(json, name, null);
    }

    /** Parses tokenizer.json text with its tokenizer_config.json ({@code null} for none). */
    public static HfTokenizer parse(String json, String name, HfTokenizerConfig config) {
        return new HfTokenizer(json, TokenizerJson.parseObject(json, name), name, config);
    }

    /** The file names of a Hugging Face tokenizer in a model directory. */
    public static final String TOKENIZER_JSON = "tokenizer.json", TOKENIZER_CONFIG_JSON = "tokenizer_config.json";

    /** The tokenizer_config.json this tokenizer was loaded with, if any. */
    public java.util.Optional<HfTokenizerConfig> config() {
        return java.util.Optional.ofNullable(config);
    }

    /** The files that make up this tokenizer in a Hugging Face directory: file name → UTF-8 text. */
    public Map<String, String> files() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(TOKENIZER_JSON, source);
        if (config != null) m.put(TOKENIZER_CONFIG_JSON, config.text());
        return m;
    }

    private HfTokenizer(String json, JsonObject o, String f, HfTokenizerConfig config) {
        this.source = json;
        this.config = config;
        this.normalizer = HfPipeline.normalizer(o.get("normalizer"), f + ": normalizer");
        this.preTokenizers = HfPipeline.preTokenizers(o.get("pre_tokenizer"), f + ": pre_tokenizer");
        this.decoders = HfPipeline.decoders(o.get("decoder"), f + ": decoder");
        JsonObject m = object(o.get("model"), f + ": model");
        String mw = f + ": model";
        if (!isNull(m.get("type")) && !string(m, "type", mw).equals("BPE")) {
            throw new TokenizerFormatException(mw + ".type \"" + m.get("type").getAsString()
                    + "\" is not supported (only \"BPE\")");
        }
        for (String unsupported : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            JsonElement e = m.get(unsupported);
            if (!isNull(e) && !(StrictJson.isString(e) && e.getAsString().isEmpty())) {
                throw new TokenizerFormatException(mw + "." + unsupported + " is not supported");
            }
        }
        JsonElement dropout = m.get("dropout");
        if (!isNull(dropout) && !(StrictJson.isNumber(dropout) && dropout.getAsBigDecimal().signum() == 0)) {
            throw new TokenizerFormatException(mw + ".dropout " + dropout + " is not supported");
        }
        boolean byteFallback = optBool(m, "byte_fallback", mw, false);
        this.fuseUnk = optBool(m, "fuse_unk", mw, false);
        this.ignoreMerges = optBool(m, "ignore_merges", mw, false);

        // vocabulary
        JsonObject v = object(m.get("vocab"), mw + ".vocab");
        if (v.size() == 0) throw new TokenizerFormatException(mw + ".vocab is empty");
        vocab = new HashMap<>(v.size() * 2);
        Map<Integer, String> byId = new HashMap<>(v.size() * 2);
        int maxId = -1;
        for (Map.Entry<String, JsonElement> e : v.entrySet()) {
            int id = TokenizerJson.id(e.getValue(), mw + ".vocab token \"" + e.getKey() + "\"");
            String other = byId.put(id, e.getKey());
            if (other != null) {
                throw new TokenizerFormatException(mw + ".vocab: tokens \"" + other + "\" and \"" + e.getKey()
                        + "\" share id " + id);
            }
            vocab.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }

        // added tokens
        List<AddedToken> addedList = new ArrayList<>();
        JsonElement at = o.get("added_tokens");
        if (!isNull(at)) {
            if (!at.isJsonArray()) throw new TokenizerFormatException(f + ": added_tokens must be an array");
            JsonArray a = at.getAsJsonArray();
            Map<Integer, String> addedIds = new HashMap<>();
            for (int i = 0; i < a.size(); i++) {
                String w = f + ": added_tokens[" + i + "]";
                JsonObject t = object(a.get(i), w);
                int id = TokenizerJson.id(t.get("id"), w + ".id");
                String content = string(t, "content", w);
                if (content.isEmpty()) throw new TokenizerFormatException(w + ".content must not be empty");
                String prev = addedIds.put(id, content);
                if (prev != null && !prev.equals(content)) {
                    throw new TokenizerFormatException(w + ": id " + id + " is given to both \"" + prev + "\" and \"" + content + "\"");
                }
                addedList.add(new AddedToken(id, content, optBool(t, "special", w, false), optBool(t, "lstrip", w, false),
                        optBool(t, "rstrip", w, false), optBool(t, "normalized", w, !optBool(t, "special", w, false)),
                        optBool(t, "single_word", w, false)));
                maxId = Math.max(maxId, id);
            }
        }
        int size = maxId + 1;
        if (size > 2L * (v.size() + addedList.size()) + 1024) {
            throw new TokenizerFormatException(f + ": ids reach " + maxId + " but only " + (v.size() + addedList.size())
                    + " tokens are defined (too sparse)");
        }
        idToToken = new String[size];
        isSpecial = new boolean[size];
        for (Map.Entry<Integer, String> e : byId.entrySet()) idToToken[e.getKey()] = e.getValue();
        for (AddedToken t : addedList) {
            idToToken[t.id] = t.content;
            isSpecial[t.id] = t.special;
        }

        // unknown token, byte tokens
        String unk = TokenizerJson.optString(m, "unk_token", mw, null);
        if (unk != null && !vocab.containsKey(unk)) {
            throw new TokenizerFormatException(mw + ".unk_token \"" + unk + "\" is not in the vocabulary");
        }
        unkId = unk == null ? -1 : vocab.get(unk);
        byteSymbol = new int[256];
        for (int b = 0; b < 256; b++) byteSymbol[b] = vocab.getOrDefault(String.valueOf(ByteLevel.charOf(b)), -1);
        if (byteFallback) {
            fallbackId = new int[256];
            for (int b = 0; b < 256; b++) fallbackId[b] = vocab.getOrDefault(String.format("<0x%02X>", b), -1);
        } else {
            fallbackId = null;
        }

        // merges
        JsonElement me = m.get("merges");
        JsonArray ma = isNull(me) ? new JsonArray() : me.isJsonArray() ? me.getAsJsonArray() : null;
        if (ma == null) throw new TokenizerFormatException(mw + ".merges must be an array");
        mergeRank = new LongIntMap(ma.size());
        mergeResult = new int[ma.size()];
        for (int r = 0; r < ma.size(); r++) {
            JsonElement e = ma.get(r);
            String a, b;
            if (StrictJson.isString(e)) {
                String s = e.getAsString();
                int sp = s.indexOf(' ');
                if (sp <= 0 || sp == s.length() - 1 || s.indexOf(' ', sp + 1) >= 0) {
                    throw new TokenizerFormatException(mw + ".merges[" + r + "] must name two tokens \"a b\", got " + e);
                }
                a = s.substring(0, sp);
                b = s.substring(sp + 1);
            } else if (e.isJsonArray() && e.getAsJsonArray().size() == 2 && StrictJson.isString(e.getAsJsonArray().get(0))
                    && StrictJson.isString(e.getAsJsonArray().get(1))) {
                a = e.getAsJsonArray().get(0).getAsString();
                b = e.getAsJsonArray().get(1).getAsString();
            } else {
                throw new TokenizerFormatException(mw + ".merges[" + r + "] must be \"a b\" or [\"a\", \"b\"], got " + e);
            }
            Integer ia = vocab.get(a), ib = vocab.get(b), ir = vocab.get(a + b);
            if (ia == null || ib == null) {
                throw new TokenizerFormatException(mw + ".merges[" + r + "]: \"" + (ia == null ? a : b)
                        + "\" is not in the vocabulary");
            }
            if (ir == null) {
                throw new TokenizerFormatException(mw + ".merges[" + r + "]: the result \"" + a + b
                        + "\" is not in the vocabulary");
            }
            if (mergeRank.put(LongIntMap.pair(ia, ib), r) >= 0) {
                throw new TokenizerFormatException(mw + ".merges[" + r + "]: \"" + a + " " + b + "\" is listed twice");
            }
            mergeResult[r] = ir;
        }
        this.added = new AddedTokens(addedList, normalizer);
        int[][] post = postProcessor(o.get("post_processor"), f + ": post_processor");
        prefixIds = post[0];
        suffixIds = post[1];
        for (int id : prefixIds) checkIdIn(id, size, f + ": post_processor");
        for (int id : suffixIds) checkIdIn(id, size, f + ": post_processor");
    }

    private static void checkIdIn(int id, int size, String where) {
        if (id >= size) throw new TokenizerFormatException(where + ": id " + id + " outside the vocabulary [0, " + size + ")");
    }

    // ============================================================================================ post-processor

    /** {prefix ids, suffix ids} the post-processor puts around a single sequence. */
    private static int[][] postProcessor(JsonElement e, String where) {
        if (isNull(e)) return new int[][] {{}, {}};
        JsonObject o = object(e, where);
        String type = TokenizerJson.type(o, where);
        switch (type) {
            case "ByteLevel" -> {
                return new int[][] {{}, {}};
            }
            case "Sequence" -> {
                JsonArray a = HfPipeline.array(o, "processors", where);
                int[] pre = {}, suf = {};
                for (int i = 0; i < a.size(); i++) {
                    JsonElement step = a.get(i);
                    if (step.isJsonObject() && StrictJson.isString(step.getAsJsonObject().get("type"))
                            && step.getAsJsonObject().get("type").getAsString().equals("Sequence")) {
                        throw new TokenizerFormatException(where + ": nested post-processor Sequence is not supported");
                    }
                    int[][] ps = postProcessor(step, where + ".processors[" + i + "]");
                    pre = concat(pre, ps[0]);
                    suf = concat(suf, ps[1]);
                }
                return new int[][] {pre, suf};
            }
            case "TemplateProcessing" -> {
                JsonArray single = HfPipeline.array(o, "single", where);
                JsonObject specials = object(o.get("special_tokens"), where + ".special_tokens");
                List<Integer> pre = new ArrayList<>(), suf = new ArrayList<>();
                boolean seenA = false;
                for (int i = 0; i < single.size(); i++) {
                    String w = where + ".single[" + i + "]";
                    JsonObject piece = object(single.get(i), w);
                    if (piece.has("Sequence")) {
                        if (seenA) throw new TokenizerFormatException(w + ": a second Sequence in single");
                        seenA = true;
                    } else if (piece.has("SpecialToken")) {
                        String name = string(object(piece.get("SpecialToken"), w + ".SpecialToken"), "id", w + ".SpecialToken");
                        JsonObject st = object(specials.get(name), where + ".special_tokens[\"" + name + "\"]");
                        JsonArray ids = HfPipeline.array(st, "ids", where + ".special_tokens[\"" + name + "\"]");
                        for (int k = 0; k < ids.size(); k++) {
                            (seenA ? suf : pre).add(TokenizerJson.id(ids.get(k), where + ".special_tokens[\"" + name + "\"].ids"));
                        }
                    } else {
                        throw new TokenizerFormatException(w + " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
                    }
                }
                if (!seenA) throw new TokenizerFormatException(where + ".single has no Sequence");
                return new int[][] {pre.stream().mapToInt(Integer::intValue).toArray(),
                    suf.stream().mapToInt(Integer::intValue).toArray()};
            }
            default -> throw new TokenizerFormatException(where + ": post-processor type \"" + type
                    + "\" is not supported (supported: TemplateProcessing, ByteLevel, Sequence)");
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ============================================================================================ added tokens

    private record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip,
            boolean normalized, boolean singleWord) {}

    /** Matching of added tokens: leftmost, then longest; four matchers (raw / normalized × with / without specials). */
    private static final class AddedTokens {
        final Matcherish rawAll, rawPlain, normAll, normPlain;

        AddedTokens(List<AddedToken> tokens, HfPipeline.Normalizer normalizer) {
            List<AddedToken> raw = new ArrayList<>(), norm = new ArrayList<>();
            Map<String, AddedToken> normForms = new LinkedHashMap<>();
            for (AddedToken t : tokens) {
                if (t.normalized && normalizer != null) {
                    String n = normalizer.apply(new HfText(t.content, 0)).s;
                    if (!n.isEmpty()) {
                        AddedToken nt = new AddedToken(t.id, n, t.special, t.lstrip, t.rstrip, true, t.singleWord);
                        normForms.put(n, nt);
                    }
                } else {
                    raw.add(t);
                }
            }
            norm.addAll(normForms.values());
            rawAll = Matcherish.of(raw, true);
            rawPlain = Matcherish.of(raw, false);
            normAll = Matcherish.of(norm, true);
            normPlain = Matcherish.of(norm, false);
        }
    }

    /** One alternation of added tokens; null when there are none. */
    private record Matcherish(Pattern pattern, Map<String, AddedToken> byContent) {
        static Matcherish of(List<AddedToken> tokens, boolean withSpecials) {
            Map<String, AddedToken> by = new HashMap<>();
            for (AddedToken t : tokens) if (withSpecials || !t.special) by.putIfAbsent(t.content, t);
            if (by.isEmpty()) return null;
            List<String> order = new ArrayList<>(by.keySet());
            order.sort(Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder()));
            StringBuilder sb = new StringBuilder();
            for (String s : order) {
                if (sb.length() > 0) sb.append('|');
                sb.append(Pattern.quote(s));
            }
            return new Matcherish(Pattern.compile(sb.toString()), by);
        }
    }

    private interface SegmentSink {
        void plain(int start, int end);

        void token(int id, int start, int end);
    }

    /** Splits s[start, end) at added-token matches. */
    private static void splitAdded(Matcherish mt, String s, int start, int end, SegmentSink sink) {
        if (mt == null) {
            if (end > start) sink.plain(start, end);
            return;
        }
        Matcher m = mt.pattern.matcher(s);
        m.region(start, end);
        int last = start;
        int from = start;
        while (from < end && m.find(from)) {
            if (m.end() > end) break;
            AddedToken t = mt.byContent.get(m.group());
            int ms = m.start(), me = m.end();
            if (t.singleWord && ((ms > start && isWordChar(s.codePointBefore(ms))) || (me < end && isWordChar(s.codePointAt(me))))) {
                from = ms + 1;
                continue;
            }
            if (t.lstrip) while (ms > last && Character.isWhitespace(s.charAt(ms - 1))) ms--;
            if (t.rstrip) while (me < end && Character.isWhitespace(s.charAt(me))) me++;
            if (ms > last) sink.plain(last, ms);
            sink.token(t.id, ms, me);
            last = me;
            from = me;
        }
        if (last < end) sink.plain(last, end);
    }

    private static boolean isWordChar(int cp) {
        return Character.isLetterOrDigit(cp) || cp == '_';
    }

    // ============================================================================================ encoding

    /** Token ids with, for each, the [start, end) char range of the input it came from. */
    public record Encoding(int[] ids, int[] starts, int[] ends) {}

    @Override
    public int[] encode(String text) {
        return run(text, false, null);
    }

    @Override
    public int[] encodeWithSpecials(String text) {
        return run(text, true, null);
    }

    /** {@link #encodeWithSpecials} with what the file's post-processor adds around a sequence (e.g. BOS). */
    public int[] encodeForModel(String text) {
        return concat(concat(prefixIds, encodeWithSpecials(text)), suffixIds);
    }

    /** Whether the post-processor adds ids before or after a sequence. */
    public int[] postProcessorPrefix() {
        return prefixIds.clone();
    }

    public int[] postProcessorSuffix() {
        return suffixIds.clone();
    }

    /** Encodes, recognising every added token when matchSpecials (else only the non-special ones), with offsets. */
    public Encoding encodeWithOffsets(String text, boolean matchSpecials) {
        SpecialTokens.IntList off = new SpecialTokens.IntList();
        int[] ids = run(text, matchSpecials, off);
        int[] st = new int[ids.length], en = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            st[i] = off.a[2 * i];
            en[i] = off.a[2 * i + 1];
        }
        return new Encoding(ids, st, en);
    }

    private int[] run(String text, boolean matchSpecials, SpecialTokens.IntList offsets) {
        SpecialTokens.IntList out = new SpecialTokens.IntList();
        Matcherish raw = matchSpecials ? added.rawAll : added.rawPlain;
        Matcherish norm = matchSpecials ? added.normAll : added.normPlain;
        splitAdded(raw, text, 0, text.length(), new SegmentSink() {
            @Override
            public void plain(int start, int end) {
                HfText t = new HfText(text.substring(start, end), start);
                if (normalizer != null) t = normalizer.apply(t);
                HfText nt = t;
                splitAdded(norm, nt.s, 0, nt.length(), new SegmentSink() {
                    @Override
                    public void plain(int s, int e) {
                        encodeNormalized(new Span(nt, s, e), out, offsets);
                    }

                    @Override
                    public void token(int id, int s, int e) {
                        emit(out, offsets, id, nt.lo(s), nt.hi(e - 1));
                    }
                });
            }

            @Override
            public void token(int id, int start, int end) {
                emit(out, offsets, id, start, end);
            }
        });
        return out.toArray();
    }

    private static void emit(SpecialTokens.IntList out, SpecialTokens.IntList offsets, int id, int start, int end) {
        out.add(id);
        if (offsets != null) {
            offsets.add(start);
            offsets.add(end);
        }
    }

    private void encodeNormalized(Span span, SpecialTokens.IntList out, SpecialTokens.IntList offsets) {
        List<Span> pieces = new ArrayList<>();
        pieces.add(span);
        for (HfPipeline.PreTokenizer p : preTokenizers.steps()) {
            List<Span> next = new ArrayList<>(pieces.size() * 2);
            for (Span s : pieces) if (s.end() > s.start()) p.split(s, next);
            pieces = next;
        }
        HashMap<String, int[]> c = offsets == null ? cache.get() : null;
        for (Span s : pieces) {
            if (s.end() <= s.start()) continue;
            if (c != null && s.end() - s.start() <= CACHE_MAX_PIECE) {
                String key = s.string();
                int[] ids = c.get(key);
                if (ids == null) {
                    ids = bpe(s, null);
                    if (c.size() >= CACHE_MAX_ENTRIES) c.clear();
                    c.put(key, ids);
                }
                out.addAll(ids);
            } else {
                out.addAll(bpe(s, offsets));
            }
        }
    }

    /** BPE of one pre-token; appends each token's original char range to offsets when given. */
    private int[] bpe(Span s, SpecialTokens.IntList offsets) {
        String str = s.text().s;
        int n0 = s.end() - s.start();
        if (ignoreMerges) {
            String word = preTokenizers.byteLevel() ? ByteLevel.encodeText(s.string()) : s.string();
            Integer id = vocab.get(word);
            if (id != null) {
                if (offsets != null) {
                    offsets.add(s.text().lo(s.start()));
                    offsets.add(s.text().hi(s.end() - 1));
                }
                return new int[] {id};
            }
        }
        // initial symbols with their char ranges [cs, ce) in the span's text
        SpecialTokens.IntList sym = new SpecialTokens.IntList(), cs = new SpecialTokens.IntList(),
                ce = new SpecialTokens.IntList();
        byte[] utf8 = new byte[4];
        for (int i = s.start(); i < s.end(); ) {
            int cp = str.codePointAt(i);
            int len = Character.charCount(cp);
            if (preTokenizers.byteLevel()) {
                int nb = utf8(cp, utf8);
                for (int k = 0; k < nb; k++) addSymbol(sym, cs, ce, byteSymbol[utf8[k] & 0xFF], i, i + len);
            } else {
                Integer id = vocab.get(str.substring(i, i + len));
                if (id != null) {
                    addSymbol(sym, cs, ce, id, i, i + len);
                } else {
                    int nb = utf8(cp, utf8);
                    boolean all = fallbackId != null;
                    for (int k = 0; all && k < nb; k++) all = fallbackId[utf8[k] & 0xFF] >= 0;
                    if (all) {
                        for (int k = 0; k < nb; k++) addSymbol(sym, cs, ce, fallbackId[utf8[k] & 0xFF], i, i + len);
                    } else {
                        addSymbol(sym, cs, ce, -1, i, i + len);
                    }
                }
            }
            i += len;
        }
        // unknown symbols: the unknown token (consecutive ones fused with fuse_unk) or dropped
        int n = 0;
        for (int k = 0; k < sym.n; k++) {
            int id = sym.a[k];
            if (id < 0) {
                if (unkId < 0) continue;
                if (fuseUnk && n > 0 && sym.a[n - 1] == unkId) {
                    ce.a[n - 1] = ce.a[k];
                    continue;
                }
                id = unkId;
            }
            sym.a[n] = id;
            cs.a[n] = cs.a[k];
            ce.a[n] = ce.a[k];
            n++;
        }
        int[] ids = Arrays.copyOf(sym.a, n), st = Arrays.copyOf(cs.a, n), en = Arrays.copyOf(ce.a, n);
        int alive = merge(ids, en, n);
        int[] result = new int[alive];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0) continue;
            result[k++] = ids[i];
            if (offsets != null) {
                offsets.add(s.text().lo(st[i]));
                offsets.add(s.text().hi(en[i] - 1));
            }
        }
        assert n0 > 0;
        return result;
    }

    private static void addSymbol(SpecialTokens.IntList sym, SpecialTokens.IntList cs, SpecialTokens.IntList ce, int id,
            int start, int end) {
        sym.add(id);
        cs.add(start);
        ce.add(end);
    }

    private static int utf8(int cp, byte[] out) {
        if (cp < 0x80) {
            out[0] = (byte) cp;
            return 1;
        }
        if (cp < 0x800) {
            out[0] = (byte) (0xC0 | (cp >> 6));
            out[1] = (byte) (0x80 | (cp & 0x3F));
            return 2;
        }
        if (cp < 0x10000) {
            if (cp >= 0xD800 && cp <= 0xDFFF) { // a lone surrogate: encoded as '?' like String.getBytes
                out[0] = '?';
                return 1;
            }
            out[0] = (byte) (0xE0 | (cp >> 12));
            out[1] = (byte) (0x80 | ((cp >> 6) & 0x3F));
            out[2] = (byte) (0x80 | (cp & 0x3F));
            return 3;
        }
        out[0] = (byte) (0xF0 | (cp >> 18));
        out[1] = (byte) (0x80 | ((cp >> 12) & 0x3F));
        out[2] = (byte) (0x80 | ((cp >> 6) & 0x3F));
        out[3] = (byte) (0x80 | (cp & 0x3F));
        return 4;
    }

    /**
     * Merges symbols in place, lowest rank first, leftmost among equals (the {@code tokenizers} library's order):
     * a merged symbol stays at its left position and takes the right one's end; merged-away symbols become -1.
     * Returns how many remain.
     */
    private int merge(int[] sym, int[] end, int n) {
        return BpeTokenizer.mergeInPlace(sym, end, n, mergeRank, mergeResult);
    }

    // ============================================================================================ decoding

    @Override
    public String decode(int[] ids) {
        List<String> toks = new ArrayList<>(ids.length);
        for (int id : ids) {
            checkId(id);
            if (idToToken[id] != null) toks.add(idToToken[id]);
        }
        if (decoders.decoder() == null) return String.join(" ", toks);
        return String.join("", decoders.decoder().decode(toks));
    }

    /**
     * The bytes one token stands for on its own: a special token's UTF-8; for byte-level decoders the token's
     * byte-level spelling; a {@code <0xNN>} byte-fallback token's byte; otherwise its text with the decoder's
     * word-boundary mark (e.g. "▁") as a space.
     */
    @Override
    public byte[] tokenBytes(int id) {
        String t = tokenText(id);
        if (isSpecial[id]) return t.getBytes(StandardCharsets.UTF_8);
        if (decoders.byteLevel()) {
            byte[] b = ByteLevel.decode(t);
            if (b != null) return b;
        }
        if (decoders.byteFallback()) {
            int b = HfPipeline.fallbackByte(t);
            if (b >= 0) return new byte[] {(byte) b};
        }
        if (decoders.spaceFrom() != null) t = t.replace(decoders.spaceFrom(), " ");
        return t.getBytes(StandardCharsets.UTF_8);
    }

    /** The token's text as the file spells it (its vocabulary key or added-token content). */
    @Override
    public String tokenText(int id) {
        checkId(id);
        if (idToToken[id] == null) throw new IllegalArgumentException("token id " + id + " is unused");
        return idToToken[id];
    }

    private void checkId(int id) {
        if (id < 0 || id >= idToToken.length) {
            throw new IllegalArgumentException("token id " + id + " outside [0, " + idToToken.length + ")");
        }
    }

    // ============================================================================================ queries

    @Override
    public int vocabSize() {
        return idToToken.length;
    }

    /** The id of a special added token. */
    @Override
    public OptionalInt specialId(String special) {
        for (int id = 0; id < idToToken.length; id++) {
            if (isSpecial[id] && idToToken[id].equals(special)) return OptionalInt.of(id);
        }
        return OptionalInt.empty();
    }

    /** The id of any token by its text: an added token's content or a vocabulary key. */
    public OptionalInt tokenToId(String token) {
        for (int id = 0; id < idToToken.length; id++) {
            if (isSpecial[id] && idToToken[id].equals(token)) return OptionalInt.of(id);
        }
        Integer id = vocab.get(token);
        if (id != null) return OptionalInt.of(id);
        for (int i = 0; i < idToToken.length; i++) if (token.equals(idToToken[i])) return OptionalInt.of(i);
        return OptionalInt.empty();
    }

    @Override
    public List<String> specials() {
        List<String> r = new ArrayList<>();
        for (int id = 0; id < idToToken.length; id++) if (isSpecial[id]) r.add(idToToken[id]);
        return r;
    }

    /** Whether an id is a special added token. */
    public boolean isSpecial(int id) {
        checkId(id);
        return isSpecial[id];
    }

    /** Stored as the tokenizer.json text itself and its tokenizer_config.json text if any (types 3 and 4 of {@link TokenizerFormat}). */
    @Override
    public byte[] toBytes() {
        return TokenizerFormat.writeHf(source, config == null ? null : config.text());
    }
}
