package org.jalign.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.jalign.world.AlignmentWorld;
import org.jalign.world.Evaluation;
import org.jalign.world.Prompt;
import org.jalign.world.PromptResponse;
import org.jalign.world.Split;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report.json is valid with the expected keys, PNGs decode, HTML is escaped and refers to the PNGs. */
class ReportWriterTest {

  private static Report sample() {
    Report r = new Report("jalign lifecycle <test> & \"quotes\"");
    r.device("cpu (2 threads)").seed(1234).seconds(812.5).meta("model", "4L-128C").meta("nan", Double.NaN);
    int n = 120;
    double[] loss = new double[n];
    for (int i = 0; i < n; i++) {
      loss[i] = 5.0 * Math.exp(-i / 30.0) + 0.1 * Math.sin(i);
    }
    loss[7] = Double.NaN; // a skipped step must not break the plot or the JSON
    r.stage("pretrain", 300.0, Map.of("final_loss", loss[n - 1]));
    r.series("pretrain", "train loss", loss);
    r.stage("reward", 60.0, Map.of("accuracy", 0.83));
    r.series("reward", "accuracy", "step", "pairwise accuracy", new double[]{0, 10, 20}, new double[]{0.5, 0.7, 0.83});
    Map<String, Double> ppo = new LinkedHashMap<>();
    ppo.put("mean_reward", 0.4);
    ppo.put("kl", 0.02);
    r.stage("ppo", 200.0, ppo);
    r.series("ppo", "reward", new double[]{0.1, 0.2, 0.35, 0.4});
    r.series("ppo", "KL", new double[]{0.0, 0.01, 0.015, 0.02});
    r.series("ppo", "entropy", new double[]{2.0, 1.9, 1.85, 1.8});
    Map<String, Double> sft = new LinkedHashMap<>();
    sft.put("oracle_score", -0.2);
    sft.put("accuracy_answerable", 0.6);
    sft.put("hallucination_rate_unanswerable", 0.8);
    sft.put("clarify_rate_vague", Double.NaN);
    Map<String, Double> rlhf = new LinkedHashMap<>();
    rlhf.put("oracle_score", 0.5);
    rlhf.put("accuracy_answerable", 0.65);
    rlhf.put("hallucination_rate_unanswerable", 0.2);
    rlhf.put("clarify_rate_vague", 0.7);
    r.evalModel("SFT", sft).evalModel("RLHF", rlhf);
    r.winRate("RLHF", "SFT", 0.71, 120);
    Map<String, String> resp = new LinkedHashMap<>();
    resp.put("SFT", "<script>alert('x')</script> Anna is 34 & happy");
    resp.put("RLHF", "I don't know.\u0001");
    r.example("How old is Anna? <b>", "UNANSWERABLE", resp, Map.of("SFT", -0.6, "RLHF", 1.0));
    return r;
  }

  @Test
  void writesValidJsonWithExpectedKeys(@TempDir Path dir) throws Exception {
    ReportWriter.Written w = ReportWriter.write(sample(), dir);
    assertEquals(dir.resolve("report.json"), w.json());
    JsonObject root = JsonParser.parseString(Files.readString(w.json(), StandardCharsets.UTF_8)).getAsJsonObject();
    assertEquals(List.of("title", "metadata", "stages", "series", "eval", "win_rates", "examples"),
        new ArrayList<>(root.keySet()));
    JsonObject meta = root.getAsJsonObject("metadata");
    assertEquals(List.of("device", "seed", "seconds", "model", "nan"), new ArrayList<>(meta.keySet()));
    assertEquals(1234, meta.get("seed").getAsLong());
    assertTrue(meta.get("nan").isJsonNull(), "NaN is written as null");

    JsonArray stages = root.getAsJsonArray("stages");
    assertEquals(3, stages.size());
    assertEquals("ppo", stages.get(2).getAsJsonObject().get("name").getAsString());
    assertEquals(List.of("mean_reward", "kl"),
        new ArrayList<>(stages.get(2).getAsJsonObject().getAsJsonObject("scalars").keySet()));

    JsonArray series = root.getAsJsonArray("series");
    assertEquals(5, series.size());
    JsonObject loss = series.get(0).getAsJsonObject();
    assertEquals(List.of("stage", "name", "x_label", "y_label", "png", "x", "y"), new ArrayList<>(loss.keySet()));
    assertEquals(120, loss.getAsJsonArray("y").size());
    assertTrue(loss.getAsJsonArray("y").get(7).isJsonNull());
    for (JsonElement e : series) {
      assertTrue(Files.exists(dir.resolve(e.getAsJsonObject().get("png").getAsString())));
    }

    JsonObject eval = root.getAsJsonObject("eval");
    assertEquals(List.of("SFT", "RLHF"), eval.getAsJsonArray("models").asList().stream().map(JsonElement::getAsString).toList());
    assertEquals(0.2, eval.getAsJsonObject("metrics").getAsJsonObject("RLHF").get("hallucination_rate_unanswerable").getAsDouble());
    assertTrue(eval.getAsJsonObject("metrics").getAsJsonObject("SFT").get("clarify_rate_vague").isJsonNull());
    assertEquals("plot-eval.png", eval.get("png").getAsString());

    assertEquals(0.71, root.getAsJsonArray("win_rates").get(0).getAsJsonObject().get("rate").getAsDouble());
    JsonObject ex = root.getAsJsonArray("examples").get(0).getAsJsonObject();
    assertEquals("<script>alert('x')</script> Anna is 34 & happy",
        ex.getAsJsonObject("responses").get("SFT").getAsString(), "JSON keeps the raw text");
  }

