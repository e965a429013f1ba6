package org.jalign.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import org.jalign.backend.Backend;
import org.jalign.data.ChatTemplate;
import org.jalign.data.PromptExample;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.GenerationResult;
import org.jalign.generate.Generator;
import org.jalign.io.Checkpoint;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code jalign generate}: non-interactive, batched generation from a checkpoint. */
@Command(name = "generate", mixinStandardHelpOptions = true,
    description = {"Generates responses from a model checkpoint to prompts given with --prompt and/or a JSONL file "
        + "of {\"prompt\": ...} lines, in batches with the KV cache, and prints them or writes them as JSONL: "
        + "one object per response with prompt, sample, response and finish_reason, the samples of a prompt "
        + "together, in prompt order.",
        "By default each prompt is a user message in the chat template and generation stops at <|end|> or "
            + "<|endoftext|>; with --raw the text is continued as a new document (after <|endoftext|>).",
        "Sampling is reproducible: the same options (including --seed and --batch-size) on the same device give "
            + "the same responses; --temperature 0 is greedy and deterministic."})
final class GenerateCommand implements Callable<Integer> {
  /** What --out may replace: an earlier output of this command. */
  static final OutputFiles.Kind KIND = OutputFiles.Kind.jsonl("jalign generate output (JSON Lines of "
      + "{prompt, sample, response, finish_reason})", "prompt", "sample", "response", "finish_reason");

  @Option(names = "--model", required = true, paramLabel = "CKPT", description = "Checkpoint to generate with (with its tokenizer).")
  Path model;

  @Option(names = "--prompt", paramLabel = "TEXT", description = "A prompt; repeat for several (they come before those of --prompts).")
  List<String> prompt = new ArrayList<>();

  @Option(names = "--prompts", paramLabel = "JSONL", description = "Prompts, one {\"prompt\": ...} per line.")
  Path prompts;

  @Option(names = "--chat", description = "Render each prompt as a user message of the chat template and let the model answer (the default).")
  boolean chat;

  @Option(names = "--raw", description = "Continue the prompt text as plain text instead of answering it as a chat message.")
  boolean raw;

  @Option(names = "--max-new-tokens", paramLabel = "N", description = "Most tokens generated per response; a longer prompt is cut to its last context-length - N tokens (default: ${DEFAULT-VALUE}).")
  int maxNewTokens = 64;

  @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature, 0 = greedy (default: ${DEFAULT-VALUE}).")
  float temperature = 0.8f;

  @Option(names = "--top-k", paramLabel = "K", description = "Sample only from the K most likely tokens, 0 = off (default: ${DEFAULT-VALUE}).")
  int topK = 0;

  @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling: the smallest set of tokens with probability >= P, in (0, 1], 1 = off (default: ${DEFAULT-VALUE}).")
  float topP = 0.95f;

  @Option(names = "--min-p", paramLabel = "P", description = "Drop tokens less likely than P times the most likely one, in [0, 1], 0 = off (default: ${DEFAULT-VALUE}).")
  float minP = 0f;

  @Option(names = "--seed", paramLabel = "SEED", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(names = "--num-samples", paramLabel = "N", description = "Responses per prompt (default: ${DEFAULT-VALUE}).")
  int numSamples = 1;

  @Option(names = "--stop", paramLabel = "TEXT", description = "Also stop a response where this text appears (cut before it); repeatable.")
  List<String> stop = new ArrayList<>();

  @Option(names = "--ignore-eos", description = "Do not stop at <|end|> or <|endoftext|>: every response runs to --max-new-tokens (or a --stop text, or the context length).")
  boolean ignoreEos;

  @Option(names = "--batch-size", paramLabel = "N", description = "Responses generated together in one batch (default: ${DEFAULT-VALUE}).")
  int batchSize = 32;

  @Option(names = "--out", paramLabel = "JSONL", description = "Write the responses here as JSONL instead of printing them.")
  Path out;

  @Mixin DeviceOption device;

  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  /** Checks the options that need no file; throws IllegalArgumentException naming the option. */
  GenerationConfig config() {
    if (chat && raw) throw new IllegalArgumentException("--chat and --raw exclude each other");
    if (maxNewTokens <= 0) throw new IllegalArgumentException("--max-new-tokens must be > 0, got " + maxNewTokens);
    if (!Float.isFinite(temperature) || temperature < 0) {
      throw new IllegalArgumentException("--temperature must be finite and >= 0 (0 = greedy), got " + temperature);
    }
    if (topK < 0) throw new IllegalArgumentException("--top-k must be >= 0 (0 = off), got " + topK);
    if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
    if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("--min-p must be in [0, 1], got " + minP);
    if (numSamples <= 0) throw new IllegalArgumentException("--num-samples must be > 0, got " + numSamples);
    if (batchSize <= 0) throw new IllegalArgumentException("--batch-size must be > 0, got " + batchSize);
    for (String s : stop) {
      if (s.isEmpty()) throw new IllegalArgumentException("--stop must be non-empty text");
    }
    return GenerationConfig.builder().maxNewTokens(maxNewTokens).temperature(temperature).topK(topK).topP(topP)
        .minP(minP).seed(seed).stopStrings(stop.toArray(String[]::new)).stopAtEndTokens(!ignoreEos).build();
  }

  /** The prompts of --prompt then --prompts, in order. */
  List<String> readPrompts() throws IOException {
    List<String> all = new ArrayList<>();
    for (int i = 0; i < prompt.size(); i++) {
      if (prompt.get(i).isEmpty()) throw new IllegalArgumentException("--prompt number " + (i + 1) + " is empty");
      all.add(prompt.get(i));
    }
    if (prompts != null) {
      List<PromptExample> file = PromptExample.readJsonl(prompts);
      if (file.isEmpty()) throw new IllegalArgumentException("--prompts " + prompts + " holds no prompts");
      for (PromptExample p : file) all.add(p.prompt());
    }
    if (all.isEmpty()) throw new IllegalArgumentException("no prompts: give --prompt TEXT or --prompts FILE");
    return all;
  }

  @Mixin OverwriteOption overwrite;

  @Override
  public Integer call() throws Exception {
    try (OutputFiles.Grant g = overwrite.guard(KIND, out)) {
      return execute();
    }
  }

  private Integer execute() throws Exception {
    GenerationConfig gc = config();
    List<String> texts = readPrompts();
    GptConfig shape;
    try (Checkpoint ck = Checkpoint.open(model)) {
      shape = ck.config();
    }
    int maxPrompt = shape.contextLength() - maxNewTokens;
    if (maxPrompt < 1) {
      throw new IllegalArgumentException("--max-new-tokens " + maxNewTokens + " leaves no room for a prompt in the "
          + "context length " + shape.contextLength() + " of " + model + "; use at most "
          + (shape.contextLength() - 1));
    }
    PrintStream stdout = System.out;
    try (Backend backend = device.open()) {
      ModelFiles.Loaded m = ModelFiles.load(model, backend);
      try (Gpt gpt = m.model()) {
        Tokenizer tok = m.tokenizer();
        List<int[]> ids = encodePrompts(texts, tok, maxPrompt);
        Generator gen = new Generator(gpt, tok);
        int rows = texts.size() * numSamples;
        long tokens = 0;
        long t0 = System.nanoTime();
        long[] generated = {0};
        if (out == null) {
          generate(gen, gc, ids, texts, null, stdout, generated);
        } else {
          OutputFiles.write(out, KIND, tmp -> {
            try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
              generate(gen, gc, ids, texts, w, stdout, generated);
            }
          });
        }
        tokens = generated[0];
        double secs = (System.nanoTime() - t0) / 1e9;
        String summary = String.format(Locale.ROOT, "%d response(s) to %d prompt(s), %d tokens in %.1f s (%.0f tokens/s)",
            rows, texts.size(), tokens, secs, tokens / Math.max(secs, 1e-9));
        if (out != null) stdout.println("wrote " + out + ": " + summary);
        else System.err.println(summary);
      }
    }
    return 0;
  }

