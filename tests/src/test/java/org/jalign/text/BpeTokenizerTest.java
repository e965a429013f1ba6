package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** BpeTokenizer and its trainer against plain references. */
class BpeTokenizerTest {
    static final String CORPUS = TextFixtures.corpus(42, 60_000);
    static BpeTokenizer tok;

    @BeforeAll
    static void train() {
        tok = BpeTokenizer.train(CORPUS, 600, Tokenizer.STANDARD_SPECIALS);
    }

    // ---------------------------------------------------------------- references

    /** GPT-2's bpe(): repeatedly merge all occurrences of the lowest-ranked adjacent pair. */
    static int[] referenceEncode(BpeTokenizer t, String text) {
        Map<Long, Integer> rank = new HashMap<>();
        for (int r = 0; r < t.mergeCount(); r++) {
            int[] m = t.merge(r);
            rank.put(((long) m[0] << 32) | m[1], r);
        }
        int[] byteId = new int[256];
        for (int id = 0; id < t.vocabSize(); id++) {
            if (!t.isSpecial(id) && t.tokenBytes(id).length == 1) byteId[t.tokenBytes(id)[0] & 0xFF] = id;
        }
        List<Integer> out = new ArrayList<>();
        Matcher m = BpeTokenizer.PRETOKENIZER.matcher(text);
        while (m.find()) {
            List<Integer> word = new ArrayList<>();
            for (byte b : m.group().getBytes(StandardCharsets.UTF_8)) word.add(byteId[b & 0xFF]);
            while (word.size() > 1) {
                int bestRank = Integer.MAX_VALUE;
                for (int i = 0; i + 1 < word.size(); i++) {
                    Integer r = rank.get(((long) word.get(i) << 32) | word.get(i + 1));
                    if (r != null && r < bestRank) bestRank = r;
                }
                if (bestRank == Integer.MAX_VALUE) break;
                int[] mg = t.merge(bestRank);
                List<Integer> next = new ArrayList<>();
                for (int i = 0; i < word.size(); i++) {
                    if (i + 1 < word.size() && word.get(i) == mg[0] && word.get(i + 1) == mg[1]) {
                        next.add(mg[2]);
                        i++;
                    } else {
                        next.add(word.get(i));
                    }
                }
                word = next;
            }
            out.addAll(word);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Naive trainer: recount every pair from scratch before each merge; same tie-breaking. */
    static List<int[]> referenceTrainMerges(String corpus, int numMerges) {
        Map<String, Long> freq = new HashMap<>();
        Matcher m = BpeTokenizer.PRETOKENIZER.matcher(corpus);
        while (m.find()) freq.merge(m.group(), 1L, Long::sum);
        List<int[]> words = new ArrayList<>();
        List<Long> counts = new ArrayList<>();
        for (Map.Entry<String, Long> e : freq.entrySet()) {
            byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] s = new int[b.length];
            for (int i = 0; i < b.length; i++) s[i] = b[i] & 0xFF;
            words.add(s);
            counts.add(e.getValue());
        }
        List<byte[]> bytes = new ArrayList<>();
        for (int v = 0; v < 256; v++) bytes.add(new byte[] {(byte) v});
        List<int[]> merges = new ArrayList<>();
        while (bytes.size() < 256 + numMerges) {
            Map<Long, Long> pc = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                int[] s = words.get(w);
                for (int i = 0; i + 1 < s.length; i++) pc.merge(((long) s[i] << 32) | s[i + 1], counts.get(w), Long::sum);
            }
            long best = -1, bestCount = 0;
            for (Map.Entry<Long, Long> e : pc.entrySet()) {
                long k = e.getKey(), c = e.getValue();
                if (c > bestCount || (c == bestCount && k < best)) {
                    best = k;
                    bestCount = c;
                }
            }
            if (bestCount == 0) break;
            int a = (int) (best >>> 32), b = (int) best;
            byte[] ab = BpeTokenizer.concat(bytes.get(a), bytes.get(b));
            int id = -1;
            for (int i = 0; i < bytes.size(); i++) if (Arrays.equals(bytes.get(i), ab)) id = i;
            if (id < 0) {
                id = bytes.size();
                bytes.add(ab);
            }
            merges.add(new int[] {a, b, id});
            for (int w = 0; w < words.size(); w++) words.set(w, BpeTrainer.mergeWord(words.get(w), a, b, id));
        }
        return merges;
    }

