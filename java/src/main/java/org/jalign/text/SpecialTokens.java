package org.jalign.text;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The special tokens of a tokenizer: strings, ids, and splitting text at their occurrences. */
final class SpecialTokens {
    private final Map<String, Integer> ids = new HashMap<>();
    private final List<String> inIdOrder;
    private final Pattern pattern; // alternation of all specials, longest first; null if none

    SpecialTokens(Map<String, Integer> specials) {
        List<Map.Entry<String, Integer>> entries = new ArrayList<>(specials.entrySet());
        entries.sort(Map.Entry.comparingByValue());
        List<String> order = new ArrayList<>();
        for (Map.Entry<String, Integer> e : entries) {
            if (e.getKey().isEmpty()) throw new IllegalArgumentException("special token must not be empty");
            ids.put(e.getKey(), e.getValue());
            order.add(e.getKey());
        }
        inIdOrder = List.copyOf(order);
        if (order.isEmpty()) {
            pattern = null;
        } else {
            List<String> byLength = new ArrayList<>(order);
            byLength.sort(Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder()));
            StringBuilder sb = new StringBuilder();
            for (String s : byLength) {
                if (sb.length() > 0) sb.append('|');
                sb.append(Pattern.quote(s));
            }
            pattern = Pattern.compile(sb.toString());
        }
    }

    OptionalInt id(String special) {
        Integer id = ids.get(special);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    List<String> list() {
        return inIdOrder;
    }

    Map<String, Integer> map() {
        return ids;
    }

    /**
     * Splits text at special-token occurrences (leftmost, then longest), handing plain segments to
     * {@code plain} and the ids of specials to {@code special}, in text order.
     */
    void split(String text, Consumer<String> plain, java.util.function.IntConsumer special) {
        if (pattern == null) {
            plain.accept(text);
            return;
        }
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) plain.accept(text.substring(last, m.start()));
            special.accept(ids.get(m.group()));
            last = m.end();
        }
        if (last < text.length()) plain.accept(text.substring(last));
    }

    /** Growable int buffer used while encoding. */
    static final class IntList {
        int[] a = new int[16];
        int n;

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        void addAll(int[] v) {
            if (n + v.length > a.length) a = Arrays.copyOf(a, Math.max(a.length * 2, n + v.length));
            System.arraycopy(v, 0, a, n, v.length);
            n += v.length;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
