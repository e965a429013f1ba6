package org.jalign.text;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * Byte-level BPE, GPT-2 style.
 *
 * <p>Shape legend: V = vocabulary size; M = number of merges (merge rank r in [0, M)).
 *
 * <p>Encoding: text is split into pre-tokens by GPT-2's regex ({@link #GPT2_PATTERN}); each pre-token's
 * UTF-8 bytes start as one byte token each, then the adjacent pair with the lowest merge rank is merged,
 * repeatedly (leftmost first among equal ranks), until no adjacent pair has a merge. This is exactly GPT-2's
 * {@code bpe()} loop; it is run with a priority queue of (rank, position) over a linked list of symbols so
 * that long pre-tokens cost O(n log n), and results for pre-tokens are cached.
 *
 * <p>Tokens: every id is a byte token (one byte), a merged token (its bytes are the concatenation of its
 * two parts), a special token (a string, matched only by {@link #encodeWithSpecials}), or unused (a gap in
 * a loaded vocabulary; never produced by encode, rejected by decode).
 *
 * <p>Create one with {@link #train}, {@link #fromGpt2Files}, {@link #fromHuggingFaceJson}, or
 * {@link Tokenizer#fromBytes}.
 */
public final class BpeTokenizer implements Tokenizer {

    /**
     * GPT-2's pre-tokenisation regex (whitespace classes Unicode-aware). Encoding and training use an
     * equivalent hand-written scanner; this pattern is the reference it is tested against.
     */
    public static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    static final Pattern PRETOKENIZER = Pattern.compile(GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);

    private static final int CACHE_MAX_PIECE = 256; // longer pre-tokens are not cached

    private final byte[][] tokenBytes; // (V) raw bytes of byte/merged tokens; null for special or unused ids
    private final String[] specialText; // (V) special string, null for other ids
    private final int[] byteToId; // (256) id of each single-byte token
    private final int[] mergeA; // (M) left part of the merge of rank r
    private final int[] mergeB; // (M) right part
    private final int[] mergeResult; // (M) id produced by the merge of rank r
    private final LongIntMap mergeRank; // pair(a, b) → rank
    private final SpecialTokens specials;
    private final ThreadLocal<PieceCache> cache = ThreadLocal.withInitial(PieceCache::new); // per thread

    /**
     * Builds a tokenizer from its parts, checking them: every byte has a token, each merge's result
     * spells the concatenation of its parts, special ids hold no bytes, ids are in range.
     *
     * @param tokenBytes (V) raw bytes per id; null for special and unused ids
     * @param specials special string → id
     * @param merges (M) triples {a, b, result} in rank order
     */
    BpeTokenizer(byte[][] tokenBytes, Map<String, Integer> specials, int[][] merges) {
        int vocab = tokenBytes.length;
        this.tokenBytes = tokenBytes.clone();
        this.specialText = new String[vocab];
        for (Map.Entry<String, Integer> e : specials.entrySet()) {
            int id = e.getValue();
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("special token " + e.getKey() + " has id " + id
                        + " outside the vocabulary [0, " + vocab + ")");
            }
            if (specialText[id] != null) {
                throw new IllegalArgumentException("special tokens " + specialText[id] + " and " + e.getKey()
                        + " share id " + id);
            }
            specialText[id] = e.getKey();
            this.tokenBytes[id] = null;
        }
        this.specials = new SpecialTokens(specials);
        this.byteToId = new int[256];
        Arrays.fill(byteToId, -1);
        Map<ByteKey, Integer> idOfBytes = new java.util.HashMap<>(vocab * 2);
        for (int id = 0; id < vocab; id++) {
            byte[] b = this.tokenBytes[id];
            if (b == null) continue;
            if (b.length == 0) throw new IllegalArgumentException("token " + id + " has no bytes");
            if (b.length == 1) {
                int v = b[0] & 0xFF;
                if (byteToId[v] >= 0) {
                    throw new IllegalArgumentException("byte 0x" + Integer.toHexString(v) + " has two tokens: "
                            + byteToId[v] + " and " + id);
                }
                byteToId[v] = id;
            }
            if (idOfBytes.put(new ByteKey(b), id) != null) {
                throw new IllegalArgumentException("token " + id + " (" + ByteLevel.encode(b)
                        + ") duplicates the bytes of another token");
            }
        }
        for (int v = 0; v < 256; v++) {
            if (byteToId[v] < 0) {
                throw new IllegalArgumentException("no token for byte 0x" + Integer.toHexString(v)
                        + " (" + ByteLevel.charOf(v) + "); a byte-level vocabulary needs all 256 bytes");
            }
        }
        int m = merges.length;
        mergeA = new int[m];
        mergeB = new int[m];
        mergeResult = new int[m];
        mergeRank = new LongIntMap(m);
        for (int r = 0; r < m; r++) {
            int[] t = merges[r];
            int a = t[0], b = t[1], res = t[2];
            for (int id : t) {
                if (id < 0 || id >= vocab || this.tokenBytes[id] == null) {
                    throw new IllegalArgumentException("merge " + r + " refers to id " + id
                            + ", which is not a byte or merged token");
                }
            }
            byte[] ab = concat(this.tokenBytes[a], this.tokenBytes[b]);
            if (!Arrays.equals(ab, this.tokenBytes[res])) {
                throw new IllegalArgumentException("merge " + r + " (" + tokenText(a) + " " + tokenText(b)
                        + ") does not spell its result token " + res + " (" + tokenText(res) + ")");
            }
            if (mergeRank.put(LongIntMap.pair(a, b), r) >= 0) {
                throw new IllegalArgumentException("merge " + r + " (" + tokenText(a) + " " + tokenText(b)
                        + ") is listed twice");
            }
            mergeA[r] = a;
            mergeB[r] = b;
            mergeResult[r] = res;
        }
    }

    // ------------------------------------------------------------------------------------ factories

    /** Trains on one corpus string. See {@link BpeTrainer}. */
    public static BpeTokenizer train(String corpus, int vocabSize, List<String> specials) {
        return train(List.of(corpus), vocabSize, specials);
    }

    /**
     * Trains a byte-level BPE vocabulary of at most vocabSize ids: 256 byte tokens (id = byte value), then
     * merged tokens in merge order, then the specials in the given order. Special-token strings in the
     * corpus are cut out before counting. Fewer merges are made if the corpus runs out of pairs.
     */
    public static BpeTokenizer train(Iterable<String> documents, int vocabSize, List<String> specials) {
        return BpeTrainer.train(documents, vocabSize, specials);
    }

    /** Loads GPT-2's vocab.json and merges.txt; see {@link BpeLoaders#fromGpt2Files}. */
    public static BpeTokenizer fromGpt2Files(java.nio.file.Path vocabJson, java.nio.file.Path mergesTxt)
            throws java.io.IOException {
        return BpeLoaders.fromGpt2Files(vocabJson, mergesTxt);
    }

    /** Loads a Hugging Face tokenizer.json with a byte-level BPE model; see {@link BpeLoaders}. */
    public static BpeTokenizer fromHuggingFaceJson(java.nio.file.Path tokenizerJson) throws java.io.IOException {
        return BpeLoaders.fromHuggingFaceJson(tokenizerJson);
    }

    // ------------------------------------------------------------------------------------ encoding

    @Override
    public int[] encode(String text) {
        SpecialTokens.IntList out = new SpecialTokens.IntList();
        encodePlain(text, out);
        return out.toArray();
    }

    @Override
    public int[] encodeWithSpecials(String text) {
        SpecialTokens.IntList out = new SpecialTokens.IntList();
        specials.split(text, s -> encodePlain(s, out), out::add);
        return out.toArray();
    }

    private void encodePlain(String text, SpecialTokens.IntList out) {
        PieceCache pieces = cache.get();
        Gpt2PreTokenizer.split(text, (start, end) -> {
            if (end - start > CACHE_MAX_PIECE) {
                out.addAll(encodePiece(text.substring(start, end).getBytes(StandardCharsets.UTF_8)));
                return;
            }
            int[] ids = pieces.get(text, start, end);
            if (ids == null) {
                ids = encodePiece(text.substring(start, end).getBytes(StandardCharsets.UTF_8));
                pieces.put(text, start, end, ids);
            }
            out.addAll(ids);
        });
    }

    /** BPE of one pre-token's bytes: lowest merge rank first, leftmost among equals. */
    int[] encodePiece(byte[] bytes) {
        int n = bytes.length;
        int[] sym = new int[n];
        for (int i = 0; i < n; i++) sym[i] = byteToId[bytes[i] & 0xFF];
        int alive = mergeInPlace(sym, null, n, mergeRank, mergeResult);
        if (alive == n) return sym;
        int[] out = new int[alive];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (sym[i] >= 0) out[k++] = sym[i];
        }
        return out;
    }

    /**
     * The BPE merge loop every BPE tokenizer of jalign runs: merges the symbols {@code sym[0, n)} in place, lowest
     * rank first, leftmost among equals (the {@code tokenizers} library's order). A merged symbol stays at its left
     * position (and, when {@code end} is given, takes the right one's end); merged-away symbols become -1.
     * Returns how many remain.
     */
    static int mergeInPlace(int[] sym, int[] end, int n, LongIntMap mergeRank, int[] mergeResult) {
        if (n < 2) return n;
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1;
            prev[i] = i - 1;
        }
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) {
            int r = mergeRank.get(LongIntMap.pair(sym[i], sym[i + 1]));
            if (r >= 0) heap.push(((long) r << 32) | i);
        }
        int alive = n;
        while (!heap.isEmpty()) {
            long e = heap.pop();
            int r = (int) (e >>> 32);
            int i = (int) e;
            if (sym[i] < 0) continue;
            int j = next[i];
            if (j >= n || mergeRank.get(LongIntMap.pair(sym[i], sym[j])) != r) continue; // stale entry
            sym[i] = mergeResult[r];
            if (end != null) end[i] = end[j];
            sym[j] = -1;
            alive--;
            next[i] = next[j];
            if (next[i] < n) prev[next[i]] = i;
            if (prev[i] >= 0) {
                int r2 = mergeRank.get(LongIntMap.pair(sym[prev[i]], sym[i]));
                if (r2 >= 0) heap.push(((long) r2 << 32) | prev[i]);
            }
            if (next[i] < n) {
                int r2 = mergeRank.get(LongIntMap.pair(sym[i], sym[next[i]]));
                if (r2 >= 0) heap.push(((long) r2 << 32) | i);
            }
        }
        return alive;
    }

    // ------------------------------------------------------------------------------------ decoding

    @Override
    public String decode(int[] ids) {
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            byte[] b = tokenBytes(id);
            buf.write(b, 0, b.length);
        }
        return new String(buf.toByteArray(), StandardCharsets.UTF_8); // malformed input → U+FFFD
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        if (specialText[id] != null) return specialText[id].getBytes(StandardCharsets.UTF_8);
        if (tokenBytes[id] == null) throw new IllegalArgumentException("token id " + id + " is unused");
        return tokenBytes[id].clone();
    }

    @Override
    public String tokenText(int id) {
        checkId(id);
        if (specialText[id] != null) return specialText[id];
        if (tokenBytes[id] == null) throw new IllegalArgumentException("token id " + id + " is unused");
        return ByteLevel.encode(tokenBytes[id]);
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokenBytes.length) {
            throw new IllegalArgumentException("token id " + id + " outside [0, " + tokenBytes.length + ")");
        }
    }

    // ------------------------------------------------------------------------------------ queries

    @Override
    public int vocabSize() {
        return tokenBytes.length;
    }

    @Override
    public OptionalInt specialId(String special) {
        return specials.id(special);
    }

    @Override
    public List<String> specials() {
        return specials.list();
    }

    /** Number of merges, M. */
    public int mergeCount() {
        return mergeA.length;
    }

    /** The merge of rank r as {a, b, result} ids. */
    public int[] merge(int rank) {
        return new int[] {mergeA[rank], mergeB[rank], mergeResult[rank]};
    }

    /** Whether an id is a special token. */
    public boolean isSpecial(int id) {
        checkId(id);
        return specialText[id] != null;
    }

    /** The vocabulary in GPT-2's vocab.json form: byte-level spelling (or special string) → id. */
    public Map<String, Integer> vocabulary() {
        Map<String, Integer> v = new LinkedHashMap<>();
        for (int id = 0; id < tokenBytes.length; id++) {
            if (specialText[id] != null || tokenBytes[id] != null) v.put(tokenText(id), id);
        }
        return v;
    }

    /** The merges in merges.txt form ("a b" in byte-level spelling), in rank order. */
    public List<String> mergeLines() {
        List<String> lines = new ArrayList<>(mergeA.length);
        for (int r = 0; r < mergeA.length; r++) lines.add(tokenText(mergeA[r]) + " " + tokenText(mergeB[r]));
        return lines;
    }

    /**
     * This tokenizer with the given special tokens added: those it lacks get new ids V, V+1, ... in the given
     * order; existing ids never change (so a model's embedding rows stay valid and only grow). E.g. a loaded
     * GPT-2 tokenizer plus {@link Tokenizer#STANDARD_SPECIALS} for chat fine-tuning.
     */
    public BpeTokenizer withSpecials(List<String> extra) {
        Map<String, Integer> specials = new LinkedHashMap<>(this.specials.map());
        int next = tokenBytes.length;
        for (String s : extra) {
            if (!specials.containsKey(s)) specials.put(s, next++);
        }
        if (next == tokenBytes.length) return this;
        byte[][] bytes = Arrays.copyOf(tokenBytes, next);
        return new BpeTokenizer(bytes, specials, rawMerges());
    }

    // ------------------------------------------------------------------------------------ serialisation

    @Override
    public byte[] toBytes() {
        return TokenizerFormat.writeBpe(this);
    }

    byte[][] rawTokenBytes() {
        return tokenBytes;
    }

    String[] rawSpecialText() {
        return specialText;
    }

    int[][] rawMerges() {
        int[][] m = new int[mergeA.length][];
        for (int r = 0; r < m.length; r++) m[r] = new int[] {mergeA[r], mergeB[r], mergeResult[r]};
        return m;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] ab = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, ab, a.length, b.length);
        return ab;
    }

    /** A byte[] usable as a hash key. */
    record ByteKey(byte[] b) {
        @Override
        public boolean equals(Object o) {
            return o instanceof ByteKey k && Arrays.equals(b, k.b);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(b);
        }
    }

    /** Binary min-heap of longs. */
    static final class LongHeap {
        private long[] a;
        private int n;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return n == 0;
        }

        void push(long v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            int i = n++;
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (a[p] <= v) break;
                a[i] = a[p];
                i = p;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0];
            long v = a[--n];
            int i = 0;
            while (true) {
                int c = 2 * i + 1;
                if (c >= n) break;
                if (c + 1 < n && a[c + 1] < a[c]) c++;
                if (a[c] >= v) break;
                a[i] = a[c];
                i = c;
            }
            a[i] = v;
            return top;
        }
    }
}