    // ---------------------------------------------------------------- trainer

    @Test
    void incrementalTrainerMakesTheSameMergesAsTheNaiveOne() {
        String small = TextFixtures.corpus(3, 4000);
        BpeTokenizer t = BpeTokenizer.train(small, 256 + 150, List.of());
        List<int[]> ref = referenceTrainMerges(small, 150);
        assertEquals(ref.size(), t.mergeCount());
        for (int r = 0; r < ref.size(); r++) assertArrayEquals(ref.get(r), t.merge(r), "merge " + r);
    }

    @Test
    void trainerFillsTheVocabularyAndPutsSpecialsLast() {
        assertEquals(600, tok.vocabSize());
        List<String> sp = Tokenizer.STANDARD_SPECIALS;
        for (int i = 0; i < sp.size(); i++) assertEquals(600 - sp.size() + i, tok.tokenId(sp.get(i)));
        for (int v = 0; v < 256; v++) assertArrayEquals(new byte[] {(byte) v}, tok.tokenBytes(v));
        assertTrue(tok.encode(CORPUS).length < CORPUS.length() / 2, "merges compress the training text");
    }

    @Test
    void trainerCutsSpecialsOutOfTheCorpus() {
        String corpus = "<|user|>".repeat(500) + "ab ab ab";
        BpeTokenizer t = BpeTokenizer.train(corpus, 300, Tokenizer.STANDARD_SPECIALS);
        for (int id = 256; id < t.vocabSize(); id++) {
            if (!t.isSpecial(id)) assertFalse(t.tokenText(id).contains("|"), "learned " + t.tokenText(id));
        }
    }

    @Test
    void trainerStopsWhenPairsRunOut() {
        BpeTokenizer t = BpeTokenizer.train("abc", 1000, List.of(Tokenizer.ENDOFTEXT));
        assertEquals(256 + 2 + 1, t.vocabSize()); // "ab", "abc", then the special
        assertEquals(258, t.tokenId(Tokenizer.ENDOFTEXT));
        assertArrayEquals(new int[] {257}, t.encode("abc"));
    }

    @Test
    void trainerRejectsATooSmallVocabulary() {
        assertThrows(IllegalArgumentException.class, () -> BpeTokenizer.train("x", 257, Tokenizer.STANDARD_SPECIALS));
    }

    // ---------------------------------------------------------------- encode / decode

    @Test
    void fastEncoderMatchesTheReferenceLoop() {
        Random rnd = new Random(1);
        List<String> texts = new ArrayList<>(List.of(CORPUS.substring(0, 5000), "", " ", "aaaaaaaaaaaaaaaaaaaaa"));
        for (int i = 0; i < 200; i++) texts.add(TextFixtures.randomText(rnd, rnd.nextInt(200)));
        texts.add(TextFixtures.corpus(9, 3000).replace(" ", "")); // very long pre-tokens
        for (String s : texts) assertArrayEquals(referenceEncode(tok, s), tok.encode(s), () -> "\"" + s + "\"");
    }

    @Test
    void decodeInvertsEncodeForAnyText() {
        Random rnd = new Random(2);
        for (int i = 0; i < 300; i++) {
            String s = TextFixtures.randomText(rnd, rnd.nextInt(120));
            assertEquals(s, tok.decode(tok.encode(s)));
            assertEquals(s, tok.decode(tok.encodeWithSpecials(s)));
        }
    }

    @Test
    void plainEncodeIgnoresSpecialsAndEncodeWithSpecialsFindsThem() {
        String s = "<|user|>hi<|end|><|endoftext|>";
        int[] plain = tok.encode(s);
        for (int id : plain) assertFalse(tok.isSpecial(id));
        assertEquals(s, tok.decode(plain));
        int[] sp = tok.encodeWithSpecials(s);
        assertEquals(tok.tokenId(Tokenizer.USER), sp[0]);
        assertEquals(tok.tokenId(Tokenizer.ENDOFTEXT), sp[sp.length - 1]);
        assertEquals(tok.tokenId(Tokenizer.END), sp[sp.length - 2]);
        assertArrayEquals(tok.encode("hi"), Arrays.copyOfRange(sp, 1, sp.length - 2));
        assertEquals(s, tok.decode(sp));
    }

