package org.jalign.train;

import static org.jalign.train.AlignFixtures.TINY;
import static org.jalign.train.AlignFixtures.TOK;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jalign.data.ChatTemplate;
import org.jalign.data.DataFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad JSONL inputs of the alignment stages fail with errors naming the file and line. */
class StageDataTest {
  @TempDir Path dir;
  static final ChatTemplate TMPL = new ChatTemplate(TOK);
  static final int MAX = TINY.contextLength();
  static final ChatTemplate.Truncation KEEP = ChatTemplate.Truncation.KEEP_PROMPT_TAIL_RESPONSE_HEAD;

  Path file(String name, String... lines) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, String.join("\n", lines) + "\n");
    return p;
  }

  static void expect(DataFormatException e, Path file, int line, String... words) {
    assertEquals(file, e.file());
    assertEquals(line, e.line());
    assertTrue(e.getMessage().startsWith(file + ":" + line + ": "), e.getMessage());
    for (String w : words) assertTrue(e.getMessage().contains(w), "'" + w + "' in " + e.getMessage());
  }

  @Test
  void sftMissingFieldEmptyResponseAndLongPrompt() throws IOException {
    Path ok = file("ok.jsonl", "{\"prompt\":\"hi\",\"completion\":\"yo\"}", "",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}");
    assertEquals(2, StageData.readSft(ok, TMPL, MAX, KEEP).size());
    Path missing = file("missing.jsonl", "{\"prompt\":\"hi\",\"completion\":\"yo\"}", "{\"prompt\":\"hi\"}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readSft(missing, TMPL, MAX, KEEP)), missing, 2,
        "completion");
    Path empty = file("empty.jsonl", "{\"prompt\":\"hi\",\"completion\":\"\"}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readSft(empty, TMPL, MAX, KEEP)), empty, 1, "empty");
    Path longPrompt = file("long.jsonl", "{\"prompt\":\"a\",\"completion\":\"b\"}", "{\"prompt\":\"a\",\"completion\":\"b\"}",
        "{\"prompt\":\"" + "p".repeat(MAX) + "\",\"completion\":\"b\"}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readSft(longPrompt, TMPL, MAX, KEEP)), longPrompt, 3,
        "prompt", "context");
    Path longAnswer = file("longanswer.jsonl", "{\"prompt\":\"a\",\"completion\":\"" + "b".repeat(MAX) + "\"}");
    assertEquals(1, StageData.readSft(longAnswer, TMPL, MAX, KEEP).size(), "a long response is truncated");
    expect(assertThrows(DataFormatException.class,
        () -> StageData.readSft(longAnswer, TMPL, MAX, ChatTemplate.Truncation.REJECT)), longAnswer, 1, "REJECT");
  }

  @Test
  void rankingsThatAreNotPermutationsAndBadPairs() throws IOException {
    Path ok = file("ok.jsonl", "{\"prompt\":\"q\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[2,0,1]}",
        "{\"prompt\":\"q\",\"chosen\":\"a\",\"rejected\":\"b\",\"margin\":0.5}");
    var groups = StageData.readGroups(ok, TMPL, MAX, KEEP);
    assertEquals(java.util.List.of("c", "a", "b"), groups.get(0).bestFirst());
    assertEquals(0.5, groups.get(1).margin());
    Path dup = file("dup.jsonl", "{\"prompt\":\"q\",\"chosen\":\"a\",\"rejected\":\"b\"}",
        "{\"prompt\":\"q\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[0,0,1]}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readGroups(dup, TMPL, MAX, KEEP)), dup, 2,
        "permutation");
    Path neither = file("neither.jsonl", "{\"prompt\":\"q\",\"answer\":\"a\"}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readGroups(neither, TMPL, MAX, KEEP)), neither, 1,
        "ranking", "chosen");
    Path noRejected = file("norej.jsonl", "{\"prompt\":\"q\",\"chosen\":\"a\"}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readPairs(noRejected, TMPL, MAX, KEEP)), noRejected,
        1, "rejected");
    Path emptyChosen = file("emptychosen.jsonl", "{\"prompt\":\"q\",\"chosen\":\"\",\"rejected\":\"b\"}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readPairs(emptyChosen, TMPL, MAX, KEEP)),
        emptyChosen, 1, "chosen");
    Path longPrompt = file("longpair.jsonl", "{\"prompt\":\"" + "p".repeat(MAX) + "\",\"chosen\":\"a\",\"rejected\":\"b\"}");
    expect(assertThrows(DataFormatException.class, () -> StageData.readPairs(longPrompt, TMPL, MAX, KEEP)), longPrompt,
        1, "prompt", "context");
    expect(assertThrows(DataFormatException.class, () -> StageData.readGroups(longPrompt, TMPL, MAX, KEEP)), longPrompt,
        1, "prompt", "context");
  }
}
