package org.jalign.reliability;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.io.Checkpoint;
import org.jalign.io.CheckpointException;

/** Fuzzes {@link org.jalign.io.Checkpoint#open} and tensor reads: every file loads or is a CheckpointException. Regression inputs: resources/org/jalign/reliability/CheckpointFuzzTestInputs/fuzz/. */
class CheckpointFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("ck.bin", data);
    FuzzSupport.expect(() -> {
      try (Checkpoint ck = Checkpoint.open(p)) {
        ck.config();
        for (String name : ck.tensors().keySet()) ck.tensor(name);
      }
    }, CheckpointException.class);
  }
}
