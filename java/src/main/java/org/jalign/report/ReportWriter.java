package org.jalign.report;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jalign.io.OutputFiles;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Writes a {@link Report} into a directory as
 * <ul>
 *   <li>{@code report.json}: pretty-printed, keys in a fixed order, non-finite numbers as null;</li>
 *   <li>one PNG per time series ({@code plot-NN-stage-name.png}) and {@code plot-eval.png} (bar
 *       chart of the evaluation table), drawn headless with JFreeChart;</li>
 *   <li>{@code report.html}: a self-contained page (inline CSS, no scripts, no network) that shows
 *       the tables and refers to the PNGs next to it, so the directory can be viewed offline.</li>
 * </ul>
 */
public final class ReportWriter {

  public static final String JSON_FILE = "report.json";
  public static final String HTML_FILE = "report.html";
  public static final String EVAL_PNG = "plot-eval.png";
  /** What the report writer may replace as report.json: a jalign report. */
  public static final OutputFiles.Kind JSON_KIND = OutputFiles.Kind.json("a jalign report", "stages");
  static final OutputFiles.Kind HTML_KIND = OutputFiles.Kind.unrecognised("a jalign HTML report");
  static final OutputFiles.Kind PNG = OutputFiles.Kind.unrecognised("a jalign plot");
  private static final int PLOT_W = 720;
  private static final int PLOT_H = 400;

  /** The files one {@link #write} call produced. */
  public record Written(Path json, Path html, List<Path> pngs) {
  }

  private ReportWriter() {
  }

  /** Writes the report into {@code dir} (created if needed), replacing earlier report files. */
  public static Written write(Report report, Path dir) throws IOException {
    System.setProperty("java.awt.headless", "true");
    Files.createDirectories(dir);

    // File names first, so JSON and HTML can refer to them.
    List<String> seriesPng = new ArrayList<>();
    for (int i = 0; i < report.series().size(); i++) {
      Report.Series s = report.series().get(i);
      seriesPng.add(String.format(Locale.ROOT, "plot-%02d-%s-%s.png", i + 1, slug(s.stage()), slug(s.name())));
    }
    boolean hasEval = !report.eval().isEmpty();

    List<Path> pngs = new ArrayList<>();
    for (int i = 0; i < report.series().size(); i++) {
      Path p = dir.resolve(seriesPng.get(i));
      JFreeChart chart = lineChart(report.series().get(i));
      OutputFiles.write(p, PNG, tmp -> ChartUtils.saveChartAsPNG(tmp.toFile(), chart, PLOT_W, PLOT_H));
      pngs.add(p);
    }
    if (hasEval) {
      Path p = dir.resolve(EVAL_PNG);
      JFreeChart chart = evalChart(report);
      OutputFiles.write(p, PNG, tmp -> ChartUtils.saveChartAsPNG(tmp.toFile(), chart, PLOT_W, PLOT_H));
      pngs.add(p);
    }

    Path json = dir.resolve(JSON_FILE);
    Gson gson = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();
    OutputFiles.writeText(json, JSON_KIND, gson.toJson(toJson(report, seriesPng, hasEval ? EVAL_PNG : null)) + "\n");
    Path html = dir.resolve(HTML_FILE);
    OutputFiles.writeText(html, HTML_KIND, toHtml(report, seriesPng, hasEval ? EVAL_PNG : null));
    return new Written(json, html, List.copyOf(pngs));
  }

  // ------------------------------------------------------------------------------------------------
  // JSON
  // ------------------------------------------------------------------------------------------------

