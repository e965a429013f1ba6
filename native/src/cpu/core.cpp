// Core training ops on the CPU: embedding, layernorm, GELU, elementwise, gather/scatter, fused
// softmax-cross-entropy, AdamW, bf16 conversion. Plain loops with OpenMP and `omp simd` so g++ vectorises
// them (AVX2/FMA baseline). Shapes: B = batch, T = time, C = channels, V = vocab, N = rows.
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/vexp.h"

namespace jalign {
namespace cpu {

namespace {
constexpr int64_t kParallelMin = 1 << 14;  // below this many elements, stay on one thread
}

void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int64_t B, int64_t T,
                       int64_t C, int64_t pos_offset) {
#pragma omp parallel for collapse(2) schedule(static) if (B * T * C > kParallelMin)
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) {
      float* o = out + (b * T + t) * C;
      const float* we = wte + (int64_t)tokens[b * T + t] * C;
      const float* pe = wpe + (t + pos_offset) * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) o[c] = we[c] + pe[c];
    }
  }
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int64_t B, int64_t T,
                        int64_t C, int64_t pos_offset) {
  // Threads own disjoint channel ranges, so the scatter into dwte needs no atomics and is deterministic.
#pragma omp parallel for schedule(static) if (B * T * C > kParallelMin)
  for (int64_t c0 = 0; c0 < C; c0 += 16) {
    int64_t c1 = c0 + 16 < C ? c0 + 16 : C;
    for (int64_t b = 0; b < B; b++) {
      for (int64_t t = 0; t < T; t++) {
        const float* d = dout + (b * T + t) * C;
        float* we = dwte + (int64_t)tokens[b * T + t] * C;
        float* pe = dwpe + (t + pos_offset) * C;
        for (int64_t c = c0; c < c1; c++) {
          we[c] += d[c];
          pe[c] += d[c];
        }
      }
    }
  }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int64_t N, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if (N * C > kParallelMin)
  for (int64_t i = 0; i < N; i++) {
    const float* x = inp + i * C;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; c++) s += x[c];
    const float m = s / C;
    float v = 0.f;
#pragma omp simd reduction(+ : v)
    for (int64_t c = 0; c < C; c++) {
      float d = x[c] - m;
      v += d * d;
    }
    const float r = 1.0f / std::sqrt(v / C + eps);
    float* o = out + i * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) o[c] = (x[c] - m) * r * weight[c] + bias[c];
    if (mean) mean[i] = m;
    if (rstd) rstd[i] = r;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C) {
  // dinp per row (rows independent); dweight/dbias as column sums split by channel blocks.
#pragma omp parallel
  {
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < N; i++) {
      const float* x = inp + i * C;
      const float* d = dout + i * C;
      const float m = mean[i], r = rstd[i];
      float dnorm_mean = 0.f, dnorm_norm_mean = 0.f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
      for (int64_t c = 0; c < C; c++) {
        float n = (x[c] - m) * r;
        float dn = weight[c] * d[c];
        dnorm_mean += dn;
        dnorm_norm_mean += dn * n;
      }
      dnorm_mean /= C;
      dnorm_norm_mean /= C;
      float* di = dinp + i * C;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        float n = (x[c] - m) * r;
        float dn = weight[c] * d[c];
        di[c] += (dn - dnorm_mean - n * dnorm_norm_mean) * r;
      }
    }
#pragma omp for schedule(static)
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
      int64_t c1 = c0 + 32 < C ? c0 + 32 : C;
      float dw[32] = {0}, db[32] = {0};
      for (int64_t i = 0; i < N; i++) {
        const float* x = inp + i * C;
        const float* d = dout + i * C;
        const float m = mean[i], r = rstd[i];
        for (int64_t c = c0; c < c1; c++) {
          dw[c - c0] += (x[c] - m) * r * d[c];
          db[c - c0] += d[c];
        }
      }
      for (int64_t c = c0; c < c1; c++) {
        dweight[c] += dw[c - c0];
        dbias[c] += db[c - c0];
      }
    }
  }
}

