package org.jalign.text;

import java.util.List;
import java.util.OptionalInt;

/**
 * A text tokenizer: text to token ids and back.
 *
 * <p>Shape legend: V = vocabulary size ({@link #vocabSize()}); every id is in [0, V).
 *
 * <ul>
 *   <li>{@link #encode(String)} treats its input as plain text: a special-token string such as
 *       {@code <|endoftext|>} inside user text is encoded as ordinary characters, never as the special id.
 *       Use it for untrusted text.</li>
 *   <li>{@link #encodeWithSpecials(String)} recognises the special-token strings and maps each to its id.</li>
 *   <li>{@link #decode(int[])} is lossless for valid Unicode text: {@code decode(encode(s)).equals(s)}.
 *       Byte sequences that are not valid UTF-8 (e.g. a partial multi-byte character at the end of a
 *       generated sequence) decode to U+FFFD; decoding never throws for in-range ids.</li>
 *   <li>{@link #toBytes()} / {@link #fromBytes(byte[])} form jalign's own compact, versioned tokenizer
 *       format (see {@link TokenizerFormat}), used inside checkpoints.</li>
 * </ul>
 *
 * Implementations are immutable and safe to use from several threads.
 */
public interface Tokenizer {

    /** End of a document; also the separator between packed pretraining documents. */
    String ENDOFTEXT = "<|endoftext|>";
    /** Padding. */
    String PAD = "<|pad|>";
    /** Opens a system message in a chat. */
    String SYSTEM = "<|system|>";
    /** Opens a user message in a chat. */
    String USER = "<|user|>";
    /** Opens an assistant message in a chat. */
    String ASSISTANT = "<|assistant|>";
    /** Closes any chat message. */
    String END = "<|end|>";

    /** The standard special tokens, in the order trainers append them to a new vocabulary. */
    List<String> STANDARD_SPECIALS = List.of(ENDOFTEXT, PAD, SYSTEM, USER, ASSISTANT, END);

    /** Encodes plain text; special-token strings in it are NOT treated as special. */
    int[] encode(String text);

    /** Encodes text, mapping every occurrence of a special-token string to that special token's id. */
    int[] encodeWithSpecials(String text);

    /** Decodes ids to text; invalid UTF-8 from partial tokens becomes U+FFFD. */
    String decode(int[] ids);

    /** Number of ids, V: every id returned by encode is below this. */
    int vocabSize();

    /** The id of a special token, if this tokenizer has it. */
    OptionalInt specialId(String special);

    /** The id of a special token; throws IllegalArgumentException naming the token if it is absent. */
    default int tokenId(String special) {
        OptionalInt id = specialId(special);
        if (id.isEmpty()) {
            throw new IllegalArgumentException("tokenizer has no special token " + special);
        }
        return id.getAsInt();
    }

    /** The special-token strings this tokenizer recognises, in id order. */
    List<String> specials();

    /**
     * A token's text for display: the special string for a special token, otherwise the token's bytes in
     * GPT-2's byte-to-unicode form (a lossless, printable spelling, as in a vocab.json).
     */
    String tokenText(int id);

    /** The raw bytes a token decodes to (the UTF-8 of the string for a special token). */
    byte[] tokenBytes(int id);

    /** Serialises this tokenizer in jalign's versioned tokenizer format. */
    byte[] toBytes();

    /** Reads a tokenizer written by {@link #toBytes()}, dispatching on the stored type. */
    static Tokenizer fromBytes(byte[] data) {
        return TokenizerFormat.read(data);
    }
}
