// Core fp32 training ops of jalign on CUDA: tiled SGEMM, embedding, layernorm, GELU, elementwise ops,
// sum of squares, row gather/scatter, fused softmax-cross-entropy, AdamW, bf16 conversions.
// Semantics are those of native/include/jalign/jalign.h; backward ops accumulate (+=) unless stated.
//
// Shape legend: B = batch, T = time, C = channels, V = vocab, ld = row stride of logits (ld >= V),
//               N = rows (B*T), M/N/K = GEMM sizes: out(M,N) = op(a)(M,K) . op(b)(K,N).
//
// Determinism: every kernel here gives bit-identical results run to run (no floating-point atomics).
#include <cuda_runtime.h>

#include <cmath>

#include "common/cuda_common.cuh"
#include "jalign_cuda.h"

namespace jalign {
namespace cuda {

using detail::ceil_div;
using detail::grid_for;

namespace {

// Upper bound for grid-stride loops over rows (one block per row at a time).
constexpr int64_t kMaxRowBlocks = 1 << 20;

// ----------------------------------------------------------------------------------------------- SGEMM
// 128x128 output tile per block of 256 threads, each thread an 8x8 micro-tile; K advances by 8.
// Tiles of op(a) and op(b) are staged in shared memory as As[k][i] and Bs[k][j]; the global loads are
// mapped so that consecutive threads read consecutive addresses for every transpose combination.
constexpr int GEMM_BM = 128, GEMM_BN = 128, GEMM_BK = 8, GEMM_TM = 8, GEMM_TN = 8, GEMM_THREADS = 256;
constexpr int GEMM_PAD = 4;  // keeps rows 16-byte aligned for float4 reads

template <bool TA, bool TB>
__global__ void __launch_bounds__(GEMM_THREADS) sgemm_kernel(float* __restrict__ out, const float* __restrict__ a,
                                                             const float* __restrict__ b,
                                                             const float* __restrict__ bias, int64_t M, int64_t N,
                                                             int64_t K, int64_t tiles_n, bool accumulate) {
  __shared__ __align__(16) float As[GEMM_BK][GEMM_BM + GEMM_PAD];
  __shared__ __align__(16) float Bs[GEMM_BK][GEMM_BN + GEMM_PAD];

  const int64_t tile = blockIdx.x;
  const int64_t m0 = (tile / tiles_n) * GEMM_BM;
  const int64_t n0 = (tile % tiles_n) * GEMM_BN;
  const int t = threadIdx.x;
  const int ty = t / (GEMM_BN / GEMM_TN);  // 0..15: row group
  const int tx = t % (GEMM_BN / GEMM_TN);  // 0..15: column group

  float acc[GEMM_TM][GEMM_TN];
#pragma unroll
  for (int r = 0; r < GEMM_TM; ++r)
#pragma unroll
    for (int c = 0; c < GEMM_TN; ++c) acc[r][c] = 0.0f;

  for (int64_t k0 = 0; k0 < K; k0 += GEMM_BK) {
    // op(a) tile: (BM x BK) = 1024 elements, 4 per thread.
#pragma unroll
    for (int e = 0; e < (GEMM_BM * GEMM_BK) / GEMM_THREADS; ++e) {
      const int l = t + e * GEMM_THREADS;
      int i, k;
      if (TA) {  // element (i,k) at a[k*M + i]: i fastest
        i = l % GEMM_BM;
        k = l / GEMM_BM;
      } else {   // element (i,k) at a[i*K + k]: k fastest
        k = l % GEMM_BK;
        i = l / GEMM_BK;
      }
      const int64_t gi = m0 + i, gk = k0 + k;
      float v = 0.0f;
      if (gi < M && gk < K) v = TA ? a[gk * M + gi] : a[gi * K + gk];
      As[k][i] = v;
    }
    // op(b) tile: (BK x BN) = 1024 elements, 4 per thread.
#pragma unroll
    for (int e = 0; e < (GEMM_BN * GEMM_BK) / GEMM_THREADS; ++e) {
      const int l = t + e * GEMM_THREADS;
      int j, k;
      if (TB) {  // element (k,j) at b[j*K + k]: k fastest
        k = l % GEMM_BK;
        j = l / GEMM_BK;
      } else {   // element (k,j) at b[k*N + j]: j fastest
        j = l % GEMM_BN;
        k = l / GEMM_BN;
      }
      const int64_t gj = n0 + j, gk = k0 + k;
      float v = 0.0f;
      if (gj < N && gk < K) v = TB ? b[gj * K + gk] : b[gk * N + gj];
      Bs[k][j] = v;
    }
    __syncthreads();

#pragma unroll
    for (int k = 0; k < GEMM_BK; ++k) {
      float ra[GEMM_TM], rb[GEMM_TN];
      const float4 a0 = *reinterpret_cast<const float4*>(&As[k][ty * GEMM_TM]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[k][ty * GEMM_TM + 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[k][tx * GEMM_TN]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[k][tx * GEMM_TN + 4]);
      ra[0] = a0.x; ra[1] = a0.y; ra[2] = a0.z; ra[3] = a0.w;
      ra[4] = a1.x; ra[5] = a1.y; ra[6] = a1.z; ra[7] = a1.w;
      rb[0] = b0.x; rb[1] = b0.y; rb[2] = b0.z; rb[3] = b0.w;
      rb[4] = b1.x; rb[5] = b1.y; rb[6] = b1.z; rb[7] = b1.w;
#pragma unroll
      for (int r = 0; r < GEMM_TM; ++r)
#pragma unroll
        for (int c = 0; c < GEMM_TN; ++c) acc[r][c] = fmaf(ra[r], rb[c], acc[r][c]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int r = 0; r < GEMM_TM; ++r) {
    const int64_t i = m0 + ty * GEMM_TM + r;
    if (i >= M) break;
#pragma unroll
    for (int c = 0; c < GEMM_TN; ++c) {
      const int64_t j = n0 + tx * GEMM_TN + c;
      if (j < N) {
        float v = acc[r][c];
        if (bias != nullptr) v += bias[j];
        float* o = out + i * N + j;
        if (accumulate) v += *o;
        *o = v;
      }
    }
  }
}

// ------------------------------------------------------------------------- column sums (deterministic)
// One block of 32x32 threads per 32 columns of a (rows x cols) matrix; thread (tx, ty) walks rows ty, ty+32,
// ...; the 32 partial sums of a column are then added in a fixed order.
//  MODE 0: s0[j] += sum_i x[i,j]                                  (bias backward)
//  MODE 1: s0[j] += sum_i x[i,j] * (y[i,j] - mean[i]) * rstd[i];  (layernorm dweight, x = dout, y = inp)
//          s1[j] += sum_i x[i,j]                                  (layernorm dbias)
template <int MODE>
__global__ void column_sums_kernel(float* __restrict__ s0, float* __restrict__ s1, const float* __restrict__ x,
                                   const float* __restrict__ y, const float* __restrict__ mean,
                                   const float* __restrict__ rstd, int64_t rows, int64_t cols) {
  __shared__ float p0[32][33];
  __shared__ float p1[32][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = (int64_t)blockIdx.x * 32 + tx;
  float a0 = 0.0f, a1 = 0.0f;
  if (j < cols) {
    for (int64_t i = ty; i < rows; i += 32) {
      const float d = x[i * cols + j];
      if (MODE == 0) {
        a0 += d;
      } else {
        a0 += d * ((y[i * cols + j] - mean[i]) * rstd[i]);
        a1 += d;
      }
    }
  }
  p0[ty][tx] = a0;
  p1[ty][tx] = a1;
  __syncthreads();
  if (ty == 0 && j < cols) {
    float t0 = 0.0f, t1 = 0.0f;
    for (int r = 0; r < 32; ++r) {
      t0 += p0[r][tx];
      t1 += p1[r][tx];
    }
    if (s0 != nullptr) s0[j] += t0;
    if (MODE == 1 && s1 != nullptr) s1[j] += t1;
  }
}

// ------------------------------------------------------------------------------------------ embedding
__global__ void embedding_forward_kernel(float* __restrict__ out, const int32_t* __restrict__ tokens,
                                         const float* __restrict__ wte, const float* __restrict__ wpe, int64_t BT,
                                         int64_t T, int64_t C, int64_t pos_offset) {
  for (int64_t row = blockIdx.x; row < BT; row += gridDim.x) {
    const int64_t t = row % T;
    const float* we = wte + (int64_t)tokens[row] * C;
    const float* pe = wpe + (t + pos_offset) * C;
    float* o = out + row * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = we[c] + pe[c];
  }
}

// dst[idx[row]] += src[row] over rows of C floats (embedding backward dwte with idx = tokens; scatter_add_rows),
// deterministically and without atomics: block b owns the targets with idx % gridDim.x == b, scans all rows in
// chunks, lists its own rows in row order, and adds them one after another (thread t always owns channels
// t, t + blockDim.x, ...). So every target element receives its rows in row order, whatever the scheduling.
// A very frequent target serialises on its block.
constexpr int kEmbThreads = 256;
constexpr unsigned kEmbGroups = 1024;

__global__ void __launch_bounds__(kEmbThreads)
    scatter_add_rows_kernel(float* __restrict__ dst, const float* __restrict__ src,
                            const int32_t* __restrict__ idx, int64_t rows, int64_t C) {
  __shared__ int32_t list[kEmbThreads];
  __shared__ int warp_counts[kEmbThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t base = 0; base < rows; base += blockDim.x) {
    const int64_t r = base + threadIdx.x;
    const bool mine = r < rows && ((uint32_t)idx[r]) % gridDim.x == blockIdx.x;
    const unsigned m = __ballot_sync(detail::kFullMask, mine);
    if (lane == 0) warp_counts[warp] = __popc(m);
    __syncthreads();
    int offset = 0, total = 0;
    for (int w = 0; w < (int)(blockDim.x >> 5); ++w) {
      if (w < warp) offset += warp_counts[w];
      total += warp_counts[w];
    }
    if (mine) list[offset + __popc(m & ((1u << lane) - 1u))] = (int32_t)threadIdx.x;
    __syncthreads();
    for (int i = 0; i < total; ++i) {
      const int64_t row = base + list[i];
      float* d = dst + (int64_t)idx[row] * C;
      const float* g = src + row * C;
      for (int64_t c = threadIdx.x; c < C; c += blockDim.x) d[c] += g[c];
    }
    __syncthreads();  // list and warp_counts are rewritten by the next chunk
  }
}

// dwpe[t + pos_offset, c] += sum_b dout[b, t, c]: one thread per (t, c), fixed order over b.
__global__ void embedding_backward_wpe_kernel(float* __restrict__ dwpe, const float* __restrict__ dout, int64_t B,
                                              int64_t T, int64_t C, int64_t pos_offset) {
  const int64_t TC = T * C;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < TC; e += (int64_t)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int64_t b = 0; b < B; ++b) s += dout[b * TC + e];
    dwpe[pos_offset * C + e] += s;
  }
}

// ------------------------------------------------------------------------------------------ layernorm
// One warp per row; two passes over the row (mean, then centred variance); biased variance (divide by C).
__global__ void layernorm_forward_kernel(float* __restrict__ out, float* __restrict__ mean_out,
                                         float* __restrict__ rstd_out, const float* __restrict__ inp,
                                         const float* __restrict__ weight, const float* __restrict__ bias,
                                         int64_t N, int64_t C, float eps) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x / 32;
  const int64_t first = (int64_t)blockIdx.x * warps_per_block + (threadIdx.x >> 5);
  const int64_t stride = (int64_t)gridDim.x * warps_per_block;
  for (int64_t row = first; row < N; row += stride) {
    const float* x = inp + row * C;
    float s = 0.0f;
    for (int64_t c = lane; c < C; c += 32) s += x[c];
    const float m = detail::warp_sum(s) / (float)C;
    float v = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
      const float d = x[c] - m;
      v += d * d;
    }
    const float var = detail::warp_sum(v) / (float)C;
    const float rs = 1.0f / sqrtf(var + eps);
    float* o = out + row * C;
    for (int64_t c = lane; c < C; c += 32) {
      float n = (x[c] - m) * rs;
      if (weight != nullptr) n *= weight[c];
      if (bias != nullptr) n += bias[c];
      o[c] = n;
    }
    if (lane == 0) {
      if (mean_out != nullptr) mean_out[row] = m;
      if (rstd_out != nullptr) rstd_out[row] = rs;
    }
  }
}

// dinp[row] += rstd * (dn - mean(dn) - norm * mean(dn * norm)), dn = dout * weight. One warp per row.
__global__ void layernorm_backward_dinp_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                               const float* __restrict__ inp, const float* __restrict__ weight,
                                               const float* __restrict__ mean, const float* __restrict__ rstd,
                                               int64_t N, int64_t C) {
  const int lane = threadIdx.x & 31;
  const int64_t warps_per_block = blockDim.x / 32;
  const int64_t first = (int64_t)blockIdx.x * warps_per_block + (threadIdx.x >> 5);
  const int64_t stride = (int64_t)gridDim.x * warps_per_block;
  for (int64_t row = first; row < N; row += stride) {
    const float* x = inp + row * C;
    const float* g = dout + row * C;
    const float m = mean[row], rs = rstd[row];
    float sd = 0.0f, sdn = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
      const float n = (x[c] - m) * rs;
      const float dn = g[c] * (weight != nullptr ? weight[c] : 1.0f);
      sd += dn;
      sdn += dn * n;
    }
    const float mdn = detail::warp_sum(sd) / (float)C;
    const float mdnn = detail::warp_sum(sdn) / (float)C;
    float* d = dinp + row * C;
    for (int64_t c = lane; c < C; c += 32) {
      const float n = (x[c] - m) * rs;
      const float dn = g[c] * (weight != nullptr ? weight[c] : 1.0f);
      d[c] += (dn - mdn - n * mdnn) * rs;
    }
  }
}

// ----------------------------------------------------------------------------------------- elementwise
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluCubic = 0.044715f;

__global__ void gelu_forward_kernel(float* __restrict__ out, const float* __restrict__ inp, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float x = inp[i];
    const float u = kGeluScale * (x + kGeluCubic * x * x * x);
    out[i] = 0.5f * x * (1.0f + tanhf(u));
  }
}

