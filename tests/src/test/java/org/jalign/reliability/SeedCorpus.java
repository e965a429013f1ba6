package org.jalign.reliability;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.jalign.data.PairwiseExample;
import org.jalign.data.PromptExample;
import org.jalign.data.RankingExample;
import org.jalign.data.SftExample;
import org.jalign.data.TokenFile;
import org.jalign.feedback.Choice;
import org.jalign.feedback.Comparison;
import org.jalign.feedback.PreferenceLog;
import org.jalign.io.Checkpoint;
import org.jalign.io.SafeTensors;
import org.jalign.model.GptConfig;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.ByteTokenizer;
import org.jalign.text.Tokenizer;

/**
 * Writes the valid seed inputs of the fuzz targets (run once; the output is committed under
 * tests/src/test/resources/org/jalign/reliability/). Usage: {@code SeedCorpus <resources/org/jalign/reliability>}.
 */
public final class SeedCorpus {
  static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private SeedCorpus() {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(args[0]);
    Path tmp = Files.createTempDirectory("jalign-seeds");

    GptConfig tiny = new GptConfig(1, 1, 4, 4, 8);
    Path ck = tmp.resolve("c.ckpt");
    float[] p = new float[(int) tiny.parameterCount()];
    for (int i = 0; i < p.length; i++) p[i] = i * 0.01f;
    new Checkpoint.Writer(tiny).step(5).string("stage", "seed").number("kl", 0.1).rngState(1, 2)
        .tensor(Checkpoint.PARAMS, p, p.length).tensor("head/w", new float[] {1, 2, 3}, 3).write(ck);
    seed(root, "CheckpointFuzzTest", "valid", Files.readAllBytes(ck));

    Path st = tmp.resolve("s.safetensors");
    SafeTensors.writer().add("a", new float[] {1, 2, 3, 4, 5, 6}, 2, 3).add("b", SafeTensors.Dtype.BF16,
        new float[] {1, -2}, 2).metadata("format", "pt").write(st);
    seed(root, "SafeTensorsFuzzTest", "valid", Files.readAllBytes(st));
    seed(root, "SafeTensorsFuzzTest", "empty-header", bytesOf(8, "{}"));

    BpeTokenizer bpe = BpeTokenizer.train("the cat sat on the mat; the dog sat on the log. ".repeat(20), 300,
        List.of(Tokenizer.ENDOFTEXT, Tokenizer.END));
    byte[] vocab = GSON.toJson(bpe.vocabulary()).getBytes(StandardCharsets.UTF_8);
    byte[] merges = ("#version: 0.2\n" + String.join("\n", bpe.mergeLines()) + "\n").getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream g = new ByteArrayOutputStream();
    g.write(vocab.length >> 8);
    g.write(vocab.length);
    g.write(vocab);
    g.write(merges);
    seed(root, "Gpt2TokenizerFuzzTest", "valid", g.toByteArray());
    seed(root, "HfTokenizerJsonFuzzTest", "valid", GSON.toJson(hf(bpe)).getBytes(StandardCharsets.UTF_8));
    seed(root, "TokenizerBytesFuzzTest", "bpe", bpe.toBytes());
    seed(root, "TokenizerBytesFuzzTest", "byte", new ByteTokenizer().toBytes());

    Path j = tmp.resolve("sft.jsonl");
    SftExample.writeJsonl(j, List.of(SftExample.of("Who owns the cat?", "Alice.")));
    seed(root, "JsonlFuzzTest", "sft", prefixed(0, Files.readAllBytes(j)));
    j = tmp.resolve("ranking.jsonl");
    RankingExample.writeJsonl(j, List.of(new RankingExample("q", List.of("a", "b", "c"), List.of(2, 0, 1))));
    seed(root, "JsonlFuzzTest", "ranking", prefixed(1, Files.readAllBytes(j)));
    j = tmp.resolve("pairwise.jsonl");
    PairwiseExample.writeJsonl(j, List.of(new PairwiseExample("q", "good", "bad", 0.5)));
    seed(root, "JsonlFuzzTest", "pairwise", prefixed(2, Files.readAllBytes(j)));
    j = tmp.resolve("prompt.jsonl");
    PromptExample.writeJsonl(j, List.of(new PromptExample("Tell me a story."), new PromptExample("\u65e5\u672c")));
    seed(root, "JsonlFuzzTest", "prompt", prefixed(3, Files.readAllBytes(j)));
    seed(root, "JsonlFuzzTest", "pairwise-nan", prefixed(2, utf8("{\"prompt\":\"q\",\"chosen\":\"a\","
        + "\"rejected\":\"b\",\"margin\":NaN}\n")));
    seed(root, "JsonlFuzzTest", "pairwise-same", prefixed(2, utf8("{\"prompt\":\"q\",\"chosen\":\"a\","
        + "\"rejected\":\"a\"}\n")));
    seed(root, "JsonlFuzzTest", "ranking-same", prefixed(1, utf8("{\"prompt\":\"q\",\"responses\":[\"a\",\"a\"],"
        + "\"ranking\":[0,1]}\n")));

    String config = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 2, \"n_embd\": 32, "
        + "\"n_positions\": 40, \"vocab_size\": 262, \"layer_norm_epsilon\": 1e-05}";
    seed(root, "HfConfigFuzzTest", "valid", utf8(config));
    seed(root, "HfConfigFuzzTest", "wrapping-int", utf8(config.replace("\"n_layer\": 2", "\"n_layer\": 4294967298")));
    seed(root, "HfConfigFuzzTest", "string-eps", utf8(config.replace("1e-05", "\"abc\"")));
    seed(root, "HfConfigFuzzTest", "object-int", utf8(config.replace("\"n_head\": 2", "\"n_head\": {}")));
    seed(root, "HfConfigFuzzTest", "string-bool", utf8(config.replace("}", ", \"scale_attn_weights\": \"yes\"}")));
    byte[] bad = utf8(config);
    bad[3] = (byte) 0xff;
    seed(root, "HfConfigFuzzTest", "not-utf8", bad);

    Path log = tmp.resolve("p.log");
    PreferenceLog pl = new PreferenceLog(log);
    pl.appendComparison(new Comparison("c1", "Who owns the cat?", "Alice does.", "I don't know.", new int[] {5, 6},
        new int[] {8}, new float[] {-0.1f, -0.2f}, new float[] {-1f}, "step-12", 1234L));
    pl.appendChoice("c1", Choice.A, 1235L);
    byte[] valid = Files.readAllBytes(log);
    seed(root, "PreferenceLogFuzzTest", "valid", valid);
    seed(root, "PreferenceLogFuzzTest", "torn-tail", cat(valid, Arrays.copyOf(valid, 20)));
    byte[] noise = new byte[600];
    new java.util.SplittableRandom(1).nextBytes(noise);
    seed(root, "PreferenceLogFuzzTest", "random-tail", cat(valid, noise));
    seed(root, "PreferenceLogFuzzTest", "zero-tail", cat(valid, new byte[600]));
    seed(root, "PreferenceLogFuzzTest", "not-a-log", utf8("{\"stages\": {\"sft\": {}}}\n"));

    float[] nan = p.clone();
    nan[3] = Float.NaN;
    new Checkpoint.Writer(tiny).tensor(Checkpoint.PARAMS, nan, nan.length).write(ck);
    seed(root, "CheckpointFuzzTest", "nan-params", Files.readAllBytes(ck));

    Path tf = tmp.resolve("t.tok");
    TokenFile.write(tf, new int[] {1, 2, 3, 7, 0}, 8);
    seed(root, "TokenFileFuzzTest", "u16", Files.readAllBytes(tf));
    TokenFile.write(tf, new int[] {1, 70000, 3}, 70001);
    seed(root, "TokenFileFuzzTest", "u32", Files.readAllBytes(tf));
  }

