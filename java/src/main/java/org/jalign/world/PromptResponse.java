package org.jalign.world;

import java.util.Objects;

/** A prompt and one response to it (e.g. a model's generation), the unit of evaluation. */
public record PromptResponse(Prompt prompt, String response) {
  public PromptResponse {
    Objects.requireNonNull(prompt, "prompt");
    response = response == null ? "" : response;
  }
}
