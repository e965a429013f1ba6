package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.io.Gpt2Safetensors;
import org.jalign.io.JsonConfig;

/**
 * Fuzzes the typed JSON configuration reader through {@link Gpt2Safetensors#readConfig}: every config.json gives a
 * configuration or a {@link JsonConfig.JsonConfigException} naming the file, never a raw Java exception. Regression
 * inputs: resources/org/jalign/reliability/HfConfigFuzzTestInputs/fuzz/.
 */
class HfConfigFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("config.json", data);
    FuzzSupport.expect(() -> {
      try {
        Gpt2Safetensors.readConfig(p.getParent());
      } catch (JsonConfig.JsonConfigException e) {
        if (!e.getMessage().startsWith(p.toString())) throw new AssertionError("error without the file: " + e);
        throw e;
      }
    }, JsonConfig.JsonConfigException.class);
  }
}
