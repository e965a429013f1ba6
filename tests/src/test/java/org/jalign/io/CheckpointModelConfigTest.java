package org.jalign.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.flatbuffers.FlatBufferBuilder;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jalign.io.fb.ModelConfig;
import org.jalign.model.GptConfig;
import org.jalign.model.RopeConfig;
import org.junit.jupiter.api.Test;

/**
 * The checkpoint's ModelConfig table: a table with only GPT-2's five fields (every checkpoint written before the
 * block fields) reads as GPT-2, a GPT-2 configuration writes exactly that table, every block choice survives a
 * round trip, and an unknown choice code is refused by field name.
 */
class CheckpointModelConfigTest {

  private static ModelConfig table(FlatBufferBuilder b, int root) {
    b.finish(root);
    return ModelConfig.getRootAsModelConfig(ByteBuffer.wrap(b.sizedByteArray()));
  }

  /** The five-field table as the format-1 writer built it. */
  private static byte[] fiveFieldTable(GptConfig c) {
    FlatBufferBuilder b = new FlatBufferBuilder(64);
    ModelConfig.startModelConfig(b);
    ModelConfig.addVocabSize(b, c.vocabSize());
    ModelConfig.addContextLength(b, c.contextLength());
    ModelConfig.addChannels(b, c.channels());
    ModelConfig.addHeads(b, c.heads());
    ModelConfig.addLayers(b, c.layers());
    b.finish(ModelConfig.endModelConfig(b));
    return b.sizedByteArray();
  }

  @Test
  void gpt2TablesAreTheFiveFieldTableAndReadAsGpt2() {
    GptConfig gpt2 = new GptConfig(3, 4, 64, 40, 300);
    FlatBufferBuilder b = new FlatBufferBuilder(64);
    b.finish(Checkpoint.writeModelConfig(b, gpt2));
    assertTrue(Arrays.equals(fiveFieldTable(gpt2), b.sizedByteArray()), "GPT-2 table bytes changed");
    GptConfig back = Checkpoint.readModelConfig(ModelConfig.getRootAsModelConfig(ByteBuffer.wrap(fiveFieldTable(gpt2))));
    assertEquals(gpt2, back);
    assertTrue(back.isGpt2());
  }

  @Test
  void everyBlockChoiceSurvivesARoundTrip() {
    RopeConfig scaled = new RopeConfig(500000, 16, new RopeConfig.Llama3Scaling(8, 1, 4, 8192));
    for (GptConfig c : new GptConfig[] {
        GptConfig.llama(2, 4, 1, 64, 100, 64, 300, scaled, 1e-5f, false),
        GptConfig.qwen2(2, 4, 2, 64, 256, 64, 300, RopeConfig.of(1e6, 16), 1e-6f, true),
        new GptConfig(2, 4, 64, 64, 300, 4, 256, GptConfig.Norm.RMS_NORM, 1e-5f, null, GptConfig.Mlp.GELU,
            GptConfig.Biases.NONE, true)}) {
      FlatBufferBuilder b = new FlatBufferBuilder(64);
      assertEquals(c, Checkpoint.readModelConfig(table(b, Checkpoint.writeModelConfig(b, c))));
    }
  }

  @Test
  void unknownChoiceCodesAreRefusedByName() {
    FlatBufferBuilder b = new FlatBufferBuilder(64);
    int t = ModelConfig.createModelConfig(b, 2, 4, 64, 64, 300, 2, 100, (byte) 1, 0f, 10000, 0, 0, 0, 0, (byte) 7,
        (byte) 2, false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoint.readModelConfig(table(b, t)));
    assertTrue(e.getMessage().contains("mlp code 7"), e.getMessage());
  }
}
