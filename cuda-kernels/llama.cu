// Llama-family fp32 ops of jalign on CUDA: RMSNorm, rotary position embedding (rotate-half), SwiGLU.
// Semantics are those of native/include/jalign/jalign.h (and of the CPU kernels in native/src/cpu/llama.cpp);
// backward ops accumulate (+=) except RoPE's, which rotates the gradient in place.
//
// Shape legend: B = batch, T = time, C = channels, N = rows (B*T), H = heads of one rotated block, HS = head
// size (even), F = intermediate width (gu holds gate then up, 2F columns per row), ld = row stride of x.
//
// Determinism: no floating-point atomics; the RMSNorm weight gradient is a fixed-order column sum.
#include <cuda_runtime.h>

#include <cmath>

#include "common/cuda_common.cuh"
#include "jalign_cuda.h"

namespace jalign {
namespace cuda {

using detail::ceil_div;
using detail::grid_for;

namespace {

constexpr int kThreads = 256;

// ------------------------------------------------------------------------------------------------- RMSNorm
// One warp per row: the sum of squares, then out = (x * rstd) * weight.
__global__ void rmsnorm_forward_kernel(float* __restrict__ out, float* __restrict__ rstd_out,
                                       const float* __restrict__ inp, const float* __restrict__ weight, int64_t N,
                                       int64_t C, float eps) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x / 32;
  const int64_t first = (int64_t)blockIdx.x * warps_per_block + (threadIdx.x >> 5);
  const int64_t stride = (int64_t)gridDim.x * warps_per_block;
  for (int64_t row = first; row < N; row += stride) {
    const float* x = inp + row * C;
    float ss = 0.0f;
    for (int64_t c = lane; c < C; c += 32) ss += x[c] * x[c];
    const float rs = 1.0f / sqrtf(detail::warp_sum(ss) / (float)C + eps);
    float* o = out + row * C;
    for (int64_t c = lane; c < C; c += 32) o[c] = (x[c] * rs) * weight[c];
    if (lane == 0 && rstd_out != nullptr) rstd_out[row] = rs;
  }
}

// dinp[row] += rstd * (dn - x * rstd^2 * mean(dn * x)), dn = dout * weight. One warp per row.
__global__ void rmsnorm_backward_dinp_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                             const float* __restrict__ inp, const float* __restrict__ weight,
                                             const float* __restrict__ rstd, int64_t N, int64_t C) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x / 32;
  const int64_t first = (int64_t)blockIdx.x * warps_per_block + (threadIdx.x >> 5);
  const int64_t stride = (int64_t)gridDim.x * warps_per_block;
  for (int64_t row = first; row < N; row += stride) {
    const float* x = inp + row * C;
    const float* g = dout + row * C;
    const float rs = rstd[row];
    float dot = 0.0f;
    for (int64_t c = lane; c < C; c += 32) dot += (g[c] * weight[c]) * x[c];
    const float k = (detail::warp_sum(dot) / (float)C) * rs * rs;
    float* d = dinp + row * C;
    for (int64_t c = lane; c < C; c += 32) d[c] += rs * (g[c] * weight[c] - x[c] * k);
  }
}

// dweight[j] += sum_i dout[i,j] * (inp[i,j] * rstd[i]). One block of 32x32 threads per 32 columns; thread
// (tx, ty) walks rows ty, ty+32, ...; the 32 partial sums of a column are added in a fixed order.
__global__ void rmsnorm_backward_dweight_kernel(float* __restrict__ dweight, const float* __restrict__ dout,
                                                const float* __restrict__ inp, const float* __restrict__ rstd,
                                                int64_t N, int64_t C) {
  __shared__ float part[32][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = (int64_t)blockIdx.x * 32 + tx;
  float a = 0.0f;
  if (j < C) {
    for (int64_t i = ty; i < N; i += 32) a += dout[i * C + j] * (inp[i * C + j] * rstd[i]);
  }
  part[ty][tx] = a;
  __syncthreads();
  if (ty == 0 && j < C) {
    float t = 0.0f;
    for (int r = 0; r < 32; ++r) t += part[r][tx];
    dweight[j] += t;
  }
}

// ----------------------------------------------------------------------------------------------------- RoPE
// One thread per rotated pair (b, t, h, d < HS/2). angle = pos * inv_freq[d] in fp32 (as HF forms it); sincosf
// at full precision (the library is not built with --use_fast_math). inverse rotates by -angle.
__global__ void rope_kernel(float* __restrict__ x, const int32_t* __restrict__ pos,
                            const float* __restrict__ inv_freq, int64_t ld, int64_t BT, int64_t H, int64_t half,
                            float sign) {
  const int64_t pairs = BT * H * half;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t d = i % half;
    const int64_t h = (i / half) % H;
    const int64_t bt = i / (half * H);
    const float a = (float)pos[bt] * inv_freq[d];
    float s, c;
    sincosf(a, &s, &c);
    s *= sign;
    float* x1 = x + bt * ld + h * 2 * half + d;
    float* x2 = x1 + half;
    const float v1 = *x1, v2 = *x2;
    *x1 = v1 * c - v2 * s;
    *x2 = v2 * c + v1 * s;
  }
}

