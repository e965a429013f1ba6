package org.jalign.io;

import java.io.IOException;
import java.nio.file.Path;
import org.jalign.backend.Backend;
import org.jalign.model.Gpt;
import org.jalign.text.Tokenizer;

/** Loads and saves a model with its tokenizer as a jalign checkpoint (what every stage writes). */
public final class ModelFiles {
  private ModelFiles() {}

  /** A model with its tokenizer; closing it closes the model. */
  public record Loaded(Gpt model, Tokenizer tokenizer, String stage) implements AutoCloseable {
    @Override
    public void close() {
      model.close();
    }
  }

  /**
   * Opens {@code path}, checks it, builds the model on {@code backend} and loads its parameters (checked for
   * finiteness, see {@link Checkpoint#readInto}). Every problem is a {@link CheckpointException} naming the file.
   */
  public static Loaded load(Path path, Backend backend) throws IOException {
    try (Checkpoint ck = Checkpoint.open(path)) {
      byte[] tb = ck.tokenizer();
      if (tb == null || tb.length == 0) {
        throw new CheckpointException(path + ": the checkpoint holds no tokenizer; save the model with its "
            + "tokenizer (every jalign stage does)");
      }
      Tokenizer tok;
      try {
        tok = Tokenizer.fromBytes(tb);
      } catch (IllegalArgumentException e) {
        throw new CheckpointException(path + ": the tokenizer stored in the checkpoint is corrupt: "
            + e.getMessage(), e);
      }
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

  /** A model of {@code config} on {@code backend} holding {@code params} (the config's flat layout); closed on failure. */
  static Gpt build(org.jalign.model.GptConfig config, float[] params, Backend backend) {
    Gpt model = new Gpt(config, backend, 0);
    try {
      model.loadParams(params);
      return model;
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  /** Writes {@code model} with its tokenizer to {@code path} atomically, marked as written by {@code stage}. */
  public static void save(Path path, Gpt model, Tokenizer tokenizer, String stage) throws IOException {
    new Checkpoint.Writer(model.config()).tokenizer(tokenizer.toBytes()).string("stage", stage)
        .tensor(Checkpoint.PARAMS, model.params()).write(path);
  }
}
