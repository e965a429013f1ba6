package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.data.DataFormatException;
import org.jalign.data.PairwiseExample;
import org.jalign.data.PromptExample;
import org.jalign.data.RankingExample;
import org.jalign.data.SftExample;

/** Fuzzes the JSONL readers of {@link org.jalign.data}: every file reads or is a DataFormatException naming the line. Regression inputs: resources/org/jalign/reliability/JsonlFuzzTestInputs/fuzz/. */
class JsonlFuzzTest {
  /** Input: one byte choosing the reader (low two bits), then the file. */
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    int which = data.length == 0 ? 0 : data[0] & 3;
    Path p = FuzzSupport.write("data.jsonl", data.length == 0 ? data : java.util.Arrays.copyOfRange(data, 1,
        data.length));
    FuzzSupport.expect(() -> {
      switch (which) {
        case 0 -> SftExample.readJsonl(p);
        case 1 -> RankingExample.readJsonl(p);
        case 2 -> PairwiseExample.readJsonl(p);
        default -> PromptExample.readJsonl(p);
      }
    }, DataFormatException.class);
  }
}
