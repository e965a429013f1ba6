package org.jalign.text;

import static org.jalign.text.TokenizerJson.isNull;
import static org.jalign.text.TokenizerJson.object;
import static org.jalign.text.TokenizerJson.optBool;
import static org.jalign.text.TokenizerJson.optNonNegative;
import static org.jalign.text.TokenizerJson.optString;
import static org.jalign.text.TokenizerJson.string;
import static org.jalign.text.TokenizerJson.type;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jalign.text.HfText.Span;

/**
 * The normalizers, pre-tokenizers and decoders of a Hugging Face tokenizer.json that jalign implements, each
 * with the semantics of the {@code tokenizers} library, parsed from their JSON objects. A type that is not
 * implemented is refused by name.
 */
final class HfPipeline {
    private HfPipeline() {}

    static final int MAX_SEQUENCE = 64; // steps in one Sequence

    // ============================================================================================ normalizers

    interface Normalizer {
        HfText apply(HfText in);
    }

    static Normalizer normalizer(JsonElement e, String where) {
        if (isNull(e)) return null;
        JsonObject o = object(e, where);
        String type = type(o, where);
        switch (type) {
            case "Sequence" -> {
                List<Normalizer> steps = new ArrayList<>();
                JsonArray a = array(o, "normalizers", where);
                for (int i = 0; i < a.size(); i++) steps.add(normalizer(a.get(i), where + ".normalizers[" + i + "]"));
                steps.removeIf(s -> s == null);
                return t -> {
                    for (Normalizer n : steps) t = n.apply(t);
                    return t;
                };
            }
            case "Prepend" -> {
                String p = string(o, "prepend", where);
                return t -> {
                    if (t.length() == 0 || p.isEmpty()) return t;
                    HfText.Builder b = new HfText.Builder(t.length() + p.length());
                    b.add(p, t.lo(0), t.lo(0));
                    b.copy(t, 0, t.length());
                    return b.build();
                };
            }
            case "Replace" -> {
                Pattern p = pattern(o, where);
                String content = string(o, "content", where);
                return t -> replace(t, p, content);
            }
            case "NFC" -> {
                return t -> unicode(t, java.text.Normalizer.Form.NFC);
            }
            case "NFD" -> {
                return t -> unicode(t, java.text.Normalizer.Form.NFD);
            }
            case "NFKC" -> {
                return t -> unicode(t, java.text.Normalizer.Form.NFKC);
            }
            case "NFKD" -> {
                return t -> unicode(t, java.text.Normalizer.Form.NFKD);
            }
            case "Lowercase" -> {
                return t -> perCodePoint(t, cp -> new String(Character.toChars(cp)).toLowerCase(Locale.ROOT));
            }
            case "Strip" -> {
                boolean left = optBool(o, "strip_left", where, true), right = optBool(o, "strip_right", where, true);
                return t -> {
                    int a = 0, z = t.length();
                    if (left) while (a < z && Character.isWhitespace(t.s.charAt(a))) a++;
                    if (right) while (z > a && Character.isWhitespace(t.s.charAt(z - 1))) z--;
                    if (a == 0 && z == t.length()) return t;
                    HfText.Builder b = new HfText.Builder(z - a);
                    b.copy(t, a, z);
                    return b.build();
                };
            }
            default -> throw new TokenizerFormatException(where + ": normalizer type \"" + type + "\" is not supported"
                    + " (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip)");
        }
    }

    private static HfText replace(HfText t, Pattern p, String content) {
        Matcher m = p.matcher(t.s);
        if (!m.find()) return t;
        HfText.Builder b = new HfText.Builder(t.length() + 16);
        int last = 0;
        do {
            if (m.end() == m.start()) continue;
            b.copy(t, last, m.start());
            b.add(content, t.lo(m.start()), t.hi(m.end() - 1));
            last = m.end();
        } while (m.find());
        b.copy(t, last, t.length());
        return b.build();
    }

    private interface CodePointMap {
        String map(int cp);
    }

    private static HfText perCodePoint(HfText t, CodePointMap f) {
        HfText.Builder b = new HfText.Builder(t.length());
        for (int i = 0; i < t.length(); ) {
            int cp = t.s.codePointAt(i);
            int n = Character.charCount(cp);
            b.add(f.map(cp), t.lo(i), t.hi(i + n - 1));
            i += n;
        }
        return b.build();
    }

