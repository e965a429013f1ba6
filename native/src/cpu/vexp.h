// Vectorised exp and the row loops built on it, shared by the sampler and the RL losses (jalign::cpu).
//
// Shape legend: n = elements of one row (V, the vocabulary, in the callers).
//
// exp: Cephes-style. n = rint(x*log2(e)) by the 1.5*2^23 trick, r = x - n*ln2 (two-part ln2), a degree-6
// polynomial for exp(r) on [-ln2/2, ln2/2], scaled by 2^n built in the exponent bits. Relative error about
// 2 ulp on [-87.3, 88]; x < -87.33 (including -inf) gives exactly 0; exp(0) == 1 exactly.
// The AVX2 version (8 lanes, FMA), the AVX-512 version (16 lanes, for paths dispatched at run time) and the
// scalar version (used for loop tails and without AVX2) perform the same operations in the same order, so they
// return bit-identical results.
//
// Why intrinsics: written as plain scalar code, gcc (without -fno-trapping-math, which the library does not
// use) keeps the clamps as branches and refuses to vectorise the loop ("control flow in loop"); the loops below
// are the hot loops, so they are written out for AVX2 with a scalar fallback.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define JALIGN_VEXP_AVX2 1
#endif

namespace jalign {
namespace cpu {
namespace vx {

constexpr float kExpHi = 88.0f;
constexpr float kExpLo = -87.33654475f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
constexpr int32_t kMagicBits = 0x4B400000;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

}  // namespace vx

static inline float vexp(float x) {
  using namespace vx;
  float xc = x < kExpHi ? x : kExpHi;
  xc = xc > kExpLo ? xc : kExpLo;
  const float t = std::fma(xc, kLog2e, kMagic);
  int32_t tb;
  std::memcpy(&tb, &t, sizeof(tb));
  const float n = t - kMagic;
  float r = std::fma(-n, kLn2Hi, xc);
  r = std::fma(-n, kLn2Lo, r);
  float p = std::fma(kP0, r, kP1);
  p = std::fma(p, r, kP2);
  p = std::fma(p, r, kP3);
  p = std::fma(p, r, kP4);
  p = std::fma(p, r, kP5);
  const float r2 = r * r;
  p = std::fma(p, r2, r);
  p = p + 1.0f;
  const int32_t bits = (tb - kMagicBits + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return x >= kExpLo ? p * scale : 0.0f;
}

#ifdef JALIGN_VEXP_AVX2
static inline __m256 vexp8(__m256 x) {
  using namespace vx;
  const __m256 lo = _mm256_set1_ps(kExpLo);
  __m256 xc = _mm256_min_ps(x, _mm256_set1_ps(kExpHi));
  xc = _mm256_max_ps(xc, lo);
  const __m256 t = _mm256_fmadd_ps(xc, _mm256_set1_ps(kLog2e), _mm256_set1_ps(kMagic));
  const __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(kMagic));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kP0), r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(kMagicBits)),
                       _mm256_set1_epi32(127)),
      23);
  const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  return _mm256_and_ps(y, _mm256_cmp_ps(x, lo, _CMP_GE_OQ));
}

// The same exp on 16 lanes (same operations, same results) for AVX-512 paths chosen at run time; callers carry
// JALIGN_AVX512_TARGET themselves and run only where the CPU reports avx512f and avx512dq (vexp16_supported()).
#define JALIGN_AVX512_TARGET __attribute__((target("avx512f,avx512dq,fma")))
static inline bool vexp16_supported() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return has;
}

JALIGN_AVX512_TARGET static inline __m512 vexp16(__m512 x) {
  using namespace vx;
  const __m512 lo = _mm512_set1_ps(kExpLo);
  __m512 xc = _mm512_min_ps(x, _mm512_set1_ps(kExpHi));
  xc = _mm512_max_ps(xc, lo);
  const __m512 t = _mm512_fmadd_ps(xc, _mm512_set1_ps(kLog2e), _mm512_set1_ps(kMagic));
  const __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(kMagic));
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kP0), r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  const __m512 r2 = _mm512_mul_ps(r, r);
  p = _mm512_fmadd_ps(p, r2, r);
  p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(
      _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(kMagicBits)),
                       _mm512_set1_epi32(127)),
      23);
  const __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ), y);
}

