package org.jalign.text;

import java.util.Arrays;

/**
 * A bounded cache from pre-token text to its token ids, keyed by a range of the text being encoded so that a
 * hit allocates nothing. Open addressing with linear probing; it starts small, doubles while under
 * {@link #MAX_SLOTS} slots, and is emptied when full at that size. Not thread-safe: {@link BpeTokenizer}
 * keeps one per thread.
 */
final class PieceCache {
    static final int MAX_SLOTS = 1 << 16; // at most MAX_SLOTS / 2 entries
    private String[] keys = new String[256];
    private int[][] values = new int[256][];
    private int size;

    private static int hash(String text, int start, int end) {
        int h = 0;
        for (int i = start; i < end; i++) h = 31 * h + text.charAt(i);
        return h ^ (h >>> 16);
    }

    /** The ids cached for text[start, end), or null. */
    int[] get(String text, int start, int end) {
        int len = end - start;
        int mask = keys.length - 1;
        int i = hash(text, start, end) & mask;
        while (true) {
            String k = keys[i];
            if (k == null) return null;
            if (k.length() == len && text.regionMatches(start, k, 0, len)) return values[i];
            i = (i + 1) & mask;
        }
    }

    /** Caches ids for text[start, end) (not already present). */
    void put(String text, int start, int end, int[] ids) {
        if (size >= keys.length / 2) {
            if (keys.length < MAX_SLOTS) {
                grow();
            } else {
                Arrays.fill(keys, null);
                Arrays.fill(values, null);
                size = 0;
            }
        }
        insert(text.substring(start, end), ids);
    }

    private void insert(String key, int[] ids) {
        int mask = keys.length - 1;
        int i = hash(key, 0, key.length()) & mask;
        while (keys[i] != null) i = (i + 1) & mask;
        keys[i] = key;
        values[i] = ids;
        size++;
    }

    private void grow() {
        String[] oldKeys = keys;
        int[][] oldValues = values;
        keys = new String[oldKeys.length * 2];
        values = new int[oldKeys.length * 2][];
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) if (oldKeys[i] != null) insert(oldKeys[i], oldValues[i]);
    }
}
