package org.jalign.reliability;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import org.jalign.text.Tokenizer;
import org.jalign.text.TokenizerFormatException;

/** Fuzzes {@link org.jalign.text.Tokenizer#fromBytes} (the JTOK format); a loaded tokenizer must encode and decode. Regression inputs: resources/org/jalign/reliability/TokenizerBytesFuzzTestInputs/fuzz/. */
class TokenizerBytesFuzzTest {
  @FuzzTest(maxDuration = "20s")
  void fuzz(byte[] data) {
    FuzzSupport.expect(() -> Exercise.tokenizer(Tokenizer.fromBytes(data)), TokenizerFormatException.class);
  }
}
