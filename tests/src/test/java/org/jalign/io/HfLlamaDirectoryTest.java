package org.jalign.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.jalign.backend.CpuBackend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ParamSpec;
import org.jalign.model.RefLlama;
import org.jalign.model.RopeConfig;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hugging Face Llama-family directories: tiny random models of each family written as HF tensors and config.json
 * by this test load to logits of the double-precision reference {@link RefLlama}; save then load is exact (F32)
 * or within bf16 rounding; sharded, BF16 and F16 files load; each bad file is refused naming file and key/tensor.
 */
class HfLlamaDirectoryTest {
  static final CpuBackend CPU = new CpuBackend();
  static final int V = 300, MAXT = 16;

  record Family(String name, String type, GptConfig cfg) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Family> families() {
    return Stream.of(
        new Family("llama-untied", "llama", GptConfig.llama(2, 4, 2, 48, 40, MAXT, V, RopeConfig.of(10000, 12), 1e-5f, false)),
        new Family("smollm2-tied", "llama", GptConfig.llama(2, 4, 2, 32, 48, MAXT, V, RopeConfig.of(100000, 8), 1e-5f, true)),
        new Family("qwen2-qkv-bias", "qwen2", GptConfig.qwen2(2, 4, 2, 48, 64, MAXT, V, RopeConfig.of(1e6, 12), 1e-6f, true)),
        new Family("mistral-mqa", "mistral", GptConfig.llama(2, 4, 1, 32, 40, MAXT, V, RopeConfig.of(1e6, 8), 1e-5f, false)),
        new Family("llama3-scaled", "llama", GptConfig.llama(2, 4, 2, 32, 40, MAXT, V,
            new RopeConfig(500000, 8, new RopeConfig.Llama3Scaling(8, 1, 4, 6)), 1e-5f, true)));
  }

  // ------------------------------------------------------------------ HF-side fixtures

  /** config.json as transformers writes it for the family. */
  static JsonObject hfConfig(Family f) {
    GptConfig c = f.cfg();
    JsonObject o = new JsonObject();
    JsonArray a = new JsonArray();
    a.add(switch (f.type()) {
      case "qwen2" -> "Qwen2ForCausalLM";
      case "mistral" -> "MistralForCausalLM";
      default -> "LlamaForCausalLM";
    });
    o.add("architectures", a);
    o.addProperty("model_type", f.type());
    o.addProperty("hidden_size", c.channels());
    o.addProperty("intermediate_size", c.intermediateSize());
    o.addProperty("num_hidden_layers", c.layers());
    o.addProperty("num_attention_heads", c.heads());
    o.addProperty("num_key_value_heads", c.kvHeads());
    o.addProperty("hidden_act", "silu");
    o.addProperty("max_position_embeddings", c.contextLength());
    o.addProperty("vocab_size", c.vocabSize());
    o.addProperty("rms_norm_eps", Double.parseDouble(Float.toString(c.normEps())));
    o.addProperty("rope_theta", c.rope().theta());
    o.addProperty("tie_word_embeddings", c.tiedHead());
    o.addProperty("torch_dtype", "float32");
    if (c.rope().scaling() != null) {
      JsonObject s = new JsonObject();
      s.addProperty("rope_type", "llama3");
      s.addProperty("factor", 8.0);
      s.addProperty("low_freq_factor", 1.0);
      s.addProperty("high_freq_factor", 4.0);
      s.addProperty("original_max_position_embeddings", 6);
      o.add("rope_scaling", s);
    }
    switch (f.type()) {
      case "qwen2" -> {
        o.addProperty("use_sliding_window", false);
        o.addProperty("sliding_window", 4);
      }
      case "mistral" -> o.add("sliding_window", com.google.gson.JsonNull.INSTANCE);
      default -> {
        o.addProperty("attention_bias", false);
        o.addProperty("mlp_bias", false);
        o.addProperty("head_dim", c.headSize());
      }
    }
    return o;
  }

  record T(float[] data, long[] shape) {}

