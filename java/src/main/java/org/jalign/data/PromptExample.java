package org.jalign.data;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A prompt for generation (PPO rollouts, evaluation). JSONL: {@code {"prompt": "..."}}; the prompt must be
 * a non-empty string; unknown fields are ignored.
 */
public record PromptExample(String prompt) {
    public PromptExample {
        Jsonl.requireNonEmpty(prompt, "prompt");
    }

    public static PromptExample fromJson(JsonObject o) {
        return new PromptExample(Jsonl.string(o, "prompt"));
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("prompt", prompt);
        return o;
    }

    public static List<PromptExample> readJsonl(Path file) throws IOException {
        return Jsonl.read(file, PromptExample::fromJson);
    }

    public static void writeJsonl(Path file, List<PromptExample> examples) throws IOException {
        Jsonl.write(file, "prompts", PromptExample::fromJson, examples, PromptExample::toJson);
    }
}