// Sum of the 8 lanes in a fixed order.
static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// Largest of x[0, n) (-inf for n == 0).
static inline float row_max(const float* x, int64_t n) {
  float m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
}

// e_j = exp((x_j - m) * scale) stored; returns sum_j e_j.
static inline float exp_store_sum(float* e, const float* x, int64_t n, float m, float scale) {
  int64_t j = 0;
  float s = 0.0f;
#ifdef JALIGN_VEXP_AVX2
  const __m256 vm = _mm256_set1_ps(m), vs = _mm256_set1_ps(scale);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; j + 16 <= n; j += 16) {
    const __m256 e0 = vexp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm), vs));
    const __m256 e1 = vexp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vm), vs));
    _mm256_storeu_ps(e + j, e0);
    _mm256_storeu_ps(e + j + 8, e1);
    acc0 = _mm256_add_ps(acc0, e0);
    acc1 = _mm256_add_ps(acc1, e1);
  }
  s = hsum8(_mm256_add_ps(acc0, acc1));
#endif
  for (; j < n; j++) {
    const float v = vexp((x[j] - m) * scale);
    e[j] = v;
    s += v;
  }
  return s;
}

// sum_j exp(x_j - m), nothing stored.
static inline float exp_sum(const float* x, int64_t n, float m) {
  int64_t j = 0;
  float s = 0.0f;
#ifdef JALIGN_VEXP_AVX2
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; j + 16 <= n; j += 16) {
    acc0 = _mm256_add_ps(acc0, vexp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm)));
    acc1 = _mm256_add_ps(acc1, vexp8(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vm)));
  }
  s = hsum8(_mm256_add_ps(acc0, acc1));
#endif
  for (; j < n; j++) s += vexp(x[j] - m);
  return s;
}

// With z_j = x_j - m, e_j = exp(z_j): s = sum e_j, t = sum e_j * z_j (terms with e_j == 0 count 0, so
// -inf logits add nothing).
static inline void exp_sum_ez(const float* x, int64_t n, float m, float& s_out, float& t_out) {
  int64_t j = 0;
  float s = 0.0f, t = 0.0f;
#ifdef JALIGN_VEXP_AVX2
  const __m256 vm = _mm256_set1_ps(m), zero = _mm256_setzero_ps();
  __m256 as = zero, at = zero;
  for (; j + 8 <= n; j += 8) {
    const __m256 z = _mm256_sub_ps(_mm256_loadu_ps(x + j), vm);
    const __m256 e = vexp8(z);
    as = _mm256_add_ps(as, e);
    const __m256 ez = _mm256_and_ps(_mm256_mul_ps(e, z), _mm256_cmp_ps(e, zero, _CMP_GT_OQ));
    at = _mm256_add_ps(at, ez);
  }
  s = hsum8(as);
  t = hsum8(at);
#endif
  for (; j < n; j++) {
    const float z = x[j] - m;
    const float e = vexp(z);
    s += e;
    t += e > 0.0f ? e * z : 0.0f;
  }
  s_out = s;
  t_out = t;
}

// PPO gradient row: lp_j = x_j - lse, p_j = exp(lp_j), dx_j = p_j * (a + c1*lp_j) (0 where p_j == 0).
// dx may be exactly x (each element is read before it is written).
static inline void softmax_affine_grad(float* dx, const float* x, int64_t n, float lse, float a, float c1) {
  int64_t j = 0;
#ifdef JALIGN_VEXP_AVX2
  const __m256 vl = _mm256_set1_ps(lse), va = _mm256_set1_ps(a), vc = _mm256_set1_ps(c1),
               zero = _mm256_setzero_ps();
  for (; j + 8 <= n; j += 8) {
    const __m256 lp = _mm256_sub_ps(_mm256_loadu_ps(x + j), vl);
    const __m256 p = vexp8(lp);
    const __m256 g = _mm256_mul_ps(p, _mm256_fmadd_ps(vc, lp, va));
    _mm256_storeu_ps(dx + j, _mm256_and_ps(g, _mm256_cmp_ps(p, zero, _CMP_GT_OQ)));
  }
#endif
  for (; j < n; j++) {
    const float lp = x[j] - lse;
    const float p = vexp(lp);
    dx[j] = p > 0.0f ? p * std::fma(c1, lp, a) : 0.0f;
  }
}

