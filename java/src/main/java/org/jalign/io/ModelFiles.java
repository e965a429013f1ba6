package org.jalign.io;

import java.io.IOException;
import java.nio.file.Path;
import org.jalign.backend.Backend;
import org.jalign.model.Gpt;
import org.jalign.text.Tokenizer;

/** Loads a model and its tokenizer from a jalign checkpoint written by any stage. */
public final class ModelFiles {
  private ModelFiles() {}

  /** A model with its tokenizer; closing it closes the model. */
  public record Loaded(Gpt model, Tokenizer tokenizer, String stage) implements AutoCloseable {
    @Override
    public void close() {
      model.close();
    }
  }

  /** Opens {@code path}, checks it, builds the model on {@code backend} and loads its parameters. */
  public static Loaded load(Path path, Backend backend) throws IOException {
    try (Checkpoint ck = Checkpoint.open(path)) {
      byte[] tb = ck.tokenizer();
      if (tb == null || tb.length == 0) {
        throw new CheckpointException(path + ": the checkpoint holds no tokenizer");
      }
      Tokenizer tok = Tokenizer.fromBytes(tb);
      if (!ck.hasTensor(Checkpoint.PARAMS)) {
        throw new CheckpointException(path + ": the checkpoint holds no model parameters (" + Checkpoint.PARAMS + ")");
      }
      Gpt model = new Gpt(ck.config(), backend, 0);
      try {
        ck.readInto(Checkpoint.PARAMS, model.params());
      } catch (IOException | RuntimeException e) {
        model.close();
        throw e;
      }
      return new Loaded(model, tok, ck.strings().getOrDefault("stage", ""));
    }
  }
}
