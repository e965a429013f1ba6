package org.jalign.data;

import com.google.gson.JsonObject;

/**
 * One message of a chat: a role ("system", "user" or "assistant") and its text.
 */
public record ChatMessage(String role, String content) {
    public static final String SYSTEM = "system";
    public static final String USER = "user";
    public static final String ASSISTANT = "assistant";

    public ChatMessage {
        if (role == null || !(role.equals(SYSTEM) || role.equals(USER) || role.equals(ASSISTANT))) {
            throw new IllegalArgumentException("role must be \"system\", \"user\" or \"assistant\", got "
                    + (role == null ? "null" : "\"" + role + "\""));
        }
        if (content == null) throw new IllegalArgumentException("content of a " + role + " message is null");
    }

    public static ChatMessage system(String content) {
        return new ChatMessage(SYSTEM, content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage(USER, content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage(ASSISTANT, content);
    }

    public boolean isAssistant() {
        return role.equals(ASSISTANT);
    }

    JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("role", role);
        o.addProperty("content", content);
        return o;
    }
}
