package org.jalign.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.jalign.io.SafeTensors;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * safetensors read throughput of one 64 MB F32 tensor (and the same values as 32 MB of BF16), file in the page
 * cache; {@link RunBenchmarks} reports GB/s of tensor bytes.
 * <ul>
 *   <li>{@code rawRead} (baseline): FileChannel reads into a float[] with no validation;</li>
 *   <li>{@code readF32} / {@code readBf16}: SafeTensors.open (header validation) + readFloats.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class SafeTensorsBench {
    static final int FLOATS = 16 << 20;

    Path dir;
    Path f32File;
    Path bf16File;
    float[] dst;

    @Setup
    public void setup() throws IOException {
        dir = Files.createTempDirectory("jalign-bench");
        float[] w = new float[FLOATS];
        Random rnd = new Random(2);
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        f32File = dir.resolve("w32.safetensors");
        bf16File = dir.resolve("w16.safetensors");
        SafeTensors.writer().add("w", w, FLOATS / 1024, 1024).write(f32File);
        SafeTensors.writer().add("w", SafeTensors.Dtype.BF16, w, FLOATS / 1024, 1024).write(bf16File);
        dst = new float[FLOATS];
    }

    @TearDown
    public void tearDown() throws IOException {
        Files.deleteIfExists(f32File);
        Files.deleteIfExists(bf16File);
        Files.deleteIfExists(dir);
    }

    @Benchmark
    public float rawRead() throws IOException {
        try (FileChannel ch = FileChannel.open(f32File, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            long pos = 8 + len.flip().getLong();
            ByteBuffer chunk = ByteBuffer.allocate(1 << 22).order(ByteOrder.LITTLE_ENDIAN);
            int k = 0;
            while (k < FLOATS) {
                chunk.clear();
                int r = ch.read(chunk, pos);
                pos += r;
                chunk.flip();
                int count = chunk.remaining() / 4;
                chunk.asFloatBuffer().get(dst, k, count);
                k += count;
            }
        }
        return dst[FLOATS - 1];
    }

    @Benchmark
    public float readF32() throws IOException {
        try (SafeTensors st = SafeTensors.open(f32File)) {
            st.readFloats("w", dst, 0);
        }
        return dst[FLOATS - 1];
    }

    @Benchmark
    public float readBf16() throws IOException {
        try (SafeTensors st = SafeTensors.open(bf16File)) {
            st.readFloats("w", dst, 0);
        }
        return dst[FLOATS - 1];
    }

    /** Bytes of input per operation, for the GB/s column (NaN where not meaningful). */
    public static double bytes(String method) {
        return switch (method) {
            case "rawRead", "readF32" -> 4.0 * FLOATS;
            case "readBf16" -> 2.0 * FLOATS;
            default -> Double.NaN;
        };
    }
}
