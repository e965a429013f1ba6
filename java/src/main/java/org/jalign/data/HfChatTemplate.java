package org.jalign.data;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.loader.ResourceNotFoundException;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jalign.text.HfTokenizer;
import org.jalign.text.HfTokenizerConfig;
import org.jalign.text.TokenizerFormatException;

/**
 * Renders chats with the Jinja {@code chat_template} of a Hugging Face tokenizer_config.json (Jinjava, with
 * {@code trim_blocks} and {@code lstrip_blocks} as transformers sets them, and Jinja's whitespace control and
 * operator precedence) and tokenizes the result with every
 * added token recognised and no post-processor, as {@code apply_chat_template} does.
 *
 * <p>Template variables: {@code messages} (a list of {role, content}), {@code add_generation_prompt},
 * {@code bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token} where the configuration names them;
 * functions {@code raise_exception(message)} and {@code strftime_now(format)}. Templates cannot include other
 * files, {@code range()} yields at most {@link #RANGE_BUDGET} numbers per rendering, and a rendering that takes
 * longer than {@link #RENDER_TIMEOUT_MS} fails. Jinjava implements Jinja's syntax, tests and filters; of the Python string methods,
 * {@code .strip() .replace() .split()} are Java's too and {@code .startswith() .endswith() .upper() .lower()}
 * and argument-less {@code .lstrip() .rstrip()} are mapped to theirs (see {@link #pythonStringMethods}); others,
 * and transformers' {@code {% generation %}} blocks, are not available.
 *
 * <p>Mask: {@code trainable[t]} is true for the tokens of assistant message contents and the special token
 * (with any whitespace before it) that the template puts right after each one, e.g. Llama 3's
 * {@code <|eot_id|>}, Qwen2's {@code <|im_end|>}, Mistral's {@code </s>}. The contents are located in the
 * rendered text by rendering again with each assistant content wrapped in private-use marker characters (also
 * with the contents pre-stripped, for templates that trim them); when neither rendering equals the real one
 * without its markers, each content is searched for in order. A token counts when its offsets overlap a
 * located range.
 *
 * <p>Every failure is a {@link TokenizerFormatException} naming the configuration file: a template syntax or
 * rendering error, a {@code raise_exception} call (with its message), an assistant content that the template
 * does not reproduce.
 */
