package org.jalign.report;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jalign.world.Evaluation;
import org.jalign.world.PromptKind;
import org.jalign.world.PromptResponse;

/** Fills the evaluation parts of a {@link Report} from two models' responses to the same prompts. */
public final class EvalReports {
  private EvalReports() {}

  /**
   * Adds the metrics of both models (the "before" column first), the win rate of "after" over "before",
   * and, for each prompt kind, the first {@code examplesPerKind} prompts with both responses and their
   * oracle scores side by side.
   */
  public static Report compare(Report report, Evaluation eval, String beforeName, List<PromptResponse> before,
      String afterName, List<PromptResponse> after, int examplesPerKind) {
    if (before.size() != after.size()) {
      throw new IllegalArgumentException("before has " + before.size() + " responses, after has " + after.size());
    }
    report.evalModel(beforeName, eval.metrics(before).toMap());
    report.evalModel(afterName, eval.metrics(after).toMap());
    report.winRate(afterName, beforeName, eval.winRate(after, before), before.size());
    Map<PromptKind, Integer> shown = new EnumMap<>(PromptKind.class);
    for (int i = 0; i < before.size(); i++) {
      PromptResponse b = before.get(i);
      PromptResponse a = after.get(i);
      int c = shown.getOrDefault(b.prompt().kind(), 0);
      if (c >= examplesPerKind) {
        continue;
      }
      shown.put(b.prompt().kind(), c + 1);
      Map<String, String> responses = new LinkedHashMap<>();
      responses.put(beforeName, b.response());
      responses.put(afterName, a.response());
      Map<String, Double> scores = new LinkedHashMap<>();
      scores.put(beforeName, eval.oracle().score(b.prompt(), b.response()));
      scores.put(afterName, eval.oracle().score(a.prompt(), a.response()));
      report.example(b.prompt().text(), b.prompt().kind().name(), responses, scores);
    }
    return report;
  }
}
