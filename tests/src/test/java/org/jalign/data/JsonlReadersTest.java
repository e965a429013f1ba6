package org.jalign.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonlReadersTest {
    @TempDir Path dir;

    private Path file(String... lines) throws IOException {
        Path p = Files.createTempFile(dir, "data", ".jsonl");
        Files.writeString(p, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return p;
    }

    interface Reader {
        void read(Path p) throws IOException;
    }

    /** Asserts reading fails with "file:line: ..." containing every fragment. */
    private void assertBad(Reader reader, int line, String jsonLine, String... fragments) throws IOException {
        Path p = file("", jsonLine.startsWith("{\"prompt\"") ? "{\"prompt\":\"ok\",\"completion\":\"ok\",\"chosen\":\"a\",\"rejected\":\"b\",\"responses\":[\"a\",\"b\"],\"ranking\":[0,1]}" : "", jsonLine);
        // the line under test is line 3 (line 1 blank, line 2 a valid record for every type or blank)
        DataFormatException e = assertThrows(DataFormatException.class, () -> reader.read(p));
        assertEquals(line, e.line(), e.getMessage());
        assertEquals(p, e.file());
        assertTrue(e.getMessage().startsWith(p + ":" + line + ": "), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "expected \"" + f + "\" in " + e.getMessage());
    }

    // ---------------------------------------------------------------- SFT

    @Test
    void sftReadsBothFormsSkipsBlankLinesAndRoundTrips() throws IOException {
        Path p = file(
                "\uFEFF{\"prompt\": \"2+2?\", \"completion\": \"4\", \"id\": 7}",
                "",
                "   \t",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"\"}, {\"role\": \"user\", \"content\": \"hi <|end|>\"},"
                        + " {\"role\": \"assistant\", \"content\": \"héllo 😀\"}]}\r");
        List<SftExample> xs = SftExample.readJsonl(p);
        assertEquals(2, xs.size());
        assertEquals(List.of(ChatMessage.user("2+2?"), ChatMessage.assistant("4")), xs.get(0).messages());
        assertEquals(ChatMessage.assistant("héllo 😀"), xs.get(1).messages().get(2));
        Path out = dir.resolve("out.jsonl");
        SftExample.writeJsonl(out, xs);
        assertEquals(xs, SftExample.readJsonl(out));
        assertTrue(Files.readString(out).contains("<|end|>"), "no HTML escaping");
    }

    @Test
    void sftErrorsNameFileLineAndProblem() throws IOException {
        Reader r = SftExample::readJsonl;
        assertBad(r, 3, "{\"prompt\": \"x\", \"completion\": \"\"}", "completion is empty");
        assertBad(r, 3, "{\"prompt\": \"x\"}", "missing field \"completion\"");
        assertBad(r, 3, "{\"prompt\": 3, \"completion\": \"y\"}", "\"prompt\" must be a string, got number");
        assertBad(r, 3, "{\"prompt\": \"x\", \"completion\": \"y\"", "invalid JSON");
        assertBad(r, 3, "{'prompt': 'x', 'completion': 'y'}", "invalid JSON");
        assertBad(r, 3, "{\"prompt\": \"x\", \"completion\": \"y\"} trailing", "invalid JSON");
        assertBad(r, 3, "[1, 2]", "expected a JSON object, got array");
        assertBad(r, 3, "{}", "missing field \"messages\"");
        assertBad(r, 3, "{\"messages\": []}", "messages is empty");
        assertBad(r, 3, "{\"messages\": {}}", "\"messages\" must be an array");
        assertBad(r, 3, "{\"messages\": [\"hi\"]}", "messages[0] must be an object");
        assertBad(r, 3, "{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}", "messages[0]", "\"bot\"");
        assertBad(r, 3, "{\"messages\": [{\"role\": \"user\"}]}", "messages[0]", "missing field \"content\"");
        assertBad(r, 3, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "last message must be from the assistant");
        assertBad(r, 3, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"\"}]}",
                "messages[1]: empty assistant response");
        assertBad(r, 3, "{\"messages\": [], \"prompt\": \"x\"}", "both");
        assertBad(r, 3, "{\"prompt\": \"x\", \"prompt\": \"y\", \"completion\": \"z\"}", "duplicate key");
    }

    @Test
    void invalidUtf8IsReportedWithItsLine() throws IOException {
        Path p = dir.resolve("bad.jsonl");
        byte[] good = "{\"prompt\": \"a\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] bad = {'{', '"', 'p', (byte) 0xFF, '"', '}', '\n'};
        byte[] all = new byte[good.length * 2 + bad.length];
        System.arraycopy(good, 0, all, 0, good.length);
        System.arraycopy(good, 0, all, good.length, good.length);
        System.arraycopy(bad, 0, all, good.length * 2, bad.length);
        Files.write(p, all);
        DataFormatException e = assertThrows(DataFormatException.class, () -> PromptExample.readJsonl(p));
        assertTrue(e.getMessage().contains("UTF-8"), e.getMessage());
        assertEquals(3, e.line());
    }

    // ---------------------------------------------------------------- ranking

    @Test
    void rankingReadsRoundTripsAndExpandsToPairs() throws IOException {
        Path p = file("{\"prompt\": \"p\", \"responses\": [\"a\", \"b\", \"c\"], \"ranking\": [2, 0, 1]}");
        List<RankingExample> xs = RankingExample.readJsonl(p);
        RankingExample x = xs.get(0);
        assertEquals(List.of("c", "a", "b"), x.responsesBestFirst());
        assertEquals(List.of(new PairwiseExample("p", "c", "a"), new PairwiseExample("p", "c", "b"), new PairwiseExample("p", "a", "b")),
                x.toPairs());
        Path out = dir.resolve("r.jsonl");
        RankingExample.writeJsonl(out, xs);
        assertEquals(xs, RankingExample.readJsonl(out));
    }

    @Test
    void rankingMustBeAPermutation() throws IOException {
        Reader r = RankingExample::readJsonl;
        String pre = "{\"prompt\": \"p\", \"responses\": [\"a\", \"b\", \"c\"], \"ranking\": ";
        assertBad(r, 3, pre + "[0, 0, 1]}", "not a permutation", "0 appears twice");
        assertBad(r, 3, pre + "[0, 1, 3]}", "ranking[2] = 3");
        assertBad(r, 3, pre + "[0, 1, -1]}", "ranking[2] = -1");
        assertBad(r, 3, pre + "[0, 1]}", "2 entries for 3 responses");
        assertBad(r, 3, pre + "[0, 1, 2, 0]}", "4 entries for 3 responses");
        assertBad(r, 3, pre + "[0, 1.5, 2]}", "ranking[1] must be an integer");
        assertBad(r, 3, pre + "[0, \"1\", 2]}", "ranking[1] must be an integer, got string");
        assertBad(r, 3, pre + "[0, 1, 99999999999]}", "out of range");
        assertBad(r, 3, "{\"prompt\": \"p\", \"responses\": [\"a\"], \"ranking\": [0]}", "at least 2 responses");
        assertBad(r, 3, "{\"prompt\": \"p\", \"responses\": [\"a\", \"\"], \"ranking\": [0, 1]}", "responses[1] is empty");
        assertBad(r, 3, "{\"prompt\": \"p\", \"responses\": [\"a\", \"b\", \"a\"], \"ranking\": [0, 1, 2]}",
                "responses[0] and responses[2] are the same response");
        assertBad(r, 3, "{\"prompt\": \"p\", \"responses\": [\"a\", 5], \"ranking\": [0, 1]}", "responses[1] must be a string");
        assertBad(r, 3, "{\"prompt\": \"p\", \"responses\": [\"a\", \"b\"]}", "missing field \"ranking\"");
    }

    // ---------------------------------------------------------------- pairwise and prompts

    @Test
    void pairwiseWithOptionalMargin() throws IOException {
        Path p = file("{\"prompt\": \"\", \"chosen\": \"good\", \"rejected\": \"bad\"}",
                "{\"prompt\": \"q\", \"chosen\": \"good\", \"rejected\": \"bad\", \"margin\": 1.5}",
                "{\"prompt\": \"q\", \"chosen\": \"good\", \"rejected\": \"bad\", \"margin\": null}");
        List<PairwiseExample> xs = PairwiseExample.readJsonl(p);
        assertEquals(0.0, xs.get(0).margin());
        assertEquals(1.5, xs.get(1).margin());
        assertEquals(0.0, xs.get(2).margin());
        Path out = dir.resolve("p.jsonl");
        PairwiseExample.writeJsonl(out, xs);
        assertEquals(xs, PairwiseExample.readJsonl(out));
        Reader r = PairwiseExample::readJsonl;
        assertBad(r, 3, "{\"prompt\": \"q\", \"chosen\": \"\", \"rejected\": \"bad\"}", "chosen response is empty");
        assertBad(r, 3, "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"\"}", "rejected response is empty");
        assertBad(r, 3, "{\"prompt\": \"q\", \"chosen\": \"a\"}", "missing field \"rejected\"");
        assertBad(r, 3, "{\"prompt\": \"q\", \"chosen\": \"same\", \"rejected\": \"same\"}",
                "\"chosen\" and \"rejected\" are the same response");
        assertBad(r, 3, "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\", \"margin\": \"1\"}", "\"margin\" must be a number, got string");
        assertBad(r, 3, "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\", \"margin\": NaN}", "NaN/Infinity are not JSON");
        assertBad(r, 3, "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\", \"margin\": 1e999}", "not finite");
        assertBad(r, 3, "{\"prompt\": null, \"chosen\": \"a\", \"rejected\": \"b\"}", "\"prompt\" must be a string, got null");
    }

    @Test
    void prompts() throws IOException {
        Path p = file("{\"prompt\": \"Write a haiku.\"}", "", "{\"prompt\": \"Say hi\", \"meta\": {\"x\": 1}}");
        List<PromptExample> xs = PromptExample.readJsonl(p);
        assertEquals(List.of(new PromptExample("Write a haiku."), new PromptExample("Say hi")), xs);
        Path out = dir.resolve("q.jsonl");
        PromptExample.writeJsonl(out, xs);
        assertEquals(xs, PromptExample.readJsonl(out));
        assertBad(PromptExample::readJsonl, 3, "{\"prompt\": \"\"}", "prompt is empty");
        assertBad(PromptExample::readJsonl, 3, "{\"text\": \"x\"}", "missing field \"prompt\"");
    }

    @Test
    void longLinesAndAMissingFinalNewline() throws IOException {
        String big = "x".repeat(300_000) + "é";
        Path p = dir.resolve("long.jsonl");
        Files.writeString(p, "{\"prompt\": \"a\"}\r\n{\"prompt\": \"" + big + "\"}\n\n{\"prompt\": \"" + big + "b\"}\n{\"prompt\": \"z\"}",
                StandardCharsets.UTF_8);
        List<PromptExample> xs = PromptExample.readJsonl(p);
        assertEquals(List.of(new PromptExample("a"), new PromptExample(big), new PromptExample(big + "b"), new PromptExample("z")), xs);
        Files.writeString(p, "{\"prompt\": \"" + big + "\"}\n\n\n{\"prompt\": 1}", StandardCharsets.UTF_8);
        DataFormatException e = assertThrows(DataFormatException.class, () -> PromptExample.readJsonl(p));
        assertEquals(4, e.line());
    }

    @Test
    void emptyFileGivesNoExamples() throws IOException {
        Path p = dir.resolve("empty.jsonl");
        Files.writeString(p, "\n\n");
        assertEquals(List.of(), PromptExample.readJsonl(p));
    }
}
