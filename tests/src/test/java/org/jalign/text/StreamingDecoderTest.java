package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Random;
import org.junit.jupiter.api.Test;

class StreamingDecoderTest {
    final ByteTokenizer bytes = new ByteTokenizer();

    private String streamed(Tokenizer t, int[] ids) {
        StreamingDecoder d = new StreamingDecoder(t);
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(d.push(id));
        return sb.append(d.finish()).toString();
    }

    @Test
    void holdsBackIncompleteCharacters() {
        StreamingDecoder d = new StreamingDecoder(bytes);
        int[] ids = bytes.encode("a日😀");
        assertEquals("a", d.push(ids[0]));
        assertEquals("", d.push(ids[1]));
        assertEquals("", d.push(ids[2]));
        assertEquals("日", d.push(ids[3]));
        assertEquals("", d.push(ids[4]));
        assertEquals("", d.push(ids[5]));
        assertEquals("", d.push(ids[6]));
        assertEquals("😀", d.push(ids[7]));
        assertEquals("", d.finish());
        assertEquals("", d.push(0xE6));
        assertEquals("\uFFFD", d.finish());
    }

    @Test
    void streamingEqualsWholeDecodeForValidAndBrokenBytes() {
        Random rnd = new Random(6);
        int[] interesting = {0x41, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE6, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
            0x9F, 0xA0, 0x8F, 0x90, 0x97, 0xA5};
        for (int t = 0; t < 20000; t++) {
            int[] ids = new int[rnd.nextInt(12)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rnd.nextBoolean() ? interesting[rnd.nextInt(interesting.length)] : rnd.nextInt(256);
            }
            assertEquals(bytes.decode(ids), streamed(bytes, ids), () -> java.util.Arrays.toString(ids));
        }
    }

    @Test
    void worksWithMultiByteTokensAndSpecials() {
        BpeTokenizer tok = BpeTokenizer.train(TextFixtures.corpus(2, 20_000) + " 日本語 😀", 400, Tokenizer.STANDARD_SPECIALS);
        Random rnd = new Random(7);
        for (int t = 0; t < 200; t++) {
            String s = TextFixtures.randomText(rnd, rnd.nextInt(40)) + "<|end|>";
            int[] ids = tok.encodeWithSpecials(s);
            assertEquals(s, streamed(tok, ids));
            assertFalse(streamed(tok, ids).contains("\uFFFD"));
        }
    }
}
