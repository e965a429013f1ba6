package org.jalign.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.jalign.data.ChatMessage;
import org.jalign.data.ChatTemplate;
import org.jalign.data.Jsonl;
import org.jalign.data.PairwiseExample;
import org.jalign.data.SftExample;
import org.jalign.train.reward.RankedGroup;

/**
 * Readers of the alignment stages' JSONL files that also check every example against the model's context, so
 * a bad line fails with a {@link org.jalign.data.DataFormatException} naming the file and line (a missing
 * field, a ranking that is not a permutation, an empty response, a prompt that leaves no room for a response in
 * maxLength tokens, or — with {@link ChatTemplate.Truncation#REJECT} — a response that does not fit).
 */
public final class StageData {
  private StageData() {}

  /** SFT examples ({@code prompt}/{@code completion} or {@code messages} lines). */
  public static List<SftExample> readSft(Path file, ChatTemplate tmpl, int maxLength, ChatTemplate.Truncation trunc)
      throws IOException {
    return Jsonl.read(file, o -> {
      SftExample e = SftExample.fromJson(o);
      StageSupport.render(tmpl, e.messages(), maxLength, trunc, "");
      return e;
    });
  }

  /** Preference pairs ({@code prompt}, {@code chosen}, {@code rejected}, optional {@code margin}). */
  public static List<PairwiseExample> readPairs(Path file, ChatTemplate tmpl, int maxLength,
      ChatTemplate.Truncation trunc) throws IOException {
    return Jsonl.read(file, o -> {
      PairwiseExample p = PairwiseExample.fromJson(o);
      check(tmpl, p.prompt(), p.chosen(), maxLength, trunc, "chosen: ");
      check(tmpl, p.prompt(), p.rejected(), maxLength, trunc, "rejected: ");
      return p;
    });
  }

  /** Rankings and/or pairs for reward modelling (see {@link RankedGroup#fromJson}). */
  public static List<RankedGroup> readGroups(Path file, ChatTemplate tmpl, int maxLength,
      ChatTemplate.Truncation trunc) throws IOException {
    return Jsonl.read(file, o -> {
      RankedGroup g = RankedGroup.fromJson(o);
      for (int k = 0; k < g.size(); k++) {
        check(tmpl, g.prompt(), g.bestFirst().get(k), maxLength, trunc, "response " + k + ": ");
      }
      return g;
    });
  }

  private static void check(ChatTemplate tmpl, String prompt, String response, int maxLength,
      ChatTemplate.Truncation trunc, String what) {
    StageSupport.render(tmpl, List.of(ChatMessage.user(prompt), ChatMessage.assistant(response)), maxLength, trunc,
        what);
  }
}
