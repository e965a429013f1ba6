// Llama-family ops on the CPU: RMSNorm, rotary position embedding (RoPE, rotate-half), SwiGLU. fp32, with the
// semantics of Hugging Face's LlamaRMSNorm, apply_rotary_pos_emb and LlamaMLP's act_fn(gate) * up.
//
// Shape legend: B = batch, T = time, C = channels, N = rows (B*T), H = heads of one rotated block, HS = head
// size (even), F = intermediate width (gu holds the gate then the up projection, 2F columns per row).
//
// RMSNorm and RoPE are plain loops with `omp simd`, which g++ turns into AVX2/FMA code: a few flops per element
// loaded (RoPE's own cost at small H is the sincosf per token and frequency). SwiGLU needs exp and a divide per
// element and is bound by them, so it is written out with the vectorised exp of vexp.h: AVX-512 lanes where the
// CPU has them (chosen at run time; twice the AVX2 rate on this EPYC with the data in cache), then AVX2 lanes,
// then a scalar tail, all performing the same operations in the same order (an element's result does not depend
// on where it sits in the row or which path the CPU takes).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/vexp.h"
#include "cpu/work_split.h"

namespace jalign {
namespace cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;  // below this many elements, stay on one thread
constexpr int64_t kMinSlotRows = 16;       // rows per partial sum of the RMSNorm weight gradient, at least
}  // namespace

// ------------------------------------------------------------------------------------------------- RMSNorm
// out = (x * rstd) * weight with rstd = 1 / sqrt(mean(x^2) + eps): HF computes the variance in fp32 and applies
// the weight after normalising, in that order.

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C,
                     float eps) {
#pragma omp parallel for schedule(static) if (N * C > kParallelMin)
  for (int64_t i = 0; i < N; i++) {
    const float* x = inp + i * C;
    float ss = 0.f;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < C; c++) ss += x[c] * x[c];
    const float r = 1.0f / std::sqrt(ss / C + eps);
    float* o = out + i * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) o[c] = (x[c] * r) * weight[c];
    if (rstd) rstd[i] = r;
  }
}

// With xhat = x * rstd and dn = dout * weight:
//   dinp += rstd * (dn - xhat * mean(dn * xhat)),  dweight += sum over rows of dout * xhat.
// One pass over the rows: the rows are cut into slots by the shape and the machine (work_slots()), never by the
// thread count; each slot sums its rows' dout * xhat in row order into its own partial, and the partials are added
// to dweight in slot order, so dweight has the same bits under any OMP_NUM_THREADS.
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t N, int64_t C) {
  const int64_t slots = std::max<int64_t>(1, std::min<int64_t>(work_slots(), N / kMinSlotRows));
  const int64_t per_slot = (N + slots - 1) / slots;
  std::vector<float> partial((size_t)(slots * C), 0.0f);
#pragma omp parallel for schedule(static) if (N * C > kParallelMin)
  for (int64_t s = 0; s < slots; s++) {
    float* pw = partial.data() + s * C;
    const int64_t i1 = std::min(N, (s + 1) * per_slot);
    for (int64_t i = s * per_slot; i < i1; i++) {
      const float* x = inp + i * C;
      const float* g = dout + i * C;
      const float r = rstd[i];
      float dot = 0.f;  // sum of dn * x
#pragma omp simd reduction(+ : dot)
      for (int64_t c = 0; c < C; c++) dot += (g[c] * weight[c]) * x[c];
      const float k = (dot / C) * r * r;  // mean(dn * xhat) * rstd
      float* dx = dinp + i * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        dx[c] += r * (g[c] * weight[c] - x[c] * k);
        pw[c] += g[c] * (x[c] * r);
      }
    }
  }
#pragma omp parallel for schedule(static) if (slots * C > kParallelMin)
  for (int64_t c = 0; c < C; c++) {
    float sum = 0.f;
    for (int64_t s = 0; s < slots; s++) sum += partial[(size_t)(s * C + c)];
    dweight[c] += sum;
  }
}

