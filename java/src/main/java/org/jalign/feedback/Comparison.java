package org.jalign.feedback;

import java.util.Objects;

/**
 * Two responses to one prompt shown to a user, with what the policy knew when it produced them.
 *
 * @param id unique id (UUID)
 * @param prompt the user's prompt
 * @param responseA first response text
 * @param responseB second response text
 * @param tokensA response A token ids
 * @param tokensB response B token ids
 * @param logprobsA per-token log-probabilities of response A under the policy that sampled it
 * @param logprobsB per-token log-probabilities of response B
 * @param policyVersion identifies the policy weights (e.g. a checkpoint step or hash)
 * @param createdMillis creation time
 */
public record Comparison(String id, String prompt, String responseA, String responseB, int[] tokensA, int[] tokensB,
    float[] logprobsA, float[] logprobsB, String policyVersion, long createdMillis) {
  public Comparison {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(responseA, "responseA");
    Objects.requireNonNull(responseB, "responseB");
    tokensA = tokensA == null ? new int[0] : tokensA.clone();
    tokensB = tokensB == null ? new int[0] : tokensB.clone();
    logprobsA = logprobsA == null ? new float[0] : logprobsA.clone();
    logprobsB = logprobsB == null ? new float[0] : logprobsB.clone();
    policyVersion = policyVersion == null ? "" : policyVersion;
  }
}