    /**
     * Unicode normalization. The text is the exact normalization of the whole input; the alignment comes from
     * normalizing each base character with its combining marks separately, which gives the same text in all but
     * rare cases (then each output char is aligned proportionally).
     */
    private static HfText unicode(HfText t, java.text.Normalizer.Form form) {
        if (java.text.Normalizer.isNormalized(t.s, form)) return t;
        String whole = java.text.Normalizer.normalize(t.s, form);
        HfText.Builder b = new HfText.Builder(whole.length());
        int n = t.length();
        for (int i = 0; i < n; ) {
            int j = i + Character.charCount(t.s.codePointAt(i));
            while (j < n) {
                int cp = t.s.codePointAt(j);
                int type = Character.getType(cp);
                if (type != Character.NON_SPACING_MARK && type != Character.COMBINING_SPACING_MARK
                        && type != Character.ENCLOSING_MARK) break;
                j += Character.charCount(cp);
            }
            b.add(java.text.Normalizer.normalize(t.s.substring(i, j), form), t.lo(i), t.hi(j - 1));
            i = j;
        }
        HfText clustered = b.build();
        if (clustered.s.equals(whole)) return clustered;
        HfText.Builder p = new HfText.Builder(whole.length());
        for (int k = 0; k < whole.length(); k++) {
            int src = (int) ((long) k * n / whole.length());
            p.add(whole.charAt(k), t.lo(src), t.hi(src));
        }
        return p.build();
    }

    // ============================================================================================ pre-tokenizers

    /** Splits (and may rewrite) one span into pre-tokens, appended to out in order. */
    interface PreTokenizer {
        void split(Span s, List<Span> out);
    }

    /** A parsed pre_tokenizer: its steps, and whether the last is ByteLevel (words are then byte-level spelled). */
    record PreTokenizers(List<PreTokenizer> steps, boolean byteLevel) {}

    static PreTokenizers preTokenizers(JsonElement e, String where) {
        List<PreTokenizer> steps = new ArrayList<>();
        boolean[] byteLevel = {false};
        addPreTokenizer(e, where, steps, byteLevel, 0);
        return new PreTokenizers(List.copyOf(steps), byteLevel[0]);
    }

    private static void addPreTokenizer(JsonElement e, String where, List<PreTokenizer> steps, boolean[] byteLevel,
            int depth) {
        if (isNull(e)) return;
        if (depth > 4) throw new TokenizerFormatException(where + ": pre-tokenizer Sequences nested too deep");
        JsonObject o = object(e, where);
        String type = type(o, where);
        if (byteLevel[0] && !type.equals("Sequence")) {
            throw new TokenizerFormatException(where + ": pre-tokenizer \"" + type
                    + "\" after ByteLevel is not supported (ByteLevel must be the last step)");
        }
        switch (type) {
            case "Sequence" -> {
                JsonArray a = array(o, "pretokenizers", where);
                for (int i = 0; i < a.size(); i++) {
                    addPreTokenizer(a.get(i), where + ".pretokenizers[" + i + "]", steps, byteLevel, depth + 1);
                }
            }
            case "Split" -> {
                Pattern p = pattern(o, where);
                String behavior = string(o, "behavior", where);
                if (optBool(o, "invert", where, false)) {
                    throw new TokenizerFormatException(where + ": Split with invert=true is not supported");
                }
                if (!List.of("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext").contains(behavior)) {
                    throw new TokenizerFormatException(where + ": Split behavior \"" + behavior + "\" is not supported"
                            + " (supported: Isolated, Removed, MergedWithPrevious, MergedWithNext)");
                }
                steps.add((s, out) -> split(s, p, behavior, out));
            }
            case "Digits" -> {
                boolean individual = optBool(o, "individual_digits", where, false);
                steps.add((s, out) -> digits(s, individual, out));
            }
            case "ByteLevel" -> {
                boolean prefix = optBool(o, "add_prefix_space", where, true);
                boolean regex = optBool(o, "use_regex", where, true);
                steps.add((s, out) -> {
                    if (prefix && s.text().s.charAt(s.start()) != ' ') s = prepend(s, " ");
                    if (!regex) {
                        out.add(s);
                        return;
                    }
                    String str = s.text().s;
                    for (int i = s.start(); i < s.end(); ) {
                        int end = Gpt2PreTokenizer.next(str, i, s.end());
                        out.add(new Span(s.text(), i, end));
                        i = end;
                    }
                });
                byteLevel[0] = true;
            }
            case "Metaspace" -> {
                String repl = optString(o, "replacement", where, "\u2581");
                if (repl.codePointCount(0, repl.length()) != 1) {
                    throw new TokenizerFormatException(where + ".replacement must be one character, got \"" + repl + "\"");
                }
                String scheme;
                if (!isNull(o.get("prepend_scheme"))) {
                    scheme = string(o, "prepend_scheme", where);
                    if (!List.of("always", "first", "never").contains(scheme)) {
                        throw new TokenizerFormatException(where + ".prepend_scheme \"" + scheme
                                + "\" is not one of always, first, never");
                    }
                } else {
                    scheme = optBool(o, "add_prefix_space", where, true) ? "always" : "never";
                }
                boolean splitWords = optBool(o, "split", where, true);
                steps.add((s, out) -> metaspace(s, repl, scheme, splitWords, out));
            }
            default -> throw new TokenizerFormatException(where + ": pre-tokenizer type \"" + type + "\" is not supported"
                    + " (supported: Sequence, Split, Digits, ByteLevel, Metaspace)");
        }
        if (steps.size() > MAX_SEQUENCE) throw new TokenizerFormatException(where + ": more than " + MAX_SEQUENCE + " steps");
    }