// GELU, tanh form: gelu(x) = 0.5·x·(1 + tanh(u)), u = sqrt(2/pi)·(x + 0.044715·x³). Since 0.5·(1 + tanh(u)) is
// the logistic function at 2u, it is computed as gelu(x) = x·s with s = 1 / (1 + exp(-2u)), using the vectorised
// exp of vexp.h (a scalar tanh per element cost as much as the layer's matmuls). The derivative is
// gelu'(x) = s + x·2s(1 - s)·u'(x), u'(x) = sqrt(2/pi)·(1 + 3·0.044715·x²), with 1 - s taken as e·s
// (e = exp(-2u)), which keeps its precision where s is close to 1.
// The AVX2 lanes and the scalar tail perform the same operations in the same order: an element's result does not
// depend on where it sits in the array. Large |x| saturate cleanly: x -> +inf gives s = 1, x -> -inf gives s -> 0.
namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluNeg2Scale = -2.0f * kGeluScale;
constexpr float kGeluCubic = 0.044715f;
constexpr float kGeluCubic3 = 3.0f * 0.044715f;
constexpr int64_t kGeluBlock = 4096;  // elements per parallel work item (a multiple of 8)

// e = exp(-2u), with x2 = x·x.
inline float gelu_exp(float x, float x2) {
  return vexp((x * std::fma(kGeluCubic, x2, 1.0f)) * kGeluNeg2Scale);
}

// gelu'(x) from x, x2, e and s = 1 / (1 + e).
inline float gelu_grad(float x, float x2, float e, float s) {
  const float du = kGeluScale * std::fma(kGeluCubic3, x2, 1.0f);
  return std::fma((x * (2.0f * s)) * (e * s), du, s);
}

#ifdef JALIGN_VEXP_AVX2
inline __m256 gelu_exp8(__m256 x, __m256 x2) {
  return vexp8(_mm256_mul_ps(_mm256_mul_ps(x, _mm256_fmadd_ps(_mm256_set1_ps(kGeluCubic), x2, _mm256_set1_ps(1.0f))),
                             _mm256_set1_ps(kGeluNeg2Scale)));
}

inline __m256 gelu_sigma8(__m256 e) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

inline __m256 gelu_grad8(__m256 x, __m256 x2, __m256 e, __m256 s) {
  const __m256 du = _mm256_mul_ps(_mm256_set1_ps(kGeluScale),
                                  _mm256_fmadd_ps(_mm256_set1_ps(kGeluCubic3), x2, _mm256_set1_ps(1.0f)));
  const __m256 a = _mm256_mul_ps(_mm256_mul_ps(x, _mm256_mul_ps(_mm256_set1_ps(2.0f), s)), _mm256_mul_ps(e, s));
  return _mm256_fmadd_ps(a, du, s);
}
#endif

// Runs body(from, to) over [0, n) in blocks of kGeluBlock elements, the blocks spread over the threads.
template <class Body>
void over_gelu_blocks(int64_t n, const Body& body) {
  const int64_t blocks = (n + kGeluBlock - 1) / kGeluBlock;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t blk = 0; blk < blocks; blk++) {
    const int64_t from = blk * kGeluBlock;
    body(from, from + kGeluBlock < n ? from + kGeluBlock : n);
  }
}
}  // namespace

void gelu_forward(float* out, const float* inp, int64_t n) {
  over_gelu_blocks(n, [&](int64_t i, int64_t end) {
#ifdef JALIGN_VEXP_AVX2
    for (; i + 8 <= end; i += 8) {
      const __m256 x = _mm256_loadu_ps(inp + i);
      _mm256_storeu_ps(out + i, _mm256_mul_ps(x, gelu_sigma8(gelu_exp8(x, _mm256_mul_ps(x, x)))));
    }
#endif
    for (; i < end; i++) {
      const float x = inp[i];
      out[i] = x * (1.0f / (1.0f + gelu_exp(x, x * x)));
    }
  });
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n) {
  over_gelu_blocks(n, [&](int64_t i, int64_t end) {
#ifdef JALIGN_VEXP_AVX2
    for (; i + 8 <= end; i += 8) {
      const __m256 x = _mm256_loadu_ps(inp + i), x2 = _mm256_mul_ps(x, x);
      const __m256 e = gelu_exp8(x, x2);
      const __m256 g = gelu_grad8(x, x2, e, gelu_sigma8(e));
      _mm256_storeu_ps(dinp + i, _mm256_fmadd_ps(g, _mm256_loadu_ps(dout + i), _mm256_loadu_ps(dinp + i)));
    }
#endif
    for (; i < end; i++) {
      const float x = inp[i], x2 = x * x, e = gelu_exp(x, x2);
      dinp[i] = std::fma(gelu_grad(x, x2, e, 1.0f / (1.0f + e)), dout[i], dinp[i]);
    }
  });
}

