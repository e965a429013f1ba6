package org.jalign.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ByteTokenizerTest {
    final ByteTokenizer tok = new ByteTokenizer();

    @Test
    void idsAreBytesThenSpecials() {
        assertEquals(256 + 6, tok.vocabSize());
        assertArrayEquals(new int[] {'h', 'i', 0xC3, 0xA9}, tok.encode("hié"));
        for (int i = 0; i < Tokenizer.STANDARD_SPECIALS.size(); i++) {
            assertEquals(256 + i, tok.tokenId(Tokenizer.STANDARD_SPECIALS.get(i)));
        }
        assertEquals(Tokenizer.ASSISTANT, tok.tokenText(tok.tokenId(Tokenizer.ASSISTANT)));
    }

    @Test
    void specialsOnlyWhenAsked() {
        String s = "a<|end|>b";
        assertEquals(s.length(), tok.encode(s).length);
        assertArrayEquals(new int[] {'a', tok.tokenId(Tokenizer.END), 'b'}, tok.encodeWithSpecials(s));
        assertEquals(s, tok.decode(tok.encodeWithSpecials(s)));
    }

    @Test
    void losslessAndTolerantDecode() {
        Random rnd = new Random(4);
        for (int i = 0; i < 100; i++) {
            String s = TextFixtures.randomText(rnd, rnd.nextInt(50));
            assertEquals(s, tok.decode(tok.encode(s)));
        }
        assertEquals("\uFFFD", tok.decode(new int[] {0xE6, 0x97})); // first two bytes of 日
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {262}));
    }

    @Test
    void serialisesAndDispatchesOnType() {
        ByteTokenizer custom = new ByteTokenizer(List.of("<|a|>", "<|bb|>"));
        Tokenizer back = Tokenizer.fromBytes(custom.toBytes());
        assertTrue(back instanceof ByteTokenizer);
        assertEquals(custom.specials(), back.specials());
        assertArrayEquals(custom.encodeWithSpecials("x<|bb|>y<|a|>"), back.encodeWithSpecials("x<|bb|>y<|a|>"));
        assertThrows(IllegalArgumentException.class, () -> new ByteTokenizer(List.of("<|a|>", "<|a|>")));
    }

    @Test
    void longestSpecialWinsAtTheSamePosition() {
        ByteTokenizer t = new ByteTokenizer(List.of("<|a|>", "<|a|>x"));
        assertArrayEquals(new int[] {257, 'y'}, t.encodeWithSpecials("<|a|>xy"));
    }
}
