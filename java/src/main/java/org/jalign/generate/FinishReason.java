package org.jalign.generate;

/** Why a generated row stopped. */
public enum FinishReason {
  /** It sampled a stop token id (end of text, end of message, or a configured id). */
  STOP_TOKEN,
  /** Its text contained a stop string (the text is cut before it). */
  STOP_STRING,
  /** It reached {@link GenerationConfig#maxNewTokens()}. */
  MAX_TOKENS,
  /** It reached the model's context length. */
  CONTEXT_FULL
}