__global__ void gelu_backward_kernel(float* __restrict__ dinp, const float* __restrict__ inp,
                                     const float* __restrict__ dout, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float x = inp[i];
    const float u = kGeluScale * (x + kGeluCubic * x * x * x);
    const float th = tanhf(u);
    const float ch = coshf(u);
    const float sech2 = 1.0f / (ch * ch);  // coshf overflows to inf for large |u|: sech2 -> 0, as it should
    const float local = 0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
    dinp[i] += local * dout[i];
  }
}

// out = a + b; out may alias a or b (each element is read before it is written, by the same thread).
__global__ void add_kernel(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = a[i] + b[i];
}
__global__ void add4_kernel(float4* out, const float4* a, const float4* b, int64_t n4) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (int64_t)gridDim.x * blockDim.x) {
    const float4 x = a[i], y = b[i];
    out[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
  }
}

__global__ void axpy_kernel(float* __restrict__ y, const float* __restrict__ x, float alpha, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = fmaf(alpha, x[i], y[i]);
}
__global__ void axpy4_kernel(float4* __restrict__ y, const float4* __restrict__ x, float alpha, int64_t n4) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (int64_t)gridDim.x * blockDim.x) {
    const float4 a = x[i];
    float4 b = y[i];
    b.x = fmaf(alpha, a.x, b.x);
    b.y = fmaf(alpha, a.y, b.y);
    b.z = fmaf(alpha, a.z, b.z);
    b.w = fmaf(alpha, a.w, b.w);
    y[i] = b;
  }
}