    @Test
    void partialUtf8DecodesToReplacementCharacters() {
        int[] ids = tok.encode("日本😀");
        byte[] all = tok.decode(ids).getBytes(StandardCharsets.UTF_8);
        // decode a prefix of byte tokens that cuts a character: must give U+FFFD, not throw
        int[] bytes = new int[all.length];
        for (int i = 0; i < all.length; i++) bytes[i] = all[i] & 0xFF; // byte tokens are ids 0..255
        for (int cut = 1; cut < bytes.length; cut++) {
            String d = tok.decode(Arrays.copyOf(bytes, cut));
            if (cut != 3 && cut != 6) assertTrue(d.endsWith("\uFFFD"), "cut " + cut + ": " + d);
        }
        assertEquals("\uFFFD", tok.decode(new int[] {0xFF}));
        assertEquals("a\uFFFDb", tok.decode(new int[] {'a', 0x80, 'b'}));
    }

    @Test
    void outOfRangeIdsAreRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {600}));
        assertTrue(e.getMessage().contains("600"));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-1}));
    }

    @Test
    void tokenTextUsesByteLevelSpelling() {
        assertEquals("Ġ", tok.tokenText(' '));
        assertEquals("Ċ", tok.tokenText('\n'));
        assertEquals(Tokenizer.PAD, tok.tokenText(tok.tokenId(Tokenizer.PAD)));
        assertTrue(tok.specialId("<|nope|>").isEmpty());
        assertThrows(IllegalArgumentException.class, () -> tok.tokenId("<|nope|>"));
    }

    // ---------------------------------------------------------------- serialisation

    @Test
    void toBytesRoundTrips() {
        Tokenizer back = Tokenizer.fromBytes(tok.toBytes());
        assertTrue(back instanceof BpeTokenizer);
        assertEquals(tok.vocabSize(), back.vocabSize());
        assertEquals(tok.specials(), back.specials());
        for (int id = 0; id < tok.vocabSize(); id++) assertEquals(tok.tokenText(id), back.tokenText(id));
        assertArrayEquals(tok.encodeWithSpecials(CORPUS + "<|end|>"), back.encodeWithSpecials(CORPUS + "<|end|>"));
        assertArrayEquals(tok.toBytes(), back.toBytes());
    }

    @Test
    void corruptedBytesAreRejected() {
        byte[] good = tok.toBytes();
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 1;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromBytes(flipped)).getMessage().contains("CRC"));
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromBytes(magic));
        byte[] version = good.clone();
        version[5] = 9;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromBytes(version)).getMessage().contains("version"));
        assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromBytes(Arrays.copyOf(good, good.length - 1)));
        assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromBytes(new byte[3]));
    }

    @Test
    void hugeCountsInsideAValidFrameAreRejectedBeforeAllocating() {
        // a frame with a correct CRC whose vocabulary size claims 2^31-1 tokens
        byte[] payload = {1, 0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF};
        byte[] frame = TextFixtures.frame(2, payload);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.fromBytes(frame));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void corruptedPayloadsWithValidChecksumsFailCleanly() {
        byte[] good = BpeTokenizer.train("aa bb aa bb cc", 262, List.of(Tokenizer.END)).toBytes();
        byte[] payload = Arrays.copyOfRange(good, 11, good.length - 4);
        Random rnd = new Random(14);
        for (int t = 0; t < 3000; t++) {
            byte[] p = payload.clone();
            for (int e = 0; e < 1 + rnd.nextInt(3); e++) p[rnd.nextInt(p.length)] = (byte) rnd.nextInt(256);
            if (rnd.nextInt(10) == 0) p = Arrays.copyOf(p, rnd.nextInt(p.length));
            byte[] frame = TextFixtures.frame(rnd.nextInt(20) == 0 ? 1 : 2, p);
            try {
                Tokenizer back = Tokenizer.fromBytes(frame);
                back.decode(back.encodeWithSpecials("aa bb <|end|> cc dd"));
            } catch (IllegalArgumentException expected) {
                // a clear rejection
            }
        }
    }
}
