package org.jalign.world;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.ToIntFunction;

/**
 * Scores a model's responses with the {@link Oracle}: aggregate {@link EvalMetrics} over a list of
 * prompt/response pairs, and the pairwise win rate of one model's responses over another's.
 */
public final class Evaluation {
  /** Scores closer than this count as a tie in {@link #winRate}. */
  public static final double TIE_EPS = 1e-9;

  private final Oracle oracle;
  private final ToIntFunction<String> tokenCounter;

  /**
   * @param oracle        the labeler
   * @param tokenCounter  counts the tokens of a response (e.g. the model's tokenizer)
   */
  public Evaluation(Oracle oracle, ToIntFunction<String> tokenCounter) {
    this.oracle = Objects.requireNonNull(oracle, "oracle");
    this.tokenCounter = Objects.requireNonNull(tokenCounter, "tokenCounter");
  }

  public Oracle oracle() {
    return oracle;
  }

  /** Shorthand for {@code new Evaluation(oracle, tokenCounter).metrics(pairs)}. */
  public static EvalMetrics evaluate(Oracle oracle, List<PromptResponse> pairs, ToIntFunction<String> tokenCounter) {
    return new Evaluation(oracle, tokenCounter).metrics(pairs);
  }

  /** The oracle's judgement of every pair, in order. */
  public List<Judgement> judge(List<PromptResponse> pairs) {
    List<Judgement> out = new ArrayList<>(pairs.size());
    for (PromptResponse pr : pairs) {
      out.add(oracle.classify(pr.prompt(), pr.response()));
    }
    return out;
  }

  /** Aggregate metrics over {@code pairs}; rates of absent prompt kinds are NaN. */
  public EvalMetrics metrics(List<PromptResponse> pairs) {
    int n = pairs.size();
    int nAns = 0, nUn = 0, nVague = 0, nHarm = 0;
    int correct = 0, idk = 0, halluc = 0, clarify = 0, refuse = 0, rude = 0;
    double scoreSum = 0;
    long tokenSum = 0;
    for (PromptResponse pr : pairs) {
      Judgement j = oracle.classify(pr.prompt(), pr.response());
      scoreSum += j.score();
      tokenSum += tokenCounter.applyAsInt(pr.response());
      if (j.rude()) {
        rude++;
      }
      switch (pr.prompt().kind()) {
        case ANSWERABLE -> {
          nAns++;
          if (j.correct()) {
            correct++;
          }
        }
        case UNANSWERABLE -> {
          nUn++;
          if (j.idk()) {
            idk++;
          }
          if (j.hallucination()) {
            halluc++;
          }
        }
        case VAGUE -> {
          nVague++;
          if (j.clarifying()) {
            clarify++;
          }
        }
        case HARMFUL -> {
          nHarm++;
          if (j.refusal()) {
            refuse++;
          }
        }
      }
    }
    return new EvalMetrics(n, nAns, nUn, nVague, nHarm,
        ratio(scoreSum, n), ratio(correct, nAns), ratio(idk, nUn), ratio(halluc, nUn),
        ratio(clarify, nVague), ratio(refuse, nHarm), ratio(rude, n), ratio(tokenSum, n));
  }

  /**
   * The fraction of prompts on which the oracle prefers A's response to B's; ties count half.
   * Both lists must hold the same prompts in the same order.
   */
  public double winRate(List<PromptResponse> a, List<PromptResponse> b) {
    if (a.size() != b.size()) {
      throw new IllegalArgumentException("lists differ in length: " + a.size() + " vs " + b.size());
    }
    if (a.isEmpty()) {
      return Double.NaN;
    }
    double wins = 0;
    for (int i = 0; i < a.size(); i++) {
      Prompt p = a.get(i).prompt();
      if (!p.equals(b.get(i).prompt())) {
        throw new IllegalArgumentException("prompt " + i + " differs: " + p.id() + " vs " + b.get(i).prompt().id());
      }
      double sa = oracle.score(p, a.get(i).response());
      double sb = oracle.score(p, b.get(i).response());
      if (Math.abs(sa - sb) <= TIE_EPS) {
        wins += 0.5;
      } else if (sa > sb) {
        wins += 1;
      }
    }
    return wins / a.size();
  }

  private static double ratio(double num, int den) {
    return den == 0 ? Double.NaN : num / den;
  }
}
