package org.jalign.world;

import java.util.List;
import java.util.Objects;

/**
 * One prompt of the alignment world.
 *
 * @param id        stable id, e.g. "eval-0007"
 * @param kind      what the right behaviour is
 * @param split     which split the prompt belongs to
 * @param text      the question as a user would type it
 * @param subject   the person (or, for {@link Attribute#OWNER}, the pet) the prompt is about; null if none
 * @param attribute what is asked for
 * @param answers   accepted answer values (lower-case words or phrases) for answerable prompts, else empty
 */
public record Prompt(String id, PromptKind kind, Split split, String text, String subject,
          Attribute attribute, List<String> answers) {

  public Prompt {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(split, "split");
    Objects.requireNonNull(text, "text");
    Objects.requireNonNull(attribute, "attribute");
    answers = List.copyOf(answers);
    if (kind == PromptKind.ANSWERABLE && answers.isEmpty()) {
      throw new IllegalArgumentException("answerable prompt without answers: " + text);
    }
  }

  @Override
  public String toString() {
    return id + " [" + kind + "] " + text;
  }
}