// --------------------------------------------------------------------------------------------------- SwiGLU
// silu(g) = g * s, s = 1 / (1 + exp(-g)); silu'(g) = s + silu * (1 - s), 1 - s taken as e * s. exp(-g) is
// clamped at exp(88) as on the CPU, so e * s stays finite for very negative g. One thread per element of out (N, F).
__device__ __forceinline__ float neg_exp(float g) { return expf(fminf(-g, 88.0f)); }

__global__ void swiglu_forward_kernel(float* __restrict__ out, const float* __restrict__ gu, int64_t N, int64_t F) {
  const int64_t n = N * F;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / F, j = i - row * F;
    const float g = gu[row * 2 * F + j], u = gu[row * 2 * F + F + j];
    const float s = 1.0f / (1.0f + neg_exp(g));
    out[i] = (g * s) * u;
  }
}

__global__ void swiglu_backward_kernel(float* __restrict__ dgu, const float* __restrict__ dout,
                                       const float* __restrict__ gu, int64_t N, int64_t F) {
  const int64_t n = N * F;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / F, j = i - row * F;
    const int64_t ig = row * 2 * F + j, iu = ig + F;
    const float g = gu[ig], u = gu[iu], d = dout[i];
    const float e = neg_exp(g);
    const float s = 1.0f / (1.0f + e);
    const float silu = g * s;
    const float dsilu = fmaf(silu, e * s, s);
    dgu[ig] = fmaf(d * u, dsilu, dgu[ig]);
    dgu[iu] = fmaf(d, silu, dgu[iu]);
  }
}

}  // namespace

int rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C, float eps,
                    void* stream) {
  if (N <= 0 || C <= 0) return 0;
  const int warps = kThreads / 32;
  rmsnorm_forward_kernel<<<grid_for(N, warps), kThreads, 0, (cudaStream_t)stream>>>(out, rstd, inp, weight, N, C,
                                                                                    eps);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     const float* rstd, int64_t N, int64_t C, void* stream) {
  if (N <= 0 || C <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  const int warps = kThreads / 32;
  rmsnorm_backward_dinp_kernel<<<grid_for(N, warps), kThreads, 0, s>>>(dinp, dout, inp, weight, rstd, N, C);
  JALIGN_CUDA_LAUNCH_CHECK();
  rmsnorm_backward_dweight_kernel<<<(unsigned)ceil_div(C, 32), dim3(32, 32), 0, s>>>(dweight, dout, inp, rstd, N,
                                                                                    C);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int rope(float* x, const int32_t* pos, const float* inv_freq, int64_t ld, int64_t B, int64_t T, int64_t H,
         int64_t HS, bool inverse, void* stream) {
  if (B <= 0 || T <= 0 || H <= 0 || HS <= 1) return 0;
  const int64_t half = HS / 2, pairs = B * T * H * half;
  rope_kernel<<<grid_for(pairs, kThreads), kThreads, 0, (cudaStream_t)stream>>>(x, pos, inv_freq, ld, B * T, H, half,
                                                                               inverse ? -1.0f : 1.0f);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int swiglu_forward(float* out, const float* gu, int64_t N, int64_t F, void* stream) {
  if (N <= 0 || F <= 0) return 0;
  swiglu_forward_kernel<<<grid_for(N * F, kThreads), kThreads, 0, (cudaStream_t)stream>>>(out, gu, N, F);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F, void* stream) {
  if (N <= 0 || F <= 0) return 0;
  swiglu_backward_kernel<<<grid_for(N * F, kThreads), kThreads, 0, (cudaStream_t)stream>>>(dgu, dout, gu, N, F);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

}  // namespace cuda
}  // namespace jalign