    private static void split(Span s, Pattern p, String behavior, List<Span> out) {
        HfText t = s.text();
        Matcher m = p.matcher(t.s);
        m.region(s.start(), s.end());
        int last = s.start();
        while (m.find()) {
            int ms = m.start(), me = m.end();
            if (me == ms) continue;
            switch (behavior) {
                case "Isolated" -> {
                    if (ms > last) out.add(new Span(t, last, ms));
                    out.add(new Span(t, ms, me));
                    last = me;
                }
                case "Removed" -> {
                    if (ms > last) out.add(new Span(t, last, ms));
                    last = me;
                }
                case "MergedWithPrevious" -> {
                    out.add(new Span(t, last, me));
                    last = me;
                }
                default -> { // MergedWithNext
                    if (ms > last) out.add(new Span(t, last, ms));
                    last = ms;
                }
            }
        }
        if (last < s.end()) out.add(new Span(t, last, s.end()));
    }

    private static void digits(Span s, boolean individual, List<Span> out) {
        String str = s.text().s;
        int last = s.start();
        for (int i = s.start(); i < s.end(); ) {
            int cp = str.codePointAt(i);
            int n = Character.charCount(cp);
            if (Gpt2PreTokenizer.classify(cp) == Gpt2PreTokenizer.NUMBER) {
                int j = i + n;
                if (!individual) {
                    while (j < s.end() && Gpt2PreTokenizer.classify(str.codePointAt(j)) == Gpt2PreTokenizer.NUMBER) {
                        j += Character.charCount(str.codePointAt(j));
                    }
                }
                if (i > last) out.add(new Span(s.text(), last, i));
                out.add(new Span(s.text(), i, j));
                last = j;
                i = j;
            } else {
                i += n;
            }
        }
        if (last < s.end()) out.add(new Span(s.text(), last, s.end()));
    }

    /** The span's text with {@code p} in front (empty range at its first char), as a new text. */
    private static Span prepend(Span s, String p) {
        HfText t = s.text();
        HfText.Builder b = new HfText.Builder(s.end() - s.start() + p.length());
        b.add(p, t.lo(s.start()), t.lo(s.start()));
        b.copy(t, s.start(), s.end());
        HfText nt = b.build();
        return new Span(nt, 0, nt.length());
    }

