package org.jalign.text;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Byte-level BPE training.
 *
 * <p>Shape legend: W = number of distinct pre-tokens ("words"), V = target vocabulary size.
 *
 * <p>Algorithm: the corpus is split into pre-tokens with GPT-2's regex (special-token strings removed
 * first) and each distinct pre-token is counted once with its frequency. Every adjacent symbol pair is
 * counted over the words weighted by frequency; a pair also keeps the list of words it occurs in. Each step
 * takes the most frequent pair from a lazy max-heap (ties: smaller left id, then smaller right id), merges
 * it in only the words that contain it, and applies the resulting count changes to the pairs that changed,
 * so a step costs time proportional to the words it touches, not to the corpus.
 */
final class BpeTrainer {
    private BpeTrainer() {}

    /** A symbol pair's running count and the words (indices) it has occurred in (may hold stale ones). */
    private static final class Pair {
        final int a, b;
        long count;
        int[] words = new int[4];
        int nWords;

        Pair(int a, int b) {
            this.a = a;
            this.b = b;
        }

        void addWord(int w) {
            if (nWords > 0 && words[nWords - 1] == w) return;
            if (nWords == words.length) words = Arrays.copyOf(words, nWords * 2);
            words[nWords++] = w;
        }
    }

    private record Entry(long count, int a, int b) {}

    static BpeTokenizer train(Iterable<String> documents, int vocabSize, List<String> specialList) {
        List<String> specialsInOrder = new ArrayList<>(new java.util.LinkedHashSet<>(specialList));
        int maxMerges = vocabSize - 256 - specialsInOrder.size();
        if (maxMerges < 0) {
            throw new IllegalArgumentException("vocabSize " + vocabSize + " is smaller than 256 byte tokens + "
                    + specialsInOrder.size() + " specials");
        }
        Map<String, Integer> provisional = new LinkedHashMap<>();
        for (int i = 0; i < specialsInOrder.size(); i++) provisional.put(specialsInOrder.get(i), i);
        SpecialTokens cutter = new SpecialTokens(provisional);

        // 1. distinct pre-tokens with frequencies
        HashMap<String, long[]> freq = new HashMap<>();
        for (String doc : documents) {
            cutter.split(doc, segment -> {
                Gpt2PreTokenizer.split(segment,
                        (start, end) -> freq.computeIfAbsent(segment.substring(start, end), k -> new long[1])[0]++);
            }, id -> {});
        }
        int nw = freq.size();
        int[][] words = new int[nw][]; // (W) current symbols of each word
        long[] counts = new long[nw]; // (W) frequency of each word
        int w0 = 0;
        for (Map.Entry<String, long[]> e : freq.entrySet()) {
            byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] s = new int[b.length];
            for (int i = 0; i < b.length; i++) s[i] = b[i] & 0xFF;
            words[w0] = s;
            counts[w0] = e.getValue()[0];
            w0++;
        }
        freq.clear();

        // 2. initial pair counts
        HashMap<Long, Pair> pairs = new HashMap<>();
        for (int w = 0; w < nw; w++) {
            int[] s = words[w];
            for (int i = 0; i + 1 < s.length; i++) {
                Pair p = pairs.computeIfAbsent(LongIntMap.pair(s[i], s[i + 1]), k -> newPair(k));
                p.count += counts[w];
                p.addWord(w);
            }
        }
        PriorityQueue<Entry> heap = new PriorityQueue<>((x, y) -> {
            if (x.count != y.count) return Long.compare(y.count, x.count);
            if (x.a != y.a) return Integer.compare(x.a, y.a);
            return Integer.compare(x.b, y.b);
        });
        for (Pair p : pairs.values()) heap.add(new Entry(p.count, p.a, p.b));

