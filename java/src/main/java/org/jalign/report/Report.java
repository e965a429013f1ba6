package org.jalign.report;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a lifecycle run reports, filled in as the run goes and written by {@link ReportWriter}:
 *
 * <ul>
 *   <li>metadata (device, seed, wall seconds, anything else) — {@link #meta},</li>
 *   <li>per-stage scalar summaries (pretrain, sft, reward, ppo, ...) — {@link #stage},</li>
 *   <li>per-stage time series (loss curves, RM accuracy, PPO reward/KL/entropy per step) —
 *       {@link #series},</li>
 *   <li>a before/after table of evaluation metrics, one column per model (e.g. SFT vs RLHF) —
 *       {@link #evalModel},</li>
 *   <li>pairwise win rates between models — {@link #winRate},</li>
 *   <li>example prompts with responses of several models side by side — {@link #example}.</li>
 * </ul>
 *
 * Insertion order is kept everywhere, so the written files have a stable order. Not thread-safe.
 */
public final class Report {

  /** Scalar summary of one stage. */
  public record Stage(String name, double seconds, Map<String, Double> scalars) {
    public Stage {
      Objects.requireNonNull(name, "name");
      scalars = Collections.unmodifiableMap(new LinkedHashMap<>(scalars));
    }
  }

  /** One time series of one stage; {@code x} and {@code y} have equal length. */
  public record Series(String stage, String name, String xLabel, String yLabel, double[] x, double[] y) {
    public Series {
      Objects.requireNonNull(stage, "stage");
      Objects.requireNonNull(name, "name");
      if (x.length != y.length) {
        throw new IllegalArgumentException("series " + name + ": x.length " + x.length + " != y.length " + y.length);
      }
      x = x.clone();
      y = y.clone();
    }
  }

  /** A win rate of model {@code a} over model {@code b} (ties count half). */
  public record WinRate(String a, String b, double rate, int prompts) {
  }

  /** One prompt with each model's response (and oracle score, where known). */
  public record Example(String prompt, String kind, Map<String, String> responses, Map<String, Double> scores) {
    public Example {
      Objects.requireNonNull(prompt, "prompt");
      responses = Collections.unmodifiableMap(new LinkedHashMap<>(responses));
      scores = Collections.unmodifiableMap(new LinkedHashMap<>(scores));
    }
  }

  private final String title;
  private final Map<String, Object> metadata = new LinkedHashMap<>();
  private final List<Stage> stages = new ArrayList<>();
  private final List<Series> series = new ArrayList<>();
  private final Map<String, Map<String, Double>> eval = new LinkedHashMap<>();
  private final List<WinRate> winRates = new ArrayList<>();
  private final List<Example> examples = new ArrayList<>();

  public Report(String title) {
    this.title = Objects.requireNonNull(title, "title");
  }

  public String title() {
    return title;
  }

  /** Adds (or replaces) a metadata entry; values should be strings, numbers or booleans. */
  public Report meta(String key, Object value) {
    metadata.put(Objects.requireNonNull(key, "key"), value);
    return this;
  }

  public Report device(String device) {
    return meta("device", device);
  }

  public Report seed(long seed) {
    return meta("seed", seed);
  }

  public Report seconds(double seconds) {
    return meta("seconds", seconds);
  }

  /** Adds a stage summary. */
  public Report stage(String name, double seconds, Map<String, Double> scalars) {
    stages.add(new Stage(name, seconds, scalars));
    return this;
  }

  /** Adds a time series with explicit x values (e.g. steps). */
  public Report series(String stage, String name, String xLabel, String yLabel, double[] x, double[] y) {
    series.add(new Series(stage, name, xLabel, yLabel, x, y));
    return this;
  }

  /** Adds a time series whose x values are 0, 1, 2, ... ("step"). */
  public Report series(String stage, String name, double[] y) {
    double[] x = new double[y.length];
    for (int i = 0; i < x.length; i++) {
      x[i] = i;
    }
    return series(stage, name, "step", name, x, y);
  }

  /** Adds one model's column of the evaluation table (metric name → value, in display order). */
  public Report evalModel(String model, Map<String, Double> metrics) {
    eval.put(Objects.requireNonNull(model, "model"), Collections.unmodifiableMap(new LinkedHashMap<>(metrics)));
    return this;
  }

  public Report winRate(String a, String b, double rate, int prompts) {
    winRates.add(new WinRate(a, b, rate, prompts));
    return this;
  }

  public Report example(String prompt, String kind, Map<String, String> responses, Map<String, Double> scores) {
    examples.add(new Example(prompt, kind, responses, scores));
    return this;
  }

  public Map<String, Object> metadata() {
    return Collections.unmodifiableMap(metadata);
  }

  public List<Stage> stages() {
    return Collections.unmodifiableList(stages);
  }

  public List<Series> series() {
    return Collections.unmodifiableList(series);
  }

  /** Model → (metric → value). */
  public Map<String, Map<String, Double>> eval() {
    return Collections.unmodifiableMap(eval);
  }

  public List<WinRate> winRates() {
    return Collections.unmodifiableList(winRates);
  }

  public List<Example> examples() {
    return Collections.unmodifiableList(examples);
  }
}
