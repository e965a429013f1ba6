package org.jalign.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSONL export round-trips and its preference pairs agree with the oracle. */
class WorldExportTest {

  private static final AlignmentWorld W = AlignmentWorld.generate(8, AlignmentWorld.Size.QUICK);

  @Test
  void writesEveryFileAndPromptsRoundTrip(@TempDir Path dir) throws IOException {
    List<Path> files = WorldExport.writeAll(W, dir, 4, 17);
    assertEquals(7, files.size());
    assertEquals(W.corpus(), Files.readString(dir.resolve(WorldExport.CORPUS)));
    for (Split s : Split.values()) {
      assertEquals(W.prompts(s), WorldExport.readPrompts(dir.resolve(WorldExport.promptsFile(s))));
    }
    List<String> sft = Files.readAllLines(dir.resolve(WorldExport.SFT));
    assertEquals(W.prompts(Split.TRAIN).size(), sft.size());
    JsonObject first = JsonParser.parseString(sft.get(0)).getAsJsonObject();
    assertEquals(List.of("id", "kind", "prompt", "completion", "style", "rambling", "rude"), List.copyOf(first.keySet()));
    assertEquals(W.sftDemonstrations().get(0).response().text(), first.get("completion").getAsString());

    List<String> rankings = Files.readAllLines(dir.resolve(WorldExport.RANKINGS));
    assertEquals(W.prompts(Split.TRAIN).size(), rankings.size());
    assertEquals(4, JsonParser.parseString(rankings.get(0)).getAsJsonObject().getAsJsonArray("responses").size());

    Oracle o = W.oracle();
    List<String> prefs = Files.readAllLines(dir.resolve(WorldExport.PREFERENCES));
    assertTrue(prefs.size() > 3 * rankings.size(), "several strict pairs per ranking: " + prefs.size());
    java.util.Map<String, Prompt> byId = new java.util.HashMap<>();
    W.prompts(Split.TRAIN).forEach(p -> byId.put(p.id(), p));
    for (String line : prefs) {
      JsonObject q = JsonParser.parseString(line).getAsJsonObject();
      Prompt p = byId.get(q.get("id").getAsString());
      double margin = o.score(p, q.get("chosen").getAsString()) - o.score(p, q.get("rejected").getAsString());
      assertTrue(margin > 0, line);
      assertEquals(margin, q.get("margin").getAsDouble(), 1e-12);
    }
  }

  @Test
  void rankedPairsAreAllStrictPairs() {
    for (RankedExample e : W.rankingData(W.prompts(Split.RL), 5, 3)) {
      int strict = 0;
      for (int i = 0; i < 5; i++) {
        for (int j = i + 1; j < 5; j++) {
          if (e.scores()[i] > e.scores()[j] + Evaluation.TIE_EPS) {
            strict++;
          }
        }
      }
      assertEquals(strict, e.pairs().size());
      for (PreferencePair p : e.pairs()) {
        assertTrue(p.margin() > 0);
        assertTrue(W.oracle().score(p.prompt(), p.chosen()) > W.oracle().score(p.prompt(), p.rejected()));
      }
    }
  }

  @Test
  void badPromptFileNamesTheLine(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("p.jsonl");
    Files.writeString(f, "\n{\"id\":\"x\"}\n");
    IOException e = assertThrows(IOException.class, () -> WorldExport.readPrompts(f));
    assertTrue(e.getMessage().contains("p.jsonl:2"), e.getMessage());
  }
}