  /** Random HF tensors by name (shapes (out, in)). */
  static Map<String, T> hfTensors(GptConfig c, long seed, boolean lmHeadWhenTied) {
    SplittableRandom r = new SplittableRandom(seed);
    Map<String, T> m = new LinkedHashMap<>();
    int ch = c.channels(), hs = c.headSize(), q = c.heads() * hs, kv = c.kvHeads() * hs, f = c.intermediateSize();
    m.put("model.embed_tokens.weight", rand(r, 0.15, 0, V, ch));
    for (int i = 0; i < c.layers(); i++) {
      String h = "model.layers." + i + ".";
      m.put(h + "input_layernorm.weight", rand(r, 0.1, 1, ch));
      m.put(h + "self_attn.q_proj.weight", rand(r, 0.15, 0, q, ch));
      m.put(h + "self_attn.k_proj.weight", rand(r, 0.15, 0, kv, ch));
      m.put(h + "self_attn.v_proj.weight", rand(r, 0.15, 0, kv, ch));
      if (c.biases() == GptConfig.Biases.QKV) {
        m.put(h + "self_attn.q_proj.bias", rand(r, 0.05, 0, q));
        m.put(h + "self_attn.k_proj.bias", rand(r, 0.05, 0, kv));
        m.put(h + "self_attn.v_proj.bias", rand(r, 0.05, 0, kv));
      }
      m.put(h + "self_attn.o_proj.weight", rand(r, 0.15, 0, ch, ch));
      m.put(h + "post_attention_layernorm.weight", rand(r, 0.1, 1, ch));
      m.put(h + "mlp.gate_proj.weight", rand(r, 0.15, 0, f, ch));
      m.put(h + "mlp.up_proj.weight", rand(r, 0.15, 0, f, ch));
      m.put(h + "mlp.down_proj.weight", rand(r, 0.15, 0, ch, f));
    }
    m.put("model.norm.weight", rand(r, 0.1, 1, ch));
    if (!c.tiedHead()) {
      m.put("lm_head.weight", rand(r, 0.15, 0, V, ch));
    } else if (lmHeadWhenTied) {
      m.put("lm_head.weight", new T(m.get("model.embed_tokens.weight").data().clone(), new long[] {V, ch}));
    }
    return m;
  }

