package org.jalign.reliability;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.data.TokenFile;

/** Fuzzes {@link org.jalign.data.TokenFile}: every file opens or is a BadTokenFileException; an id outside the vocabulary is an IllegalStateException naming the corruption. Regression inputs: resources/org/jalign/reliability/TokenFileFuzzTestInputs/fuzz/. */
class TokenFileFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("tokens.bin", data);
    FuzzSupport.expect(() -> {
      try (TokenFile f = TokenFile.open(p)) {
        for (long i = 0; i < f.size(); i++) {
          try {
            f.get(i);
          } catch (IllegalStateException e) {
            if (!e.getMessage().contains("corrupt")) throw e;
          }
        }
      }
    }, TokenFile.BadTokenFileException.class);
  }
}