    private static void metaspace(Span s, String repl, String scheme, boolean splitWords, List<Span> out) {
        HfText t = s.text();
        char r = repl.charAt(0);
        boolean prepend = t.s.charAt(s.start()) != ' ' && !t.s.startsWith(repl, s.start())
                && (scheme.equals("always") || (scheme.equals("first") && s.originalStart() == 0));
        HfText.Builder b = new HfText.Builder(s.end() - s.start() + 1);
        if (prepend) b.add(repl, t.lo(s.start()), t.lo(s.start()));
        for (int i = s.start(); i < s.end(); i++) {
            char c = t.s.charAt(i);
            if (c == ' ') b.add(repl, t.lo(i), t.hi(i));
            else b.add(c, t.lo(i), t.hi(i));
        }
        HfText nt = b.build();
        if (!splitWords || repl.length() != 1) {
            out.add(new Span(nt, 0, nt.length()));
            return;
        }
        int last = 0;
        for (int i = 1; i < nt.length(); i++) {
            if (nt.s.charAt(i) == r) {
                out.add(new Span(nt, last, i));
                last = i;
            }
        }
        out.add(new Span(nt, last, nt.length()));
    }

    // ============================================================================================ decoders

    interface Decoder {
        List<String> decode(List<String> tokens);
    }

    /** A parsed decoder and what one token's text turns into on its own (for {@link Tokenizer#tokenBytes}). */
    record Decoders(Decoder decoder, boolean byteLevel, boolean byteFallback, String spaceFrom) {}

    static Decoders decoders(JsonElement e, String where) {
        if (isNull(e)) return new Decoders(null, false, false, null);
        boolean[] flags = new boolean[2];
        String[] space = new String[1];
        Decoder d = decoder(e, where, flags, space, 0);
        return new Decoders(d, flags[0], flags[1], space[0]);
    }

    private static Decoder decoder(JsonElement e, String where, boolean[] flags, String[] space, int depth) {
        if (depth > 4) throw new TokenizerFormatException(where + ": decoder Sequences nested too deep");
        JsonObject o = object(e, where);
        String type = type(o, where);
        switch (type) {
            case "Sequence" -> {
                JsonArray a = array(o, "decoders", where);
                if (a.size() > MAX_SEQUENCE) throw new TokenizerFormatException(where + ": more than " + MAX_SEQUENCE + " steps");
                List<Decoder> steps = new ArrayList<>();
                for (int i = 0; i < a.size(); i++) steps.add(decoder(a.get(i), where + ".decoders[" + i + "]", flags, space, depth + 1));
                return toks -> {
                    for (Decoder d : steps) toks = d.decode(toks);
                    return toks;
                };
            }
            case "ByteLevel" -> {
                flags[0] = true;
                return HfPipeline::byteLevelDecode;
            }
            case "ByteFallback" -> {
                flags[1] = true;
                return HfPipeline::byteFallbackDecode;
            }
            case "Fuse" -> {
                return toks -> List.of(String.join("", toks));
            }
            case "Replace" -> {
                Pattern p = pattern(o, where);
                String content = string(o, "content", where);
                if (content.equals(" ")) space[0] = patternText(o);
                return toks -> {
                    List<String> r = new ArrayList<>(toks.size());
                    for (String tok : toks) r.add(p.matcher(tok).replaceAll(Matcher.quoteReplacement(content)));
                    return r;
                };
            }
            case "Strip" -> {
                String content = string(o, "content", where);
                if (content.length() != 1) throw new TokenizerFormatException(where + ".content must be one character");
                char c = content.charAt(0);
                int start = optNonNegative(o, "start", where, 0), stop = optNonNegative(o, "stop", where, 0);
                return toks -> {
                    List<String> r = new ArrayList<>(toks.size());
                    for (String tok : toks) {
                        int a = 0, z = tok.length();
                        while (a < Math.min(start, tok.length()) && tok.charAt(a) == c) a++;
                        for (int k = 0; k < stop && z > a && tok.charAt(z - 1) == c; k++) z--;
                        r.add(tok.substring(a, z));
                    }
                    return r;
                };
            }
            case "Metaspace" -> {
                String repl = optString(o, "replacement", where, "\u2581");
                String scheme = !isNull(o.get("prepend_scheme")) ? string(o, "prepend_scheme", where)
                        : optBool(o, "add_prefix_space", where, true) ? "always" : "never";
                space[0] = repl;
                return toks -> {
                    List<String> r = new ArrayList<>(toks.size());
                    for (int i = 0; i < toks.size(); i++) {
                        String rep = i == 0 && !scheme.equals("never") ? "" : " ";
                        r.add(toks.get(i).replace(repl, rep));
                    }
                    return r;
                };
            }
            default -> throw new TokenizerFormatException(where + ": decoder type \"" + type + "\" is not supported"
                    + " (supported: Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace)");
        }
    }

