package org.jalign.io;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Random corruptions of a valid file: opening and reading either succeed or fail with SafeTensorsException. */
class SafeTensorsFuzzTest {
    @TempDir Path dir;

    @Test
    void corruptedFilesFailCleanly() throws IOException {
        Path good = dir.resolve("good.safetensors");
        SafeTensors.writer().metadata("k", "v").add("a", new float[] {1, 2, 3, 4}, 2, 2)
                .add("b", SafeTensors.Dtype.BF16, new float[] {5, 6}, 2).add("c", SafeTensors.Dtype.F16, new float[3], 3)
                .write(good);
        byte[] base = Files.readAllBytes(good);
        Random rnd = new Random(13);
        Path p = dir.resolve("fuzz.safetensors");
        byte[] digits = "0123456789-.e[]{}\",: ".getBytes();
        for (int t = 0; t < 800; t++) {
            byte[] b = base.clone();
            int edits = 1 + rnd.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int pos = rnd.nextInt(b.length);
                b[pos] = rnd.nextBoolean() ? (byte) rnd.nextInt(256) : digits[rnd.nextInt(digits.length)];
            }
            if (rnd.nextInt(10) == 0) b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length));
            Files.write(p, b);
            try (SafeTensors st = SafeTensors.open(p)) {
                for (String name : st.names()) {
                    if (st.info(name).dtype().isFloat()) st.readFloats(name);
                }
            } catch (SafeTensorsException expected) {
                // a clear rejection
            } catch (RuntimeException | IOException | OutOfMemoryError e) {
                fail("corruption " + t + " raised " + e, e);
            }
        }
    }
}