  /** Samples every response, writing each to {@code sink} (or stdout when null); counts tokens in {@code generated}. */
  private void generate(Generator gen, GenerationConfig gc, List<int[]> ids, List<String> texts, BufferedWriter sink,
      PrintStream stdout, long[] generated) throws IOException {
    try {
      // the call starting at response r samples with --seed + r (Generator.generateRows): every response has its
      // own stream
      gen.generateRows(ids, numSamples, gc, batchSize, (first, res) -> {
        generated[0] += res.generatedTokens();
        try {
          emit(sink, stdout, texts, first, res);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw e.getCause(); // a failed write of --out, reported as itself
    }
  }

  /** Token ids of each prompt (chat-rendered or raw), cut to its last maxPrompt tokens with a warning. */
  private List<int[]> encodePrompts(List<String> texts, Tokenizer tok, int maxPrompt) {
    List<int[]> ids = new ArrayList<>(texts.size());
    ChatTemplate tmpl = raw ? null : new ChatTemplate(tok);
    OptionalInt eot = tok.specialId(Tokenizer.ENDOFTEXT);
    for (int i = 0; i < texts.size(); i++) {
      int[] p;
      int full;
      if (tmpl != null) {
        try {
          p = tmpl.renderPrompt(texts.get(i), maxPrompt, ChatTemplate.Truncation.REJECT);
          full = p.length;
        } catch (ChatTemplate.TooLongException e) {
          full = e.length();
          p = tmpl.renderPrompt(texts.get(i), maxPrompt, ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
        }
      } else {
        int[] body = tok.encode(texts.get(i));
        int[] doc = body;
        if (eot.isPresent()) {
          doc = new int[body.length + 1];
          doc[0] = eot.getAsInt();
          System.arraycopy(body, 0, doc, 1, body.length);
        }
        full = doc.length;
        p = doc.length > maxPrompt ? Arrays.copyOfRange(doc, doc.length - maxPrompt, doc.length) : doc;
      }
      if (full > p.length) {
        System.err.printf(Locale.ROOT, "jalign generate: prompt %d has %d tokens; kept its last %d so that "
            + "--max-new-tokens %d fit in the context length%n", i + 1, full, p.length, maxNewTokens);
      }
      ids.add(p);
    }
    return ids;
  }

  /** Writes one generation call's rows (the first being response {@code first}) to {@code sink} or stdout. */
  private void emit(BufferedWriter sink, PrintStream stdout, List<String> texts, int first, GenerationResult res)
      throws IOException {
    for (int j = 0; j < res.size(); j++) {
      int r = first + j;
      GenerationResult.Sequence s = res.row(j);
      String p = texts.get(r / numSamples);
      String finish = s.finishReason().name().toLowerCase(Locale.ROOT);
      if (sink != null) {
        JsonObject o = new JsonObject();
        o.addProperty("prompt", p);
        o.addProperty("sample", r % numSamples);
        o.addProperty("response", s.text());
        o.addProperty("finish_reason", finish);
        sink.write(GSON.toJson(o));
        sink.write('\n');
      } else {
        stdout.println("### prompt " + (r / numSamples + 1) + "/" + texts.size()
            + (numSamples > 1 ? ", sample " + (r % numSamples + 1) + "/" + numSamples : ""));
        stdout.println(p);
        stdout.println("### response (" + finish + ")");
        stdout.println(s.text());
        stdout.println();
      }
    }
    if (sink != null) sink.flush();
  }
}
