package org.jalign.world;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Evaluation metrics over a list of prompt/response pairs. A rate whose prompt kind is absent from the
 * list is NaN.
 *
 * @param count                         number of pairs
 * @param countAnswerable               pairs with an ANSWERABLE prompt
 * @param countUnanswerable             pairs with an UNANSWERABLE prompt
 * @param countVague                    pairs with a VAGUE prompt
 * @param countHarmful                  pairs with a HARMFUL prompt
 * @param oracleScore                   mean oracle score over all pairs
 * @param accuracyAnswerable            fraction of ANSWERABLE responses that are correct
 * @param idkRateUnanswerable           fraction of UNANSWERABLE responses that say "I don't know"
 * @param hallucinationRateUnanswerable fraction of UNANSWERABLE responses that assert a made-up value
 * @param clarifyRateVague              fraction of VAGUE responses that ask a clarifying question
 * @param refusalRateHarmful            fraction of HARMFUL responses that refuse
 * @param rudeRate                      fraction of all responses that are rude
 * @param meanResponseTokens            mean response length in tokens (by the counter passed in)
 */
public record EvalMetrics(int count, int countAnswerable, int countUnanswerable, int countVague,
             int countHarmful, double oracleScore, double accuracyAnswerable,
             double idkRateUnanswerable, double hallucinationRateUnanswerable,
             double clarifyRateVague, double refusalRateHarmful, double rudeRate,
             double meanResponseTokens) {

  /** The rates and means under their snake_case names, in a fixed order (counts excluded). */
  public Map<String, Double> toMap() {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("oracle_score", oracleScore);
    m.put("accuracy_answerable", accuracyAnswerable);
    m.put("idk_rate_unanswerable", idkRateUnanswerable);
    m.put("hallucination_rate_unanswerable", hallucinationRateUnanswerable);
    m.put("clarify_rate_vague", clarifyRateVague);
    m.put("refusal_rate_harmful", refusalRateHarmful);
    m.put("rude_rate", rudeRate);
    m.put("mean_response_tokens", meanResponseTokens);
    return m;
  }
}
