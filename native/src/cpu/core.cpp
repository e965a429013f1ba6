// Core training ops on the CPU: embedding, layernorm, GELU, elementwise, gather/scatter, fused
// softmax-cross-entropy, AdamW, bf16 conversion. Plain loops with OpenMP and `omp simd` so g++ vectorises
// them (AVX2/FMA baseline). Shapes: B = batch, T = time, C = channels, V = vocab, N = rows.
#include <cmath>
#include <cstring>

#include "cpu/cpu_kernels.h"

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

namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
}

void gelu_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    float x = inp[i];
    float cube = 0.044715f * x * x * x;
    out[i] = 0.5f * x * (1.0f + std::tanh(kGeluScale * (x + cube)));
  }
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    float x = inp[i];
    float cube = 0.044715f * x * x * x;
    float arg = kGeluScale * (x + cube);
    float th = std::tanh(arg);
    float sech2 = 1.0f - th * th;
    float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += grad * dout[i];
  }
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
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (n > kParallelMin)
  for (int64_t i0 = 0; i0 < n; i0 += 4096) {
    int64_t i1 = i0 + 4096 < n ? i0 + 4096 : n;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = i0; i < i1; i++) s += x[i] * x[i];
    total += s;
  }
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
