package org.jalign.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.jalign.backend.CpuBackend;
import org.jalign.model.Gpt;
import org.jalign.model.GptConfig;
import org.jalign.model.ParamSpec;
import org.jalign.testing.Ref;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hugging Face GPT-2 safetensors: export/import round trip, the Conv1D transpose, and clear errors. */
class Gpt2SafetensorsTest {
  static final CpuBackend CPU = new CpuBackend();
  static final GptConfig CFG = new GptConfig(2, 2, 8, 6, 50); // Vp = 64: 14 padding rows
  @TempDir Path dir;

  /** Random parameters with the padding rows of wte zero, as a model keeps them. */
  static float[] randomParams(GptConfig cfg, long seed) {
    float[] flat = Ref.randn(new SplittableRandom(seed), (int) cfg.parameterCount(), 0.5);
    ParamSpec wte = cfg.paramSpecs().get(0);
    for (long i = (long) cfg.vocabSize() * cfg.channels(); i < wte.numel(); i++) flat[(int) (wte.offset() + i)] = 0;
    return flat;
  }

  @Test
  void exportImportRoundTripIsExact() throws IOException {
    float[] flat = randomParams(CFG, 1);
    Gpt2Safetensors.export(CFG, flat, dir);
    assertTrue(Files.exists(dir.resolve("model.safetensors")) && Files.exists(dir.resolve("config.json")));
    assertEquals(CFG, Gpt2Safetensors.readConfig(dir));
    assertArrayEquals(flat, Gpt2Safetensors.importParams(dir, CFG));
    try (SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
      assertEquals(2 + 2 * 12 + 2, st.names().size());
      assertArrayEquals(new long[] {8, 24}, st.info("transformer.h.1.attn.c_attn.weight").shape());
      assertArrayEquals(new long[] {50, 8}, st.info("transformer.wte.weight").shape());
    }
  }

  @Test
  void conv1dWeightsAreTransposedAndTheModelComputesTheSame() throws IOException {
    try (Gpt a = new Gpt(CFG, CPU, 3)) {
      Gpt2Safetensors.export(a, dir);
      int c = CFG.channels();
      try (SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
        float[] hf = st.readFloats("transformer.h.1.mlp.c_fc.weight"); // (C, 4C): hf[i][o]
        float[] ours = a.param("fcw").toFloatArray(); // (L, 4C, C): ours[l][o][i]
        for (int o = 0; o < 4 * c; o++) {
          for (int i = 0; i < c; i++) assertEquals(ours[4 * c * c + o * c + i], hf[i * 4 * c + o]);
        }
      }
      try (Gpt b = Gpt2Safetensors.load(dir, CPU)) {
        assertArrayEquals(a.paramsToArray(), b.paramsToArray());
        int[] tokens = {1, 7, 49, 3, 0, 22};
        assertArrayEquals(a.forward(tokens, 1, 6, null, null).toFloatArray(),
            b.forward(tokens, 1, 6, null, null).toFloatArray());
      }
    }
  }

  /** A file as GPT2Model saves it: no prefix, mask buffers, a tied lm_head. */
  @Test
  void unprefixedNamesMaskBuffersAndTiedHeadAreAccepted() throws IOException {
    float[] flat = randomParams(CFG, 2);
    Gpt2Safetensors.export(CFG, flat, dir);
    Path other = dir.resolve("other");
    Files.createDirectories(other);
    Files.copy(dir.resolve("config.json"), other.resolve("config.json"));
    try (SafeTensors st = SafeTensors.open(dir.resolve("model.safetensors"))) {
      SafeTensors.Writer w = SafeTensors.writer();
      for (String n : st.names()) {
        w.add(n.substring("transformer.".length()), st.readFloats(n), st.info(n).shape());
      }
      w.add("h.0.attn.bias", new float[36], 1, 1, 6, 6);
      w.add("lm_head.weight", st.readFloats("transformer.wte.weight"), 50, 8);
      w.write(other.resolve("model.safetensors"));
      assertArrayEquals(flat, Gpt2Safetensors.importParams(other, CFG));

      SafeTensors.Writer bad = SafeTensors.writer();
      for (String n : st.names()) bad.add(n, st.readFloats(n), st.info(n).shape());
      bad.add("lm_head.weight", new float[400], 50, 8);
      bad.write(other.resolve("model.safetensors"));
      IOException e = assertThrows(IOException.class, () -> Gpt2Safetensors.importParams(other, CFG));
      assertTrue(e.getMessage().contains("lm_head.weight differs"), e.getMessage());

      SafeTensors.Writer extra = SafeTensors.writer();
      for (String n : st.names()) extra.add(n, st.readFloats(n), st.info(n).shape());
      extra.add("transformer.h.2.ln_1.weight", new float[8], 8);
      extra.write(other.resolve("model.safetensors"));
      e = assertThrows(IOException.class, () -> Gpt2Safetensors.importParams(other, CFG));
      assertTrue(e.getMessage().contains("unexpected tensor"), e.getMessage());

      SafeTensors.Writer missing = SafeTensors.writer();
      for (String n : st.names()) if (!n.endsWith("h.1.mlp.c_proj.bias")) missing.add(n, st.readFloats(n), st.info(n).shape());
      missing.write(other.resolve("model.safetensors"));
      e = assertThrows(IOException.class, () -> Gpt2Safetensors.importParams(other, CFG));
      assertTrue(e.getMessage().contains("missing tensor h.1.mlp.c_proj.bias"), e.getMessage());
    }
    // a shape that does not fit the config
    assertThrows(IOException.class, () -> Gpt2Safetensors.importParams(dir, new GptConfig(2, 2, 8, 7, 50)));
  }

  @Test
  void configsJalignCannotComputeAreRejected() throws IOException {
    Gpt2Safetensors.export(CFG, randomParams(CFG, 3), dir);
    String good = Files.readString(dir.resolve("config.json"));
    Files.writeString(dir.resolve("config.json"), good.replace("gelu_new", "relu"));
    assertTrue(assertThrows(IOException.class, () -> Gpt2Safetensors.readConfig(dir)).getMessage().contains("relu"));
    Files.writeString(dir.resolve("config.json"), good.replace("\"n_head\": 2", "\"n_head\": 3"));
    assertTrue(assertThrows(IOException.class, () -> Gpt2Safetensors.readConfig(dir)).getMessage().contains("divisible"));
    Files.writeString(dir.resolve("config.json"), "{\"n_layer\": 2");
    assertThrows(IOException.class, () -> Gpt2Safetensors.readConfig(dir));
    Files.delete(dir.resolve("config.json"));
    assertTrue(assertThrows(IOException.class, () -> Gpt2Safetensors.readConfig(dir)).getMessage().contains("missing"));
  }
}