__global__ void scale_kernel(float* __restrict__ x, float alpha, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    x[i] *= alpha;
}

// --------------------------------------------------------------------------------------- sum of squares
// Stage 1: each block writes its double partial sum; stage 2: one block adds the partials in a fixed order.
constexpr int kSumSqThreads = 256;
constexpr int kSumSqMaxBlocks = 1024;

__global__ void sum_squares_partial_kernel(double* __restrict__ partial, const float* __restrict__ x, int64_t n) {
  __shared__ double scratch[32];
  double s = 0.0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const double v = (double)x[i];
    s += v * v;
  }
  s = detail::block_sum(s, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_squares_final_kernel(float* __restrict__ out, const double* __restrict__ partial, int count) {
  __shared__ double scratch[32];
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = detail::block_sum(s, scratch);
  if (threadIdx.x == 0) out[0] = (float)s;
}

// ------------------------------------------------------------------------------------- gather / scatter
__global__ void gather_rows_kernel(float* __restrict__ out, const float* __restrict__ inp,
                                   const int32_t* __restrict__ idx, int64_t n, int64_t C) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const float* src = inp + (int64_t)idx[i] * C;
    float* dst = out + i * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dst[c] = src[c];
  }
}


// -------------------------------------------------------------------------------- softmax cross-entropy
// One block per row. Pass 1: online max / sum-exp over the V real columns (and the target logit, read
// before any write so that dlogits may alias logits). Pass 2: write dlogits over all ld columns.
constexpr int kCeThreads = 512;

