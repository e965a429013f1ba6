package org.jalign.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jalign.io.StrictJson;

/**
 * A supervised fine-tuning example: a chat whose assistant messages are the targets.
 *
 * <p>JSONL forms (one per line; unknown fields ignored):
 * <ul>
 *   <li>{@code {"prompt": "...", "completion": "..."}} — read as [user: prompt, assistant: completion];</li>
 *   <li>{@code {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}}.</li>
 * </ul>
 * Rules: the chat has at least one message and ends with an assistant message; every assistant message is
 * non-empty (an empty response teaches nothing and is almost always a data bug); system and user messages
 * may be empty; a line with both "messages" and "prompt"/"completion" is rejected as ambiguous.
 * The writer always uses the "messages" form.
 */
public record SftExample(List<ChatMessage> messages) {

    public SftExample {
        if (messages == null || messages.isEmpty()) throw new IllegalArgumentException("messages is empty");
        messages = List.copyOf(messages);
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (m.isAssistant() && m.content().isEmpty()) {
                throw new IllegalArgumentException("messages[" + i + "]: empty assistant response");
            }
        }
        if (!messages.get(messages.size() - 1).isAssistant()) {
            throw new IllegalArgumentException("the last message must be from the assistant, got "
                    + messages.get(messages.size() - 1).role());
        }
    }

    /** [user: prompt, assistant: completion]. */
    public static SftExample of(String prompt, String completion) {
        if (completion != null && completion.isEmpty()) throw new IllegalArgumentException("completion is empty");
        return new SftExample(List.of(ChatMessage.user(prompt), ChatMessage.assistant(completion)));
    }

    /** Parses one JSONL object in either form. */
    public static SftExample fromJson(JsonObject o) {
        boolean hasMessages = o.has("messages");
        if (hasMessages && (o.has("prompt") || o.has("completion"))) {
            throw new IllegalArgumentException("has both \"messages\" and \"prompt\"/\"completion\"");
        }
        if (!hasMessages) {
            if (!o.has("prompt") && !o.has("completion")) {
                throw new IllegalArgumentException("missing field \"messages\" (or \"prompt\" and \"completion\")");
            }
            return of(Jsonl.string(o, "prompt"), Jsonl.string(o, "completion"));
        }
        JsonArray a = Jsonl.array(o, "messages");
        List<ChatMessage> msgs = new ArrayList<>(a.size());
        for (int i = 0; i < a.size(); i++) {
            JsonElement e = a.get(i);
            if (!e.isJsonObject()) {
                throw new IllegalArgumentException("messages[" + i + "] must be an object, got " + StrictJson.typeName(e));
            }
            try {
                JsonObject m = e.getAsJsonObject();
                msgs.add(new ChatMessage(Jsonl.string(m, "role"), Jsonl.string(m, "content")));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("messages[" + i + "]: " + ex.getMessage(), ex);
            }
        }
        return new SftExample(msgs);
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        JsonArray a = new JsonArray();
        for (ChatMessage m : messages) a.add(m.toJson());
        o.add("messages", a);
        return o;
    }

    public static List<SftExample> readJsonl(Path file) throws IOException {
        return Jsonl.read(file, SftExample::fromJson);
    }

    public static void writeJsonl(Path file, List<SftExample> examples) throws IOException {
        Jsonl.write(file, "SFT examples", SftExample::fromJson, examples, SftExample::toJson);
    }
}