  static JsonObject hf(BpeTokenizer tok) {
    JsonObject root = new JsonObject();
    root.addProperty("version", "1.0");
    JsonArray added = new JsonArray();
    for (String s : tok.specials()) {
      JsonObject t = new JsonObject();
      t.addProperty("id", tok.specialId(s).getAsInt());
      t.addProperty("content", s);
      t.addProperty("special", true);
      added.add(t);
    }
    root.add("added_tokens", added);
    JsonObject pre = new JsonObject();
    pre.addProperty("type", "ByteLevel");
    pre.addProperty("add_prefix_space", false);
    pre.addProperty("use_regex", true);
    root.add("pre_tokenizer", pre);
    JsonObject model = new JsonObject();
    model.addProperty("type", "BPE");
    JsonObject vocab = new JsonObject();
    for (Map.Entry<String, Integer> e : tok.vocabulary().entrySet()) {
      if (!tok.isSpecial(e.getValue())) vocab.addProperty(e.getKey(), e.getValue());
    }
    model.add("vocab", vocab);
    JsonArray merges = new JsonArray();
    for (String line : tok.mergeLines()) merges.add(line);
    model.add("merges", merges);
    root.add("model", model);
    return root;
  }

  static byte[] bytesOf(int lengthBytes, String header) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(lengthBytes + h.length)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    return b.array();
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] cat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static byte[] prefixed(int selector, byte[] rest) {
    byte[] b = new byte[rest.length + 1];
    b[0] = (byte) selector;
    System.arraycopy(rest, 0, b, 1, rest.length);
    return b;
  }

  static void seed(Path root, String target, String name, byte[] bytes) throws Exception {
    Path d = root.resolve(target + "Inputs").resolve("fuzz");
    Files.createDirectories(d);
    Files.write(d.resolve(name), bytes);
  }
}
