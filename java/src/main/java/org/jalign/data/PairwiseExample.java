package org.jalign.data;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A preference between two responses to one prompt, for reward modelling and DPO.
 * JSONL: {@code {"prompt": "...", "chosen": "...", "rejected": "...", "margin": 1.5}} with "margin"
 * optional (a finite number, default 0: the reward loss is -log σ(r_chosen - r_rejected - margin)).
 * chosen and rejected must be non-empty; the prompt may be empty; unknown fields are ignored.
 */
public record PairwiseExample(String prompt, String chosen, String rejected, double margin) {
    public PairwiseExample {
        if (prompt == null) throw new IllegalArgumentException("prompt is null");
        Jsonl.requireNonEmpty(chosen, "chosen response");
        Jsonl.requireNonEmpty(rejected, "rejected response");
        if (!Double.isFinite(margin)) throw new IllegalArgumentException("margin " + margin + " is not finite");
    }

    public PairwiseExample(String prompt, String chosen, String rejected) {
        this(prompt, chosen, rejected, 0.0);
    }

    /** A record of a JSONL file; a pair whose chosen and rejected responses are the same text is refused. */
    public static PairwiseExample fromJson(JsonObject o) {
        PairwiseExample p = new PairwiseExample(Jsonl.string(o, "prompt"), Jsonl.string(o, "chosen"),
                Jsonl.string(o, "rejected"), Jsonl.number(o, "margin", 0.0));
        if (p.chosen.equals(p.rejected)) {
            throw new IllegalArgumentException("\"chosen\" and \"rejected\" are the same response; a preference "
                    + "pair must compare two different responses");
        }
        return p;
    }

    /** The JSON object; "margin" is written only when it is not 0. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("prompt", prompt);
        o.addProperty("chosen", chosen);
        o.addProperty("rejected", rejected);
        if (margin != 0.0) o.addProperty("margin", margin);
        return o;
    }

    public static List<PairwiseExample> readJsonl(Path file) throws IOException {
        return Jsonl.read(file, PairwiseExample::fromJson);
    }

    public static void writeJsonl(Path file, List<PairwiseExample> examples) throws IOException {
        Jsonl.write(file, "pairwise preferences", PairwiseExample::fromJson, examples, PairwiseExample::toJson);
    }
}
