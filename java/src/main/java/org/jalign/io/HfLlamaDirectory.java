package org.jalign.io;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jalign.backend.Backend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ParamSpec;
import org.jalign.model.RopeConfig;

/**
 * Import and export of Hugging Face Llama-family model directories: {@code LlamaForCausalLM} (Llama 2/3.x,
 * SmolLM2, TinyLlama), {@code MistralForCausalLM} (without a sliding window) and {@code Qwen2ForCausalLM}. A
 * directory holds {@code config.json}, the weights as {@code model.safetensors} or as shards listed by
 * {@code model.safetensors.index.json}, and optionally {@code generation_config.json}.
 *
 * <p>Shape legend: L = layers, C = hidden_size, NH = num_attention_heads, NKV = num_key_value_heads, HS = C / NH,
 * F = intermediate_size, V = vocab_size, Vp = padded vocabulary. Hugging Face's {@code nn.Linear} stores (out, in),
 * as jalign does, so no weight is transposed; the q/k/v and gate/up projections are stacked by rows:
 * <pre>
 *   model.embed_tokens.weight (V,C)                       -> wte (Vp,C) rows [0, V); padding rows 0
 *   model.layers.i.input_layernorm.weight (C)             -> ln1w[i]
 *   model.layers.i.self_attn.q_proj.weight (NH·HS,C)      -> qkvw[i] rows [0, NH·HS)
 *   model.layers.i.self_attn.k_proj.weight (NKV·HS,C)     -> qkvw[i] rows [NH·HS, (NH+NKV)·HS)
 *   model.layers.i.self_attn.v_proj.weight (NKV·HS,C)     -> qkvw[i] rows [(NH+NKV)·HS, (NH+2·NKV)·HS)
 *   model.layers.i.self_attn.{q,k,v}_proj.bias            -> qkvb[i], same order (Qwen2 only)
 *   model.layers.i.self_attn.o_proj.weight (C,C)          -> attprojw[i]
 *   model.layers.i.post_attention_layernorm.weight (C)    -> ln2w[i]
 *   model.layers.i.mlp.gate_proj.weight (F,C)             -> fcw[i] rows [0, F)   (the silu input)
 *   model.layers.i.mlp.up_proj.weight (F,C)               -> fcw[i] rows [F, 2F)
 *   model.layers.i.mlp.down_proj.weight (C,F)             -> fcprojw[i]
 *   model.norm.weight (C)                                 -> lnfw
 *   lm_head.weight (V,C)                                  -> lmhead (Vp,C) rows [0, V) (untied head)
 * </pre>
 * With {@code tie_word_embeddings} the file need not hold {@code lm_head.weight}; when it does, it must equal the
 * embedding. The buffers {@code model.layers.i.self_attn.rotary_emb.inv_freq} of older files are ignored (the
 * frequencies come from config.json); any other unknown tensor is an error. F32, BF16 and F16 tensors are
 * converted to F32 on load.
 *
 * <p>config.json must describe what jalign computes: {@code hidden_act} silu, {@code head_dim} = C / NH, no
 * {@code attention_bias} or {@code mlp_bias} (Llama, Mistral; Qwen2's q/k/v biases are implied by its type), RoPE
 * unscaled or {@code llama3}-scaled, no sliding window in use, no mixture of experts. Every refusal is an
 * IOException naming the file and the key or tensor.
 */
public final class HfLlamaDirectory {
  public static final String CONFIG = "config.json";
  public static final String WEIGHTS = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";
  public static final String GENERATION_CONFIG = "generation_config.json";

  /** What {@link #save} may replace as generation_config.json. */
  static final OutputFiles.Kind GENERATION_KIND =
      OutputFiles.Kind.json("a Hugging Face generation_config.json", "eos_token_id");

  private static final Map<String, String> ARCHITECTURES =
      Map.of("llama", "LlamaForCausalLM", "mistral", "MistralForCausalLM", "qwen2", "Qwen2ForCausalLM");
  /** Keys of mixture-of-experts configurations (Mixtral, Qwen2-MoE, DeepSeek). */
  private static final List<String> MOE_KEYS = List.of("num_local_experts", "num_experts", "num_experts_per_tok",
      "moe_intermediate_size", "n_routed_experts", "n_shared_experts", "shared_expert_intermediate_size");
  private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
  private static final Pattern SHARD_NAME = Pattern.compile("[A-Za-z0-9._-]+\\.safetensors");

