package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.TokenizerFormatException;

/** Fuzzes {@link org.jalign.text.BpeTokenizer#fromHuggingFaceJson}; a loaded tokenizer must encode and decode. Regression inputs: resources/org/jalign/reliability/HfTokenizerJsonFuzzTestInputs/fuzz/. */
class HfTokenizerJsonFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("tokenizer.json", data);
    FuzzSupport.expect(() -> Exercise.tokenizer(BpeTokenizer.fromHuggingFaceJson(p)), TokenizerFormatException.class);
  }
}
