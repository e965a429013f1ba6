package org.jalign.text;

import java.util.Arrays;

/** Open-addressing map from non-negative long keys to int values (no boxing); -1 means absent. */
final class LongIntMap {
    private static final long EMPTY = -1L;
    private long[] keys;
    private int[] vals;
    private int size;
    private int mask;

    LongIntMap(int expected) {
        int cap = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new long[cap];
        vals = new int[cap];
        Arrays.fill(keys, EMPTY);
        mask = cap - 1;
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }

    /** Value stored for key, or -1. */
    int get(long key) {
        int i = slot(key, mask);
        while (true) {
            long k = keys[i];
            if (k == key) return vals[i];
            if (k == EMPTY) return -1;
            i = (i + 1) & mask;
        }
    }

    /** Stores key → value (key ≥ 0); returns the previous value or -1. */
    int put(long key, int value) {
        if (key < 0) throw new IllegalArgumentException("negative key");
        if ((size + 1) * 2 > keys.length) grow();
        int i = slot(key, mask);
        while (true) {
            long k = keys[i];
            if (k == key) {
                int old = vals[i];
                vals[i] = value;
                return old;
            }
            if (k == EMPTY) {
                keys[i] = key;
                vals[i] = value;
                size++;
                return -1;
            }
            i = (i + 1) & mask;
        }
    }

    int size() {
        return size;
    }

    private void grow() {
        long[] oldK = keys;
        int[] oldV = vals;
        keys = new long[oldK.length * 2];
        vals = new int[oldK.length * 2];
        Arrays.fill(keys, EMPTY);
        mask = keys.length - 1;
        size = 0;
        for (int i = 0; i < oldK.length; i++) if (oldK[i] != EMPTY) put(oldK[i], oldV[i]);
    }

    static long pair(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }
}
