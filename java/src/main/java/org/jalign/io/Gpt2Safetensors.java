package org.jalign.io;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jalign.backend.Backend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ParamSpec;

/**
 * Import and export of Hugging Face {@code GPT2LMHeadModel} weights: a directory with {@code model.safetensors}
 * and {@code config.json}.
 *
 * <p>Shape legend: L = layers, C = channels, V = vocabulary, Vp = padded vocabulary, maxT = positions.
 *
 * <p>Name mapping (HF names may carry the {@code transformer.} prefix of GPT2LMHeadModel or none, as in files
 * saved from GPT2Model). HF's {@code Conv1D} stores weights as (in, out); jalign's linear weights are (out, in),
 * so those four are transposed:
 * <pre>
 *   wte.weight (V,C)                 -> wte (Vp,C) rows [0, V); padding rows 0
 *   wpe.weight (maxT,C)              -> wpe (maxT,C)
 *   h.i.ln_1.weight / .bias (C)      -> ln1w[i] / ln1b[i]
 *   h.i.attn.c_attn.weight (C,3C)    -> qkvw[i] (3C,C)   transposed
 *   h.i.attn.c_attn.bias (3C)        -> qkvb[i]
 *   h.i.attn.c_proj.weight (C,C)     -> attprojw[i] (C,C) transposed
 *   h.i.attn.c_proj.bias (C)         -> attprojb[i]
 *   h.i.ln_2.weight / .bias (C)      -> ln2w[i] / ln2b[i]
 *   h.i.mlp.c_fc.weight (C,4C)       -> fcw[i] (4C,C)    transposed
 *   h.i.mlp.c_fc.bias (4C)           -> fcb[i]
 *   h.i.mlp.c_proj.weight (4C,C)     -> fcprojw[i] (C,4C) transposed
 *   h.i.mlp.c_proj.bias (C)          -> fcprojb[i]
 *   ln_f.weight / .bias (C)          -> lnfw / lnfb
 * </pre>
 * The LM head is tied to wte: an {@code lm_head.weight} in the file must equal {@code wte.weight}. The causal
 * mask buffers {@code h.i.attn.bias} / {@code h.i.attn.masked_bias} of older files are ignored; any other
 * unknown tensor is an error. config.json must describe what jalign computes: GELU with the tanh approximation
 * ({@code gelu_new} or {@code gelu_pytorch_tanh}), LayerNorm epsilon 1e-5, no per-layer attention scaling.
 * Export writes the {@code transformer.}-prefixed names (F32) and a config.json that transformers reads.
 */
public final class Gpt2Safetensors {
  public static final String WEIGHTS = "model.safetensors";
  public static final String CONFIG = "config.json";
  private static final Pattern LAYER = Pattern.compile("h\\.(\\d+)\\.(.+)");
  /** What {@link #save} may replace as config.json: a Hugging Face model configuration. */
  static final OutputFiles.Kind CONFIG_KIND = OutputFiles.Kind.json("a Hugging Face config.json", "model_type");

  private Gpt2Safetensors() {}

  // ------------------------------------------------------------------ config

