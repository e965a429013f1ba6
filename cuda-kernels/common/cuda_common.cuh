// Shared helpers of the jalign CUDA kernels: error checks, launch sizing, warp/block reductions,
// vector loads, the ordered-key map of floats and bf16 rounding.
//
// Shape legend used across cuda-kernels/: B = batch, T = time, C = channels, NH = heads, HS = head size,
// V = vocab, ld = row stride of a logits matrix (ld >= V), N = rows (B*T).
//
// Launchers return a cudaError_t value as int (0 = success). Sizes are int64_t everywhere; grids are
// sized so that no dimension exceeds its limit (x: 2^31-1, y/z: 65535) and kernels use grid-stride loops.
#pragma once

#include <cuda_runtime.h>
#include <cstdint>
#include <cfloat>
#include <cstring>

namespace jalign {
namespace cuda {
namespace detail {

// Returns the error of a CUDA runtime call from the enclosing launcher (an int-returning function).
#define JALIGN_CUDA_TRY(call)                          \
  do {                                                 \
    cudaError_t jalign_err_ = (call);                  \
    if (jalign_err_ != cudaSuccess) return (int)jalign_err_; \
  } while (0)

// After a kernel launch: returns the launch error (bad configuration, no device, ...) if any.
#define JALIGN_CUDA_LAUNCH_CHECK() JALIGN_CUDA_TRY(cudaGetLastError())

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Number of blocks for a grid-stride loop over n items with `threads` threads per block:
// enough to fill the machine, never more than needed, never more than the grid-x limit.
inline unsigned grid_for(int64_t n, int threads, int64_t max_blocks = 65536) {
  int64_t b = ceil_div(n, threads);
  if (b < 1) b = 1;
  if (b > max_blocks) b = max_blocks;
  return (unsigned)b;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ int warp_sum(int v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Block-wide sum; every thread gets the result. `scratch` holds >= 32 values; blockDim.x % 32 == 0.
// Contains __syncthreads: all threads of the block must call it.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = lane < nwarps ? scratch[lane] : T(0);
  return warp_sum(r);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = lane < nwarps ? scratch[lane] : -INFINITY;
  return warp_max(r);
}

// Online log-sum-exp state: max m and s = sum exp(x - m). Empty state: m = -inf, s = 0.
struct MaxSum {
  float m;
  float s;
};
__device__ __forceinline__ MaxSum maxsum_add(MaxSum a, float x) {
  if (x == -INFINITY) return a;  // exp(-inf) contributes nothing
  if (x > a.m) {
    a.s = a.s * expf(a.m - x) + 1.0f;  // a.m = -inf gives a.s = 0 * 0 + 1
    a.m = x;
  } else {
    a.s += expf(x - a.m);
  }
  return a;
}
__device__ __forceinline__ MaxSum maxsum_merge(MaxSum a, MaxSum b) {
  if (b.m == -INFINITY) return a;
  if (a.m == -INFINITY) return b;
  const float m = fmaxf(a.m, b.m);
  return MaxSum{m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}
__device__ __forceinline__ MaxSum warp_maxsum(MaxSum v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    MaxSum w{__shfl_xor_sync(kFullMask, v.m, o), __shfl_xor_sync(kFullMask, v.s, o)};
    v = maxsum_merge(v, w);
  }
  return v;
}
// Block-wide merge; every thread gets the result. scratch holds >= 32 entries.
__device__ __forceinline__ MaxSum block_maxsum(MaxSum v, MaxSum* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_maxsum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  MaxSum r = lane < nwarps ? scratch[lane] : MaxSum{-INFINITY, 0.0f};
  return warp_maxsum(r);
}

// Order-preserving map of a float to uint32: a < b (as floats, no NaN) <=> key(a) < key(b).
__host__ __device__ __forceinline__ uint32_t float_key(float f) {
#ifdef __CUDA_ARCH__
  uint32_t u = __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
#endif
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// fp32 -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN with its sign.
__host__ __device__ __forceinline__ uint16_t f32_to_bf16_rne(float f) {
#ifdef __CUDA_ARCH__
  uint32_t u = __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
#endif
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

__device__ __forceinline__ float bf16_to_f32(uint16_t h) { return __uint_as_float(((uint32_t)h) << 16); }

// True when every pointer is 16-byte aligned (float4 path allowed).
__host__ __device__ __forceinline__ bool aligned16(const void* p) { return (((uintptr_t)p) & 15u) == 0; }

}  // namespace detail
}  // namespace cuda
}  // namespace jalign
