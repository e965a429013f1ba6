package org.jalign.lifecycle;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jalign.backend.Backend;
import org.jalign.backend.Backends;
import org.jalign.data.ChatTemplate;
import org.jalign.generate.GenerationConfig;
import org.jalign.generate.GenerationResult;
import org.jalign.generate.Generator;
import org.jalign.io.ModelFiles;
import org.jalign.io.OutputFiles;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.report.EvalReports;
import org.jalign.report.Report;
import org.jalign.report.ReportWriter;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.Tokenizer;
import org.jalign.world.AlignmentWorld;
import org.jalign.world.EvalMetrics;
import org.jalign.world.Evaluation;
import org.jalign.world.Prompt;
import org.jalign.world.PromptKind;
import org.jalign.world.PromptResponse;
import org.jalign.world.Split;

/**
 * {@code jalign lifecycle}: pretrain → SFT → reward model → PPO → evaluation on the built-in alignment world,
 * with a checkpoint per stage and {@code report.json} + {@code report.html} in the output directory.
 *
 * <pre>{@code
 * LifecycleResult r = new Lifecycle(LifecycleConfig.quick().out(Path.of("runs/first"))).run();
 * }</pre>
 */
public final class Lifecycle {
  private final LifecycleConfig cfg;
  private final PrintStream out;
  private final Report report = new Report("jalign lifecycle");
  private final JsonObject stagesJson = new JsonObject();
  private Path dir;
  private AlignmentWorld world;
  private Tokenizer tokenizer;
  private ChatTemplate template;
  private org.jalign.data.TokenSource corpus; // the pretraining corpus, tokenized (also the ptx text)
  private Backend backend;
  private Map<String, Object> modelShape; // the architecture and shape, for the report

  public Lifecycle(LifecycleConfig cfg) {
    this(cfg, System.out);
  }

  public Lifecycle(LifecycleConfig cfg, PrintStream out) {
    this.cfg = cfg.validate();
    this.out = out;
  }

  /** What a run produced. */
  public record LifecycleResult(Path dir, Path reportJson, Path reportHtml, JsonObject report) {}

  /** Runs every stage and writes the report; returns where. */
  public LifecycleResult run() throws IOException {
    long t0 = System.nanoTime();
    dir = cfg.out != null ? cfg.out
        : Path.of("runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    try (OutputFiles.Grant claim = OutputFiles.claimRunDirectory(dir)) {
      backend = Backends.named(cfg.device);
      try {
        return runStages(t0);
      } finally {
        backend.close();
      }
    }
  }

  private LifecycleResult runStages(long t0) throws IOException {
    say("jalign lifecycle: " + (cfg.quick ? "quick" : "default") + " run, seed " + cfg.seed + ", device "
        + backend.name() + ", output " + dir);
    // ---- the world and the tokenizer
    world = AlignmentWorld.generate(cfg.seed, cfg.quick ? AlignmentWorld.Size.QUICK : AlignmentWorld.Size.DEFAULT);
    List<String> docs = new ArrayList<>(world.corpusParagraphs());
    world.sftDemonstrations().forEach(d -> docs.add(d.prompt().text() + "\n" + d.response().text()));
    long tt = System.nanoTime();
    tokenizer = BpeTokenizer.train(docs, cfg.vocabSize, Tokenizer.STANDARD_SPECIALS);
    template = new ChatTemplate(tokenizer);
    say(String.format("world: %d people, corpus %d KB; tokenizer: %d tokens (%.1f s)", world.people().size(),
        world.corpus().length() / 1024, tokenizer.vocabSize(), secs(tt)));
    GptConfig mc = cfg.model(tokenizer.vocabSize());
    modelShape = modelShape(mc);
    say(String.format("model: %s, %d layers, %d heads (%d key/value), %d channels, MLP %d, %d parameters",
        cfg.arch.id(), mc.layers(), mc.heads(), mc.kvHeads(), mc.channels(), mc.intermediateSize(),
        mc.parameterCount()));

    try (Gpt policy = new Gpt(mc, backend, cfg.seed)) {
      pretrain(policy);
      List<PromptResponse> sftEval;
      List<PromptResponse> rlhfEval;
      // Stages 2-4 are added by StageRunner (SFT, reward model, PPO); see below.
      StageRunner stages = new StageRunner(this);
      stages.run(policy);
      sftEval = stages.sftEval();
      rlhfEval = stages.rlhfEval();
      writeReport(t0, sftEval, rlhfEval);
    }
    Path json = dir.resolve(ReportWriter.JSON_FILE);
    JsonObject rep = JsonParser.parseString(Files.readString(json, StandardCharsets.UTF_8)).getAsJsonObject();
    return new LifecycleResult(dir, json, dir.resolve("report.html"), rep);
  }