  private HfLlamaDirectory() {}

  /**
   * Token ids of generation_config.json (or of config.json when there is none).
   *
   * @param eosTokenIds the end-of-sequence ids (eos_token_id, an int or a list), possibly empty
   * @param bosTokenId bos_token_id, or -1 when absent
   */
  public record GenerationConfig(int[] eosTokenIds, int bosTokenId) {
    public GenerationConfig {
      eosTokenIds = eosTokenIds.clone();
    }

    @Override
    public int[] eosTokenIds() {
      return eosTokenIds.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof GenerationConfig g && Arrays.equals(eosTokenIds, g.eosTokenIds) && bosTokenId == g.bosTokenId;
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(eosTokenIds) + bosTokenId;
    }

    @Override
    public String toString() {
      return "GenerationConfig[eosTokenIds=" + Arrays.toString(eosTokenIds) + ", bosTokenId=" + bosTokenId + "]";
    }
  }

  // ------------------------------------------------------------------ config

  /** Reads and checks config.json of a Llama-family directory. */
  public static GptConfig readConfig(Path dir) throws IOException {
    Path p = dir.resolve(CONFIG);
    if (!Files.isRegularFile(p)) {
      throw new NoSuchFileException(p.toString(), null, "missing (a Hugging Face model directory holds " + CONFIG
          + " and " + WEIGHTS + " or " + INDEX + ")");
    }
    JsonConfig c = JsonConfig.read(p);
    String type = c.getString("model_type");
    String arch = ARCHITECTURES.get(type);
    if (arch == null) {
      throw c.error("model_type", "is " + type + ", expected llama, mistral or qwen2"
          + (type.equals("gpt2") ? " (GPT-2 directories load through Gpt2Safetensors)" : ""));
    }
    if (c.has("architectures")) {
      JsonElement a = c.raw("architectures").orElseThrow();
      if (!a.isJsonArray() || a.getAsJsonArray().size() != 1 || !StrictJson.isString(a.getAsJsonArray().get(0))
          || !a.getAsJsonArray().get(0).getAsString().equals(arch)) {
        throw c.error("architectures", "is " + a + ", expected [\"" + arch + "\"] for model_type " + type);
      }
    }
    for (String k : MOE_KEYS) {
      if (c.has(k)) throw c.error(k, "is set: mixture-of-experts models are not supported");
    }
    String act = c.getString("hidden_act", "silu");
    if (!act.equals("silu")) throw c.error("hidden_act", "is " + act + ", jalign computes SwiGLU with silu");
    int layers = c.getInt("num_hidden_layers", 1, Integer.MAX_VALUE);
    int heads = c.getInt("num_attention_heads", 1, Integer.MAX_VALUE);
    int kvHeads = c.getInt("num_key_value_heads", heads, 1, Integer.MAX_VALUE);
    int channels = c.getInt("hidden_size", 1, Integer.MAX_VALUE);
    int inter = c.getInt("intermediate_size", 1, Integer.MAX_VALUE);
    int positions = c.getInt("max_position_embeddings", 1, Integer.MAX_VALUE);
    int vocab = c.getInt("vocab_size", 1, Integer.MAX_VALUE);
    if (channels % heads != 0) {
      throw c.error("hidden_size", "is " + channels + ", not divisible by num_attention_heads " + heads);
    }
    if (kvHeads > heads || heads % kvHeads != 0) {
      throw c.error("num_key_value_heads", "is " + kvHeads + ", must divide num_attention_heads " + heads);
    }
    if (c.has("head_dim")) {
      int headDim = c.getInt("head_dim", 1, Integer.MAX_VALUE);
      try {
        GptConfig.requireHeadDim(headDim, channels, heads);
      } catch (IllegalArgumentException e) {
        throw c.error("head_dim", "is " + headDim + ": " + e.getMessage());
      }
    }
    double eps = c.getDouble("rms_norm_eps", 1e-6, Double.MIN_VALUE, 1);
    double theta = c.getDouble("rope_theta", 10000, 1, Double.MAX_VALUE);
    boolean tied = c.getBoolean("tie_word_embeddings", false);
    if (type.equals("qwen2")) {
      if (c.getBoolean("use_sliding_window", false)) {
        throw c.error("use_sliding_window", "is true: sliding-window attention is not supported");
      }
    } else {
      if (c.getBoolean("attention_bias", false)) {
        throw c.error("attention_bias", "is true: jalign has no bias on o_proj (only Qwen2's q/k/v biases)");
      }
      if (c.getBoolean("mlp_bias", false)) throw c.error("mlp_bias", "is true: MLP biases are not supported");
      if (c.has("sliding_window")) {
        long window = c.getLong("sliding_window", 0, 0, Long.MAX_VALUE);
        if (window < positions) {
          throw c.error("sliding_window", "is " + window + " (< max_position_embeddings " + positions
              + "): sliding-window attention is not supported");
        }
      }
    }
    RopeConfig rope;
    try {
      rope = RopeConfig.fromHf(theta, channels / heads, ropeScaling(c));
    } catch (IllegalArgumentException e) {
      throw c.error("rope_scaling", "is not supported: " + e.getMessage());
    }
    try {
      return type.equals("qwen2")
          ? GptConfig.qwen2(layers, heads, kvHeads, channels, inter, positions, vocab, rope, (float) eps, tied)
          : GptConfig.llama(layers, heads, kvHeads, channels, inter, positions, vocab, rope, (float) eps, tied);
    } catch (IllegalArgumentException e) {
      throw new JsonConfig.JsonConfigException(p + ": " + e.getMessage(), e);
    }
  }