__global__ void __launch_bounds__(kCeThreads)
    crossentropy_kernel(float* __restrict__ losses, float* dlogits, const float* logits,
                        const int32_t* __restrict__ targets, const float* __restrict__ dloss, int64_t N, int64_t V,
                        int64_t ld) {
  __shared__ detail::MaxSum scratch[32];
  for (int64_t row = blockIdx.x; row < N; row += gridDim.x) {
    const float* x = logits + row * ld;
    const int32_t tgt = targets[row];
    if (tgt < 0) {
      if (threadIdx.x == 0 && losses != nullptr) losses[row] = 0.0f;
      if (dlogits != nullptr) {
        float* d = dlogits + row * ld;
        for (int64_t j = threadIdx.x; j < ld; j += blockDim.x) d[j] = 0.0f;
      }
      continue;  // block-uniform branch: every thread sees the same target
    }
    detail::MaxSum ms{-INFINITY, 0.0f};
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) ms = detail::maxsum_add(ms, x[j]);
    const float xt = x[tgt];  // every thread reads it before the barrier inside block_maxsum
    ms = detail::block_maxsum(ms, scratch);
    const float lse = ms.m + logf(ms.s);
    if (threadIdx.x == 0 && losses != nullptr) losses[row] = lse - xt;
    if (dlogits != nullptr) {
      const float g = dloss[row];
      float* d = dlogits + row * ld;
      for (int64_t j = threadIdx.x; j < ld; j += blockDim.x) {
        float v = 0.0f;
        if (j < V) v = (expf(x[j] - lse) - (j == tgt ? 1.0f : 0.0f)) * g;
        d[j] = v;
      }
    }
    __syncthreads();  // the next row's reduction reuses scratch
  }
}