    private static List<String> byteLevelDecode(List<String> toks) {
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        for (String t : toks) {
            byte[] b = ByteLevel.decode(t);
            if (b == null) b = t.getBytes(StandardCharsets.UTF_8);
            buf.write(b, 0, b.length);
        }
        return List.of(new String(buf.toByteArray(), StandardCharsets.UTF_8));
    }

    /** The byte of a {@code <0xNN>} token, or -1. */
    static int fallbackByte(String t) {
        if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
        int hi = Character.digit(t.charAt(3), 16), lo = Character.digit(t.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private static List<String> byteFallbackDecode(List<String> toks) {
        List<String> r = new ArrayList<>(toks.size());
        java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();
        for (int i = 0; i <= toks.size(); i++) {
            int b = i < toks.size() ? fallbackByte(toks.get(i)) : -1;
            if (b >= 0) {
                pending.write(b);
                continue;
            }
            if (pending.size() > 0) {
                try {
                    r.add(StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT)
                            .decode(java.nio.ByteBuffer.wrap(pending.toByteArray())).toString());
                } catch (CharacterCodingException e) {
                    for (int k = 0; k < pending.size(); k++) r.add("\uFFFD");
                }
                pending.reset();
            }
            if (i < toks.size()) r.add(toks.get(i));
        }
        return r;
    }

    // ============================================================================================ shared

    static JsonArray array(JsonObject o, String key, String where) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonArray()) {
            throw new TokenizerFormatException(where + "." + key + " must be an array");
        }
        if (e.getAsJsonArray().size() > MAX_SEQUENCE) {
            throw new TokenizerFormatException(where + "." + key + ": more than " + MAX_SEQUENCE + " steps");
        }
        return e.getAsJsonArray();
    }

    private static String patternText(JsonObject o) {
        JsonObject p = o.get("pattern").getAsJsonObject();
        return p.has("String") ? p.get("String").getAsString() : null;
    }

    /** Llama 3's pre-tokenizer regex (tiktoken's cl100k_base pattern). */
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Qwen2's: Llama 3's with single digits. */
    static final String QWEN2_REGEX = LLAMA3_REGEX.replace("\\p{N}{1,3}", "\\p{N}");

    /**
     * The regexes a file may use, compiled once. A regex in a tokenizer file is untrusted input, and an arbitrary
     * one could take exponential time on some text; jalign accepts the ones of the model families it reads and
     * refuses others. In java.util.regex with Unicode character classes they mean what they mean in the
     * Oniguruma syntax of the {@code tokenizers} library ({@code \s} is Unicode White_Space, {@code (?i)} folds
     * Unicode case).
     */
    static final Map<String, Pattern> KNOWN_REGEXES = Map.of(
            LLAMA3_REGEX, Pattern.compile(LLAMA3_REGEX, Pattern.UNICODE_CHARACTER_CLASS),
            QWEN2_REGEX, Pattern.compile(QWEN2_REGEX, Pattern.UNICODE_CHARACTER_CLASS),
            BpeTokenizer.GPT2_PATTERN, Pattern.compile(BpeTokenizer.GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS));

    /** A {@code "pattern": {"String": s}} (literal) or {@code {"Regex": r}} (one of {@link #KNOWN_REGEXES}). */
    static Pattern pattern(JsonObject o, String where) {
        JsonObject p = object(o.get("pattern"), where + ".pattern");
        if (p.size() != 1) throw new TokenizerFormatException(where + ".pattern must have one key, String or Regex");
        if (p.has("String")) {
            String s = string(p, "String", where + ".pattern");
            if (s.isEmpty()) throw new TokenizerFormatException(where + ".pattern.String must not be empty");
            return Pattern.compile(Pattern.quote(s));
        }
        if (p.has("Regex")) {
            String r = string(p, "Regex", where + ".pattern");
            Pattern known = KNOWN_REGEXES.get(r);
            if (known == null) {
                throw new TokenizerFormatException(where + ".pattern.Regex " + TokenizerJson.quoted(r, 120)
                        + " is not a regex jalign knows (it reads those of GPT-2, Llama 3 and Qwen2)");
            }
            return known;
        }
        throw new TokenizerFormatException(where + ".pattern must be {\"String\": ...} or {\"Regex\": ...}");
    }
}