        // 3. merges
        List<byte[]> tokenBytes = new ArrayList<>();
        for (int v = 0; v < 256; v++) tokenBytes.add(new byte[] {(byte) v});
        HashMap<BpeTokenizer.ByteKey, Integer> idOfBytes = new HashMap<>();
        for (int v = 0; v < 256; v++) idOfBytes.put(new BpeTokenizer.ByteKey(tokenBytes.get(v)), v);
        List<int[]> merges = new ArrayList<>();
        int maxTokens = 256 + maxMerges;
        int[] seenAt = new int[nw];
        Arrays.fill(seenAt, -1);
        HashMap<Long, long[]> delta = new HashMap<>();
        while (tokenBytes.size() < maxTokens && !heap.isEmpty()) {
            Entry top = heap.poll();
            long key = LongIntMap.pair(top.a, top.b);
            Pair p = pairs.get(key);
            if (p == null || p.count != top.count) continue; // stale heap entry
            if (p.count <= 0) break;
            int a = p.a, b = p.b;
            // two merge paths can spell the same bytes ("a"+"bc", "ab"+"c"): they share one token
            byte[] merged = BpeTokenizer.concat(tokenBytes.get(a), tokenBytes.get(b));
            Integer existing = idOfBytes.putIfAbsent(new BpeTokenizer.ByteKey(merged), tokenBytes.size());
            int newId = existing != null ? existing : tokenBytes.size();
            if (existing == null) tokenBytes.add(merged);
            int step = merges.size();
            merges.add(new int[] {a, b, newId});
            delta.clear();
            int[] touched = Arrays.copyOf(p.words, p.nWords);
            for (int w : touched) {
                if (seenAt[w] == step) continue;
                seenAt[w] = step;
                int[] s = words[w];
                if (!contains(s, a, b)) continue; // stale word entry
                long c = counts[w];
                for (int i = 0; i + 1 < s.length; i++) addDelta(delta, s[i], s[i + 1], -c);
                int[] t = mergeWord(s, a, b, newId);
                words[w] = t;
                for (int i = 0; i + 1 < t.length; i++) {
                    addDelta(delta, t[i], t[i + 1], c);
                    if (t[i] == newId || t[i + 1] == newId) {
                        pairs.computeIfAbsent(LongIntMap.pair(t[i], t[i + 1]), k -> newPair(k)).addWord(w);
                    }
                }
            }
            for (Map.Entry<Long, long[]> d : delta.entrySet()) {
                long change = d.getValue()[0];
                if (change == 0) continue;
                Pair q = pairs.computeIfAbsent(d.getKey(), k -> newPair(k));
                q.count += change;
                if (q.count > 0) {
                    heap.add(new Entry(q.count, q.a, q.b));
                } else {
                    pairs.remove(d.getKey());
                }
            }
        }

        int nTokens = tokenBytes.size();
        byte[][] bytes = new byte[nTokens + specialsInOrder.size()][];
        for (int i = 0; i < nTokens; i++) bytes[i] = tokenBytes.get(i);
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (int i = 0; i < specialsInOrder.size(); i++) specials.put(specialsInOrder.get(i), nTokens + i);
        return new BpeTokenizer(bytes, specials, merges.toArray(new int[0][]));
    }

    private static Pair newPair(long key) {
        return new Pair((int) (key >>> 32), (int) key);
    }

    private static void addDelta(HashMap<Long, long[]> delta, int a, int b, long c) {
        delta.computeIfAbsent(LongIntMap.pair(a, b), k -> new long[1])[0] += c;
    }

    private static boolean contains(int[] s, int a, int b) {
        for (int i = 0; i + 1 < s.length; i++) if (s[i] == a && s[i + 1] == b) return true;
        return false;
    }

    /** Replaces each non-overlapping (a, b), left to right, by id. */
    static int[] mergeWord(int[] s, int a, int b, int id) {
        int[] t = new int[s.length];
        int n = 0;
        for (int i = 0; i < s.length; i++) {
            if (i + 1 < s.length && s[i] == a && s[i + 1] == b) {
                t[n++] = id;
                i++;
            } else {
                t[n++] = s[i];
            }
        }
        return Arrays.copyOf(t, n);
    }
}