// --------------------------------------------------------------------------------------------- AdamW
__global__ void adamw_kernel(float* __restrict__ params, const float* __restrict__ grads, float* __restrict__ m,
                             float* __restrict__ v, int64_t n, float lr, float beta1, float beta2, float eps,
                             float weight_decay, float bc1, float bc2, float grad_scale) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float g = grads[i] * grad_scale;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float mhat = mi / bc1;
    const float vhat = vi / bc2;
    const float p = params[i];
    params[i] = p - lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * p);
  }
}

// ----------------------------------------------------------------------------------------------- bf16
__global__ void f32_to_bf16_kernel(uint16_t* __restrict__ out, const float* __restrict__ inp, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = detail::f32_to_bf16_rne(inp[i]);
}
__global__ void bf16_to_f32_kernel(float* __restrict__ out, const uint16_t* __restrict__ inp, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = detail::bf16_to_f32(inp[i]);
}

constexpr int kThreads = 256;

inline unsigned row_grid(int64_t rows) { return (unsigned)(rows < kMaxRowBlocks ? (rows < 1 ? 1 : rows) : kMaxRowBlocks); }

// Threads per block for a row-wise kernel over C columns: a multiple of 32 in [32, 512].
inline int row_threads(int64_t C) {
  int64_t t = ceil_div(C, 32) * 32;
  if (t > 512) t = 512;
  if (t < 32) t = 32;
  return (int)t;
}

}  // namespace

// ============================================================================================ launchers

