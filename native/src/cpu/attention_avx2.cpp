// AVX2+FMA build of the tiled flash-attention engine (attention_engine.h): 8 float lanes, 32-row tiles.
// This is the baseline every x86-64 build of jalign runs on (-mavx2 -mfma).
//
// Shape legend: B = batch, T = time, C = channels, NH = heads, HS = head size.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include <immintrin.h>

#include "cpu/attention_internal.h"

namespace jalign {
namespace cpu {
namespace attn {
namespace avx2 {
namespace {

#define JALIGN_AI static inline __attribute__((always_inline))
struct S {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int ACC_REGS = 12;  // accumulators of the register block (16 ymm registers)
  JALIGN_AI V load(const float* p) { return _mm256_loadu_ps(p); }
  JALIGN_AI void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  JALIGN_AI V set1(float x) { return _mm256_set1_ps(x); }
  JALIGN_AI V zero() { return _mm256_setzero_ps(); }
  JALIGN_AI V add(V a, V b) { return _mm256_add_ps(a, b); }
  JALIGN_AI V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  JALIGN_AI V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  JALIGN_AI V max(V a, V b) { return _mm256_max_ps(a, b); }
  JALIGN_AI V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  JALIGN_AI V iota() { return _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7); }
  JALIGN_AI float hsum(V a) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
  }
  // dst[c*ldd + r] = src[r*lds + c] for an 8 x 8 block.
  JALIGN_AI void transpose(const float* src, int64_t lds, float* dst, int64_t ldd) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
      r[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
      t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
      t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ldd, t[i]);
  }
  // x > y ? val : a
  JALIGN_AI V select_gt(V x, V y, V a, V val) { return _mm256_blendv_ps(a, val, _mm256_cmp_ps(x, y, _CMP_GT_OQ)); }
  // 2^x for x <= 0 (inputs below -127, including -inf, give exactly 0); relative error ~2e-7.
  JALIGN_AI V exp2(V x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-127.f));
    x = _mm256_min_ps(x, _mm256_set1_ps(127.f));
    const V n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const V f = _mm256_sub_ps(x, n);
    V p = _mm256_set1_ps(1.5403530393381608e-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558146428443e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291076284772e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504108664821580e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022650695910071e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718055994531e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
};
#undef JALIGN_AI

}  // namespace

#include "cpu/attention_engine.h"

}  // namespace avx2
}  // namespace attn
}  // namespace cpu
}  // namespace jalign
