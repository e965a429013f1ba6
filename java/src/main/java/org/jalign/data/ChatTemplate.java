package org.jalign.data;

import java.util.Arrays;
import java.util.List;
import org.jalign.text.Tokenizer;

/**
 * Renders chats into token ids with a per-token training mask.
 *
 * <p>Shape legend: T = rendered length in tokens (T ≤ maxLength).
 *
 * <p>Layout: each message becomes {@code <|role|>} + content + {@code <|end|>}, messages back to back, no
 * other separators:
 * <pre>
 *   &lt;|system|&gt;You are terse.&lt;|end|&gt;&lt;|user|&gt;Hi&lt;|end|&gt;&lt;|assistant|&gt;Hello.&lt;|end|&gt;
 * </pre>
 * Message contents are encoded with {@link Tokenizer#encode} (plain text), so a special-token string typed
 * inside a message can never forge a role boundary. For generation, {@link #renderPrompt} ends with an open
 * {@code <|assistant|>} header; the model's {@code <|end|>} marks the end of its reply.
 *
 * <p>Mask: {@code trainable[t]} is true when ids[t] is a target the model should learn to produce, i.e. the
 * loss on predicting ids[t] from ids[0..t-1] counts. Assistant content tokens and the assistant's closing
 * {@code <|end|>} are trainable; role headers, system and user messages are not. With
 * {@code allAssistantTurns = false} only the final assistant message is trainable.
 *
 * <p>Truncation, when the rendering is longer than maxLength: split it into the prompt P (everything before
 * the final assistant message's content, including its {@code <|assistant|>} header) and the response R
 * (that content plus its {@code <|end|>}).
 * <ul>
 *   <li>{@link Truncation#REJECT}: throw {@link TooLongException}; callers typically skip the example.</li>
 *   <li>{@link Truncation#KEEP_PROMPT_TAIL_RESPONSE_HEAD}: keep the last {@code keptP} prompt tokens and the
 *       first {@code maxLength - keptP} response tokens, where {@code keptP = min(P, max(maxLength - R,
 *       maxLength / 2))}: the response is kept whole when it fits beside at least half a window of prompt;
 *       otherwise the prompt keeps (up to) half the window and the response is cut at its end. A cut
 *       response loses its closing {@code <|end|>}, so the model is never taught to stop where the data
 *       did not stop. The prompt's kept tail always includes the {@code <|assistant|>} header.</li>
 * </ul>
 */
public final class ChatTemplate {

    /** What to do with a rendering longer than maxLength. */
    public enum Truncation {
        /** Throw {@link TooLongException}. */
        REJECT,
        /** Keep the prompt's tail and the response's head (see the class documentation). */
        KEEP_PROMPT_TAIL_RESPONSE_HEAD
    }

    /** Thrown by {@link Truncation#REJECT} for a rendering longer than maxLength. */
    public static final class TooLongException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final int length;
        private final int maxLength;

        TooLongException(int length, int maxLength) {
            super("rendered chat has " + length + " tokens, more than maxLength " + maxLength);
            this.length = length;
            this.maxLength = maxLength;
        }

        public int length() {
            return length;
        }

