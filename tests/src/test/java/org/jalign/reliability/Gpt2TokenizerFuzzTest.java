package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.TokenizerFormatException;

/** Fuzzes {@link org.jalign.text.BpeTokenizer#fromGpt2Files} (vocab.json + merges.txt); a loaded tokenizer must encode and decode. Regression inputs: resources/org/jalign/reliability/Gpt2TokenizerFuzzTestInputs/fuzz/. */
class Gpt2TokenizerFuzzTest {
  /** Input: u16 big-endian length L, L bytes of vocab.json, then merges.txt. */
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    int l = data.length < 2 ? 0 : Math.min(((data[0] & 0xFF) << 8) | (data[1] & 0xFF), data.length - 2);
    int from = Math.min(2, data.length);
    Path v = FuzzSupport.write("vocab.json", java.util.Arrays.copyOfRange(data, from, from + l));
    Path m = FuzzSupport.write("merges.txt", java.util.Arrays.copyOfRange(data, from + l, data.length));
    FuzzSupport.expect(() -> Exercise.tokenizer(BpeTokenizer.fromGpt2Files(v, m)), TokenizerFormatException.class);
  }
}