  /** rope_scaling as a map of numbers and strings, or null. */
  private static Map<String, Object> ropeScaling(JsonConfig c) throws IOException {
    Optional<JsonConfig> o = c.getObject("rope_scaling");
    if (o.isEmpty()) return null;
    JsonConfig s = o.get();
    Map<String, Object> m = new HashMap<>();
    for (String k : s.keys()) {
      Optional<JsonElement> e = s.raw(k);
      if (e.isEmpty()) continue;
      if (StrictJson.isNumber(e.get())) {
        m.put(k, s.getDouble(k, -Double.MAX_VALUE, Double.MAX_VALUE));
      } else if (StrictJson.isString(e.get())) {
        m.put(k, e.get().getAsString());
      } else {
        m.put(k, e.get().toString());
      }
    }
    return m;
  }

  /**
   * The token ids of generation_config.json; without that file those of config.json; empty when neither names
   * an eos_token_id or bos_token_id.
   */
  public static Optional<GenerationConfig> readGenerationConfig(Path dir) throws IOException {
    Path g = dir.resolve(GENERATION_CONFIG);
    JsonConfig c = JsonConfig.read(Files.isRegularFile(g) ? g : dir.resolve(CONFIG));
    long[] eos = c.getLongs("eos_token_id", 0, Integer.MAX_VALUE);
    int bos = c.getInt("bos_token_id", -1, 0, Integer.MAX_VALUE);
    if (eos.length == 0 && bos < 0) return Optional.empty();
    int[] ids = new int[eos.length];
    for (int i = 0; i < ids.length; i++) ids[i] = (int) eos[i];
    return Optional.of(new GenerationConfig(ids, bos));
  }

  // ------------------------------------------------------------------ import

  /** Builds a model from a Llama-family directory on {@code backend}. */
  public static Gpt load(Path dir, Backend backend) throws IOException {
    GptConfig cfg = readConfig(dir);
    return ModelFiles.build(cfg, importParams(dir, cfg), backend);
  }

  /** One tensor's place: the open shard and its path. */
  private record Source(SafeTensors st, Path file) {}

  /**
   * Reads the weights (model.safetensors, or the shards of model.safetensors.index.json) into a flat parameter
   * buffer in the layout of {@code cfg.paramSpecs()}.
   */
  public static float[] importParams(Path dir, GptConfig cfg) throws IOException {
    Objects.requireNonNull(cfg, "cfg");
    requireLlama(cfg);
    List<SafeTensors> open = new ArrayList<>();
    try {
      Map<String, Source> sources = openWeights(dir, open);
      return readParams(cfg, sources);
    } finally {
      IOException first = null;
      for (SafeTensors st : open) {
        try {
          st.close();
        } catch (IOException e) {
          if (first == null) first = e;
        }
      }
      if (first != null) throw first;
    }
  }

