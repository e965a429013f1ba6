package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.HfTokenizer;
import org.jalign.text.TokenizerFormatException;

/**
 * Fuzzes the two tokenizer.json loaders, {@link BpeTokenizer#fromHuggingFaceJson} (GPT-2 byte-level only) and
 * {@link HfTokenizer#load} (the Llama, Qwen2, Mistral families); a loaded tokenizer must encode and decode.
 * Regression inputs: resources/org/jalign/reliability/HfTokenizerJsonFuzzTestInputs/fuzz/ (hf-* are the
 * shapes of the families HfTokenizer reads).
 */
class HfTokenizerJsonFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    Path p = FuzzSupport.write("tokenizer.json", data);
    FuzzSupport.expect(() -> Exercise.tokenizer(BpeTokenizer.fromHuggingFaceJson(p)), TokenizerFormatException.class);
    FuzzSupport.expect(() -> Exercise.tokenizer(HfTokenizer.load(p)), TokenizerFormatException.class);
  }
}