// Count and sum of the elements of a[0, n) with lo <= a_j < hi.
static inline void tally_range(const float* a, int64_t n, float lo, float hi, float& count, float& mass) {
  int64_t j = 0;
  float c = 0.0f, w = 0.0f;
#ifdef JALIGN_VEXP_AVX2
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), one = _mm256_set1_ps(1.0f);
  __m256 ac = _mm256_setzero_ps(), aw = _mm256_setzero_ps();
  for (; j + 8 <= n; j += 8) {
    const __m256 v = _mm256_loadu_ps(a + j);
    const __m256 in = _mm256_and_ps(_mm256_cmp_ps(v, vlo, _CMP_GE_OQ), _mm256_cmp_ps(v, vhi, _CMP_LT_OQ));
    ac = _mm256_add_ps(ac, _mm256_and_ps(in, one));
    aw = _mm256_add_ps(aw, _mm256_and_ps(in, v));
  }
  c = hsum8(ac);
  w = hsum8(aw);
#endif
  for (; j < n; j++) {
    const bool in = (a[j] >= lo) & (a[j] < hi);
    c += in ? 1.0f : 0.0f;
    w += in ? a[j] : 0.0f;
  }
  count = c;
  mass = w;
}

// Sum of the elements of a[0, n) that are >= t.
static inline float sum_at_least(const float* a, int64_t n, float t) {
  int64_t j = 0;
  float s = 0.0f;
#ifdef JALIGN_VEXP_AVX2
  const __m256 vt = _mm256_set1_ps(t);
  __m256 acc = _mm256_setzero_ps();
  for (; j + 8 <= n; j += 8) {
    const __m256 v = _mm256_loadu_ps(a + j);
    acc = _mm256_add_ps(acc, _mm256_and_ps(v, _mm256_cmp_ps(v, vt, _CMP_GE_OQ)));
  }
  s = hsum8(acc);
#endif
  for (; j < n; j++) s += a[j] >= t ? a[j] : 0.0f;
  return s;
}

#ifdef JALIGN_VEXP_AVX2
// Lane permutations that move the lanes selected by an 8-bit mask to the front, in order.
static inline const int32_t* compact_lut() {
  static const struct Lut {
    int32_t idx[256][8];
    Lut() {
      for (int m = 0; m < 256; m++) {
        int k = 0;
        for (int l = 0; l < 8; l++)
          if (m & (1 << l)) idx[m][k++] = l;
        for (; k < 8; k++) idx[m][k] = 0;
      }
    }
  } lut;
  return &lut.idx[0][0];
}
#endif

// Copies the elements of in[0, n) with lo <= v < hi to out (in order); returns how many. out may be in.
static inline int64_t compact_range(float* out, const float* in, int64_t n, float lo, float hi) {
  int64_t j = 0, k = 0;
#ifdef JALIGN_VEXP_AVX2
  const int32_t* lut = compact_lut();
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (; j + 8 <= n; j += 8) {
    const __m256 v = _mm256_loadu_ps(in + j);
    const int m = _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(v, vlo, _CMP_GE_OQ), _mm256_cmp_ps(v, vhi, _CMP_LT_OQ)));
    if (m == 0) continue;
    const __m256i idx = _mm256_loadu_si256((const __m256i*)(lut + 8 * m));
    _mm256_storeu_ps(out + k, _mm256_permutevar8x32_ps(v, idx));  // k <= j: never past the lanes just read
    k += __builtin_popcount((unsigned)m);
  }
#endif
  for (; j < n; j++) {
    const float v = in[j];
    if (v >= lo && v < hi) out[k++] = v;
  }
  return k;
}

}  // namespace cpu
}  // namespace jalign