  /** The JSON tree of a report; {@code seriesPng} and {@code evalPng} name the plot files (or null). */
  static JsonObject toJson(Report r, List<String> seriesPng, String evalPng) {
    JsonObject root = new JsonObject();
    root.addProperty("title", r.title());

    JsonObject meta = new JsonObject();
    r.metadata().forEach((k, v) -> meta.add(k, value(v)));
    root.add("metadata", meta);

    JsonArray stages = new JsonArray();
    for (Report.Stage s : r.stages()) {
      JsonObject o = new JsonObject();
      o.addProperty("name", s.name());
      o.add("seconds", number(s.seconds()));
      o.add("scalars", numbers(s.scalars()));
      stages.add(o);
    }
    root.add("stages", stages);

    JsonArray series = new JsonArray();
    for (int i = 0; i < r.series().size(); i++) {
      Report.Series s = r.series().get(i);
      JsonObject o = new JsonObject();
      o.addProperty("stage", s.stage());
      o.addProperty("name", s.name());
      o.addProperty("x_label", s.xLabel());
      o.addProperty("y_label", s.yLabel());
      o.addProperty("png", seriesPng == null ? null : seriesPng.get(i));
      o.add("x", array(s.x()));
      o.add("y", array(s.y()));
      series.add(o);
    }
    root.add("series", series);

    JsonObject eval = new JsonObject();
    JsonArray models = new JsonArray();
    JsonObject metrics = new JsonObject();
    r.eval().forEach((model, m) -> {
      models.add(model);
      metrics.add(model, numbers(m));
    });
    eval.add("models", models);
    eval.add("metrics", metrics);
    eval.addProperty("png", evalPng);
    root.add("eval", eval);

    JsonArray wins = new JsonArray();
    for (Report.WinRate w : r.winRates()) {
      JsonObject o = new JsonObject();
      o.addProperty("a", w.a());
      o.addProperty("b", w.b());
      o.add("rate", number(w.rate()));
      o.addProperty("prompts", w.prompts());
      wins.add(o);
    }
    root.add("win_rates", wins);

    JsonArray examples = new JsonArray();
    for (Report.Example e : r.examples()) {
      JsonObject o = new JsonObject();
      o.addProperty("prompt", e.prompt());
      o.addProperty("kind", e.kind());
      JsonObject resp = new JsonObject();
      e.responses().forEach(resp::addProperty);
      o.add("responses", resp);
      o.add("scores", numbers(e.scores()));
      examples.add(o);
    }
    root.add("examples", examples);
    return root;
  }

  private static JsonElement number(double d) {
    return Double.isFinite(d) ? new JsonPrimitive(d) : JsonNull.INSTANCE;
  }

  private static JsonObject numbers(Map<String, Double> m) {
    JsonObject o = new JsonObject();
    m.forEach((k, v) -> o.add(k, v == null ? JsonNull.INSTANCE : number(v)));
    return o;
  }

  private static JsonArray array(double[] xs) {
    JsonArray a = new JsonArray(xs.length);
    for (double x : xs) {
      a.add(number(x));
    }
    return a;
  }

  private static JsonElement value(Object v) {
    if (v == null) {
      return JsonNull.INSTANCE;
    }
    if (v instanceof Double d) {
      return number(d);
    }
    if (v instanceof Float f) {
      return number(f);
    }
    if (v instanceof Number n) {
      return new JsonPrimitive(n);
    }
    if (v instanceof Boolean b) {
      return new JsonPrimitive(b);
    }
    return new JsonPrimitive(String.valueOf(v));
  }

  // ------------------------------------------------------------------------------------------------
  // Charts
  // ------------------------------------------------------------------------------------------------

