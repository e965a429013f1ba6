package org.jalign.text.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jalign.text.BpeTokenizer;
import org.jalign.text.Tokenizer;

/**
 * Measures BPE training and encoding throughput on a text file (not a unit test; run by hand):
 * <pre>java -cp ... org.jalign.text.bench.BpeTrainBench corpus.txt [vocabSize]</pre>
 * Prints training seconds, encode MB/s (after one warm-up pass) and compression (bytes per token).
 */
public final class BpeTrainBench {
    public static void main(String[] args) throws Exception {
        String text = Files.readString(Path.of(args[0]), StandardCharsets.UTF_8);
        int vocab = args.length > 1 ? Integer.parseInt(args[1]) : 2048;
        double mb = text.getBytes(StandardCharsets.UTF_8).length / 1e6;
        long t0 = System.nanoTime();
        BpeTokenizer tok = BpeTokenizer.train(text, vocab, Tokenizer.STANDARD_SPECIALS);
        double train = (System.nanoTime() - t0) / 1e9;
        System.out.printf("train: %.2f MB corpus -> %d tokens (%d merges) in %.2f s%n", mb, tok.vocabSize(), tok.mergeCount(), train);
        int n = 0;
        for (int rep = 0; rep < 3; rep++) {
            BpeTokenizer fresh = (BpeTokenizer) Tokenizer.fromBytes(tok.toBytes()); // cold cache each pass
            long t1 = System.nanoTime();
            n = fresh.encode(text).length;
            double s = (System.nanoTime() - t1) / 1e9;
            System.out.printf("encode pass %d (cold cache): %.1f MB/s, %d tokens, %.2f bytes/token%n", rep, mb / s, n, mb * 1e6 / n);
        }
        long t2 = System.nanoTime();
        tok.encode(text);
        tok.encode(text);
        System.out.printf("encode (warm cache): %.1f MB/s%n", 2 * mb / ((System.nanoTime() - t2) / 1e9));
    }
}