void add(float* out, const float* a, const float* b, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void axpy(float* y, const float* x, float alpha, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void scale(float* x, float alpha, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) x[i] *= alpha;
}

double sum_squares(const float* x, int64_t n) {
  // Fixed blocks of 4096 summed in float, then the block sums added in order in double: the same bits
  // whatever the thread count.
  const int64_t nb = (n + 4095) / 4096;
  std::vector<double> part((size_t)nb);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t blk = 0; blk < nb; blk++) {
    const int64_t i0 = blk * 4096, i1 = i0 + 4096 < n ? i0 + 4096 : n;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = i0; i < i1; i++) s += x[i] * x[i];
    part[(size_t)blk] = s;
  }
  double total = 0.0;
  for (int64_t blk = 0; blk < nb; blk++) total += part[(size_t)blk];
  return total;
}

void gather_rows(float* out, const float* inp, const int32_t* idx, int64_t n, int64_t C) {
#pragma omp parallel for schedule(static) if (n * C > kParallelMin)
  for (int64_t i = 0; i < n; i++) std::memcpy(out + i * C, inp + (int64_t)idx[i] * C, sizeof(float) * C);
}

void scatter_add_rows(float* dinp, const float* dout, const int32_t* idx, int64_t n, int64_t C) {
  // Sequential over i (indices may repeat); vectorised over C.
  for (int64_t i = 0; i < n; i++) {
    float* d = dinp + (int64_t)idx[i] * C;
    const float* s = dout + i * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) d[c] += s[c];
  }
}

void crossentropy(float* losses, float* dlogits, const float* logits, const int32_t* targets, const float* dloss,
                  int64_t N, int64_t V, int64_t ld) {
#pragma omp parallel for schedule(static) if (N * V > kParallelMin)
  for (int64_t i = 0; i < N; i++) {
    const float* x = logits + i * ld;
    const int32_t t = targets[i];
    // Pass 1: max and sum of exp (two-level, vectorisable).
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < V; j++) s += std::exp(x[j] - mx);
    const float lse = mx + std::log(s);
    const float xt = t >= 0 ? x[t] : 0.f;  // read before an in-place dlogits overwrites it
    if (losses) losses[i] = t >= 0 ? lse - xt : 0.f;
    if (dlogits) {
      float* d = dlogits + i * ld;
      if (t < 0) {
        std::memset(d, 0, sizeof(float) * ld);
        continue;
      }
      const float g = dloss[i];
      const float inv = 1.0f / s;
#pragma omp simd
      for (int64_t j = 0; j < V; j++) d[j] = std::exp(x[j] - mx) * inv * g;
      d[t] -= g;
      for (int64_t j = V; j < ld; j++) d[j] = 0.f;
    }
  }
}

void adamw(float* params, const float* grads, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step, float grad_scale) {
  const float bc1 = 1.0f - (float)std::pow((double)beta1, (double)step);
  const float bc2 = 1.0f - (float)std::pow((double)beta2, (double)step);
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    float g = grads[i] * grad_scale;
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float mhat = mi / bc1, vhat = vi / bc2;
    params[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + weight_decay * params[i]);
  }
}

void convert_f32_to_bf16(uint16_t* out, const float* inp, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, &inp[i], 4);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) {
      out[i] = (uint16_t)((u >> 16) | 0x0040u);  // quiet NaN stays NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
      out[i] = (uint16_t)(u >> 16);
    }
  }
}

void convert_bf16_to_f32(float* out, const uint16_t* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    uint32_t u = (uint32_t)inp[i] << 16;
    std::memcpy(&out[i], &u, 4);
  }
}

}  // namespace cpu
}  // namespace jalign
