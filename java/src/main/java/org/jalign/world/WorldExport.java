package org.jalign.world;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jalign.io.OutputFiles;

/**
 * Writes an {@link AlignmentWorld} as plain files, in the JSONL conventions other tools use, so that
 * every stage can also be run from files:
 *
 * <pre>
 *   corpus.txt           pretraining text (paragraphs separated by blank lines)
 *   prompts-train.jsonl  {"id","kind","split","prompt","subject","attribute","answers"}  (also -rl, -eval)
 *   sft.jsonl            {"id","kind","prompt","completion","style","rambling","rude"}
 *   rankings.jsonl       {"id","kind","prompt","responses":[best first],"scores":[...]}  (TRAIN prompts)
 *   preferences.jsonl    {"id","prompt","chosen","rejected","margin"}  (all strict pairs of the rankings)
 * </pre>
 *
 * {@link #readPrompts} reads a prompts file back into {@link Prompt}s for evaluation.
 */
public final class WorldExport {
  public static final String CORPUS = "corpus.txt";
  public static final String SFT = "sft.jsonl";
  public static final String RANKINGS = "rankings.jsonl";
  public static final String PREFERENCES = "preferences.jsonl";

  /** The export's files are written only into its own run directory. */
  private static final OutputFiles.Kind KIND = OutputFiles.Kind.unrecognised("a world export file");
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  private WorldExport() {}

  /** File name of a split's prompts, e.g. {@code prompts-eval.jsonl}. */
  public static String promptsFile(Split split) {
    return "prompts-" + split.name().toLowerCase(Locale.ROOT) + ".jsonl";
  }

  /**
   * Writes all files into {@code dir} (created if needed; an existing one must be empty or a run directory, see
   * {@link OutputFiles#claimRunDirectory}); rankings hold {@code k} candidates per TRAIN
   * prompt drawn with {@code rankingSeed}. Returns the paths written.
   */
  public static List<Path> writeAll(AlignmentWorld world, Path dir, int k, long rankingSeed) throws IOException {
    try (OutputFiles.Grant claim = OutputFiles.claimRunDirectory(dir)) {
      List<Path> out = new ArrayList<>();
      Path corpus = dir.resolve(CORPUS);
      OutputFiles.writeText(corpus, KIND, world.corpus());
      out.add(corpus);
      for (Split s : Split.values()) {
        List<JsonObject> lines = new ArrayList<>();
        for (Prompt pr : world.prompts(s)) lines.add(prompt(pr));
        out.add(lines(dir.resolve(promptsFile(s)), lines));
      }
      List<JsonObject> sft = new ArrayList<>();
      for (Demonstration d : world.sftDemonstrations()) {
        JsonObject o = new JsonObject();
        o.addProperty("id", d.prompt().id());
        o.addProperty("kind", d.prompt().kind().name());
        o.addProperty("prompt", d.prompt().text());
        o.addProperty("completion", d.response().text());
        o.addProperty("style", d.response().style().name());
        o.addProperty("rambling", d.response().rambling());
        o.addProperty("rude", d.response().rude());
        sft.add(o);
      }
      out.add(lines(dir.resolve(SFT), sft));
      List<RankedExample> ranked = world.rankingData(world.prompts(Split.TRAIN), k, rankingSeed);
      List<JsonObject> rankings = new ArrayList<>();
      List<JsonObject> prefs = new ArrayList<>();
      for (RankedExample e : ranked) {
        JsonObject o = new JsonObject();
        o.addProperty("id", e.prompt().id());
        o.addProperty("kind", e.prompt().kind().name());
        o.addProperty("prompt", e.prompt().text());
        JsonArray rs = new JsonArray();
        e.bestFirst().forEach(r -> rs.add(r.text()));
        o.add("responses", rs);
        JsonArray sc = new JsonArray();
        for (double d : e.scores()) {
          sc.add(d);
        }
        o.add("scores", sc);
        rankings.add(o);
        for (PreferencePair pp : e.pairs()) {
          JsonObject q = new JsonObject();
          q.addProperty("id", e.prompt().id());
          q.addProperty("prompt", pp.prompt().text());
          q.addProperty("chosen", pp.chosen());
          q.addProperty("rejected", pp.rejected());
          q.addProperty("margin", pp.margin());
          prefs.add(q);
        }
      }
      out.add(lines(dir.resolve(RANKINGS), rankings));
      out.add(lines(dir.resolve(PREFERENCES), prefs));
      return out;
    }
  }

  /** Reads a file written as {@code prompts-*.jsonl} back into prompts. */
  public static List<Prompt> readPrompts(Path file) throws IOException {
    List<Prompt> out = new ArrayList<>();
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank()) {
        continue;
      }
      try {
        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
        List<String> answers = new ArrayList<>();
        for (JsonElement e : o.getAsJsonArray("answers")) {
          answers.add(e.getAsString());
        }
        JsonElement subj = o.get("subject");
        out.add(new Prompt(o.get("id").getAsString(), PromptKind.valueOf(o.get("kind").getAsString()),
            Split.valueOf(o.get("split").getAsString()), o.get("prompt").getAsString(),
            subj == null || subj.isJsonNull() ? null : subj.getAsString(),
            Attribute.valueOf(o.get("attribute").getAsString()), answers));
      } catch (RuntimeException e) {
        throw new IOException(file + ":" + n + ": not a prompt record: " + e.getMessage(), e);
      }
    }
    return out;
  }

  private static JsonObject prompt(Prompt p) {
    JsonObject o = new JsonObject();
    o.addProperty("id", p.id());
    o.addProperty("kind", p.kind().name());
    o.addProperty("split", p.split().name());
    o.addProperty("prompt", p.text());
    o.addProperty("subject", p.subject());
    o.addProperty("attribute", p.attribute().name());
    JsonArray a = new JsonArray();
    p.answers().forEach(a::add);
    o.add("answers", a);
    return o;
  }

  private static Path lines(Path p, List<JsonObject> lines) throws IOException {
    StringBuilder sb = new StringBuilder();
    for (JsonObject o : lines) sb.append(GSON.toJson(o)).append('\n');
    OutputFiles.writeText(p, KIND, sb.toString());
    return p;
  }
}