  @Test
  void writesPngsThatDecode(@TempDir Path dir) throws Exception {
    ReportWriter.Written w = ReportWriter.write(sample(), dir);
    assertEquals(6, w.pngs().size(), "five series and the eval chart");
    for (Path p : w.pngs()) {
      assertTrue(p.getFileName().toString().matches("plot-[a-z0-9-]+\\.png"), p.toString());
      BufferedImage img = ImageIO.read(p.toFile());
      assertNotNull(img, "not a decodable image: " + p);
      assertEquals(720, img.getWidth());
      assertEquals(400, img.getHeight());
      assertTrue(distinctColours(img) > 3, "blank plot: " + p);
    }
  }

  @Test
  void writesEscapedSelfContainedHtml(@TempDir Path dir) throws Exception {
    ReportWriter.Written w = ReportWriter.write(sample(), dir);
    String html = Files.readString(w.html(), StandardCharsets.UTF_8);
    assertTrue(html.startsWith("<!DOCTYPE html>"));
    assertFalse(html.contains("<script"), "raw model text must be escaped");
    assertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Anna is 34 &amp; happy"));
    assertTrue(html.contains("jalign lifecycle &lt;test&gt; &amp; &quot;quotes&quot;"));
    assertTrue(html.contains("How old is Anna? &lt;b&gt;"));
    assertFalse(html.contains("\u0001"), "control characters are replaced");
    assertFalse(html.contains("http://") || html.contains("https://"), "nothing to fetch");
    // Every image the page refers to is a file next to it, and every PNG is shown.
    Matcher m = Pattern.compile("<img src=\"([^\"]+)\"").matcher(html);
    List<String> srcs = new ArrayList<>();
    while (m.find()) {
      srcs.add(m.group(1));
      assertTrue(Files.exists(dir.resolve(m.group(1))), m.group(1));
    }
    assertEquals(w.pngs().size(), srcs.size());
    // The before/after table shows both models and the change.
    assertTrue(html.contains("<th>SFT</th><th>RLHF</th><th>RLHF − SFT</th>"));
    assertTrue(html.contains("-0.6000"), "hallucination rate fell by 0.6");
    assertTrue(html.contains("class=\"num better\">-0.6000"), "a falling hallucination rate is an improvement");
  }

  @Test
  void emptyReportStillWrites(@TempDir Path dir) throws Exception {
    ReportWriter.Written w = ReportWriter.write(new Report("empty"), dir.resolve("sub"));
    assertTrue(w.pngs().isEmpty());
    JsonObject root = JsonParser.parseString(Files.readString(w.json())).getAsJsonObject();
    assertEquals(0, root.getAsJsonArray("series").size());
    assertTrue(root.getAsJsonObject("eval").get("png").isJsonNull());
    assertTrue(Files.readString(w.html()).contains("<h1>empty</h1>"));
  }

  @Test
  void comparesTwoModelsOnTheSamePrompts(@TempDir Path dir) throws Exception {
    AlignmentWorld w = AlignmentWorld.generate(4, AlignmentWorld.Size.QUICK);
    Evaluation ev = new Evaluation(w.oracle(), String::length);
    List<PromptResponse> sft = new ArrayList<>();
    List<PromptResponse> ideal = new ArrayList<>();
    Random rng = new Random(2);
    for (Prompt p : w.prompts(Split.EVAL)) {
      sft.add(new PromptResponse(p, w.responses().sftResponse(p, rng).text()));
      ideal.add(new PromptResponse(p, w.responses().ideal(p).text()));
    }
    Report r = EvalReports.compare(new Report("compare"), ev, "SFT", sft, "RLHF", ideal, 2);
    assertEquals(List.of("SFT", "RLHF"), new ArrayList<>(r.eval().keySet()));
    assertEquals(ev.metrics(ideal).toMap(), r.eval().get("RLHF"));
    assertEquals(1, r.winRates().size());
    assertEquals(ev.winRate(ideal, sft), r.winRates().get(0).rate());
    assertEquals(8, r.examples().size(), "two per kind");
    for (Report.Example e : r.examples()) {
      assertEquals(List.of("SFT", "RLHF"), new ArrayList<>(e.responses().keySet()));
      assertEquals(1.0, e.scores().get("RLHF"), 1e-12);
    }
    ReportWriter.Written out = ReportWriter.write(r, dir);
    assertTrue(Files.readString(out.html()).contains("Win rates"));
  }

  private static int distinctColours(BufferedImage img) {
    java.util.Set<Integer> c = new java.util.HashSet<>();
    for (int y = 0; y < img.getHeight(); y += 4) {
      for (int x = 0; x < img.getWidth(); x += 4) {
        c.add(img.getRGB(x, y));
      }
    }
    return c.size();
  }
}
