package org.jalign.io;

/**
 * Conversions between float and the 16-bit formats IEEE binary16 (F16) and bfloat16 (BF16), rounding to
 * nearest, ties to even; NaN stays NaN (quiet), infinities and signed zeros are kept, values too large for
 * F16 become infinity, values too small become subnormals or zero.
 */
public final class HalfFloats {
    private HalfFloats() {}

    /** bfloat16 bits → float (exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float → bfloat16 bits, round to nearest even. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7FFFFFFF) > 0x7F800000) return (short) ((x >>> 16) | 0x0040); // NaN: keep sign, force quiet
        int rounded = x + 0x7FFF + ((x >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** binary16 bits → float (exact). */
    public static float f16ToFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13)); // inf / NaN
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal or zero: mant × 2^-24, exact in float
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** float → binary16 bits, round to nearest even. */
    public static short floatToF16(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int abs = x & 0x7FFFFFFF;
        if (abs > 0x7F800000) return (short) (sign | 0x7E00 | ((abs >>> 13) & 0x3FF)); // NaN, quiet
        if (abs >= 0x477FF000) return (short) (sign | 0x7C00); // ≥ 65520 rounds to infinity
        int exp = abs >>> 23; // biased float exponent
        if (exp >= 113) { // normal half: exponent ≥ -14
            int mant = abs & 0x7FFFFF;
            int h = ((exp - 112) << 10) | (mant >>> 13);
            int rest = mant & 0x1FFF;
            if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++; // may carry into the exponent: correct
            return (short) (sign | h);
        }
        if (exp < 102) return (short) sign; // below half the smallest subnormal (2^-25): rounds to zero
        // subnormal half: value = m × 2^-24 with m = (1.mant) × 2^(exp-127+24)
        int mant = (abs & 0x7FFFFF) | 0x800000; // 24-bit significand
        int shift = 126 - exp; // 14 + (113 - exp - 1) ... total right shift to units of 2^-24
        int m = mant >>> shift;
        int rest = mant & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rest > half || (rest == half && (m & 1) != 0)) m++;
        return (short) (sign | m);
    }
}
