// AVX-512 build of the tiled flash-attention engine (attention_engine.h): 16 float lanes, 64-row tiles.
// Compiled with a function-level target so the library keeps its AVX2 baseline; attention.cpp calls it only
// when the CPU reports avx512f/bw/vl/dq.
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

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
// GCC 12 flags the self-initialised "undefined" vectors inside the AVX-512 intrinsic headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace jalign {
namespace cpu {
namespace attn {
namespace avx512 {
namespace {

#define JALIGN_AI static inline __attribute__((always_inline))
struct S {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int ACC_REGS = 24;  // accumulators of the register block (32 zmm registers)
  JALIGN_AI V load(const float* p) { return _mm512_loadu_ps(p); }
  JALIGN_AI void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  JALIGN_AI V set1(float x) { return _mm512_set1_ps(x); }
  JALIGN_AI V zero() { return _mm512_setzero_ps(); }
  JALIGN_AI V add(V a, V b) { return _mm512_add_ps(a, b); }
  JALIGN_AI V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  JALIGN_AI V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  JALIGN_AI V max(V a, V b) { return _mm512_max_ps(a, b); }
  JALIGN_AI V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  JALIGN_AI V iota() { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  JALIGN_AI float hsum(V a) { return _mm512_reduce_add_ps(a); }
  // dst[c*ldd + r] = src[r*lds + c] for a 16 x 16 block.
  JALIGN_AI void transpose(const float* src, int64_t lds, float* dst, int64_t ldd) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
      r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
      t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
      t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
      t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
      t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; ++i) {
      r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
      r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
  }
  // x > y ? val : a
  JALIGN_AI V select_gt(V x, V y, V a, V val) { return _mm512_mask_mov_ps(a, _mm512_cmp_ps_mask(x, y, _CMP_GT_OQ), val); }
  // 2^x for x <= 0 (inputs below -127, including -inf, give exactly 0); relative error ~2e-7.
  JALIGN_AI V exp2(V x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-127.f));
    x = _mm512_min_ps(x, _mm512_set1_ps(127.f));
    const V n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const V f = _mm512_sub_ps(x, n);
    V p = _mm512_set1_ps(1.5403530393381608e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
  }
};
#undef JALIGN_AI

}  // namespace

#include "cpu/attention_engine.h"

}  // namespace avx512
}  // namespace attn
}  // namespace cpu
}  // namespace jalign

#pragma GCC diagnostic pop
#pragma GCC pop_options