  static T rand(SplittableRandom r, double scale, double mean, long... shape) {
    long n = 1;
    for (long d : shape) n *= d;
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) a[i] = (float) (mean + scale * Ref.gauss(r));
    return new T(a, shape);
  }

  /** The jalign flat buffer, assembled as GptConfig documents it: q,k,v rows stacked; gate rows, then up rows. */
  static float[] flatOf(GptConfig c, Map<String, T> hf) {
    float[] flat = new float[(int) c.parameterCount()];
    Map<String, Long> off = new LinkedHashMap<>();
    for (ParamSpec s : c.paramSpecs()) off.put(s.name(), s.offset());
    copy(flat, off.get("wte"), hf, "model.embed_tokens.weight");
    int ch = c.channels();
    for (int i = 0; i < c.layers(); i++) {
      String h = "model.layers." + i + ".";
      copy(flat, off.get("ln1w") + (long) i * ch, hf, h + "input_layernorm.weight");
      long at = off.get("qkvw") + (long) i * c.qkvWidth() * ch;
      for (String p : List.of("q", "k", "v")) at += copy(flat, at, hf, h + "self_attn." + p + "_proj.weight");
      if (c.biases() == GptConfig.Biases.QKV) {
        at = off.get("qkvb") + (long) i * c.qkvWidth();
        for (String p : List.of("q", "k", "v")) at += copy(flat, at, hf, h + "self_attn." + p + "_proj.bias");
      }
      copy(flat, off.get("attprojw") + (long) i * ch * ch, hf, h + "self_attn.o_proj.weight");
      copy(flat, off.get("ln2w") + (long) i * ch, hf, h + "post_attention_layernorm.weight");
      at = off.get("fcw") + (long) i * 2 * c.intermediateSize() * ch;
      at += copy(flat, at, hf, h + "mlp.gate_proj.weight");
      copy(flat, at, hf, h + "mlp.up_proj.weight");
      copy(flat, off.get("fcprojw") + (long) i * ch * c.intermediateSize(), hf, h + "mlp.down_proj.weight");
    }
    copy(flat, off.get("lnfw"), hf, "model.norm.weight");
    if (!c.tiedHead()) copy(flat, off.get(GptConfig.LM_HEAD), hf, "lm_head.weight");
    return flat;
  }

  static int copy(float[] flat, long at, Map<String, T> hf, String name) {
    float[] d = hf.get(name).data();
    System.arraycopy(d, 0, flat, (int) at, d.length);
    return d.length;
  }

  static void writeTensors(Path file, Map<String, T> hf, SafeTensors.Dtype dtype) throws IOException {
    SafeTensors.Writer w = SafeTensors.writer().metadata("format", "pt");
    for (Map.Entry<String, T> e : hf.entrySet()) w.add(e.getKey(), dtype, e.getValue().data(), e.getValue().shape());
    w.write(file);
  }

  static void writeJson(Path file, JsonObject o) throws IOException {
    Files.writeString(file, new GsonBuilder().serializeNulls().create().toJson(o));
  }

  static Path hfDir(Path root, String name, Family f, Map<String, T> hf, SafeTensors.Dtype dtype) throws IOException {
    Path d = Files.createDirectories(root.resolve(name));
    writeJson(d.resolve("config.json"), hfConfig(f));
    writeTensors(d.resolve("model.safetensors"), hf, dtype);
    return d;
  }

  static float[] logits(Gpt m, int[] tokens, int b, int t) {
    return m.forward(tokens, b, t, null, null).toFloatArray();
  }

  static int[] tokens(int n) {
    SplittableRandom r = new SplittableRandom(n);
    int[] t = new int[n];
    for (int i = 0; i < n; i++) t[i] = r.nextInt(V);
    return t;
  }

  // ------------------------------------------------------------------ load, save

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void hfTensorsLoadToTheReferenceLogitsAndSaveRoundTripsExactly(Family f, @TempDir Path root) throws Exception {
    GptConfig cfg = f.cfg();
    Map<String, T> hf = hfTensors(cfg, f.name().hashCode(), true);
    float[] flat = flatOf(cfg, hf);
    Path dir = hfDir(root, "hf", f, hf, SafeTensors.Dtype.F32);
    assertEquals(cfg, HfLlamaDirectory.readConfig(dir));
    int b = 2, t = 9, vp = cfg.paddedVocab();
    int[] tok = tokens(b * t);
    try (Gpt m = HfLlamaDirectory.load(dir, CPU)) {
      assertArrayEquals(flat, m.paramsToArray());
      float[] got = logits(m, tok, b, t);
      double[] want = RefLlama.forward(cfg, flat, tok, b, t, null, null);
      for (int i = 0; i < b * t; i++) {
        Ref.assertClose(f + " token " + i, Arrays.copyOfRange(want, i * vp, i * vp + V),
            Arrays.copyOfRange(got, i * vp, i * vp + V), 2e-5, 2e-4);
      }
      // F32 save -> load: identical parameters and logits
      Path out = root.resolve("saved");
      HfLlamaDirectory.GenerationConfig gen = new HfLlamaDirectory.GenerationConfig(new int[] {2, 7}, 1);
      HfLlamaDirectory.save(m, out, SafeTensors.Dtype.F32, gen);
      assertEquals(cfg, HfLlamaDirectory.readConfig(out));
      assertEquals(gen, HfLlamaDirectory.readGenerationConfig(out).orElseThrow());
      JsonConfig written = JsonConfig.read(out.resolve("config.json"));
      assertEquals(f.type().equals("qwen2") ? "qwen2" : "llama", written.getString("model_type"));
      assertEquals("float32", written.getString("torch_dtype"));
      try (SafeTensors st = SafeTensors.open(out.resolve("model.safetensors"))) {
        assertEquals(cfg.tiedHead(), !st.names().contains("lm_head.weight"));
        for (Map.Entry<String, T> e : hf.entrySet()) {
          if (e.getKey().equals("lm_head.weight") && cfg.tiedHead()) continue;
          assertArrayEquals(e.getValue().shape(), st.info(e.getKey()).shape(), e.getKey());
          assertArrayEquals(e.getValue().data(), st.readFloats(e.getKey()), e.getKey());
        }
      }
      try (Gpt back = HfLlamaDirectory.load(out, CPU)) {
        assertArrayEquals(flat, back.paramsToArray());
        assertArrayEquals(got, logits(back, tok, b, t));
      }
      // BF16 save -> load: each parameter within bf16 rounding, logits close
      Path bf = root.resolve("bf16");
      HfLlamaDirectory.save(m, bf, SafeTensors.Dtype.BF16);
      assertEquals("bfloat16", JsonConfig.read(bf.resolve("config.json")).getString("torch_dtype"));
      assertFalse(Files.exists(bf.resolve("generation_config.json")));
      try (Gpt back = HfLlamaDirectory.load(bf, CPU)) {
        assertWithinRounding(flat, back.paramsToArray(), 0x1p-8);
        Ref.assertClose(f + " bf16 logits", got, logits(back, tok, b, t), 0.05, 0.05);
      }
    }
  }

  static void assertWithinRounding(float[] want, float[] got, double rel) {
    assertEquals(want.length, got.length);
    int differ = 0;
    for (int i = 0; i < want.length; i++) {
      if (Math.abs(want[i] - got[i]) > Math.abs(want[i]) * rel + 6e-8) {
        throw new AssertionError("element " + i + ": " + got[i] + " is not " + want[i] + " rounded (" + rel + ")");
      }
      if (want[i] != got[i]) differ++;
    }
    assertTrue(differ > want.length / 4, "expected rounding in most elements, " + differ + " differ");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void bf16AndF16FilesConvertOnLoad(Family f, @TempDir Path root) throws Exception {
    Map<String, T> hf = hfTensors(f.cfg(), 17, false);
    float[] flat = flatOf(f.cfg(), hf);
    for (SafeTensors.Dtype dt : List.of(SafeTensors.Dtype.BF16, SafeTensors.Dtype.F16)) {
      Path dir = hfDir(root, dt.name(), f, hf, dt);
      try (Gpt m = HfLlamaDirectory.load(dir, CPU)) {
        assertWithinRounding(flat, m.paramsToArray(), dt == SafeTensors.Dtype.BF16 ? 0x1p-8 : 0x1p-11);
      }
    }
  }

  /** Two shards and an index, written as transformers' save_pretrained(max_shard_size) does. */
  @Test
  void aShardedDirectoryLoadsAsTheSingleFile(@TempDir Path root) throws Exception {
    Family f = families().filter(x -> x.name().equals("qwen2-qkv-bias")).findFirst().orElseThrow();
    Map<String, T> hf = hfTensors(f.cfg(), 3, false);
    Path single = hfDir(root, "single", f, hf, SafeTensors.Dtype.F32);
    Path sharded = writeShards(root.resolve("sharded"), f, hf, Map.of());
    try (Gpt a = HfLlamaDirectory.load(single, CPU); Gpt b = HfLlamaDirectory.load(sharded, CPU)) {
      assertArrayEquals(a.paramsToArray(), b.paramsToArray());
      int[] tok = tokens(7);
      assertArrayEquals(logits(a, tok, 1, 7), logits(b, tok, 1, 7));
    }
  }

  static final String SHARD1 = "model-00001-of-00002.safetensors", SHARD2 = "model-00002-of-00002.safetensors";

  /** Layer 0 and the embedding in shard 1, the rest in shard 2; {@code indexOverride} replaces weight_map entries. */
  static Path writeShards(Path d, Family f, Map<String, T> hf, Map<String, String> indexOverride) throws IOException {
    Files.createDirectories(d);
    writeJson(d.resolve("config.json"), hfConfig(f));
    Map<String, T> one = new LinkedHashMap<>(), two = new LinkedHashMap<>();
    JsonObject map = new JsonObject();
    for (Map.Entry<String, T> e : hf.entrySet()) {
      boolean first = e.getKey().startsWith("model.layers.0.") || e.getKey().startsWith("model.embed");
      (first ? one : two).put(e.getKey(), e.getValue());
      map.addProperty(e.getKey(), first ? SHARD1 : SHARD2);
    }
    indexOverride.forEach((k, v) -> {
      if (v == null) map.remove(k); else map.addProperty(k, v);
    });
    writeTensors(d.resolve(SHARD1), one, SafeTensors.Dtype.F32);
    writeTensors(d.resolve(SHARD2), two, SafeTensors.Dtype.F32);
    JsonObject index = new JsonObject();
    JsonObject meta = new JsonObject();
    meta.addProperty("total_size", 1234);
    index.add("metadata", meta);
    index.add("weight_map", map);
    writeJson(d.resolve("model.safetensors.index.json"), index);
    return d;
  }

  @Test
  void generationConfigGivesEosAndBos(@TempDir Path root) throws Exception {
    Family f = families().findFirst().orElseThrow();
    Path dir = hfDir(root, "g", f, hfTensors(f.cfg(), 1, false), SafeTensors.Dtype.F32);
    assertTrue(HfLlamaDirectory.readGenerationConfig(dir).isEmpty());
    JsonObject cfg = hfConfig(f);
    cfg.addProperty("bos_token_id", 5);
    cfg.addProperty("eos_token_id", 6);
    writeJson(dir.resolve("config.json"), cfg);
    assertEquals(new HfLlamaDirectory.GenerationConfig(new int[] {6}, 5),
        HfLlamaDirectory.readGenerationConfig(dir).orElseThrow());
    Files.writeString(dir.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": [2, 3, 4]}");
    assertEquals(new HfLlamaDirectory.GenerationConfig(new int[] {2, 3, 4}, 1),
        HfLlamaDirectory.readGenerationConfig(dir).orElseThrow());
    Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": \"x\"}");
    IOException e = assertThrows(IOException.class, () -> HfLlamaDirectory.readGenerationConfig(dir));
    assertMentions(e, "generation_config.json", "eos_token_id");
  }

  // ------------------------------------------------------------------ refusals

  static void assertMentions(Throwable e, String... parts) {
    for (String p : parts) {
      assertTrue(e.getMessage() != null && e.getMessage().contains(p), "\"" + e.getMessage() + "\" lacks " + p);
    }
  }

  record BadConfig(String family, String key, Consumer<JsonObject> edit) {
    @Override
    public String toString() {
      return family + ": " + key;
    }
  }

  static Stream<BadConfig> badConfigs() {
    return Stream.of(
        new BadConfig("llama-untied", "model_type", o -> o.addProperty("model_type", "gemma")),
        new BadConfig("llama-untied", "architectures", o -> {
          JsonArray a = new JsonArray();
          a.add("Qwen2ForCausalLM");
          o.add("architectures", a);
        }),
        new BadConfig("llama-untied", "hidden_act", o -> o.addProperty("hidden_act", "gelu")),
        new BadConfig("llama-untied", "head_dim", o -> o.addProperty("head_dim", 16)),
        new BadConfig("llama-untied", "rope_scaling", o -> {
          JsonObject s = new JsonObject();
          s.addProperty("rope_type", "yarn");
          s.addProperty("factor", 4.0);
          o.add("rope_scaling", s);
        }),
        new BadConfig("llama-untied", "attention_bias", o -> o.addProperty("attention_bias", true)),
        new BadConfig("llama-untied", "mlp_bias", o -> o.addProperty("mlp_bias", true)),
        new BadConfig("llama-untied", "num_hidden_layers", o -> o.addProperty("num_hidden_layers", 2.5)),
        new BadConfig("llama-untied", "num_key_value_heads", o -> o.addProperty("num_key_value_heads", 3)),
        new BadConfig("mistral-mqa", "sliding_window", o -> o.addProperty("sliding_window", 4)),
        new BadConfig("mistral-mqa", "num_local_experts", o -> o.addProperty("num_local_experts", 8)),
        new BadConfig("qwen2-qkv-bias", "use_sliding_window", o -> o.addProperty("use_sliding_window", true)),
        new BadConfig("qwen2-qkv-bias", "num_experts", o -> o.addProperty("num_experts", 4)),
        new BadConfig("qwen2-qkv-bias", "vocab_size", o -> o.remove("vocab_size")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badConfigs")
  void badConfigsAreRefusedByFileAndKey(BadConfig bad, @TempDir Path root) throws Exception {
    Family f = families().filter(x -> x.name().equals(bad.family())).findFirst().orElseThrow();
    Path dir = hfDir(root, "d", f, hfTensors(f.cfg(), 1, false), SafeTensors.Dtype.F32);
    JsonObject cfg = hfConfig(f);
    bad.edit().accept(cfg);
    writeJson(dir.resolve("config.json"), cfg);
    IOException e = assertThrows(IOException.class, () -> HfLlamaDirectory.load(dir, CPU));
    assertMentions(e, dir.resolve("config.json").toString(), bad.key());
  }

  @Test
  void mistralWithAWindowCoveringAllPositionsLoads(@TempDir Path root) throws Exception {
    Family f = families().filter(x -> x.name().equals("mistral-mqa")).findFirst().orElseThrow();
    Path dir = hfDir(root, "d", f, hfTensors(f.cfg(), 1, false), SafeTensors.Dtype.F32);
    JsonObject cfg = hfConfig(f);
    cfg.addProperty("sliding_window", MAXT);
    writeJson(dir.resolve("config.json"), cfg);
    assertEquals(f.cfg(), HfLlamaDirectory.readConfig(dir));
  }

  @Test
  void badWeightsAreRefusedByFileAndTensor(@TempDir Path root) throws Exception {
    Family f = families().filter(x -> x.name().equals("smollm2-tied")).findFirst().orElseThrow();
    GptConfig cfg = f.cfg();
    String q = "model.layers.1.self_attn.q_proj.weight";
    int[] n = {0};
    // each edit of the tensors -> the tensor named in the message
    Map<String, Consumer<Map<String, T>>> edits = new LinkedHashMap<>();
    edits.put(q, m -> m.remove(q));
    edits.put("model.layers.2.mlp.up_proj.weight", m -> m.put("model.layers.2.mlp.up_proj.weight", rand(new SplittableRandom(1), 1, 0, 4)));
    edits.put("model.layers.0.self_attn.o_proj.bias", m -> m.put("model.layers.0.self_attn.o_proj.bias", rand(new SplittableRandom(1), 1, 0, 32)));
    edits.put("model.layers.0.mlp.down_proj.weight", m -> m.put("model.layers.0.mlp.down_proj.weight", rand(new SplittableRandom(1), 1, 0, 48, 33)));
    edits.put("lm_head.weight", m -> m.put("lm_head.weight", rand(new SplittableRandom(1), 1, 0, V, 32)));
    for (Map.Entry<String, Consumer<Map<String, T>>> e : edits.entrySet()) {
      Map<String, T> hf = hfTensors(cfg, 2, false);
      e.getValue().accept(hf);
      Path dir = hfDir(root, "w" + n[0]++, f, hf, SafeTensors.Dtype.F32);
      IOException x = assertThrows(IOException.class, () -> HfLlamaDirectory.load(dir, CPU), e.getKey());
      assertMentions(x, dir.toString(), e.getKey());
    }
    // inv_freq buffers of older files are ignored
    Map<String, T> hf = hfTensors(cfg, 2, false);
    hf.put("model.layers.0.self_attn.rotary_emb.inv_freq", rand(new SplittableRandom(1), 1, 0, 4));
    try (Gpt m = HfLlamaDirectory.load(hfDir(root, "invfreq", f, hf, SafeTensors.Dtype.F32), CPU)) {
      assertArrayEquals(flatOf(cfg, hfTensors(cfg, 2, false)), m.paramsToArray());
    }
    // an untied family needs lm_head.weight
    Family u = families().filter(x -> x.name().equals("llama-untied")).findFirst().orElseThrow();
    Map<String, T> uh = hfTensors(u.cfg(), 2, false);
    uh.remove("lm_head.weight");
    Path ud = hfDir(root, "nohead", u, uh, SafeTensors.Dtype.F32);
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(ud, CPU)), ud.toString(), "lm_head.weight");
    // no weights at all
    Path empty = Files.createDirectories(root.resolve("empty"));
    writeJson(empty.resolve("config.json"), hfConfig(f));
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(empty, CPU)), "model.safetensors");
  }

  @Test
  void badShardsAreRefusedByFileAndTensor(@TempDir Path root) throws Exception {
    Family f = families().filter(x -> x.name().equals("qwen2-qkv-bias")).findFirst().orElseThrow();
    Map<String, T> hf = hfTensors(f.cfg(), 3, false);
    String norm = "model.norm.weight", emb = "model.embed_tokens.weight";
    // a shard missing from the directory
    Path d1 = writeShards(root.resolve("a"), f, hf, Map.of(norm, "model-00003-of-00003.safetensors"));
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(d1, CPU)),
        "model-00003-of-00003.safetensors", "model.safetensors.index.json");
    // a tensor absent from the index
    Path d2 = writeShards(root.resolve("b"), f, hf, java.util.Collections.singletonMap(norm, null));
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(d2, CPU)), SHARD2, norm, "weight_map");
    // a tensor mapped to the wrong shard (it is in both the map's shard and another)
    Path d3 = writeShards(root.resolve("c"), f, hf, Map.of(emb, SHARD2));
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(d3, CPU)), SHARD1, emb, "twice");
    // a tensor listed but absent from its shard
    Map<String, T> less = new LinkedHashMap<>(hf);
    less.remove(norm);
    Path d4 = writeShards(root.resolve("d"), f, less, Map.of(norm, SHARD2));
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(d4, CPU)), SHARD2, norm, "absent");
    // a shard name that leaves the directory
    Path d5 = writeShards(root.resolve("e"), f, hf, Map.of(norm, "../model-00002-of-00002.safetensors"));
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(d5, CPU)),
        "model.safetensors.index.json", norm);
    // a tensor listed twice in weight_map (a duplicate JSON key)
    Path d6 = writeShards(root.resolve("f"), f, hf, Map.of());
    Path idx = d6.resolve("model.safetensors.index.json");
    String text = Files.readString(idx);
    Files.writeString(idx, text.replace("\"weight_map\":{", "\"weight_map\":{\"" + norm + "\":\"" + SHARD2 + "\","));
    assertMentions(assertThrows(IOException.class, () -> HfLlamaDirectory.load(d6, CPU)),
        "model.safetensors.index.json", norm);
  }

  @Test
  void saveRefusesGpt2ModelsAndForeignFiles(@TempDir Path root) throws Exception {
    try (Gpt g = new Gpt(GptConfig.tiny(), CPU, 1)) {
      assertThrows(IllegalArgumentException.class, () -> HfLlamaDirectory.save(g, root.resolve("g"), SafeTensors.Dtype.F32));
    }
    Family f = families().findFirst().orElseThrow();
    try (Gpt m = new Gpt(f.cfg(), CPU, 1)) {
      assertThrows(IllegalArgumentException.class, () -> HfLlamaDirectory.save(m, root.resolve("h"), SafeTensors.Dtype.F16));
      Path out = Files.createDirectories(root.resolve("out"));
      Files.writeString(out.resolve("config.json"), "not a config");
      assertThrows(java.nio.file.FileAlreadyExistsException.class,
          () -> HfLlamaDirectory.save(m, out, SafeTensors.Dtype.F32));
      assertEquals("not a config", Files.readString(out.resolve("config.json")));
      assertFalse(Files.exists(out.resolve("model.safetensors")));
      // a previous save is replaced
      Files.delete(out.resolve("config.json"));
      HfLlamaDirectory.save(m, out, SafeTensors.Dtype.F32);
      HfLlamaDirectory.save(m, out, SafeTensors.Dtype.BF16);
      assertEquals(f.cfg(), HfLlamaDirectory.readConfig(out));
    }
  }
}