public final class HfChatTemplate {
    private static final char OPEN = '\uE000', CLOSE = '\uE001';
    private static final long MAX_OUTPUT_CHARS = 64L << 20;
    private static final ThreadLocal<String> RAISED = new ThreadLocal<>();
    /** How many numbers the range() calls of one rendering may produce together. */
    public static final long RANGE_BUDGET = 100_000;
    private static final ThreadLocal<String> LIMIT = new ThreadLocal<>();
    private static final ThreadLocal<long[]> RANGE_LEFT = ThreadLocal.withInitial(() -> new long[1]);
    /** Longest time one rendering may take. */
    public static final long RENDER_TIMEOUT_MS = 10_000;
    private static final ExecutorService WORKERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "jalign-chat-template");
        t.setDaemon(true);
        return t;
    });

    private final HfTokenizer tokenizer;
    private final HfTokenizerConfig config;
    private final String template;
    private final Jinjava jinjava;

    /**
     * @throws TokenizerFormatException naming the file if it has no chat_template
     */
    public HfChatTemplate(HfTokenizer tokenizer, HfTokenizerConfig config) {
        this.tokenizer = tokenizer;
        this.config = config;
        this.template = pythonStringMethods(config.chatTemplate().orElseThrow(() -> new TokenizerFormatException(config.file()
                + ": no chat_template" + (config.chatTemplates().isEmpty() ? "" : " named \"default\" (has "
                + config.chatTemplates().keySet() + ")"))));
        // Jinja's own semantics where Jinjava keeps older behaviour by default: whitespace control on {{- -}},
        // Python operator precedence, map keys and loop values as Jinja has them
        LegacyOverrides jinja = LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true)
                .withParseWhitespaceControlStrictly(true).withUseNaturalOperatorPrecedence(true)
                .withEvaluateMapKeys(true).withKeepNullableLoopValues(true).withUsePyishObjectMapper(true).build();
        JinjavaConfig jc = JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).withLegacyOverrides(jinja)
                .withMaxOutputSize(MAX_OUTPUT_CHARS).withMaxRenderDepth(10).build();
        jinjava = new Jinjava(jc);
        jinjava.setResourceLocator((name, encoding, interpreter) -> {
            throw new ResourceNotFoundException("chat templates cannot load other files (" + name + ")");
        });
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                HfChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "range",
                HfChatTemplate.class, "range", Object.class, Object[].class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                HfChatTemplate.class, "strftimeNow", String.class));
    }

    public HfTokenizer tokenizer() {
        return tokenizer;
    }

    private static final java.util.regex.Pattern PY_METHOD =
            java.util.regex.Pattern.compile("\\.(startswith|endswith)\\(|\\.(upper|lower|lstrip|rstrip)\\(\\s*\\)");

    /**
     * Template source with the Python string methods templates call spelled as the Java ones Jinjava resolves:
     * {@code .startswith(} → {@code .startsWith(}, {@code .endswith(} → {@code .endsWith(}, {@code .upper()},
     * {@code .lower()}, and argument-less {@code .lstrip()} / {@code .rstrip()} → {@code .stripLeading()} /
     * {@code .stripTrailing()}. ({@code .strip()}, {@code .replace()} and {@code .split()} exist in Java.)
     */
    static String pythonStringMethods(String template) {
        java.util.regex.Matcher m = PY_METHOD.matcher(template);
        StringBuilder sb = new StringBuilder(template.length());
        while (m.find()) {
            String name = m.group(1) != null ? m.group(1) : m.group(2);
            String replacement = switch (name) {
                case "startswith" -> ".startsWith(";
                case "endswith" -> ".endsWith(";
                case "upper" -> ".toUpperCase()";
                case "lower" -> ".toLowerCase()";
                case "lstrip" -> ".stripLeading()";
                default -> ".stripTrailing()";
            };
            m.appendReplacement(sb, java.util.regex.Matcher.quoteReplacement(replacement));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /**
     * Jinja's {@code range()}, with at most {@link #RANGE_BUDGET} numbers in all the calls of one rendering, so
     * that nested loops stay bounded.
     */
    public static List<Integer> range(Object start, Object... rest) {
        List<Integer> r = com.hubspot.jinjava.lib.fn.Functions.range(start, rest);
        long[] left = RANGE_LEFT.get();
        left[0] -= r.size();
        if (left[0] < 0) {
            String why = "range() would produce more than " + RANGE_BUDGET + " numbers in one rendering";
            LIMIT.set(why);
            throw new IllegalStateException(why);
        }
        return r;
    }

    /** Called by templates as {@code raise_exception(message)}. */
    public static String raiseException(String message) {
        RAISED.set(String.valueOf(message));
        throw new IllegalStateException("raise_exception: " + message);
    }

    /** Called by templates as {@code strftime_now(format)}: today's date in the C strftime format (%d %b %Y %m %B %A %a %y). */
    public static String strftimeNow(String format) {
        LocalDate d = LocalDate.now();
        String f = String.valueOf(format);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < f.length(); i++) {
            char c = f.charAt(i);
            if (c != '%' || i + 1 == f.length()) {
                sb.append(c);
                continue;
            }
            char k = f.charAt(++i);
            String p = switch (k) {
                case 'd' -> "dd";
                case 'm' -> "MM";
                case 'Y' -> "yyyy";
                case 'y' -> "yy";
                case 'b' -> "MMM";
                case 'B' -> "MMMM";
                case 'a' -> "EEE";
                case 'A' -> "EEEE";
                default -> null;
            };
            sb.append(p == null ? "%" + k : d.format(DateTimeFormatter.ofPattern(p, Locale.ENGLISH)));
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------------------------ rendering

    /** The template's text for these messages. */
    public String renderText(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return renderWith(messages, addGenerationPrompt, null);
    }

    /** The ids of a prompt for generation: the messages and the template's generation prompt. */
    public int[] renderPrompt(List<ChatMessage> messages) {
        return tokenizer.encodeWithSpecials(renderText(messages, true));
    }

    /** Renders a training chat (ending with an assistant message) with every assistant turn trainable. */
    public ChatTemplate.Rendered render(List<ChatMessage> messages) {
        return render(messages, true);
    }

    /**
     * Renders a chat that ends with an assistant message, with its training mask.
     *
     * @param allAssistantTurns true: every assistant message is trainable; false: only the last one
     */
    public ChatTemplate.Rendered render(List<ChatMessage> messages, boolean allAssistantTurns) {
        if (messages.isEmpty() || !messages.get(messages.size() - 1).isAssistant()) {
            throw new IllegalArgumentException("a chat to render for training must end with an assistant message");
        }
        String text = renderText(messages, false);
        List<int[]> spans = locate(messages, text);
        int last = messages.size() - 1;
        List<int[]> trainable = new ArrayList<>();
        int a = 0;
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).isAssistant()) continue;
            int[] span = spans.get(a++);
            if (allAssistantTurns || i == last) trainable.add(extendOverEndToken(text, span));
        }
        HfTokenizer.Encoding e = tokenizer.encodeWithOffsets(text, true);
        boolean[] mask = new boolean[e.ids().length];
        for (int t = 0; t < mask.length; t++) {
            for (int[] s : trainable) {
                if (e.starts()[t] < s[1] && e.ends()[t] > s[0]) {
                    mask[t] = true;
                    break;
                }
            }
        }
        return new ChatTemplate.Rendered(e.ids(), mask);
    }

    /** [start, end) of each assistant message's content in text, in message order. */
    private List<int[]> locate(List<ChatMessage> messages, String text) {
        boolean clean = true;
        for (ChatMessage m : messages) {
            if (m.content().indexOf(OPEN) >= 0 || m.content().indexOf(CLOSE) >= 0) clean = false;
        }
        if (clean) {
            for (boolean strip : new boolean[] {false, true}) {
                String marked = renderWith(messages, false, strip);
                List<int[]> spans = new ArrayList<>();
                StringBuilder plain = new StringBuilder(text.length());
                int open = -1;
                boolean ok = true;
                for (int i = 0; i < marked.length() && ok; i++) {
                    char c = marked.charAt(i);
                    if (c == OPEN) {
                        ok = open < 0;
                        open = plain.length();
                    } else if (c == CLOSE) {
                        ok = open >= 0;
                        spans.add(new int[] {open, plain.length()});
                        open = -1;
                    } else {
                        plain.append(c);
                    }
                }
                if (ok && open < 0 && plain.toString().equals(text) && spans.size() == assistantCount(messages)) return spans;
            }
        }
        List<int[]> spans = new ArrayList<>();
        int cursor = 0;
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (!m.isAssistant()) continue;
            String c = m.content().strip();
            int at = c.isEmpty() ? cursor : text.indexOf(c, cursor);
            if (at < 0) {
                throw new TokenizerFormatException(config.file() + ": the chat_template output does not contain the content of"
                        + " message " + i + " (assistant), so its tokens cannot be masked");
            }
            spans.add(new int[] {at, at + c.length()});
            cursor = at + c.length();
        }
        return spans;
    }

    private static int assistantCount(List<ChatMessage> messages) {
        int n = 0;
        for (ChatMessage m : messages) if (m.isAssistant()) n++;
        return n;
    }

    /** The span, extended over whitespace and one special token that directly follow it. */
    private int[] extendOverEndToken(String text, int[] span) {
        int j = span[1];
        while (j < text.length() && Character.isWhitespace(text.charAt(j))) j++;
        int best = -1;
        for (String s : tokenizer.specials()) {
            if (text.startsWith(s, j) && s.length() > best) best = s.length();
        }
        return best > 0 ? new int[] {span[0], j + best} : span;
    }

    /**
     * Renders on a worker thread, interrupted after {@link #RENDER_TIMEOUT_MS} (Jinjava checks for interruption at
     * every node), so that a template looping for too long fails instead of hanging.
     */
    private String renderWith(List<ChatMessage> messages, boolean addGenerationPrompt, Boolean strip) {
        Future<String> f = WORKERS.submit(() -> renderNow(messages, addGenerationPrompt, strip));
        try {
            return f.get(RENDER_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw failure("took longer than " + RENDER_TIMEOUT_MS + " ms", null);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw failure("interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof StackOverflowError) throw failure("nested too deep", null);
            throw failure(String.valueOf(c), c);
        }
    }

    /** Renders; with strip non-null, assistant contents are wrapped in markers (and stripped first when strip). */
    private String renderNow(List<ChatMessage> messages, boolean addGenerationPrompt, Boolean strip) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("role", m.role());
            String c = m.content();
            if (strip != null && m.isAssistant()) c = OPEN + (strip ? c.strip() : c) + CLOSE;
            o.put("content", c);
            msgs.add(o);
        }
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", msgs);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        config.bosToken().ifPresent(v -> ctx.put("bos_token", v));
        config.eosToken().ifPresent(v -> ctx.put("eos_token", v));
        config.padToken().ifPresent(v -> ctx.put("pad_token", v));
        config.unkToken().ifPresent(v -> ctx.put("unk_token", v));
        RAISED.remove();
        RANGE_LEFT.get()[0] = RANGE_BUDGET;
        LIMIT.remove();
        RenderResult r;
        try {
            r = jinjava.renderForResult(template, ctx);
        } catch (RuntimeException e) {
            throw failure(e.getMessage(), e);
        } catch (StackOverflowError e) {
            throw failure("nested too deep", null);
        }
        String raised = RAISED.get();
        RAISED.remove();
        if (raised != null) throw new TokenizerFormatException(config.file() + ": chat_template raised an exception: " + raised);
        String limit = LIMIT.get();
        LIMIT.remove();
        if (limit != null) throw failure(limit, null);
        List<String> fatal = new ArrayList<>();
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                fatal.add("line " + e.getLineno() + ": " + e.getMessage());
            }
        }
        if (!fatal.isEmpty()) throw failure(String.join("; ", fatal), null);
        return r.getOutput();
    }

    private TokenizerFormatException failure(String what, Throwable cause) {
        return new TokenizerFormatException(config.file() + ": chat_template failed to render: " + what, cause);
    }
}