        public int maxLength() {
            return maxLength;
        }
    }

    /** Token ids and their training mask, both of length T. */
    public record Rendered(int[] ids, boolean[] trainable) {
        public Rendered {
            if (ids.length != trainable.length) throw new IllegalArgumentException("ids and mask lengths differ");
        }

        public int length() {
            return ids.length;
        }

        public int trainableCount() {
            int n = 0;
            for (boolean b : trainable) if (b) n++;
            return n;
        }
    }

    private final Tokenizer tokenizer;
    private final boolean allAssistantTurns;
    private final int system, user, assistant, end;

    /** A template training on every assistant turn. */
    public ChatTemplate(Tokenizer tokenizer) {
        this(tokenizer, true);
    }

    /**
     * @param allAssistantTurns true: every assistant message is trainable; false: only the last one
     * @throws IllegalArgumentException if the tokenizer lacks one of the role special tokens
     */
    public ChatTemplate(Tokenizer tokenizer, boolean allAssistantTurns) {
        this.tokenizer = tokenizer;
        this.allAssistantTurns = allAssistantTurns;
        this.system = tokenizer.tokenId(Tokenizer.SYSTEM);
        this.user = tokenizer.tokenId(Tokenizer.USER);
        this.assistant = tokenizer.tokenId(Tokenizer.ASSISTANT);
        this.end = tokenizer.tokenId(Tokenizer.END);
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The id that ends every message; generation stops on it. */
    public int endId() {
        return end;
    }

    private int header(ChatMessage m) {
        return switch (m.role()) {
            case ChatMessage.SYSTEM -> system;
            case ChatMessage.USER -> user;
            default -> assistant;
        };
    }

    /** Renders an SFT example (which ends with an assistant message). */
    public Rendered render(SftExample example, int maxLength, Truncation truncation) {
        return render(example.messages(), maxLength, truncation);
    }

    /** Renders [user: prompt, assistant: response], e.g. one side of a preference pair. */
    public Rendered render(String prompt, String response, int maxLength, Truncation truncation) {
        return render(List.of(ChatMessage.user(prompt), ChatMessage.assistant(response)), maxLength, truncation);
    }

    /**
     * Renders a chat that ends with an assistant message, with its training mask, applying the truncation
     * policy when it is longer than maxLength (≥ 2).
     */
    public Rendered render(List<ChatMessage> messages, int maxLength, Truncation truncation) {
        if (maxLength < 2) throw new IllegalArgumentException("maxLength must be at least 2, got " + maxLength);
        if (messages.isEmpty() || !messages.get(messages.size() - 1).isAssistant()) {
            throw new IllegalArgumentException("a chat to render for training must end with an assistant message");
        }
        IntBoolList out = new IntBoolList();
        int last = messages.size() - 1;
        int promptLength = 0;
        for (int i = 0; i <= last; i++) {
            ChatMessage m = messages.get(i);
            boolean train = m.isAssistant() && (allAssistantTurns || i == last);
            out.add(header(m), false);
            if (i == last) promptLength = out.n;
            for (int id : tokenizer.encode(m.content())) out.add(id, train);
            out.add(end, train);
        }
        int total = out.n;
        if (total <= maxLength) return out.toRendered(0, total, 0, 0);
        if (truncation == Truncation.REJECT) throw new TooLongException(total, maxLength);
        int responseLength = total - promptLength;
        int keptPrompt = Math.min(promptLength, Math.max(maxLength - responseLength, maxLength / 2));
        int keptResponse = maxLength - keptPrompt;
        return out.toRendered(promptLength - keptPrompt, keptPrompt, promptLength, keptResponse);
    }

    /**
     * Renders a conversation for generation: the messages (the last one usually from the user) followed by
     * an open {@code <|assistant|>} header. If longer than maxLength, REJECT throws and the other policy
     * keeps the tail (which always includes the header).
     */
    public int[] renderPrompt(List<ChatMessage> messages, int maxLength, Truncation truncation) {
        if (maxLength < 1) throw new IllegalArgumentException("maxLength must be positive, got " + maxLength);
        IntBoolList out = new IntBoolList();
        for (ChatMessage m : messages) {
            out.add(header(m), false);
            for (int id : tokenizer.encode(m.content())) out.add(id, false);
            out.add(end, false);
        }
        out.add(assistant, false);
        if (out.n <= maxLength) return Arrays.copyOf(out.ids, out.n);
        if (truncation == Truncation.REJECT) throw new TooLongException(out.n, maxLength);
        return Arrays.copyOfRange(out.ids, out.n - maxLength, out.n);
    }

    /** {@link #renderPrompt(List, int, Truncation)} for a single user message. */
    public int[] renderPrompt(String prompt, int maxLength, Truncation truncation) {
        return renderPrompt(List.of(ChatMessage.user(prompt)), maxLength, truncation);
    }

    private static final class IntBoolList {
        int[] ids = new int[64];
        boolean[] mask = new boolean[64];
        int n;

        void add(int id, boolean m) {
            if (n == ids.length) {
                ids = Arrays.copyOf(ids, n * 2);
                mask = Arrays.copyOf(mask, n * 2);
            }
            ids[n] = id;
            mask[n] = m;
            n++;
        }

        /** Concatenates [from1, from1+len1) and [from2, from2+len2). */
        Rendered toRendered(int from1, int len1, int from2, int len2) {
            int[] i = new int[len1 + len2];
            boolean[] m = new boolean[len1 + len2];
            System.arraycopy(ids, from1, i, 0, len1);
            System.arraycopy(mask, from1, m, 0, len1);
            System.arraycopy(ids, from2, i, len1, len2);
            System.arraycopy(mask, from2, m, len1, len2);
            return new Rendered(i, m);
        }
    }
}