  // ------------------------------------------------------------------ stage 1: pretraining

  private void pretrain(Gpt policy) throws IOException {
    long t = System.nanoTime();
    corpus = org.jalign.data.TokenSource.ofDocuments(world.corpusParagraphs(), tokenizer);
    var cfgP = new org.jalign.train.pretrain.PretrainConfig().batchSize(cfg.pretrainBatch).seqLen(cfg.pretrainSeqLen)
        .maxSteps(cfg.pretrainSteps).lr(cfg.pretrainLr).warmupSteps(Math.max(1, cfg.pretrainSteps / 20))
        .seed(cfg.seed).valFraction(0.05).valEvery(0).valBatches(8).progressBar(cfg.progress).logEvery(0).out(out);
    try (var trainer = new org.jalign.train.pretrain.PretrainTrainer(policy, cfgP,
        corpus)) {
      double valStart = trainer.validationLoss();
      var res = trainer.train();
      double valEnd = trainer.validationLoss();
      double secs = secs(t);
      if (cfg.progress) out.println();
      say(String.format("pretrain: %d steps, val loss %.3f -> %.3f (ln V = %.3f), %.0f tok/s, %.0f s", res.steps(),
          valStart, valEnd, Math.log(tokenizer.vocabSize()), res.tokensPerSecond(), secs));
      Map<String, Double> s = new LinkedHashMap<>();
      s.put("val_loss_start", valStart);
      s.put("val_loss_end", valEnd);
      s.put("tokens", (double) res.steps() * cfg.pretrainBatch * cfg.pretrainSeqLen);
      s.put("tokens_per_second", res.tokensPerSecond());
      stage("pretrain", secs, s);
      double[] loss = res.history().stream().mapToDouble(m -> m.loss()).toArray();
      report.series("pretrain", "train loss", loss);
      saveModel(policy, "pretrain.ckpt", "pretrain");
    }
  }

  // ------------------------------------------------------------------ shared helpers for the stages

  AlignmentWorld world() {
    return world;
  }

  Tokenizer tokenizer() {
    return tokenizer;
  }

  /** The pretraining corpus as tokens (paragraphs separated by the end-of-text token). */
  org.jalign.data.TokenSource corpus() {
    return corpus;
  }

  ChatTemplate template() {
    return template;
  }

  Backend backend() {
    return backend;
  }

  LifecycleConfig config() {
    return cfg;
  }

  Report report() {
    return report;
  }

  PrintStream out() {
    return out;
  }

  void say(String line) {
    out.println(line);
    out.flush();
  }

  static double secs(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  /** Records a stage summary for report.json (and the HTML report). */
  void stage(String name, double seconds, Map<String, Double> scalars) {
    JsonObject o = new JsonObject();
    scalars.forEach(o::addProperty);
    o.addProperty("seconds", seconds);
    stagesJson.add(name, o);
    report.stage(name, seconds, scalars);
  }

  void saveModel(Gpt model, String file, String stage) throws IOException {
    ModelFiles.save(dir.resolve(file), model, tokenizer, stage);
  }

  Path dir() {
    return dir;
  }

  /** The held-out evaluation prompts ({@code evalPerKind} of each kind, or all). */
  List<Prompt> evalPrompts() {
    List<Prompt> all = new ArrayList<>();
    for (PromptKind k : PromptKind.values()) {
      List<Prompt> ps = world.prompts(Split.EVAL, k);
      all.addAll(cfg.evalPerKind > 0 ? ps.subList(0, Math.min(cfg.evalPerKind, ps.size())) : ps);
    }
    return all;
  }

  /** Prompt ids as the chat template renders them for generation (user turn, then the assistant tag). */
  int[] promptIds(String prompt) {
    return template.renderPrompt(prompt, cfg.contextLength - cfg.maxNewTokens,
        ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD);
  }

  /** Greedy responses of {@code model} to {@code prompts}, in batches; generation stops at the end tag. */
  List<PromptResponse> respond(Gpt model, List<Prompt> prompts) {
    List<String> texts = generate(model, prompts, 1, 0f, cfg.seed);
    List<PromptResponse> res = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) res.add(new PromptResponse(prompts.get(i), texts.get(i)));
    return res;
  }