  private static Map<String, Source> openWeights(Path dir, List<SafeTensors> open) throws IOException {
    Map<String, Source> sources = new LinkedHashMap<>();
    Path single = dir.resolve(WEIGHTS);
    Path index = dir.resolve(INDEX);
    if (Files.isRegularFile(single)) {
      SafeTensors st = SafeTensors.open(single);
      open.add(st);
      for (String n : st.names()) sources.put(n, new Source(st, single));
      return sources;
    }
    if (!Files.isRegularFile(index)) {
      throw new NoSuchFileException(single.toString(), null, "missing, and there is no " + INDEX + " either");
    }
    JsonConfig c = JsonConfig.read(index);
    JsonConfig map = c.getObject("weight_map").orElseThrow(() -> c.error("weight_map", "is missing"));
    if (map.keys().isEmpty()) throw c.error("weight_map", "is empty");
    Map<String, String> shardOf = new LinkedHashMap<>();
    for (String tensor : map.keys()) {
      String shard = map.getString(tensor);
      if (!SHARD_NAME.matcher(shard).matches() || shard.startsWith(".")) {
        throw map.error(tensor, "names shard \"" + shard + "\": expected a plain *.safetensors file name in "
            + dir);
      }
      shardOf.put(tensor, shard);
    }
    Map<String, SafeTensors> shards = new LinkedHashMap<>();
    for (String shard : new java.util.LinkedHashSet<>(shardOf.values())) {
      Path file = dir.resolve(shard);
      if (!Files.isRegularFile(file)) {
        throw new NoSuchFileException(file.toString(), null, "missing: " + index + " lists it as a shard");
      }
      SafeTensors st = SafeTensors.open(file);
      open.add(st);
      shards.put(shard, st);
    }
    for (Map.Entry<String, SafeTensors> e : shards.entrySet()) {
      Path file = dir.resolve(e.getKey());
      for (String n : e.getValue().names()) {
        String listed = shardOf.get(n);
        if (listed == null) {
          throw new IOException(file + ": tensor " + n + " is not listed in the weight_map of " + index);
        }
        if (!listed.equals(e.getKey())) {
          throw new IOException(file + ": tensor " + n + " is listed twice: " + index + " maps it to " + listed);
        }
        sources.put(n, new Source(e.getValue(), file));
      }
    }
    for (Map.Entry<String, String> e : shardOf.entrySet()) {
      if (!sources.containsKey(e.getKey())) {
        throw new IOException(dir.resolve(e.getValue()) + ": tensor " + e.getKey() + " is absent, but " + index
            + " maps it to this shard");
      }
    }
    return sources;
  }