int matmul(float* out, const float* a, const float* b, const float* bias, int64_t M, int64_t N, int64_t K,
           bool trans_a, bool trans_b, bool accumulate, void* stream) {
  if (M <= 0 || N <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  const int64_t tiles_n = ceil_div(N, GEMM_BN);
  const int64_t tiles = ceil_div(M, GEMM_BM) * tiles_n;
  if (tiles > 0x7fffffffLL) return (int)cudaErrorInvalidConfiguration;
  const dim3 grid((unsigned)tiles), block(GEMM_THREADS);
  if (!trans_a && !trans_b)
    sgemm_kernel<false, false><<<grid, block, 0, s>>>(out, a, b, bias, M, N, K, tiles_n, accumulate);
  else if (!trans_a && trans_b)
    sgemm_kernel<false, true><<<grid, block, 0, s>>>(out, a, b, bias, M, N, K, tiles_n, accumulate);
  else if (trans_a && !trans_b)
    sgemm_kernel<true, false><<<grid, block, 0, s>>>(out, a, b, bias, M, N, K, tiles_n, accumulate);
  else
    sgemm_kernel<true, true><<<grid, block, 0, s>>>(out, a, b, bias, M, N, K, tiles_n, accumulate);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int bias_backward(float* dbias, const float* dout, int64_t M, int64_t N, void* stream) {
  if (M <= 0 || N <= 0) return 0;
  column_sums_kernel<0><<<(unsigned)ceil_div(N, 32), dim3(32, 32), 0, (cudaStream_t)stream>>>(
      dbias, nullptr, dout, nullptr, nullptr, nullptr, M, N);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int64_t B, int64_t T,
                      int64_t C, int64_t pos_offset, void* stream) {
  const int64_t BT = B * T;
  if (BT <= 0 || C <= 0) return 0;
  embedding_forward_kernel<<<row_grid(BT), row_threads(C), 0, (cudaStream_t)stream>>>(out, tokens, wte, wpe, BT, T,
                                                                                       C, pos_offset);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int64_t B, int64_t T,
                       int64_t C, int64_t pos_offset, void* stream) {
  const int64_t BT = B * T;
  if (BT <= 0 || C <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  if (dwte != nullptr) {
    scatter_add_rows_kernel<<<kEmbGroups, kEmbThreads, 0, s>>>(dwte, dout, tokens, BT, C);
    JALIGN_CUDA_LAUNCH_CHECK();
  }
  if (dwpe != nullptr) {
    embedding_backward_wpe_kernel<<<grid_for(T * C, kThreads), kThreads, 0, s>>>(dwpe, dout, B, T, C, pos_offset);
    JALIGN_CUDA_LAUNCH_CHECK();
  }
  return 0;
}

int layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                      int64_t N, int64_t C, float eps, void* stream) {
  if (N <= 0 || C <= 0) return 0;
  const int warps = kThreads / 32;
  layernorm_forward_kernel<<<grid_for(N, warps), kThreads, 0, (cudaStream_t)stream>>>(out, mean, rstd, inp, weight,
                                                                                      bias, N, C, eps);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, const float* mean, const float* rstd, int64_t N, int64_t C,
                       void* stream) {
  if (N <= 0 || C <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  if (dinp != nullptr) {
    const int warps = kThreads / 32;
    layernorm_backward_dinp_kernel<<<grid_for(N, warps), kThreads, 0, s>>>(dinp, dout, inp, weight, mean, rstd, N,
                                                                           C);
    JALIGN_CUDA_LAUNCH_CHECK();
  }
  if (dweight != nullptr || dbias != nullptr) {
    column_sums_kernel<1><<<(unsigned)ceil_div(C, 32), dim3(32, 32), 0, s>>>(dweight, dbias, dout, inp, mean, rstd,
                                                                             N, C);
    JALIGN_CUDA_LAUNCH_CHECK();
  }
  return 0;
}

int gelu_forward(float* out, const float* inp, int64_t n, void* stream) {
  if (n <= 0) return 0;
  gelu_forward_kernel<<<grid_for(n, kThreads), kThreads, 0, (cudaStream_t)stream>>>(out, inp, n);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n, void* stream) {
  if (n <= 0) return 0;
  gelu_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, (cudaStream_t)stream>>>(dinp, inp, dout, n);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int add(float* out, const float* a, const float* b, int64_t n, void* stream) {
  if (n <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  if (detail::aligned16(out) && detail::aligned16(a) && detail::aligned16(b) && n >= 4) {
    const int64_t n4 = n / 4;
    add4_kernel<<<grid_for(n4, kThreads), kThreads, 0, s>>>((float4*)out, (const float4*)a, (const float4*)b, n4);
    JALIGN_CUDA_LAUNCH_CHECK();
    const int64_t done = n4 * 4;
    if (done < n) {
      add_kernel<<<1, 32, 0, s>>>(out + done, a + done, b + done, n - done);
      JALIGN_CUDA_LAUNCH_CHECK();
    }
    return 0;
  }
  add_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(out, a, b, n);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int axpy(float* y, const float* x, float alpha, int64_t n, void* stream) {
  if (n <= 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  if (detail::aligned16(y) && detail::aligned16(x) && n >= 4) {
    const int64_t n4 = n / 4;
    axpy4_kernel<<<grid_for(n4, kThreads), kThreads, 0, s>>>((float4*)y, (const float4*)x, alpha, n4);
    JALIGN_CUDA_LAUNCH_CHECK();
    const int64_t done = n4 * 4;
    if (done < n) {
      axpy_kernel<<<1, 32, 0, s>>>(y + done, x + done, alpha, n - done);
      JALIGN_CUDA_LAUNCH_CHECK();
    }
    return 0;
  }
  axpy_kernel<<<grid_for(n, kThreads), kThreads, 0, s>>>(y, x, alpha, n);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int scale(float* x, float alpha, int64_t n, void* stream) {
  if (n <= 0) return 0;
  scale_kernel<<<grid_for(n, kThreads), kThreads, 0, (cudaStream_t)stream>>>(x, alpha, n);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int sum_squares(float* out, const float* x, int64_t n, void* stream) {
  cudaStream_t s = (cudaStream_t)stream;
  if (n <= 0) return (int)cudaMemsetAsync(out, 0, sizeof(float), s);
  // The block count depends on n only, so the summation order (and the result) is reproducible.
  const int blocks = (int)grid_for(n, kSumSqThreads * 8, kSumSqMaxBlocks);
  // Scratch for the partial sums from the stream-ordered allocator; where memory pools are unsupported,
  // plain cudaMalloc (cudaFree then waits for the kernels).
  double* partial = nullptr;
  bool pooled = true;
  if (cudaMallocAsync((void**)&partial, sizeof(double) * blocks, s) != cudaSuccess) {
    (void)cudaGetLastError();
    pooled = false;
    JALIGN_CUDA_TRY(cudaMalloc((void**)&partial, sizeof(double) * blocks));
  }
  sum_squares_partial_kernel<<<blocks, kSumSqThreads, 0, s>>>(partial, x, n);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) {
    sum_squares_final_kernel<<<1, 1024, 0, s>>>(out, partial, blocks);
    err = cudaGetLastError();
  }
  cudaError_t ferr = pooled ? cudaFreeAsync(partial, s) : cudaFree(partial);
  return (int)(err != cudaSuccess ? err : ferr);
}

int gather_rows(float* out, const float* inp, const int32_t* idx, int64_t n, int64_t C, void* stream) {
  if (n <= 0 || C <= 0) return 0;
  gather_rows_kernel<<<row_grid(n), row_threads(C), 0, (cudaStream_t)stream>>>(out, inp, idx, n, C);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int scatter_add_rows(float* dinp, const float* dout, const int32_t* idx, int64_t n, int64_t C, void* stream) {
  if (n <= 0 || C <= 0) return 0;
  scatter_add_rows_kernel<<<kEmbGroups, kEmbThreads, 0, (cudaStream_t)stream>>>(dinp, dout, idx, n, C);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int crossentropy(float* losses, float* dlogits, const float* logits, const int32_t* targets, const float* dloss,
                 int64_t N, int64_t V, int64_t ld, void* stream) {
  if (N <= 0) return 0;
  crossentropy_kernel<<<row_grid(N), kCeThreads, 0, (cudaStream_t)stream>>>(losses, dlogits, logits, targets, dloss,
                                                                           N, V, ld);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int adamw(float* params, const float* grads, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
          float eps, float weight_decay, int64_t step, float grad_scale, void* stream) {
  if (n <= 0) return 0;
  const float bc1 = (float)(1.0 - std::pow((double)beta1, (double)step));
  const float bc2 = (float)(1.0 - std::pow((double)beta2, (double)step));
  adamw_kernel<<<grid_for(n, kThreads), kThreads, 0, (cudaStream_t)stream>>>(params, grads, m, v, n, lr, beta1, beta2,
                                                                            eps, weight_decay, bc1, bc2, grad_scale);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int convert_f32_to_bf16(uint16_t* out, const float* inp, int64_t n, void* stream) {
  if (n <= 0) return 0;
  f32_to_bf16_kernel<<<grid_for(n, kThreads), kThreads, 0, (cudaStream_t)stream>>>(out, inp, n);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

int convert_bf16_to_f32(float* out, const uint16_t* inp, int64_t n, void* stream) {
  if (n <= 0) return 0;
  bf16_to_f32_kernel<<<grid_for(n, kThreads), kThreads, 0, (cudaStream_t)stream>>>(out, inp, n);
  JALIGN_CUDA_LAUNCH_CHECK();
  return 0;
}

}  // namespace cuda
}  // namespace jalign
