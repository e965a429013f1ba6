package org.jalign.reliability;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.feedback.PreferenceLog;
import org.jalign.feedback.PreferenceLogException;

/** Fuzzes {@link org.jalign.feedback.PreferenceLog} reading: every log reads or is a PreferenceLogException. Regression inputs: resources/org/jalign/reliability/PreferenceLogFuzzTestInputs/fuzz/. */
class PreferenceLogFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("prefs.log", data);
    FuzzSupport.expect(() -> {
      PreferenceLog log = new PreferenceLog(p);
      log.readAll();
      log.preferences();
    }, PreferenceLogException.class);
  }
}
