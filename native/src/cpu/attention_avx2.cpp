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