  private static float[] readParams(GptConfig cfg, Map<String, Source> sources) throws IOException {
    float[] flat = new float[Math.toIntExact(cfg.parameterCount())];
    Map<String, ParamSpec> specs = specs(cfg);
    int c = cfg.channels(), hs = cfg.headSize(), f = cfg.intermediateSize(), v = cfg.vocabSize();
    int qw = cfg.heads() * hs, kw = cfg.kvHeads() * hs, qkv = cfg.qkvWidth();
    java.util.Set<String> used = new java.util.HashSet<>();
    Reader r = new Reader(sources, used, flat);
    r.read("model.embed_tokens.weight", off(specs, "wte"), v, c);
    boolean qkvBias = cfg.biases() == GptConfig.Biases.QKV;
    for (int i = 0; i < cfg.layers(); i++) {
      String h = "model.layers." + i + ".";
      r.read(h + "input_layernorm.weight", off(specs, "ln1w") + (long) i * c, c);
      long wq = off(specs, "qkvw") + (long) i * qkv * c;
      r.read(h + "self_attn.q_proj.weight", wq, qw, c);
      r.read(h + "self_attn.k_proj.weight", wq + (long) qw * c, kw, c);
      r.read(h + "self_attn.v_proj.weight", wq + (long) (qw + kw) * c, kw, c);
      if (qkvBias) {
        long bq = off(specs, "qkvb") + (long) i * qkv;
        r.read(h + "self_attn.q_proj.bias", bq, qw);
        r.read(h + "self_attn.k_proj.bias", bq + qw, kw);
        r.read(h + "self_attn.v_proj.bias", bq + qw + kw, kw);
      }
      r.read(h + "self_attn.o_proj.weight", off(specs, "attprojw") + (long) i * c * c, c, c);
      r.read(h + "post_attention_layernorm.weight", off(specs, "ln2w") + (long) i * c, c);
      long wg = off(specs, "fcw") + (long) i * 2 * f * c;
      r.read(h + "mlp.gate_proj.weight", wg, f, c);
      r.read(h + "mlp.up_proj.weight", wg + (long) f * c, f, c);
      r.read(h + "mlp.down_proj.weight", off(specs, "fcprojw") + (long) i * c * f, c, f);
    }
    r.read("model.norm.weight", off(specs, "lnfw"), c);
    if (!cfg.tiedHead()) {
      r.read("lm_head.weight", off(specs, GptConfig.LM_HEAD), v, c);
    } else if (sources.containsKey("lm_head.weight")) {
      float[] head = new float[v * c];
      Source s = r.check("lm_head.weight", v, c);
      s.st().readFloats("lm_head.weight", head, 0);
      int wte = (int) off(specs, "wte");
      if (!Arrays.equals(head, 0, head.length, flat, wte, wte + head.length)) {
        throw new IOException(s.file() + ": tensor lm_head.weight differs from model.embed_tokens.weight, but "
            + CONFIG + " sets tie_word_embeddings");
      }
    }
    for (Map.Entry<String, Source> e : sources.entrySet()) {
      String n = e.getKey();
      if (used.contains(n)) continue;
      java.util.regex.Matcher m = LAYER.matcher(n);
      if (m.matches() && m.group(2).equals("self_attn.rotary_emb.inv_freq")) continue;
      String why = n.endsWith(".bias") && n.contains("self_attn.") && !qkvBias ? " (q/k/v biases are Qwen2's only)"
          : "";
      throw new IOException(e.getValue().file() + ": unexpected tensor " + n + " (not part of "
          + (qkvBias ? "Qwen2" : "Llama") + " with " + cfg.layers() + " layers" + (cfg.tiedHead() ? ", tied head" : "")
          + ")" + why);
    }
    return flat;
  }

  /** Reads named tensors into the flat buffer after checking their shapes. */
  private static final class Reader {
    final Map<String, Source> sources;
    final java.util.Set<String> used;
    final float[] flat;

    Reader(Map<String, Source> sources, java.util.Set<String> used, float[] flat) {
      this.sources = sources;
      this.used = used;
      this.flat = flat;
    }

    Source check(String name, long... shape) throws IOException {
      Source s = sources.get(name);
      if (s == null) {
        Path where = sources.isEmpty() ? null : sources.values().iterator().next().file();
        throw new IOException((where == null ? "" : where.getParent() + ": ") + "missing tensor " + name);
      }
      SafeTensors.TensorInfo t = s.st().info(name);
      if (!Arrays.equals(t.shape(), shape)) {
        throw new IOException(s.file() + ": tensor " + name + " has shape " + Arrays.toString(t.shape())
            + ", expected " + Arrays.toString(shape));
      }
      if (!t.dtype().isFloat()) {
        throw new IOException(s.file() + ": tensor " + name + " has dtype " + t.dtype() + ", expected F32, BF16 or F16");
      }
      used.add(name);
      return s;
    }

    void read(String name, long offset, long... shape) throws IOException {
      Source s = check(name, shape);
      s.st().readFloats(name, flat, Math.toIntExact(offset));
    }
  }

  private static Map<String, ParamSpec> specs(GptConfig cfg) {
    Map<String, ParamSpec> specs = new LinkedHashMap<>();
    for (ParamSpec s : cfg.paramSpecs()) specs.put(s.name(), s);
    return specs;
  }

  private static long off(Map<String, ParamSpec> specs, String name) {
    return specs.get(name).offset();
  }

  private static void requireLlama(GptConfig cfg) {
    if (cfg.norm() != GptConfig.Norm.RMS_NORM || cfg.rope() == null || cfg.mlp() != GptConfig.Mlp.SWIGLU
        || cfg.biases() == GptConfig.Biases.ALL) {
      throw new IllegalArgumentException(cfg + " is not a Llama-family configuration (RMSNorm, RoPE, SwiGLU, no or"
          + " q/k/v biases); GPT-2 models are written by Gpt2Safetensors");
    }
  }