// ----------------------------------------------------------------------------------------------------- RoPE
// Rotate-half: for each head vector, pairs (d, d + HS/2) rotate by angle = pos * inv_freq[d]:
//   x1' = x1*cos - x2*sin,  x2' = x2*cos + x1*sin.
// The angle is the fp32 product, as HF forms it (inv_freq @ position_ids in fp32); cos and sin are libm's fp32
// sincosf of that fp32 angle (within 1 ulp). inverse rotates by -angle: the transpose, i.e. the backward.
// The cos/sin of a token are computed once and shared by its H heads; at small H they are most of the cost.
void rope(float* x, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T, int64_t H,
          int64_t HS, bool inverse) {
  const int64_t half = HS / 2;
  const float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel if (B * T * H * HS > kParallelMin)
  {
    std::vector<float> cs((size_t)half), sn((size_t)half);
#pragma omp for schedule(static)
    for (int64_t bt = 0; bt < B * T; bt++) {
      const float p = (float)pos[bt];
      for (int64_t d = 0; d < half; d++) {
        float s, c;
        sincosf(p * inv_freq[d], &s, &c);
        cs[(size_t)d] = c;
        sn[(size_t)d] = sign * s;
      }
      float* row = x + bt * ld;  // b*T*ld + t*ld
      for (int64_t h = 0; h < H; h++) {
        float* x1 = row + h * HS;
        float* x2 = x1 + half;
        const float* c = cs.data();
        const float* s = sn.data();
#pragma omp simd
        for (int64_t d = 0; d < half; d++) {
          const float a = x1[d], b = x2[d];
          x1[d] = a * c[d] - b * s[d];
          x2[d] = b * c[d] + a * s[d];
        }
      }
    }
  }
}

