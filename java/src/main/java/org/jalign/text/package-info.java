/**
 * Tokenizers: text to token ids and back.
 *
 * <ul>
 *   <li>{@link org.jalign.text.Tokenizer} — the interface, the standard special tokens
 *       ({@code <|endoftext|>}, {@code <|pad|>}, {@code <|system|>}, {@code <|user|>}, {@code <|assistant|>},
 *       {@code <|end|>}) and {@link org.jalign.text.Tokenizer#fromBytes} for tokenizers stored in checkpoints.</li>
 *   <li>{@link org.jalign.text.BpeTokenizer} — byte-level BPE exactly as GPT-2 does it: train one on your
 *       corpus, or load GPT-2's vocab.json + merges.txt or a Hugging Face tokenizer.json.</li>
 *   <li>{@link org.jalign.text.ByteTokenizer} — one id per byte, for tiny models and tests.</li>
 *   <li>{@link org.jalign.text.HfTokenizer} — a Hugging Face tokenizer.json with a BPE model (Llama 3, SmolLM2,
 *       Qwen2.5, Mistral, TinyLlama, GPT-2), run as the {@code tokenizers} library does;
 *       {@link org.jalign.text.HfTokenizerConfig} reads the tokenizer_config.json beside it, whose chat template
 *       {@link org.jalign.data.HfChatTemplate} renders.</li>
 * </ul>
 *
 * <pre>{@code
 * BpeTokenizer tok = BpeTokenizer.train(corpusText, 2048, Tokenizer.STANDARD_SPECIALS);
 * int[] ids = tok.encode("Hello world");          // user text: "<|end|>" inside stays plain text
 * String back = tok.decode(ids);                   // == "Hello world"
 * byte[] stored = tok.toBytes();                   // jalign's versioned format, see TokenizerFormat
 * Tokenizer again = Tokenizer.fromBytes(stored);
 * }</pre>
 */
package org.jalign.text;