  // ------------------------------------------------------------------ export

  /** {@link #save(Gpt, Path, SafeTensors.Dtype, GenerationConfig)} without generation_config.json. */
  public static void save(Gpt model, Path dir, SafeTensors.Dtype dtype) throws IOException {
    save(model, dir, dtype, null);
  }

  /**
   * Writes config.json, model.safetensors (F32 or BF16) and, when {@code gen} is not null, generation_config.json
   * into {@code dir}, each atomically through {@link OutputFiles}: an existing file is replaced only when it is of
   * the same kind. Qwen2-shaped models (q/k/v biases) are written as Qwen2ForCausalLM, others as
   * LlamaForCausalLM.
   */
  public static void save(Gpt model, Path dir, SafeTensors.Dtype dtype, GenerationConfig gen) throws IOException {
    save(model.config(), model.paramsToArray(), dir, dtype, gen);
  }

  /** {@link #save(Gpt, Path, SafeTensors.Dtype, GenerationConfig)} of a flat parameter buffer. */
  public static void save(GptConfig cfg, float[] flat, Path dir, SafeTensors.Dtype dtype, GenerationConfig gen)
      throws IOException {
    requireLlama(cfg);
    if (dtype != SafeTensors.Dtype.F32 && dtype != SafeTensors.Dtype.BF16) {
      throw new IllegalArgumentException("dtype " + dtype + ": can save F32 or BF16");
    }
    if (flat.length != cfg.parameterCount()) {
      throw new IllegalArgumentException("flat has " + flat.length + " values, " + cfg + " has "
          + cfg.parameterCount() + " parameters");
    }
    Path config = dir.resolve(CONFIG), weights = dir.resolve(WEIGHTS), genFile = dir.resolve(GENERATION_CONFIG);
    OutputFiles.checkTarget(config, Gpt2Safetensors.CONFIG_KIND);
    OutputFiles.checkTarget(weights, SafeTensors.KIND);
    if (gen != null) OutputFiles.checkTarget(genFile, GENERATION_KIND);
    Map<String, ParamSpec> specs = specs(cfg);
    int c = cfg.channels(), hs = cfg.headSize(), f = cfg.intermediateSize(), v = cfg.vocabSize();
    int qw = cfg.heads() * hs, kw = cfg.kvHeads() * hs, qkv = cfg.qkvWidth();
    boolean qkvBias = cfg.biases() == GptConfig.Biases.QKV;
    SafeTensors.Writer w = SafeTensors.writer().metadata("format", "pt");
    w.add("model.embed_tokens.weight", dtype, slice(flat, off(specs, "wte"), (long) v * c), v, c);
    for (int i = 0; i < cfg.layers(); i++) {
      String h = "model.layers." + i + ".";
      w.add(h + "input_layernorm.weight", dtype, slice(flat, off(specs, "ln1w") + (long) i * c, c), c);
      long wq = off(specs, "qkvw") + (long) i * qkv * c;
      w.add(h + "self_attn.q_proj.weight", dtype, slice(flat, wq, (long) qw * c), qw, c);
      w.add(h + "self_attn.k_proj.weight", dtype, slice(flat, wq + (long) qw * c, (long) kw * c), kw, c);
      w.add(h + "self_attn.v_proj.weight", dtype, slice(flat, wq + (long) (qw + kw) * c, (long) kw * c), kw, c);
      if (qkvBias) {
        long bq = off(specs, "qkvb") + (long) i * qkv;
        w.add(h + "self_attn.q_proj.bias", dtype, slice(flat, bq, qw), qw);
        w.add(h + "self_attn.k_proj.bias", dtype, slice(flat, bq + qw, kw), kw);
        w.add(h + "self_attn.v_proj.bias", dtype, slice(flat, bq + qw + kw, kw), kw);
      }
      w.add(h + "self_attn.o_proj.weight", dtype, slice(flat, off(specs, "attprojw") + (long) i * c * c, (long) c * c),
          c, c);
      w.add(h + "post_attention_layernorm.weight", dtype, slice(flat, off(specs, "ln2w") + (long) i * c, c), c);
      long wg = off(specs, "fcw") + (long) i * 2 * f * c;
      w.add(h + "mlp.gate_proj.weight", dtype, slice(flat, wg, (long) f * c), f, c);
      w.add(h + "mlp.up_proj.weight", dtype, slice(flat, wg + (long) f * c, (long) f * c), f, c);
      w.add(h + "mlp.down_proj.weight", dtype, slice(flat, off(specs, "fcprojw") + (long) i * c * f, (long) c * f), c,
          f);
    }
    w.add("model.norm.weight", dtype, slice(flat, off(specs, "lnfw"), c), c);
    if (!cfg.tiedHead()) {
      w.add("lm_head.weight", dtype, slice(flat, off(specs, GptConfig.LM_HEAD), (long) v * c), v, c);
    }
    w.write(weights);
    String json = configJson(cfg, dtype, gen);
    OutputFiles.writeText(config, Gpt2Safetensors.CONFIG_KIND, json);
    if (gen != null) OutputFiles.writeText(genFile, GENERATION_KIND, generationJson(gen));
  }