  /**
   * {@code copies} responses of {@code model} to each prompt (prompt-major: all copies of prompt 0 first), stripped,
   * in calls of 32 prompts ({@link Generator#generateRows}: the call starting at row r samples with seed
   * {@code seed + r}); temperature 0 is greedy.
   */
  List<String> generate(Gpt model, List<Prompt> prompts, int copies, float temperature, long seed) {
    int end = tokenizer.specialId(Tokenizer.END).orElseThrow();
    int eot = tokenizer.specialId(Tokenizer.ENDOFTEXT).orElseThrow();
    List<int[]> ids = new ArrayList<>(prompts.size());
    for (Prompt p : prompts) ids.add(promptIds(p.text()));
    GenerationConfig gc = GenerationConfig.builder().maxNewTokens(cfg.maxNewTokens).temperature(temperature)
        .stopTokenIds(end, eot).seed(seed).build();
    List<String> res = new ArrayList<>(prompts.size() * copies);
    for (GenerationResult.Sequence s : new Generator(model, tokenizer).generateRows(ids, copies, gc, 32 * copies)) {
      res.add(s.text().strip());
    }
    return res;
  }

  Evaluation evaluation() {
    return new Evaluation(world.oracle(), s -> tokenizer.encode(s).length);
  }

  // ------------------------------------------------------------------ the report

  private void writeReport(long t0, List<PromptResponse> sft, List<PromptResponse> rlhf) throws IOException {
    Evaluation ev = evaluation();
    double total = secs(t0);
    report.device(backend.name()).seed(cfg.seed).seconds(total);
    modelShape.forEach(report::meta);
    EvalReports.compare(report, ev, "sft", sft, "rlhf", rlhf, 3);
    ReportWriter.write(report, dir);
    // report.json in the documented shape, with the writer's full detail kept under "details".
    Path json = dir.resolve(ReportWriter.JSON_FILE);
    JsonObject details = JsonParser.parseString(Files.readString(json, StandardCharsets.UTF_8)).getAsJsonObject();
    JsonObject root = new JsonObject();
    root.addProperty("device", backend.name());
    root.addProperty("seconds_total", total);
    root.addProperty("seed", cfg.seed);
    root.addProperty("quick", cfg.quick);
    root.add("model", new Gson().toJsonTree(modelShape));
    root.add("stages", stagesJson);
    JsonObject eval = new JsonObject();
    eval.add("sft", metricsJson(ev.metrics(sft)));
    eval.add("rlhf", metricsJson(ev.metrics(rlhf)));
    eval.addProperty("win_rate_rlhf_vs_sft", ev.winRate(rlhf, sft));
    eval.addProperty("heldout_prompts", sft.size());
    root.add("eval", eval);
    root.add("details", details);
    Gson gson = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();
    OutputFiles.writeText(json, ReportWriter.JSON_KIND, gson.toJson(root));
    EvalMetrics a = ev.metrics(sft), b = ev.metrics(rlhf);
    say(String.format("eval: oracle score sft %.3f -> rlhf %.3f; win rate rlhf vs sft %.2f on %d held-out prompts",
        a.toMap().get("oracle_score"), b.toMap().get("oracle_score"), ev.winRate(rlhf, sft), sft.size()));
    say(String.format("done in %.0f s: %s, %s", total, json, dir.resolve("report.html")));
  }

  /** The architecture and shape of {@code mc}: report.json's "model" and rows of the HTML report's run table. */
  private Map<String, Object> modelShape(GptConfig mc) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("arch", cfg.arch.id());
    m.put("layers", mc.layers());
    m.put("heads", mc.heads());
    m.put("kv_heads", mc.kvHeads());
    m.put("channels", mc.channels());
    m.put("intermediate_size", mc.intermediateSize());
    m.put("context_length", mc.contextLength());
    m.put("vocab_size", mc.vocabSize());
    m.put("parameters", mc.parameterCount());
    return m;
  }

  private static JsonObject metricsJson(EvalMetrics m) {
    JsonObject o = new JsonObject();
    m.toMap().forEach((k, v) -> o.addProperty(k, v));
    return o;
  }
}
