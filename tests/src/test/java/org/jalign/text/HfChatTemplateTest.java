package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jalign.data.ChatMessage;
import org.jalign.data.ChatTemplate;
import org.jalign.data.HfChatTemplate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat templates of tokenizer_config.json files rendered by Jinjava. The templates in
 * resources/org/jalign/data/hf/ follow the real Llama 3, Qwen2.5, Mistral v0.1 and TinyLlama (zephyr) ones.
 * The expected texts are written out by hand from the templates; the expected mask is "the tokens whose
 * decoding is each assistant content plus the template's end token", checked by decoding the masked and the
 * unmasked tokens separately.
 */
class HfChatTemplateTest {
    @TempDir static Path dir;
    static HfTokenizer llama3;
    static HfTokenizer qwen2;
    static HfTokenizer sentencePiece;

    static final List<ChatMessage> CHAT = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi there"),
            ChatMessage.assistant("Hello! 12345 \u65e5\u672c"), ChatMessage.user("And again?"), ChatMessage.assistant("Again: hi."));

    @BeforeAll
    static void load() throws IOException {
        llama3 = HfTokenizer.load(HfFiles.write(dir, "llama3.json",
                HfFiles.byteLevelRegexFile("cl100k_base", HfFiles.LLAMA3_REGEX, false, "<|begin_of_text|>", HfTokenizerTest.LLAMA3_SPECIALS)));
        qwen2 = HfTokenizer.load(HfFiles.write(dir, "qwen2.json", HfFiles.byteLevelRegexFile("cl100k_base", HfFiles.QWEN2_REGEX, true,
                null, List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"))));
        JsonObject sp = HfTokenizerTest.sentencePieceFile(false, true);
        sentencePiece = HfTokenizer.load(HfFiles.write(dir, "sp.json", sp));
    }

    static HfTokenizerConfig config(String name) throws IOException {
        try {
            return HfTokenizerConfig.load(Path.of(HfChatTemplateTest.class.getResource("/org/jalign/data/hf/" + name).toURI()));
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
    }

    /** Checks the mask: masked tokens decode to the expected assistant parts, the others contain none of them. */
    static void checkMask(HfTokenizer t, HfChatTemplate tpl, List<ChatMessage> chat, String expectedText, List<String> assistantParts) {
        ChatTemplate.Rendered r = tpl.render(chat);
        assertEquals(expectedText, tpl.renderText(chat, false));
        assertArrayEquals(t.encodeWithSpecials(expectedText), r.ids(), "ids are the rendered text's encoding");
        List<Integer> in = new ArrayList<>(), out = new ArrayList<>();
        StringBuilder masked = new StringBuilder();
        for (int i = 0; i < r.length(); i++) {
            if (r.trainable()[i]) {
                in.add(r.ids()[i]);
            } else {
                if (!in.isEmpty()) {
                    masked.append(t.decode(in.stream().mapToInt(Integer::intValue).toArray())).append('|');
                    in.clear();
                }
                out.add(r.ids()[i]);
            }
        }
        if (!in.isEmpty()) masked.append(t.decode(in.stream().mapToInt(Integer::intValue).toArray())).append('|');
        assertEquals(String.join("|", assistantParts) + "|", masked.toString(), "masked runs");
        String rest = t.decode(out.stream().mapToInt(Integer::intValue).toArray());
        for (String part : assistantParts) assertFalse(rest.contains(part.strip()), () -> "unmasked text holds \"" + part + "\"");
        // only the last turn
        ChatTemplate.Rendered lastOnly = tpl.render(chat, false);
        int n = 0;
        for (boolean b : lastOnly.trainable()) if (b) n++;
        assertTrue(n > 0 && n < r.trainableCount());
    }

    @Test
    void llama3() throws IOException {
        HfTokenizerConfig c = config("llama3-tokenizer_config.json");
        assertEquals("<|begin_of_text|>", c.bosToken().orElseThrow());
        assertEquals(Boolean.TRUE, c.addBosToken().orElseThrow());
        HfChatTemplate tpl = new HfChatTemplate(llama3, c);
        String h = "<|start_header_id|>";
        String e = "<|end_header_id|>\n\n";
        String expected = "<|begin_of_text|>" + h + "system" + e + "Be brief.<|eot_id|>" + h + "user" + e + "Hi there<|eot_id|>"
                + h + "assistant" + e + "Hello! 12345 \u65e5\u672c<|eot_id|>" + h + "user" + e + "And again?<|eot_id|>"
                + h + "assistant" + e + "Again: hi.<|eot_id|>";
        checkMask(llama3, tpl, CHAT, expected, List.of("Hello! 12345 \u65e5\u672c<|eot_id|>", "Again: hi.<|eot_id|>"));
        // generation prompt; contents are trimmed by the template, and the mask still finds them
        List<ChatMessage> prompt = List.of(ChatMessage.user("  Hi  "));
        assertEquals("<|begin_of_text|>" + h + "user" + e + "Hi<|eot_id|>" + h + "assistant" + e, tpl.renderText(prompt, true));
        assertArrayEquals(llama3.encodeWithSpecials(tpl.renderText(prompt, true)), tpl.renderPrompt(prompt));
        checkMask(llama3, tpl, List.of(ChatMessage.user("q"), ChatMessage.assistant("  padded answer \n"), ChatMessage.user("q2"),
                ChatMessage.assistant("a2")), "<|begin_of_text|>" + h + "user" + e + "q<|eot_id|>" + h + "assistant" + e
                + "padded answer<|eot_id|>" + h + "user" + e + "q2<|eot_id|>" + h + "assistant" + e + "a2<|eot_id|>",
                List.of("padded answer<|eot_id|>", "a2<|eot_id|>"));
    }

    @Test
    void qwen2() throws IOException {
        HfTokenizerConfig c = config("qwen2-tokenizer_config.json");
        assertTrue(c.bosToken().isEmpty());
        assertEquals(2, c.chatTemplates().size());
        HfChatTemplate tpl = new HfChatTemplate(qwen2, c);
        String expected = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
                + "<|im_start|>assistant\nHello! 12345 \u65e5\u672c<|im_end|>\n<|im_start|>user\nAnd again?<|im_end|>\n"
                + "<|im_start|>assistant\nAgain: hi.<|im_end|>\n";
        checkMask(qwen2, tpl, CHAT, expected, List.of("Hello! 12345 \u65e5\u672c<|im_end|>", "Again: hi.<|im_end|>"));
        assertEquals("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", tpl.renderText(List.of(ChatMessage.user("Hi")), true));
    }

    @Test
    void mistral() throws IOException {
        HfTokenizerConfig c = config("mistral-tokenizer_config.json");
        assertEquals("</s>", c.eosToken().orElseThrow());
        HfChatTemplate tpl = new HfChatTemplate(sentencePiece, c);
        List<ChatMessage> chat = List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello world"), ChatMessage.user("again"),
                ChatMessage.assistant("Hi!"));
        checkMask(sentencePiece, tpl, chat, "<s>[INST] Hi [/INST]Hello world</s>[INST] again [/INST]Hi!</s>",
                List.of("Hello world</s>", "Hi!</s>"));
        // roles that do not alternate: the template's raise_exception, with its message and the file
        Path file = Path.of(c.file());
        TokenizerFormatException x = assertThrows(TokenizerFormatException.class,
                () -> tpl.renderText(List.of(ChatMessage.user("a"), ChatMessage.user("b")), true));
        assertTrue(x.getMessage().contains(file.toString()), x.getMessage());
        assertTrue(x.getMessage().contains("Conversation roles must alternate"), x.getMessage());
        x = assertThrows(TokenizerFormatException.class, () -> tpl.renderText(List.of(ChatMessage.system("s")), true));
        assertTrue(x.getMessage().contains("Only user and assistant roles are supported!"), x.getMessage());
    }

    @Test
    void tinyLlama() throws IOException {
        HfChatTemplate tpl = new HfChatTemplate(sentencePiece, config("tinyllama-tokenizer_config.json"));
        List<ChatMessage> chat = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi"), ChatMessage.assistant("Hello world"));
        checkMask(sentencePiece, tpl, List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello world"),
                ChatMessage.user("More"), ChatMessage.assistant("Hi!")),
                "<|user|>\nHi</s>\n<|assistant|>\nHello world</s>\n<|user|>\nMore</s>\n<|assistant|>\nHi!</s>\n",
                List.of("Hello world</s>", "Hi!</s>"));
        assertEquals("<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n",
                tpl.renderText(chat.subList(0, 2), true));
    }

    @Test
    void pythonStringMethods() throws IOException {
        Path p = dir.resolve("py-tokenizer_config.json");
        String tpl = "{%- for m in messages %}{%- if m.content.startswith('<think>') %}T{% endif %}"
                + "{%- if m.content.endswith('!') %}E{% endif %}{{ m.role.upper() }}:{{ m.content.lower() }}"
                + "[{{ m.content.lstrip() }}|{{ m.content.rstrip() }}|{{ m.content.strip() }}]{% endfor %}";
        Files.writeString(p, "{\"chat_template\": " + HfFiles.quote(tpl) + "}");
        HfChatTemplate t = new HfChatTemplate(sentencePiece, HfTokenizerConfig.load(p));
        assertEquals("TEUSER:<think> hi![<think> Hi!|<think> Hi!|<think> Hi!]ASSISTANT:  x  [x  |  x|x]",
                t.renderText(List.of(ChatMessage.user("<think> Hi!"), ChatMessage.assistant("  x  ")), false));
    }

    @Test
    void badTemplatesNameTheFile() throws IOException {
        HfTokenizerConfig c = config("syntax-error-tokenizer_config.json");
        HfChatTemplate tpl = new HfChatTemplate(sentencePiece, c);
        TokenizerFormatException x = assertThrows(TokenizerFormatException.class,
                () -> tpl.renderText(List.of(ChatMessage.user("a")), true));
        assertTrue(x.getMessage().contains(c.file()) && x.getMessage().contains("failed to render"), x.getMessage());

        Path none = dir.resolve("none-tokenizer_config.json");
        Files.writeString(none, "{\"bos_token\": \"<s>\"}");
        x = assertThrows(TokenizerFormatException.class, () -> new HfChatTemplate(sentencePiece, HfTokenizerConfig.load(none)));
        assertTrue(x.getMessage().contains(none.toString()) && x.getMessage().contains("no chat_template"), x.getMessage());

        Path include = dir.resolve("include-tokenizer_config.json");
        Files.writeString(include, "{\"chat_template\": \"{% include '/etc/passwd' %}\"}");
        HfChatTemplate inc = new HfChatTemplate(sentencePiece, HfTokenizerConfig.load(include));
        assertThrows(TokenizerFormatException.class, () -> inc.renderText(List.of(ChatMessage.user("a")), true));

        Path loops = dir.resolve("loops-tokenizer_config.json");
        Files.writeString(loops, "{\"chat_template\": \"{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
                + "{% endfor %}{% endfor %}{% endfor %}\"}");
        HfChatTemplate slow = new HfChatTemplate(sentencePiece, HfTokenizerConfig.load(loops));
        long t0 = System.nanoTime();
        x = assertThrows(TokenizerFormatException.class, () -> slow.renderText(List.of(ChatMessage.user("a")), true));
        assertTrue(x.getMessage().contains(loops.toString()) && x.getMessage().contains("range()"), x.getMessage());
        assertTrue(System.nanoTime() - t0 < HfChatTemplate.RENDER_TIMEOUT_MS * 1_000_000L, "stopped by the range budget");

        Path badToken = dir.resolve("bad-tokenizer_config.json");
        Files.writeString(badToken, "{\"eos_token\": 3}");
        java.io.IOException badTok = assertThrows(org.jalign.io.JsonConfig.JsonConfigException.class,
                () -> HfTokenizerConfig.load(badToken));
        assertTrue(badTok.getMessage().contains(badToken.toString()) && badTok.getMessage().contains("\"eos_token\""),
                badTok.getMessage());

        JsonArray list = new JsonArray();
        JsonObject named = new JsonObject();
        named.addProperty("name", "tool_use");
        named.addProperty("template", "x");
        list.add(named);
        JsonObject root = new JsonObject();
        root.add("chat_template", list);
        Path noDefault = HfFiles.write(dir, "nodefault-tokenizer_config.json", root);
        x = assertThrows(TokenizerFormatException.class, () -> new HfChatTemplate(sentencePiece, HfTokenizerConfig.load(noDefault)));
        assertTrue(x.getMessage().contains("tool_use"), x.getMessage());
    }

    /** A directory's tokenizer keeps its tokenizer_config.json through a checkpoint's bytes and back out as files. */
    @Test
    void directoryTokenizerKeepsItsConfigThroughStorage() throws IOException {
        Path d = Files.createDirectories(dir.resolve("qwen2-dir"));
        Files.copy(dir.resolve("qwen2.json"), d.resolve(HfTokenizer.TOKENIZER_JSON));
        String cfgText = Files.readString(resource("qwen2-tokenizer_config.json"));
        Files.writeString(d.resolve(HfTokenizer.TOKENIZER_CONFIG_JSON), cfgText);
        HfTokenizer t = HfTokenizer.fromDirectory(d);
        assertTrue(t.config().isPresent());
        HfTokenizer back = (HfTokenizer) Tokenizer.fromBytes(t.toBytes());
        assertEquals(cfgText, back.config().orElseThrow().text());
        assertEquals(t.files(), back.files());
        assertEquals(new HfChatTemplate(t, t.config().get()).renderText(CHAT, true),
                new HfChatTemplate(back, back.config().get()).renderText(CHAT, true));
        // without a config: stored as before (type 3), read back without one
        HfTokenizer bare = (HfTokenizer) Tokenizer.fromBytes(qwen2.toBytes());
        assertFalse(bare.config().isPresent());
        assertEquals(List.of(HfTokenizer.TOKENIZER_JSON), new ArrayList<>(bare.files().keySet()));
        // a directory without tokenizer.json is named
        Path empty = Files.createDirectories(dir.resolve("no-tokenizer"));
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> HfTokenizer.fromDirectory(empty));
        assertTrue(e.getMessage().contains(empty.toString()) && e.getMessage().contains("tokenizer.json"), e.getMessage());
        // a bad tokenizer_config.json beside it is named too
        Path bad = Files.createDirectories(dir.resolve("bad-config"));
        Files.copy(dir.resolve("qwen2.json"), bad.resolve(HfTokenizer.TOKENIZER_JSON));
        Files.writeString(bad.resolve(HfTokenizer.TOKENIZER_CONFIG_JSON), "{\"chat_template\": 3}");
        IOException e2 = assertThrows(IOException.class, () -> HfTokenizer.fromDirectory(bad));
        assertTrue(e2.getMessage().contains("tokenizer_config.json") && e2.getMessage().contains("chat_template"), e2.getMessage());
    }

    static Path resource(String name) throws IOException {
        try {
            return Path.of(HfChatTemplateTest.class.getResource("/org/jalign/data/hf/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
    }
}