  /** config.json for transformers' LlamaForCausalLM or Qwen2ForCausalLM. */
  static String configJson(GptConfig cfg, SafeTensors.Dtype dtype, GenerationConfig gen) {
    boolean qwen = cfg.biases() == GptConfig.Biases.QKV;
    JsonObject o = new JsonObject();
    JsonArray arch = new JsonArray();
    arch.add(qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
    o.add("architectures", arch);
    o.addProperty("model_type", qwen ? "qwen2" : "llama");
    o.addProperty("hidden_size", cfg.channels());
    o.addProperty("intermediate_size", cfg.intermediateSize());
    o.addProperty("num_hidden_layers", cfg.layers());
    o.addProperty("num_attention_heads", cfg.heads());
    o.addProperty("num_key_value_heads", cfg.kvHeads());
    o.addProperty("head_dim", cfg.headSize());
    o.addProperty("hidden_act", "silu");
    o.addProperty("max_position_embeddings", cfg.contextLength());
    o.addProperty("vocab_size", cfg.vocabSize());
    o.addProperty("rms_norm_eps", Double.parseDouble(Float.toString(cfg.normEps())));
    RopeConfig rope = cfg.rope();
    o.addProperty("rope_theta", rope.theta());
    if (rope.scaling() == null) {
      o.add("rope_scaling", JsonNull.INSTANCE);
    } else {
      JsonObject s = new JsonObject();
      s.addProperty("rope_type", "llama3");
      s.addProperty("factor", rope.scaling().factor());
      s.addProperty("low_freq_factor", rope.scaling().lowFreqFactor());
      s.addProperty("high_freq_factor", rope.scaling().highFreqFactor());
      s.add("original_max_position_embeddings", number(rope.scaling().originalMaxPositionEmbeddings()));
      o.add("rope_scaling", s);
    }
    o.addProperty("tie_word_embeddings", cfg.tiedHead());
    if (qwen) {
      o.addProperty("use_sliding_window", false);
    } else {
      o.addProperty("attention_bias", false);
      o.addProperty("mlp_bias", false);
    }
    o.addProperty("attention_dropout", 0.0);
    o.addProperty("initializer_range", 0.02);
    o.addProperty("use_cache", true);
    if (gen != null) addIds(o, gen);
    o.addProperty("torch_dtype", dtype == SafeTensors.Dtype.BF16 ? "bfloat16" : "float32");
    return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(o) + "\n";
  }

  static String generationJson(GenerationConfig gen) {
    JsonObject o = new JsonObject();
    addIds(o, gen);
    return new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n";
  }

  private static void addIds(JsonObject o, GenerationConfig gen) {
    if (gen.bosTokenId() >= 0) o.addProperty("bos_token_id", gen.bosTokenId());
    int[] eos = gen.eosTokenIds();
    if (eos.length == 1) {
      o.addProperty("eos_token_id", eos[0]);
    } else {
      JsonArray a = new JsonArray();
      for (int id : eos) a.add(id);
      o.add("eos_token_id", a);
    }
  }

  /** An integral double as a JSON integer (transformers compares some of these as ints). */
  private static JsonPrimitive number(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? new JsonPrimitive((long) d) : new JsonPrimitive(d);
  }

  private static float[] slice(float[] flat, long from, long n) {
    return Arrays.copyOfRange(flat, Math.toIntExact(from), Math.toIntExact(from + n));
  }
}
