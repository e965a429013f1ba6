package org.jalign.reliability;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.io.SafeTensors;
import org.jalign.io.SafeTensorsException;

/** Fuzzes {@link org.jalign.io.SafeTensors}: every file opens and reads or is a SafeTensorsException. Regression inputs: resources/org/jalign/reliability/SafeTensorsFuzzTestInputs/fuzz/. */
class SafeTensorsFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("st.safetensors", data);
    FuzzSupport.expect(() -> {
      try (SafeTensors st = SafeTensors.open(p)) {
        st.metadata();
        for (String name : st.names()) {
          if (st.info(name).dtype().isFloat()) st.readFloats(name);
        }
      }
    }, SafeTensorsException.class);
  }
}