  private static JFreeChart lineChart(Report.Series s) {
    XYSeries raw = new XYSeries(s.name(), false, true);
    for (int i = 0; i < s.x().length; i++) {
      if (Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i])) {
        raw.add(s.x()[i], s.y()[i]);
      }
    }
    XYSeriesCollection data = new XYSeriesCollection(raw);
    boolean smooth = raw.getItemCount() > 50;
    if (smooth) {
      data.addSeries(ema(raw, s.name() + " (smoothed)"));
    }
    JFreeChart chart = ChartFactory.createXYLineChart(s.stage() + ": " + s.name(), s.xLabel(), s.yLabel(),
        data, PlotOrientation.VERTICAL, smooth, false, false);
    XYPlot plot = chart.getXYPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, raw.getItemCount() <= 30);
    renderer.setSeriesPaint(0, smooth ? new Color(120, 160, 220) : new Color(30, 90, 180));
    renderer.setSeriesStroke(0, new BasicStroke(smooth ? 1.0f : 2.0f));
    if (smooth) {
      renderer.setSeriesPaint(1, new Color(200, 60, 30));
      renderer.setSeriesStroke(1, new BasicStroke(2.0f));
      renderer.setSeriesShapesVisible(1, false);
    }
    plot.setRenderer(renderer);
    if (plot.getRangeAxis() instanceof org.jfree.chart.axis.NumberAxis axis) {
      axis.setAutoRangeIncludesZero(false);
    }
    chart.setBackgroundPaint(Color.WHITE);
    return chart;
  }

  /** Exponential moving average over about a twentieth of the points. */
  private static XYSeries ema(XYSeries raw, String name) {
    int n = raw.getItemCount();
    double alpha = 2.0 / (Math.max(2, n / 20) + 1);
    XYSeries out = new XYSeries(name, false, true);
    double m = raw.getY(0).doubleValue();
    for (int i = 0; i < n; i++) {
      m = alpha * raw.getY(i).doubleValue() + (1 - alpha) * m;
      out.add(raw.getX(i).doubleValue(), m);
    }
    return out;
  }

  /** Grouped bars: one group per metric, one bar per model. Non-finite values are left out. */
  private static JFreeChart evalChart(Report r) {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    r.eval().forEach((model, metrics) -> metrics.forEach((metric, v) -> {
      if (v != null && Double.isFinite(v) && !metric.contains("tokens")) {
        data.addValue(v, model, metric.replace('_', ' '));
      }
    }));
    JFreeChart chart = ChartFactory.createBarChart("evaluation", "metric", "value", data,
        PlotOrientation.HORIZONTAL, true, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    chart.getCategoryPlot().setBackgroundPaint(Color.WHITE);
    chart.getCategoryPlot().setRangeGridlinePaint(Color.LIGHT_GRAY);
    return chart;
  }

  // ------------------------------------------------------------------------------------------------
  // HTML
  // ------------------------------------------------------------------------------------------------

  static String toHtml(Report r, List<String> seriesPng, String evalPng) {
    StringBuilder h = new StringBuilder(16_384);
    h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
        .append(esc(r.title())).append("</title>\n<style>\n")
        .append("body{font-family:sans-serif;margin:2em auto;max-width:1200px;color:#222}\n")
        .append("table{border-collapse:collapse;margin:0.5em 0 1.5em}\n")
        .append("th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\n")
        .append("th{background:#f0f0f0}td.num{text-align:right;font-family:monospace}\n")
        .append(".better{color:#070}.worse{color:#a00}\n")
        .append("img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}\n")
        .append("pre{white-space:pre-wrap;margin:0;font-family:inherit}\n")
        .append("</style>\n</head>\n<body>\n");
    h.append("<h1>").append(esc(r.title())).append("</h1>\n");

    if (!r.metadata().isEmpty()) {
      h.append("<h2>Run</h2>\n<table>\n");
      r.metadata().forEach((k, v) -> h.append("<tr><th>").append(esc(k)).append("</th><td>")
          .append(esc(v instanceof Double d ? fmt(d) : String.valueOf(v))).append("</td></tr>\n"));
      h.append("</table>\n");
    }

    if (!r.stages().isEmpty()) {
      h.append("<h2>Stages</h2>\n");
      for (Report.Stage s : r.stages()) {
        h.append("<h3>").append(esc(s.name())).append(" <small>(").append(esc(fmt(s.seconds())))
            .append(" s)</small></h3>\n<table>\n");
        s.scalars().forEach((k, v) -> h.append("<tr><th>").append(esc(k)).append("</th><td class=\"num\">")
            .append(esc(num(v))).append("</td></tr>\n"));
        h.append("</table>\n");
        for (int i = 0; i < r.series().size(); i++) {
          if (r.series().get(i).stage().equals(s.name())) {
            img(h, seriesPng.get(i), r.series().get(i).stage() + ": " + r.series().get(i).name());
          }
        }
      }
    }
    // Series of stages without a summary still get shown.
    Set<String> summarised = new LinkedHashSet<>();
    r.stages().forEach(s -> summarised.add(s.name()));
    boolean heading = false;
    for (int i = 0; i < r.series().size(); i++) {
      Report.Series s = r.series().get(i);
      if (!summarised.contains(s.stage())) {
        if (!heading) {
          h.append("<h2>Curves</h2>\n");
          heading = true;
        }
        img(h, seriesPng.get(i), s.stage() + ": " + s.name());
      }
    }

    if (!r.eval().isEmpty()) {
      h.append("<h2>Evaluation</h2>\n<table>\n<tr><th>metric</th>");
      List<String> models = new ArrayList<>(r.eval().keySet());
      for (String m : models) {
        h.append("<th>").append(esc(m)).append("</th>");
      }
      boolean delta = models.size() >= 2;
      if (delta) {
        h.append("<th>").append(esc(models.get(models.size() - 1) + " − " + models.get(0))).append("</th>");
      }
      h.append("</tr>\n");
      Map<String, Boolean> metrics = new LinkedHashMap<>();
      r.eval().values().forEach(m -> m.keySet().forEach(k -> metrics.put(k, true)));
      for (String metric : metrics.keySet()) {
        h.append("<tr><th>").append(esc(metric)).append("</th>");
        for (String m : models) {
          h.append("<td class=\"num\">").append(esc(num(r.eval().get(m).get(metric)))).append("</td>");
        }
        if (delta) {
          Double a = r.eval().get(models.get(0)).get(metric);
          Double b = r.eval().get(models.get(models.size() - 1)).get(metric);
          double d = a == null || b == null ? Double.NaN : b - a;
          String cls = !Double.isFinite(d) || d == 0 ? "" : (d > 0) == higherIsBetter(metric) ? "better" : "worse";
          h.append("<td class=\"num ").append(cls).append("\">")
              .append(esc(Double.isFinite(d) ? String.format(Locale.ROOT, "%+.4f", d) : "n/a")).append("</td>");
        }
        h.append("</tr>\n");
      }
      h.append("</table>\n");
      if (evalPng != null) {
        img(h, evalPng, "evaluation metrics by model");
      }
    }

    if (!r.winRates().isEmpty()) {
      h.append("<h2>Win rates</h2>\n<table>\n<tr><th>model</th><th>over</th><th>win rate</th><th>prompts</th></tr>\n");
      for (Report.WinRate w : r.winRates()) {
        h.append("<tr><td>").append(esc(w.a())).append("</td><td>").append(esc(w.b()))
            .append("</td><td class=\"num\">").append(esc(num(w.rate()))).append("</td><td class=\"num\">")
            .append(w.prompts()).append("</td></tr>\n");
      }
      h.append("</table>\n");
    }

    if (!r.examples().isEmpty()) {
      List<String> models = new ArrayList<>();
      for (Report.Example e : r.examples()) {
        for (String m : e.responses().keySet()) {
          if (!models.contains(m)) {
            models.add(m);
          }
        }
      }
      h.append("<h2>Examples</h2>\n<table>\n<tr><th>prompt</th><th>kind</th>");
      for (String m : models) {
        h.append("<th>").append(esc(m)).append("</th>");
      }
      h.append("</tr>\n");
      for (Report.Example e : r.examples()) {
        h.append("<tr><td><pre>").append(esc(e.prompt())).append("</pre></td><td>")
            .append(esc(e.kind() == null ? "" : e.kind())).append("</td>");
        for (String m : models) {
          String resp = e.responses().get(m);
          Double sc = e.scores().get(m);
          h.append("<td><pre>").append(esc(resp == null ? "" : resp)).append("</pre>");
          if (sc != null) {
            h.append("<small>score ").append(esc(num(sc))).append("</small>");
          }
          h.append("</td>");
        }
        h.append("</tr>\n");
      }
      h.append("</table>\n");
    }
    h.append("</body>\n</html>\n");
    return h.toString();
  }

  /** Rates that should fall under alignment; everything else should rise. */
  private static boolean higherIsBetter(String metric) {
    return !(metric.contains("hallucination") || metric.contains("rude") || metric.contains("tokens")
        || metric.contains("loss") || metric.contains("kl"));
  }

  private static void img(StringBuilder h, String file, String alt) {
    h.append("<img src=\"").append(esc(file)).append("\" alt=\"").append(esc(alt)).append("\" width=\"")
        .append(PLOT_W).append("\" height=\"").append(PLOT_H).append("\">\n");
  }

  /** Escapes text for HTML element content and attribute values. */
  public static String esc(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> sb.append("&amp;");
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '"' -> sb.append("&quot;");
        case '\'' -> sb.append("&#39;");
        default -> {
          // Control characters (model output can contain any byte) are shown as U+FFFD.
          if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
            sb.append('\uFFFD');
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.toString();
  }

  /** Four decimals, for columns of numbers that should line up. */
  private static String num(Double d) {
    return d == null || !Double.isFinite(d) ? "n/a" : String.format(Locale.ROOT, "%.4f", d);
  }

  /** Compact: integers without decimals (seeds, seconds), otherwise four decimals. */
  private static String fmt(Double d) {
    if (d == null || !Double.isFinite(d)) {
      return "n/a";
    }
    if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      return String.format(Locale.ROOT, "%d", (long) (double) d);
    }
    return String.format(Locale.ROOT, "%.4f", d);
  }

  /** Lower-case letters, digits and dashes only (safe in any file system and URL). */
  static String slug(String s) {
    String t = s.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-+|-+$", "");
    if (t.length() > 40) {
      t = t.substring(0, 40);
    }
    return t.isEmpty() ? "x" : t;
  }
}
