package org.jalign.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** F16/BF16 conversions against plain double-precision references, exhaustively where possible. */
class HalfFloatsTest {

    /** Reference F16 decode: (-1)^s × 2^(e-15) × (1 + m/1024), subnormals 2^-14 × m/1024. */
    static double refF16(int h) {
        int s = (h >>> 15) & 1, e = (h >>> 10) & 0x1F, m = h & 0x3FF;
        double sign = s == 1 ? -1 : 1;
        if (e == 0x1F) return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        if (e == 0) return sign * Math.scalb(m / 1024.0, -14);
        return sign * Math.scalb(1 + m / 1024.0, e - 15);
    }

    @Test
    void f16DecodeIsExactForAll65536Patterns() {
        for (int h = 0; h < 65536; h++) {
            double ref = refF16(h);
            float got = HalfFloats.f16ToFloat((short) h);
            if (Double.isNaN(ref)) {
                assertTrue(Float.isNaN(got));
            } else {
                assertEquals(ref, got, 0.0, "pattern " + Integer.toHexString(h));
                assertEquals(Double.doubleToRawLongBits(ref) < 0, Float.floatToRawIntBits(got) < 0, "sign of " + h);
            }
        }
    }

    @Test
    void f16EncodeRoundTripsEveryHalf() {
        for (int h = 0; h < 65536; h++) {
            float f = HalfFloats.f16ToFloat((short) h);
            short back = HalfFloats.floatToF16(f);
            if (Float.isNaN(f)) assertTrue(Float.isNaN(HalfFloats.f16ToFloat(back)));
            else assertEquals(h, back & 0xFFFF, "pattern " + Integer.toHexString(h));
        }
    }

    /** Reference encode: nearest finite half by exhaustive search (ties to even mantissa), with overflow rule. */
    static int refToF16(float f) {
        if (Math.abs((double) f) >= 65520.0) return f > 0 ? 0x7C00 : 0xFC00;
        int best = -1;
        double bestErr = Double.MAX_VALUE;
        int base = Float.floatToRawIntBits(f) < 0 ? 0x8000 : 0;
        for (int m = 0; m < 0x7C00; m++) {
            double err = Math.abs(refF16(base | m) - f);
            if (err < bestErr || (err == bestErr && (m & 1) == 0)) {
                best = base | m;
                bestErr = err;
            }
        }
        return best;
    }

    @Test
    void f16EncodeRoundsToNearestEven() {
        Random rnd = new Random(11);
        for (int i = 0; i < 400; i++) {
            float f;
            switch (i % 4) {
                case 0 -> f = (float) (rnd.nextGaussian() * 1000);
                case 1 -> f = (float) (rnd.nextGaussian() * 1e-5); // subnormal range
                case 2 -> { // exact midpoints between neighbouring halves
                    int h = rnd.nextInt(0x7BFF);
                    f = (float) ((refF16(h) + refF16(h + 1)) / 2);
                }
                default -> f = Float.intBitsToFloat(rnd.nextInt()) ;
            }
            if (Float.isNaN(f)) continue;
            if (Float.isInfinite(f)) continue;
            assertEquals(refToF16(f), HalfFloats.floatToF16(f) & 0xFFFF, "value " + f);
        }
        assertEquals(0x7C00, HalfFloats.floatToF16(Float.POSITIVE_INFINITY) & 0xFFFF);
        assertEquals(0x7BFF, HalfFloats.floatToF16(65519.99f) & 0xFFFF);
        assertEquals(0x7C00, HalfFloats.floatToF16(65520f) & 0xFFFF);
        assertEquals(0x8000, HalfFloats.floatToF16(-0f) & 0xFFFF);
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(Float.NaN))));
    }

    @Test
    void bf16RoundsToNearestEven() {
        Random rnd = new Random(12);
        for (int i = 0; i < 100_000; i++) {
            float f = Float.intBitsToFloat(rnd.nextInt());
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(f))));
                continue;
            }
            short b = HalfFloats.floatToBf16(f);
            double got = HalfFloats.bf16ToFloat(b);
            int hi = Float.floatToRawIntBits(f) & 0xFFFF0000;
            double down = Float.intBitsToFloat(hi);
            double up = Float.intBitsToFloat(hi + 0x10000);
            if (Double.isInfinite(up)) up = Math.copySign(Math.scalb(1.0, 128), f); // unbounded-exponent neighbour
            double errDown = Math.abs(f - down), errUp = Math.abs(up - f);
            double expected = errDown < errUp ? down : errUp < errDown ? up : (((hi >>> 16) & 1) == 0 ? down : up);
            if (Math.abs(expected) == Math.scalb(1.0, 128)) expected = Math.copySign(Double.POSITIVE_INFINITY, f);
            assertEquals(expected, got, 0.0, "value " + f);
        }
        assertEquals((short) 0x3F80, HalfFloats.floatToBf16(1f));
        assertEquals((short) 0x3F80, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F808000))); // tie, even stays
        assertEquals((short) 0x3F82, HalfFloats.floatToBf16(Float.intBitsToFloat(0x3F818000))); // tie, odd rounds up
    }
}