  /** Reads and checks config.json of a GPT-2 directory. */
  public static GptConfig readConfig(Path dir) throws IOException {
    Path p = dir.resolve(CONFIG);
    if (!Files.isRegularFile(p)) {
      throw new NoSuchFileException(p.toString(), null,
          "missing (a GPT-2 directory holds " + CONFIG + " and " + WEIGHTS + ")");
    }
    JsonConfig c = JsonConfig.read(p);
    String type = c.getString("model_type", "gpt2");
    if (!type.equals("gpt2")) throw c.error("model_type", "is " + type + ", expected gpt2");
    String act = c.getString("activation_function", "gelu_new");
    if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
      throw c.error("activation_function", "is " + act + ", not the tanh GELU jalign computes");
    }
    double eps = c.getDouble("layer_norm_epsilon", 1e-5, 0, 1);
    if (Math.abs(eps - 1e-5) > 1e-12) throw c.error("layer_norm_epsilon", "is " + eps + ", jalign uses 1e-5");
    if (c.getBoolean("scale_attn_by_inverse_layer_idx", false)) {
      throw c.error("scale_attn_by_inverse_layer_idx", "= true is not supported");
    }
    if (!c.getBoolean("scale_attn_weights", true)) throw c.error("scale_attn_weights", "= false is not supported");
    int layers = c.getInt("n_layer", 1, Integer.MAX_VALUE);
    int heads = c.getInt("n_head", 1, Integer.MAX_VALUE);
    int channels = c.getInt("n_embd", 1, Integer.MAX_VALUE);
    int positions = c.getInt("n_positions", 1, Integer.MAX_VALUE);
    int vocab = c.getInt("vocab_size", 1, Integer.MAX_VALUE);
    long inner = c.getLong("n_inner", 4L * channels, 1, Long.MAX_VALUE);
    if (inner != 4L * channels) throw c.error("n_inner", "is " + inner + ", must be 4 * n_embd = " + 4L * channels);
    try {
      return new GptConfig(layers, heads, channels, positions, vocab);
    } catch (IllegalArgumentException e) {
      throw new JsonConfig.JsonConfigException(p + ": " + e.getMessage(), e);
    }
  }

  private static void requireGpt2(GptConfig cfg) {
    if (!cfg.isGpt2()) throw new IllegalArgumentException(cfg + " is not a GPT-2 configuration (GPT2LMHeadModel)");
  }

  // ------------------------------------------------------------------ import

  /** Builds a model from a GPT-2 directory on {@code backend}. */
  public static Gpt load(Path dir, Backend backend) throws IOException {
    GptConfig cfg = readConfig(dir);
    return ModelFiles.build(cfg, importParams(dir, cfg), backend);
  }

  /** Reads model.safetensors into a flat parameter buffer in the layout of {@code cfg.paramSpecs()}. */
  public static float[] importParams(Path dir, GptConfig cfg) throws IOException {
    Objects.requireNonNull(cfg, "cfg");
    requireGpt2(cfg);
    Path file = dir.resolve(WEIGHTS);
    float[] flat = new float[Math.toIntExact(cfg.parameterCount())];
    Map<String, ParamSpec> specs = new LinkedHashMap<>();
    for (ParamSpec s : cfg.paramSpecs()) specs.put(s.name(), s);
    int c = cfg.channels(), l = cfg.layers();
    try (SafeTensors st = SafeTensors.open(file)) {
      Map<String, String> byName = new LinkedHashMap<>(); // normalised name -> name in the file
      for (String name : st.names()) {
        String n = name.startsWith("transformer.") ? name.substring("transformer.".length()) : name;
        if (byName.put(n, name) != null) throw new IOException(file + ": tensor " + n + " appears twice");
      }
      Set<String> used = new HashSet<>();
      // embeddings
      float[] wte = read(st, byName, used, "wte.weight", file, cfg.vocabSize(), c);
      System.arraycopy(wte, 0, flat, (int) specs.get("wte").offset(), wte.length);
      float[] wpe = read(st, byName, used, "wpe.weight", file, cfg.contextLength(), c);
      System.arraycopy(wpe, 0, flat, (int) specs.get("wpe").offset(), wpe.length);
      for (int i = 0; i < l; i++) {
        String h = "h." + i + ".";
        put(flat, specs.get("ln1w"), i, read(st, byName, used, h + "ln_1.weight", file, c));
        put(flat, specs.get("ln1b"), i, read(st, byName, used, h + "ln_1.bias", file, c));
        put(flat, specs.get("qkvw"), i, transpose(read(st, byName, used, h + "attn.c_attn.weight", file, c, 3 * c), c, 3 * c));
        put(flat, specs.get("qkvb"), i, read(st, byName, used, h + "attn.c_attn.bias", file, 3 * c));
        put(flat, specs.get("attprojw"), i, transpose(read(st, byName, used, h + "attn.c_proj.weight", file, c, c), c, c));
        put(flat, specs.get("attprojb"), i, read(st, byName, used, h + "attn.c_proj.bias", file, c));
        put(flat, specs.get("ln2w"), i, read(st, byName, used, h + "ln_2.weight", file, c));
        put(flat, specs.get("ln2b"), i, read(st, byName, used, h + "ln_2.bias", file, c));
        put(flat, specs.get("fcw"), i, transpose(read(st, byName, used, h + "mlp.c_fc.weight", file, c, 4 * c), c, 4 * c));
        put(flat, specs.get("fcb"), i, read(st, byName, used, h + "mlp.c_fc.bias", file, 4 * c));
        put(flat, specs.get("fcprojw"), i, transpose(read(st, byName, used, h + "mlp.c_proj.weight", file, 4 * c, c), 4 * c, c));
        put(flat, specs.get("fcprojb"), i, read(st, byName, used, h + "mlp.c_proj.bias", file, c));
      }
      put(flat, specs.get("lnfw"), 0, read(st, byName, used, "ln_f.weight", file, c));
      put(flat, specs.get("lnfb"), 0, read(st, byName, used, "ln_f.bias", file, c));
      for (Map.Entry<String, String> e : byName.entrySet()) {
        String n = e.getKey();
        if (used.contains(n)) continue;
        if (n.equals("lm_head.weight")) {
          float[] head = read(st, byName, used, n, file, cfg.vocabSize(), c);
          if (!Arrays.equals(head, wte)) {
            throw new IOException(file + ": lm_head.weight differs from wte.weight; jalign ties the LM head to wte");
          }
          continue;
        }
        Matcher m = LAYER.matcher(n);
        if (m.matches() && (m.group(2).equals("attn.bias") || m.group(2).equals("attn.masked_bias"))) continue;
        throw new IOException(file + ": unexpected tensor " + e.getValue() + " (not part of GPT-2 with " + l
            + " layers)");
      }
    }
    return flat;
  }

  private static float[] read(SafeTensors st, Map<String, String> byName, Set<String> used, String name, Path file,
      long... shape) throws IOException {
    String real = byName.get(name);
    if (real == null) throw new IOException(file + ": missing tensor " + name);
    SafeTensors.TensorInfo t = st.info(real);
    if (!Arrays.equals(t.shape(), shape)) {
      throw new IOException(file + ": tensor " + real + " has shape " + Arrays.toString(t.shape()) + ", expected "
          + Arrays.toString(shape));
    }
    used.add(name);
    return st.readFloats(real);
  }

  /** Copies one layer's slice (or the whole tensor for layer 0 of an unlayered one) into the flat buffer. */
  private static void put(float[] flat, ParamSpec spec, int layer, float[] values) {
    System.arraycopy(values, 0, flat, (int) (spec.offset() + (long) layer * values.length), values.length);
  }

  /** (rows, cols) row-major -> (cols, rows) row-major. */
  static float[] transpose(float[] a, int rows, int cols) {
    float[] t = new float[a.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    }
    return t;
  }

  // ------------------------------------------------------------------ export

  /** Writes model.safetensors and config.json for the model's parameters into {@code dir}. */
  public static void export(Gpt model, Path dir) throws IOException {
    export(model.config(), model.paramsToArray(), dir);
  }

  /** Writes model.safetensors and config.json for a flat parameter buffer. */
  public static void export(GptConfig cfg, float[] flat, Path dir) throws IOException {
    requireGpt2(cfg);
    if (flat.length != cfg.parameterCount()) {
      throw new IllegalArgumentException("flat has " + flat.length + " values, " + cfg + " has "
          + cfg.parameterCount() + " parameters");
    }
    Files.createDirectories(dir);
    Map<String, ParamSpec> specs = new LinkedHashMap<>();
    for (ParamSpec s : cfg.paramSpecs()) specs.put(s.name(), s);
    int c = cfg.channels(), l = cfg.layers(), v = cfg.vocabSize();
    SafeTensors.Writer w = SafeTensors.writer().metadata("format", "pt");
    String p = "transformer.";
    w.add(p + "wte.weight", slice(flat, specs.get("wte"), 0, v * c), v, c);
    w.add(p + "wpe.weight", slice(flat, specs.get("wpe"), 0, cfg.contextLength() * c), cfg.contextLength(), c);
    for (int i = 0; i < l; i++) {
      String h = p + "h." + i + ".";
      w.add(h + "ln_1.weight", layer(flat, specs.get("ln1w"), i), c);
      w.add(h + "ln_1.bias", layer(flat, specs.get("ln1b"), i), c);
      w.add(h + "attn.c_attn.weight", transpose(layer(flat, specs.get("qkvw"), i), 3 * c, c), c, 3 * c);
      w.add(h + "attn.c_attn.bias", layer(flat, specs.get("qkvb"), i), 3 * c);
      w.add(h + "attn.c_proj.weight", transpose(layer(flat, specs.get("attprojw"), i), c, c), c, c);
      w.add(h + "attn.c_proj.bias", layer(flat, specs.get("attprojb"), i), c);
      w.add(h + "ln_2.weight", layer(flat, specs.get("ln2w"), i), c);
      w.add(h + "ln_2.bias", layer(flat, specs.get("ln2b"), i), c);
      w.add(h + "mlp.c_fc.weight", transpose(layer(flat, specs.get("fcw"), i), 4 * c, c), c, 4 * c);
      w.add(h + "mlp.c_fc.bias", layer(flat, specs.get("fcb"), i), 4 * c);
      w.add(h + "mlp.c_proj.weight", transpose(layer(flat, specs.get("fcprojw"), i), c, 4 * c), 4 * c, c);
      w.add(h + "mlp.c_proj.bias", layer(flat, specs.get("fcprojb"), i), c);
    }
    w.add(p + "ln_f.weight", slice(flat, specs.get("lnfw"), 0, c), c);
    w.add(p + "ln_f.bias", slice(flat, specs.get("lnfb"), 0, c), c);
    w.write(dir.resolve(WEIGHTS));
    byte[] json = configJson(cfg).getBytes(StandardCharsets.UTF_8);
    OutputFiles.write(dir.resolve(CONFIG), CONFIG_KIND, q -> Files.write(q, json));
  }

  /** config.json for transformers' GPT2LMHeadModel. */
  static String configJson(GptConfig cfg) {
    JsonObject o = new JsonObject();
    JsonArray arch = new JsonArray();
    arch.add("GPT2LMHeadModel");
    o.add("architectures", arch);
    o.addProperty("model_type", "gpt2");
    o.addProperty("vocab_size", cfg.vocabSize());
    o.addProperty("n_positions", cfg.contextLength());
    o.addProperty("n_ctx", cfg.contextLength());
    o.addProperty("n_embd", cfg.channels());
    o.addProperty("n_layer", cfg.layers());
    o.addProperty("n_head", cfg.heads());
    o.addProperty("activation_function", "gelu_new");
    o.addProperty("layer_norm_epsilon", 1e-5);
    o.addProperty("resid_pdrop", 0.0);
    o.addProperty("embd_pdrop", 0.0);
    o.addProperty("attn_pdrop", 0.0);
    o.addProperty("initializer_range", 0.02);
    o.addProperty("scale_attn_weights", true);
    o.addProperty("tie_word_embeddings", true);
    o.addProperty("torch_dtype", "float32");
    return new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n";
  }

  private static float[] slice(float[] flat, ParamSpec s, int from, int n) {
    return Arrays.copyOfRange(flat, (int) s.offset() + from, (int) s.offset() + from + n);
  }

  private static float[] layer(float[] flat, ParamSpec s, int i) {
    int per = (int) (s.numel() / s.shape()[0]);
    return slice(flat, s, i * per, per);
  }

}
