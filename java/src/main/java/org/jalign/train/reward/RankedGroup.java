package org.jalign.train.reward;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.jalign.data.Jsonl;
import org.jalign.data.PairwiseExample;
import org.jalign.data.RankingExample;

/**
 * K ≥ 2 responses to one prompt, best first, with a margin for every pair (better, worse): the reward model's
 * training unit. A {@link RankingExample} becomes one group with margin 0; a {@link PairwiseExample} is a K = 2
 * group with its own margin.
 */
public record RankedGroup(String prompt, List<String> bestFirst, double margin) {
  public RankedGroup {
    if (prompt == null) throw new IllegalArgumentException("prompt is null");
    if (bestFirst == null || bestFirst.size() < 2) throw new IllegalArgumentException("a group needs at least 2 responses");
    bestFirst = List.copyOf(bestFirst);
    for (int i = 0; i < bestFirst.size(); i++) {
      if (bestFirst.get(i) == null || bestFirst.get(i).isEmpty()) {
        throw new IllegalArgumentException("responses[" + i + "] is empty");
      }
    }
    if (!Double.isFinite(margin)) throw new IllegalArgumentException("margin " + margin + " is not finite");
  }

  public static RankedGroup of(RankingExample r) {
    return new RankedGroup(r.prompt(), r.responsesBestFirst(), 0.0);
  }

  public static RankedGroup of(PairwiseExample p) {
    return new RankedGroup(p.prompt(), List.of(p.chosen(), p.rejected()), p.margin());
  }

  public int size() {
    return bestFirst.size();
  }

  /** Either JSONL form: a ranking ({@code "responses"}, {@code "ranking"}) or a pair ({@code "chosen"}, ...). */
  public static RankedGroup fromJson(JsonObject o) {
    if (o.has("ranking") || o.has("responses")) return of(RankingExample.fromJson(o));
    if (o.has("chosen") || o.has("rejected")) return of(PairwiseExample.fromJson(o));
    throw new IllegalArgumentException("missing field \"ranking\" (with \"responses\") or \"chosen\"/\"rejected\"");
  }

  /** Reads a JSONL file of rankings and/or pairs; errors name the file and line. */
  public static List<RankedGroup> readJsonl(Path file) throws IOException {
    return Jsonl.read(file, RankedGroup::fromJson);
  }
}
