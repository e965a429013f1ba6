package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.jalign.feedback.Choice;
import org.jalign.feedback.PreferenceLog;
import org.jalign.feedback.PreferenceLogException;

/**
 * Fuzzes {@link org.jalign.feedback.PreferenceLog} reading and appending: every file reads or is a
 * PreferenceLogException, and an append either leaves the file byte for byte as it was (refused) or keeps every
 * byte before the torn tail the read reported, which must be shorter than one record. Regression inputs:
 * resources/org/jalign/reliability/PreferenceLogFuzzTestInputs/fuzz/.
 */
class PreferenceLogFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("prefs.log", data);
    FuzzSupport.expect(() -> {
      PreferenceLog log = new PreferenceLog(p);
      long torn;
      try {
        torn = log.read().tornTailBytes();
        log.preferences();
      } catch (PreferenceLogException refused) {
        try {
          log.appendChoice("fuzz", Choice.A, 1);
        } catch (PreferenceLogException alsoRefused) {
          if (!Arrays.equals(data, Files.readAllBytes(p))) throw new AssertionError("a refused append changed the file");
          throw refused;
        }
        throw new AssertionError("append accepted a file that read refused: " + refused.getMessage());
      }
      log.appendChoice("fuzz", Choice.A, 1);
      byte[] after = Files.readAllBytes(p);
      int kept = (int) (data.length - torn);
      if (after.length <= kept || !Arrays.equals(data, 0, kept, after, 0, kept)) {
        throw new AssertionError("append lost bytes before the torn tail");
      }
      if (torn > 0 && (data[kept] != 'J' || torn >= 12 + (16 << 20))) {
        throw new AssertionError("a torn tail of " + torn + " bytes that is not a record's beginning was dropped");
      }
    }, PreferenceLogException.class);
  }
}
