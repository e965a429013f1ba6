package org.jalign.world;

/** One supervised fine-tuning example: a prompt and a human-style (imperfect) response. */
public record Demonstration(Prompt prompt, Response response) {
}
