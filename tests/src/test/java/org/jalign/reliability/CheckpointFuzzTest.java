package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.io.Checkpoint;
import org.jalign.io.CheckpointException;

/** Fuzzes {@link org.jalign.io.Checkpoint#open} and tensor reads (into a model-sized tensor too, with its finiteness check): every file loads or is a CheckpointException. Regression inputs: resources/org/jalign/reliability/CheckpointFuzzTestInputs/fuzz/. */
class CheckpointFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("ck.bin", data);
    FuzzSupport.expect(() -> {
      try (Checkpoint ck = Checkpoint.open(p)) {
        ck.config();
        for (String name : ck.tensors().keySet()) ck.tensor(name);
        // a model-sized read goes through the finiteness check every loader uses
        long n = ck.config().parameterCount();
        if (ck.hasTensor(Checkpoint.PARAMS) && n <= 1 << 20) {
          try (org.jalign.tensor.Scope s = org.jalign.tensor.Scope.open()) {
            ck.readInto(Checkpoint.PARAMS, org.jalign.train.AlignFixtures.CPU.zeros(org.jalign.tensor.DType.F32, n));
          }
        }
      }
    }, CheckpointException.class);
  }
}
