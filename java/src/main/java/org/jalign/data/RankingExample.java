package org.jalign.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A K-wise ranking of responses to one prompt (K ≥ 2), for reward modelling with a ranking loss.
 * JSONL: {@code {"prompt": "...", "responses": ["r0", "r1", ...], "ranking": [2, 0, 1]}} where ranking
 * lists response indices best first and must be a permutation of 0..K-1 (every index exactly once).
 * Responses must be non-empty; the prompt may be empty; unknown fields are ignored.
 */
public record RankingExample(String prompt, List<String> responses, List<Integer> ranking) {
    public RankingExample {
        if (prompt == null) throw new IllegalArgumentException("prompt is null");
        if (responses == null || ranking == null) throw new IllegalArgumentException("responses and ranking are required");
        responses = List.copyOf(responses);
        ranking = List.copyOf(ranking);
        int k = responses.size();
        if (k < 2) throw new IllegalArgumentException("a ranking needs at least 2 responses, got " + k);
        for (int i = 0; i < k; i++) Jsonl.requireNonEmpty(responses.get(i), "responses[" + i + "]");
        if (ranking.size() != k) {
            throw new IllegalArgumentException("ranking has " + ranking.size() + " entries for " + k + " responses");
        }
        boolean[] seen = new boolean[k];
        for (int i = 0; i < k; i++) {
            int r = ranking.get(i);
            if (r < 0 || r >= k) {
                throw new IllegalArgumentException("ranking[" + i + "] = " + r + " is not a response index in [0, " + k + ")");
            }
            if (seen[r]) throw new IllegalArgumentException("ranking is not a permutation: index " + r + " appears twice");
            seen[r] = true;
        }
    }

    /** A record of a JSONL file; a ranking that holds the same response text twice is refused. */
    public static RankingExample fromJson(JsonObject o) {
        RankingExample r = new RankingExample(Jsonl.string(o, "prompt"), Jsonl.strings(o, "responses"),
                Jsonl.ints(o, "ranking"));
        java.util.Map<String, Integer> first = new java.util.HashMap<>();
        for (int i = 0; i < r.responses.size(); i++) {
            Integer j = first.putIfAbsent(r.responses.get(i), i);
            if (j != null) {
                throw new IllegalArgumentException("responses[" + j + "] and responses[" + i + "] are the same "
                        + "response; a ranking must order different responses");
            }
        }
        return r;
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("prompt", prompt);
        JsonArray r = new JsonArray();
        responses.forEach(r::add);
        o.add("responses", r);
        JsonArray k = new JsonArray();
        ranking.forEach(k::add);
        o.add("ranking", k);
        return o;
    }

    /** Number of responses, K. */
    public int size() {
        return responses.size();
    }

    /** The responses ordered best first. */
    public List<String> responsesBestFirst() {
        List<String> out = new ArrayList<>(responses.size());
        for (int i : ranking) out.add(responses.get(i));
        return out;
    }

    /** All K(K-1)/2 preference pairs implied by the ranking (better one as "chosen"), margin 0. */
    public List<PairwiseExample> toPairs() {
        List<PairwiseExample> out = new ArrayList<>();
        for (int i = 0; i < ranking.size(); i++) {
            for (int j = i + 1; j < ranking.size(); j++) {
                out.add(new PairwiseExample(prompt, responses.get(ranking.get(i)), responses.get(ranking.get(j))));
            }
        }
        return out;
    }

    public static List<RankingExample> readJsonl(Path file) throws IOException {
        return Jsonl.read(file, RankingExample::fromJson);
    }

    public static void writeJsonl(Path file, List<RankingExample> examples) throws IOException {
        Jsonl.write(file, "ranking examples", RankingExample::fromJson, examples, RankingExample::toJson);
    }
}