// --------------------------------------------------------------------------------------------------- SwiGLU
// out = silu(g) * u with silu(g) = g * s, s = 1 / (1 + e), e = exp(-g) (vexp). The derivative is
// silu'(g) = s + g * s * (1 - s), with 1 - s taken as e * s, which keeps its precision where s is close to 1.
// HF's torch computes silu as g / (1 + exp(-g)); the product form differs from it by at most an ulp or so.
namespace {

inline float silu_sigma(float g, float& e) {
  e = vexp(-g);
  return 1.0f / (1.0f + e);
}

#ifdef JALIGN_VEXP_AVX2
inline __m256 silu_sigma8(__m256 g, __m256& e) {
  const __m256 one = _mm256_set1_ps(1.0f);
  e = vexp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

// GCC 12 flags the self-initialised "undefined" vectors inside the AVX-512 intrinsic headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
JALIGN_AVX512_TARGET inline __m512 silu_sigma16(__m512 g, __m512& e) {
  const __m512 one = _mm512_set1_ps(1.0f);
  e = vexp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_div_ps(one, _mm512_add_ps(one, e));
}

// The AVX-512 part of a row: elements [0, F rounded down to 16); returns where the AVX2 lanes go on.
JALIGN_AVX512_TARGET int64_t swiglu_forward_row16(float* o, const float* g, const float* u, int64_t F) {
  int64_t j = 0;
  for (; j + 16 <= F; j += 16) {
    __m512 e;
    const __m512 gv = _mm512_loadu_ps(g + j);
    const __m512 s = silu_sigma16(gv, e);
    _mm512_storeu_ps(o + j, _mm512_mul_ps(_mm512_mul_ps(gv, s), _mm512_loadu_ps(u + j)));
  }
  return j;
}

JALIGN_AVX512_TARGET int64_t swiglu_backward_row16(float* dg, float* du, const float* d, const float* g,
                                                   const float* u, int64_t F) {
  int64_t j = 0;
  for (; j + 16 <= F; j += 16) {
    __m512 e;
    const __m512 gv = _mm512_loadu_ps(g + j), uv = _mm512_loadu_ps(u + j), dv = _mm512_loadu_ps(d + j);
    const __m512 s = silu_sigma16(gv, e);
    const __m512 silu = _mm512_mul_ps(gv, s);
    const __m512 dsilu = _mm512_fmadd_ps(silu, _mm512_mul_ps(e, s), s);
    _mm512_storeu_ps(dg + j, _mm512_fmadd_ps(_mm512_mul_ps(dv, uv), dsilu, _mm512_loadu_ps(dg + j)));
    _mm512_storeu_ps(du + j, _mm512_fmadd_ps(dv, silu, _mm512_loadu_ps(du + j)));
  }
  return j;
}
#pragma GCC diagnostic pop
#endif

// The AVX-512 lanes run where the CPU has them, unless JALIGN_CPU_AVX512=0 (same results either way; for
// measuring one path against the other).
bool use_avx512() {
#ifdef JALIGN_VEXP_AVX2
  static const bool use = vexp16_supported() && !(std::getenv("JALIGN_CPU_AVX512") &&
                                                std::strcmp(std::getenv("JALIGN_CPU_AVX512"), "0") == 0);
  return use;
#else
  return false;
#endif
}

// Runs body(row) over the N rows, rows spread over the threads.
template <class Body>
void over_rows(int64_t N, int64_t F, const Body& body) {
#pragma omp parallel for schedule(static) if (N * F > kParallelMin)
  for (int64_t i = 0; i < N; i++) body(i);
}
}  // namespace

void swiglu_forward(float* out, const float* gu, int64_t N, int64_t F) {
  const bool avx512 = use_avx512();
  over_rows(N, F, [&](int64_t i) {
    const float* g = gu + i * 2 * F;
    const float* u = g + F;
    float* o = out + i * F;
    int64_t j = 0;
#ifdef JALIGN_VEXP_AVX2
    if (avx512) j = swiglu_forward_row16(o, g, u, F);
    for (; j + 8 <= F; j += 8) {
      __m256 e;
      const __m256 gv = _mm256_loadu_ps(g + j);
      const __m256 s = silu_sigma8(gv, e);
      _mm256_storeu_ps(o + j, _mm256_mul_ps(_mm256_mul_ps(gv, s), _mm256_loadu_ps(u + j)));
    }
#endif
    for (; j < F; j++) {
      float e;
      const float s = silu_sigma(g[j], e);
      o[j] = (g[j] * s) * u[j];
    }
  });
}

void swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F) {
  const bool avx512 = use_avx512();
  over_rows(N, F, [&](int64_t i) {
    const float* g = gu + i * 2 * F;
    const float* u = g + F;
    const float* d = dout + i * F;
    float* dg = dgu + i * 2 * F;
    float* du = dg + F;
    int64_t j = 0;
#ifdef JALIGN_VEXP_AVX2
    if (avx512) j = swiglu_backward_row16(dg, du, d, g, u, F);
    for (; j + 8 <= F; j += 8) {
      __m256 e;
      const __m256 gv = _mm256_loadu_ps(g + j), uv = _mm256_loadu_ps(u + j), dv = _mm256_loadu_ps(d + j);
      const __m256 s = silu_sigma8(gv, e);
      const __m256 silu = _mm256_mul_ps(gv, s);
      const __m256 dsilu = _mm256_fmadd_ps(silu, _mm256_mul_ps(e, s), s);
      _mm256_storeu_ps(dg + j, _mm256_fmadd_ps(_mm256_mul_ps(dv, uv), dsilu, _mm256_loadu_ps(dg + j)));
      _mm256_storeu_ps(du + j, _mm256_fmadd_ps(dv, silu, _mm256_loadu_ps(du + j)));
    }
#endif
    for (; j < F; j++) {
      float e;
      const float s = silu_sigma(g[j], e);
      const float silu = g[j] * s;
      const float dsilu = std::fma(silu, e * s, s);
      dg[j] = std::fma(d[j] * u[j], dsilu, dg[j]);
      du[j] = std::fma(d[j], silu, du[j]);
    }
  });
}

}  // namespace cpu
}  // namespace jalign
