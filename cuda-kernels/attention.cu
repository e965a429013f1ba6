// jalign CUDA fused causal self-attention (semantics: native/include/jalign/jalign.h, "attention").
//
// Shape legend: B = batch, T = time, C = channels (NH*HS), NH = query heads, NKV = key/value heads, G = NH/NKV
//   query heads per kv head (query head h reads kv head h / G), HS = head size (32, 64 or 128).
//   q, k, v, dq, dk, dv: element [b, t, h, d] at base + b*T*ld + t*ld + h*HS + d (q: NH heads, k/v: NKV heads;
//   ld = (NH + 2*NKV)*HS for a fused projection)
//   out, dout: (B, T, C) contiguous      lse: (B, NH, T) natural-log logsumexp of the scaled scores
//   kv_start, kv_end: (B) valid range of row b (NULL: 0 and T); rows outside it give out = 0, lse = 0.
//   k_cache, v_cache: (B, maxT, NKV, HS)
//
// Kernels:
//   fp32 (exactness path): flash forward with online softmax (4 threads per query row, K/V tiles in shared
//     memory); backward FlashAttention-2 style: D = rowsum(dout*out), then dK/dV by key tiles and dQ by query
//     tiles, both recomputing P = exp(S - lse). A dK/dV block covers one kv head and runs the G query heads of
//     its group one after the other, so the group's sum stays in registers. No atomics: results are
//     deterministic.
//   bf16: the same algorithm on tensor cores (mma.sync m16n8k16 bf16 -> fp32, ldmatrix, cp.async double
//     buffering of K/V in the forward). P and dS are rounded to bf16 for the second MMA (as FlashAttention).
//     Forward tiles: 128 query rows per block (4 warps x 2 m-tiles of 16); JALIGN_ATTN_FWD_TILE=64 in the
//     environment selects 64-row tiles (a benchmark comparison). Backward: dK/dV blocks of 64 keys (16 per
//     warp, transposed products) and dQ blocks of 64 queries; D = rowsum(dout*out) in a stream-ordered
//     scratch buffer (cudaMallocAsync; cudaMalloc where memory pools are unsupported).
//   decode: kvcache_append copies new rows into the cache; attention_kvcache runs one block per query and
//     head, eight warps splitting the keys, merged by their (max, sum) at the end.
// Launchers return cudaError_t values; arguments were checked by the ABI layer.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/attention_mma.cuh"
#include "jalign_cuda.h"

namespace jalign {
namespace cuda {

namespace {

using bf16 = __nv_bfloat16;
using namespace jalign::cuda::attn;

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int64_t kMaxGridYZ = 65535;

__device__ __forceinline__ void row_range(const int32_t* kv_start, const int32_t* kv_end, int b, int T, int& s,
                                          int& e) {
    s = kv_start ? kv_start[b] : 0;
    e = kv_end ? kv_end[b] : T;
    s = max(0, min(s, T));
    e = max(s, min(e, T));  // empty range when kv_end <= kv_start
}

__device__ __forceinline__ float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    x += __shfl_xor_sync(0xffffffffu, x, 2);
    return x;
}
__device__ __forceinline__ float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
    return x;
}
__device__ __forceinline__ float warp_sum(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(bf16 x) { return __bfloat162float(x); }

// ------------------------------------------------------------------ D = rowsum(dout * out)

// D(B, NH, T). One warp per (b, t, h) row; out and dout are (B, T, C) contiguous.
template <typename Tin>
__global__ void attn_bwd_rowdot_kernel(float* D, const Tin* dout, const Tin* out, int64_t B, int64_t T,
                                       int64_t NH, int64_t HS) {
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
    const int lane = threadIdx.x & 31;
    for (int64_t row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; row < B * T * NH;
         row += warps) {
        const Tin* o = out + row * HS;
        const Tin* d = dout + row * HS;
        float acc = 0.f;
        for (int64_t i = lane; i < HS; i += 32) acc += to_f(o[i]) * to_f(d[i]);
        acc = warp_sum(acc);
        if (lane == 0) {
            const int64_t h = row % NH, bt = row / NH, t = bt % T, b = bt / T;
            D[(b * NH + h) * T + t] = acc;
        }
    }
}

// ------------------------------------------------------------------ fp32 forward

// Block: 64 query rows of one (b, h); 4 threads per row, thread lane4 owns dims lane4 + 4*i.
template <int HS>
__global__ void __launch_bounds__(256) attn_fwd_f32_kernel(float* out, float* lse, const float* q,
                                                           const float* k, const float* v, int64_t ld, int T,
                                                           int NH, int G, const int32_t* kv_start,
                                                           const int32_t* kv_end, float scale) {
    constexpr int BR = 64, BC = 32, NT = 256, DP = HS / 4;
    __shared__ float Ks[BC][HS];  // (BC, HS)
    __shared__ float Vs[BC][HS];  // (BC, HS)
    const int b = blockIdx.z, h = blockIdx.y;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * BR;  // heaviest tiles first
    const int tid = threadIdx.x, lane4 = tid & 3, t = q0 + tid / 4;
    int s, e;
    row_range(kv_start, kv_end, b, T, s, e);
    const int64_t C = (int64_t)NH * HS;
    const int64_t bq = (int64_t)b * T * ld + (int64_t)h * HS;
    const int64_t bk = (int64_t)b * T * ld + (int64_t)(h / G) * HS;
    const bool in_T = t < T;
    const bool valid = t >= s && t < e;
    const int kend = min(e, q0 + BR);

    float o[DP], qr[DP];
#pragma unroll
    for (int i = 0; i < DP; i++) {
        o[i] = 0.f;
        qr[i] = in_T ? q[bq + (int64_t)t * ld + lane4 + 4 * i] * scale : 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int j0 = s; j0 < kend; j0 += BC) {
        __syncthreads();
        for (int idx = tid; idx < BC * HS; idx += NT) {
            const int r = idx / HS, d = idx % HS, j = j0 + r;
            const int64_t off = bk + (int64_t)j * ld + d;
            Ks[r][d] = j < kend ? k[off] : 0.f;
            Vs[r][d] = j < kend ? v[off] : 0.f;
        }
        __syncthreads();
        float sc[BC];
        float mt = -INFINITY;
#pragma unroll
        for (int jj = 0; jj < BC; jj++) {
            float dot = 0.f;
#pragma unroll
            for (int i = 0; i < DP; i++) dot += qr[i] * Ks[jj][lane4 + 4 * i];
            dot = quad_sum(dot);
            const int j = j0 + jj;
            sc[jj] = (j > t || j >= kend) ? -INFINITY : dot;
            mt = fmaxf(mt, sc[jj]);
        }
        const float mnew = fmaxf(m, mt);
        const float msafe = mnew == -INFINITY ? 0.f : mnew;
        const float alpha = expf(m - msafe);
        l *= alpha;
#pragma unroll
        for (int i = 0; i < DP; i++) o[i] *= alpha;
#pragma unroll
        for (int jj = 0; jj < BC; jj++) {
            const float p = expf(sc[jj] - msafe);
            l += p;
#pragma unroll
            for (int i = 0; i < DP; i++) o[i] += p * Vs[jj][lane4 + 4 * i];
        }
        m = mnew;
    }
    if (in_T) {
        const bool ok = valid && l > 0.f;
        const float inv = ok ? 1.f / l : 0.f;
        float* orow = out + ((int64_t)b * T + t) * C + (int64_t)h * HS;
#pragma unroll
        for (int i = 0; i < DP; i++) orow[lane4 + 4 * i] = o[i] * inv;
        if (lane4 == 0) lse[((int64_t)b * NH + h) * T + t] = ok ? m + logf(l) : 0.f;
    }
}

// ------------------------------------------------------------------ fp32 backward

// dK, dV for 64 keys of one (b, kv head); 4 threads per key; the G query heads of the group in turn, each in
// query tiles of 32 rows in shared memory.
template <int HS>
__global__ void __launch_bounds__(256) attn_bwd_dkdv_f32_kernel(float* dk, float* dv, const float* dout,
                                                                const float* lse, const float* D,
                                                                const float* q, const float* k, const float* v,
                                                                int64_t ld, int T, int NH, int G,
                                                                const int32_t* kv_start, const int32_t* kv_end,
                                                                float scale) {
    constexpr int BC = 64, BR = 32, NT = 256, DP = HS / 4;
    __shared__ float Qs[BR][HS];   // (BR, HS)
    __shared__ float dOs[BR][HS];  // (BR, HS)
    __shared__ float Ls[BR], Ds[BR];
    const int b = blockIdx.z, kvh = blockIdx.y, k0 = blockIdx.x * BC;
    const int tid = threadIdx.x, lane4 = tid & 3, j = k0 + tid / 4;
    int s, e;
    row_range(kv_start, kv_end, b, T, s, e);
    if (max(s, k0) >= min(e, k0 + BC)) return;  // no key of this tile is attended to
    const int64_t C = (int64_t)NH * HS;
    const int64_t bk = (int64_t)b * T * ld + (int64_t)kvh * HS;
    const bool key_ok = j >= s && j < e;

    float kr[DP], vr[DP], dkr[DP], dvr[DP];
#pragma unroll
    for (int i = 0; i < DP; i++) {
        kr[i] = key_ok ? k[bk + (int64_t)j * ld + lane4 + 4 * i] : 0.f;
        vr[i] = key_ok ? v[bk + (int64_t)j * ld + lane4 + 4 * i] : 0.f;
        dkr[i] = 0.f;
        dvr[i] = 0.f;
    }
    for (int h = kvh * G; h < (kvh + 1) * G; h++) {
    const int64_t bq = (int64_t)b * T * ld + (int64_t)h * HS;
    const int64_t bo = (int64_t)b * T * C + (int64_t)h * HS;
    const int64_t bl = ((int64_t)b * NH + h) * T;
    for (int i0 = max(k0, s); i0 < e; i0 += BR) {
        __syncthreads();
        for (int idx = tid; idx < BR * HS; idx += NT) {
            const int r = idx / HS, d = idx % HS, i = i0 + r;
            Qs[r][d] = i < e ? q[bq + (int64_t)i * ld + d] : 0.f;
            dOs[r][d] = i < e ? dout[bo + (int64_t)i * C + d] : 0.f;
        }
        if (tid < BR) {
            const int i = i0 + tid;
            Ls[tid] = i < e ? lse[bl + i] : 0.f;
            Ds[tid] = i < e ? D[bl + i] : 0.f;
        }
        __syncthreads();
        for (int ii = 0; ii < BR; ii++) {
            const int i = i0 + ii;
            float sdot = 0.f, pdot = 0.f;
#pragma unroll
            for (int x = 0; x < DP; x++) {
                sdot += Qs[ii][lane4 + 4 * x] * kr[x];
                pdot += dOs[ii][lane4 + 4 * x] * vr[x];
            }
            sdot = quad_sum(sdot);
            pdot = quad_sum(pdot);
            const bool on = key_ok && i < e && i >= j;
            const float p = on ? expf(sdot * scale - Ls[ii]) : 0.f;
            const float ds = p * (pdot - Ds[ii]);
#pragma unroll
            for (int x = 0; x < DP; x++) {
                dvr[x] += p * dOs[ii][lane4 + 4 * x];
                dkr[x] += ds * Qs[ii][lane4 + 4 * x];
            }
        }
    }
    }  // query heads of the group
    if (key_ok) {
#pragma unroll
        for (int x = 0; x < DP; x++) {
            const int64_t off = bk + (int64_t)j * ld + lane4 + 4 * x;
            dk[off] += dkr[x] * scale;
            dv[off] += dvr[x];
        }
    }
}

// dQ for 64 query rows of one (b, h); 4 threads per row; key tiles of 32 rows in shared memory.
template <int HS>
__global__ void __launch_bounds__(256) attn_bwd_dq_f32_kernel(float* dq, const float* dout, const float* lse,
                                                              const float* D, const float* q, const float* k,
                                                              const float* v, int64_t ld, int T, int NH, int G,
                                                              const int32_t* kv_start, const int32_t* kv_end,
                                                              float scale) {
    constexpr int BR = 64, BC = 32, NT = 256, DP = HS / 4;
    __shared__ float Ks[BC][HS];  // (BC, HS)
    __shared__ float Vs[BC][HS];  // (BC, HS)
    const int b = blockIdx.z, h = blockIdx.y;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * BR;
    const int tid = threadIdx.x, lane4 = tid & 3, t = q0 + tid / 4;
    int s, e;
    row_range(kv_start, kv_end, b, T, s, e);
    if (max(s, q0) >= min(e, q0 + BR)) return;  // no valid row in this tile
    const int64_t C = (int64_t)NH * HS;
    const int64_t bq = (int64_t)b * T * ld + (int64_t)h * HS;
    const int64_t bk = (int64_t)b * T * ld + (int64_t)(h / G) * HS;
    const int64_t bo = (int64_t)b * T * C + (int64_t)h * HS;
    const int64_t bl = ((int64_t)b * NH + h) * T;
    const bool valid = t >= s && t < e;
    const int kend = min(e, q0 + BR);

    float qr[DP], dor[DP], dqr[DP];
#pragma unroll
    for (int i = 0; i < DP; i++) {
        qr[i] = valid ? q[bq + (int64_t)t * ld + lane4 + 4 * i] : 0.f;
        dor[i] = valid ? dout[bo + (int64_t)t * C + lane4 + 4 * i] : 0.f;
        dqr[i] = 0.f;
    }
    const float L = valid ? lse[bl + t] : 0.f;
    const float Dt = valid ? D[bl + t] : 0.f;
    for (int j0 = s; j0 < kend; j0 += BC) {
        __syncthreads();
        for (int idx = tid; idx < BC * HS; idx += NT) {
            const int r = idx / HS, d = idx % HS, j = j0 + r;
            const int64_t off = bk + (int64_t)j * ld + d;
            Ks[r][d] = j < kend ? k[off] : 0.f;
            Vs[r][d] = j < kend ? v[off] : 0.f;
        }
        __syncthreads();
#pragma unroll 4
        for (int jj = 0; jj < BC; jj++) {
            float sdot = 0.f, pdot = 0.f;
#pragma unroll
            for (int x = 0; x < DP; x++) {
                sdot += qr[x] * Ks[jj][lane4 + 4 * x];
                pdot += dor[x] * Vs[jj][lane4 + 4 * x];
            }
            sdot = quad_sum(sdot);
            pdot = quad_sum(pdot);
            const int j = j0 + jj;
            const float p = (valid && j <= t && j < kend) ? expf(sdot * scale - L) : 0.f;
            const float ds = p * (pdot - Dt);
#pragma unroll
            for (int x = 0; x < DP; x++) dqr[x] += ds * Ks[jj][lane4 + 4 * x];
        }
    }
    if (valid) {
#pragma unroll
        for (int x = 0; x < DP; x++) dq[bq + (int64_t)t * ld + lane4 + 4 * x] += dqr[x] * scale;
    }
}

// ------------------------------------------------------------------ bf16 forward (tensor cores)

// Block: 4 warps x WM m-tiles of 16 query rows (BR = 64*WM rows of one (b, h)); warp w owns rows
// [16*WM*w, 16*WM*(w+1)) of the tile. K/V tiles of BC keys, double-buffered by cp.async. With WM = 2 each K/V
// fragment read from shared memory feeds two MMAs (FlashAttention-2's 128-row tiles).
// Shared: Q (BR, HS+8), K[2] (BC, HS+8), V[2] (BC, HS+8), bf16.
template <int HS, int WM, int BC>
__global__ void __launch_bounds__(128) attn_fwd_bf16_kernel(bf16* out, float* lse, const bf16* q, const bf16* k,
                                                            const bf16* v, int64_t ld, int T, int NH, int G,
                                                            const int32_t* kv_start, const int32_t* kv_end,
                                                            float scale_log2, bool aligned) {
    constexpr int BR = 64 * WM, NT = 128, STR = HS + 8, NTS = BC / 8, NTO = HS / 8;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* Qs = reinterpret_cast<bf16*>(smem_raw);
    bf16* Ks0 = Qs + BR * STR;
    bf16* Vs0 = Ks0 + 2 * BC * STR;

    const int b = blockIdx.z, h = blockIdx.y;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * BR;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, c = lane & 3;
    int s, e;
    row_range(kv_start, kv_end, b, T, s, e);
    const int64_t C = (int64_t)NH * HS;
    const int64_t bq = (int64_t)b * T * ld + (int64_t)h * HS;
    const int64_t bk = (int64_t)b * T * ld + (int64_t)(h / G) * HS;
    const int wr = warp * 16 * WM;   // first row of this warp within the tile
    const int wrow0 = q0 + wr;       // first absolute row of this warp
    const int kend = min(e, q0 + BR);

    float o[WM][NTO][4];
#pragma unroll
    for (int mt = 0; mt < WM; mt++)
#pragma unroll
        for (int n = 0; n < NTO; n++) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.f;
    float m[WM][2], l[WM][2];
#pragma unroll
    for (int mt = 0; mt < WM; mt++) {
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.f;
    }

    const bool any = max(s, q0) < min(e, q0 + BR);  // some row of the tile is valid
    if (any) {
        const int ntiles = (kend - s + BC - 1) / BC;
        load_tile_bf16<BR, HS, NT>(Qs, q + bq, ld, q0, T, aligned, tid);
        load_tile_bf16<BC, HS, NT>(Ks0, k + bk, ld, s, kend, aligned, tid);
        load_tile_bf16<BC, HS, NT>(Vs0, v + bk, ld, s, kend, aligned, tid);
        cp_async_commit();
        for (int it = 0; it < ntiles; it++) {
            const int j0 = s + it * BC;
            if (it + 1 < ntiles) {
                const int st = (it + 1) & 1;
                load_tile_bf16<BC, HS, NT>(Ks0 + st * BC * STR, k + bk, ld, j0 + BC, kend, aligned, tid);
                load_tile_bf16<BC, HS, NT>(Vs0 + st * BC * STR, v + bk, ld, j0 + BC, kend, aligned, tid);
                cp_async_commit();
                cp_async_wait<1>();
            } else {
                cp_async_wait<0>();
            }
            __syncthreads();
            const bf16* Ks = Ks0 + (it & 1) * BC * STR;
            const bf16* Vs = Vs0 + (it & 1) * BC * STR;
            if (j0 <= wrow0 + 16 * WM - 1) {  // else every key of the tile is in this warp's future
                float S[WM][NTS][4];
#pragma unroll
                for (int mt = 0; mt < WM; mt++)
#pragma unroll
                    for (int n = 0; n < NTS; n++) S[mt][n][0] = S[mt][n][1] = S[mt][n][2] = S[mt][n][3] = 0.f;
#pragma unroll
                for (int kk = 0; kk < HS / 16; kk++) {
                    uint32_t a[WM][4];
#pragma unroll
                    for (int mt = 0; mt < WM; mt++) load_a(a[mt], Qs, STR, wr + mt * 16, kk * 16, lane);
#pragma unroll
                    for (int np = 0; np < BC / 16; np++) {
                        uint32_t bb[4];
                        load_b_nk(bb, Ks, STR, np * 16, kk * 16, lane);
#pragma unroll
                        for (int mt = 0; mt < WM; mt++) {
                            mma_bf16(S[mt][2 * np], a[mt], bb[0], bb[1]);
                            mma_bf16(S[mt][2 * np + 1], a[mt], bb[2], bb[3]);
                        }
                    }
                }
#pragma unroll
                for (int mt = 0; mt < WM; mt++) {
                    const int r0 = wrow0 + mt * 16 + g;  // this thread's rows: r0 and r0 + 8
                    const bool need_mask = (j0 + BC - 1 > wrow0 + mt * 16) || (j0 + BC > kend);
#pragma unroll
                    for (int n = 0; n < NTS; n++) {
#pragma unroll
                        for (int r = 0; r < 4; r++) {
                            const int j = j0 + n * 8 + 2 * c + (r & 1);
                            const int row = r0 + (r < 2 ? 0 : 8);
                            S[mt][n][r] = (need_mask && (j > row || j >= kend)) ? -INFINITY
                                                                                 : S[mt][n][r] * scale_log2;
                        }
                    }
                    float alpha[2];
#pragma unroll
                    for (int hf = 0; hf < 2; hf++) {
                        float mx = -INFINITY;
#pragma unroll
                        for (int n = 0; n < NTS; n++)
                            mx = fmaxf(mx, fmaxf(S[mt][n][2 * hf], S[mt][n][2 * hf + 1]));
                        mx = quad_max(mx);
                        const float mnew = fmaxf(m[mt][hf], mx);
                        const float ms = mnew == -INFINITY ? 0.f : mnew;
                        alpha[hf] = exp2f(m[mt][hf] - ms);
                        float sum = 0.f;
#pragma unroll
                        for (int n = 0; n < NTS; n++) {
                            S[mt][n][2 * hf] = exp2f(S[mt][n][2 * hf] - ms);
                            S[mt][n][2 * hf + 1] = exp2f(S[mt][n][2 * hf + 1] - ms);
                            sum += S[mt][n][2 * hf] + S[mt][n][2 * hf + 1];
                        }
                        l[mt][hf] = l[mt][hf] * alpha[hf] + sum;  // per-thread partial (quad-reduced at the end)
                        m[mt][hf] = mnew;
                    }
#pragma unroll
                    for (int n = 0; n < NTO; n++) {
                        o[mt][n][0] *= alpha[0];
                        o[mt][n][1] *= alpha[0];
                        o[mt][n][2] *= alpha[1];
                        o[mt][n][3] *= alpha[1];
                    }
                }
#pragma unroll
                for (int kk = 0; kk < BC / 16; kk++) {
                    uint32_t a[WM][4];
#pragma unroll
                    for (int mt = 0; mt < WM; mt++) {
                        a[mt][0] = pack_bf16(S[mt][2 * kk][0], S[mt][2 * kk][1]);
                        a[mt][1] = pack_bf16(S[mt][2 * kk][2], S[mt][2 * kk][3]);
                        a[mt][2] = pack_bf16(S[mt][2 * kk + 1][0], S[mt][2 * kk + 1][1]);
                        a[mt][3] = pack_bf16(S[mt][2 * kk + 1][2], S[mt][2 * kk + 1][3]);
                    }
#pragma unroll
                    for (int np = 0; np < HS / 16; np++) {
                        uint32_t bb[4];
                        load_b_kn(bb, Vs, STR, kk * 16, np * 16, lane);
#pragma unroll
                        for (int mt = 0; mt < WM; mt++) {
                            mma_bf16(o[mt][2 * np], a[mt], bb[0], bb[1]);
                            mma_bf16(o[mt][2 * np + 1], a[mt], bb[2], bb[3]);
                        }
                    }
                }
            }
            __syncthreads();
        }
    }
#pragma unroll
    for (int mt = 0; mt < WM; mt++) {
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            const float lt = quad_sum(l[mt][hf]);
            const int row = wrow0 + mt * 16 + g + hf * 8;
            if (row >= T) continue;
            const bool ok = any && row >= s && row < e && lt > 0.f;
            const float inv = ok ? 1.f / lt : 0.f;
            bf16* orow = out + ((int64_t)b * T + row) * C + (int64_t)h * HS;
#pragma unroll
            for (int n = 0; n < NTO; n++) {
                orow[n * 8 + 2 * c] = __float2bfloat16_rn(o[mt][n][2 * hf] * inv);
                orow[n * 8 + 2 * c + 1] = __float2bfloat16_rn(o[mt][n][2 * hf + 1] * inv);
            }
            if (c == 0) lse[((int64_t)b * NH + h) * T + row] = ok ? (m[mt][hf] + log2f(lt)) * kLn2 : 0.f;
        }
    }
}

// ------------------------------------------------------------------ bf16 backward (tensor cores)

// dQ for 64 query rows (4 warps x 16) of one (b, h), looping over key tiles of 64 (double-buffered).
// Shared: Q, dO (64, HS+8), K[2], V[2] (64, HS+8) bf16; lse*log2e and D (64) fp32.
template <int HS>
__global__ void __launch_bounds__(128) attn_bwd_dq_bf16_kernel(bf16* dq, const bf16* dout, const float* lse,
                                                               const float* D, const bf16* q, const bf16* k,
                                                               const bf16* v, int64_t ld, int T, int NH, int G,
                                                               const int32_t* kv_start, const int32_t* kv_end,
                                                               float scale, bool aligned) {
    constexpr int BR = 64, BC = 64, NT = 128, STR = HS + 8, NTS = BC / 8, NTO = HS / 8;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* Qs = reinterpret_cast<bf16*>(smem_raw);
    bf16* dOs = Qs + BR * STR;
    bf16* Ks0 = dOs + BR * STR;
    bf16* Vs0 = Ks0 + 2 * BC * STR;
    float* Ls = reinterpret_cast<float*>(Vs0 + 2 * BC * STR);
    float* Ds = Ls + BR;

    const int b = blockIdx.z, h = blockIdx.y;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * BR;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, c = lane & 3;
    int s, e;
    row_range(kv_start, kv_end, b, T, s, e);
    if (max(s, q0) >= min(e, q0 + BR)) return;  // no valid row in this tile
    const int64_t C = (int64_t)NH * HS;
    const int64_t bq = (int64_t)b * T * ld + (int64_t)h * HS;
    const int64_t bk = (int64_t)b * T * ld + (int64_t)(h / G) * HS;
    const int64_t bo = (int64_t)b * T * C + (int64_t)h * HS;
    const int64_t bl = ((int64_t)b * NH + h) * T;
    const int row0 = q0 + warp * 16 + g, row1 = row0 + 8;
    const int kend = min(e, q0 + BR);
    const float scale_log2 = scale * kLog2e;
    const bool dout_aligned = (reinterpret_cast<uintptr_t>(dout) & 15) == 0;

    load_tile_bf16<BR, HS, NT>(Qs, q + bq, ld, q0, T, aligned, tid);
    load_tile_bf16<BR, HS, NT>(dOs, dout + bo, C, q0, T, dout_aligned, tid);
    cp_async_commit();
    if (tid < BR) {
        const int i = q0 + tid;
        Ls[tid] = i < T ? lse[bl + i] * kLog2e : 0.f;
        Ds[tid] = i < T ? D[bl + i] : 0.f;
    }
    float dqa[NTO][4];
#pragma unroll
    for (int n = 0; n < NTO; n++) dqa[n][0] = dqa[n][1] = dqa[n][2] = dqa[n][3] = 0.f;

    load_tile_bf16<BC, HS, NT>(Ks0, k + bk, ld, s, kend, aligned, tid);
    load_tile_bf16<BC, HS, NT>(Vs0, v + bk, ld, s, kend, aligned, tid);
    cp_async_commit();
    const int ntiles = (kend - s + BC - 1) / BC;
    for (int it = 0; it < ntiles; it++) {
        const int j0 = s + it * BC;
        if (it + 1 < ntiles) {
            const int st = (it + 1) & 1;
            load_tile_bf16<BC, HS, NT>(Ks0 + st * BC * STR, k + bk, ld, j0 + BC, kend, aligned, tid);
            load_tile_bf16<BC, HS, NT>(Vs0 + st * BC * STR, v + bk, ld, j0 + BC, kend, aligned, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const bf16* Ks = Ks0 + (it & 1) * BC * STR;
        const bf16* Vs = Vs0 + (it & 1) * BC * STR;
        if (j0 <= q0 + warp * 16 + 15) {  // else every key of the tile is in this warp's future
            float S[NTS][4], P[NTS][4];
#pragma unroll
            for (int n = 0; n < NTS; n++) {
                S[n][0] = S[n][1] = S[n][2] = S[n][3] = 0.f;
                P[n][0] = P[n][1] = P[n][2] = P[n][3] = 0.f;
            }
#pragma unroll
            for (int kk = 0; kk < HS / 16; kk++) {
                uint32_t a[4], ad[4];
                load_a(a, Qs, STR, warp * 16, kk * 16, lane);
                load_a(ad, dOs, STR, warp * 16, kk * 16, lane);
#pragma unroll
                for (int np = 0; np < BC / 16; np++) {
                    uint32_t bb[4];
                    load_b_nk(bb, Ks, STR, np * 16, kk * 16, lane);
                    mma_bf16(S[2 * np], a, bb[0], bb[1]);
                    mma_bf16(S[2 * np + 1], a, bb[2], bb[3]);
                    load_b_nk(bb, Vs, STR, np * 16, kk * 16, lane);
                    mma_bf16(P[2 * np], ad, bb[0], bb[1]);  // P holds dP = dO V^T here
                    mma_bf16(P[2 * np + 1], ad, bb[2], bb[3]);
                }
            }
            const float L0 = Ls[warp * 16 + g], L1 = Ls[warp * 16 + g + 8];
            const float D0 = Ds[warp * 16 + g], D1 = Ds[warp * 16 + g + 8];
#pragma unroll
            for (int n = 0; n < NTS; n++) {
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const int j = j0 + n * 8 + 2 * c + (r & 1);
                    const int row = r < 2 ? row0 : row1;
                    const bool on = j <= row && j < kend;
                    const float p = on ? exp2f(S[n][r] * scale_log2 - (r < 2 ? L0 : L1)) : 0.f;
                    S[n][r] = p * (P[n][r] - (r < 2 ? D0 : D1));  // dS
                }
            }
#pragma unroll
            for (int kk = 0; kk < BC / 16; kk++) {
                uint32_t a[4];
                a[0] = pack_bf16(S[2 * kk][0], S[2 * kk][1]);
                a[1] = pack_bf16(S[2 * kk][2], S[2 * kk][3]);
                a[2] = pack_bf16(S[2 * kk + 1][0], S[2 * kk + 1][1]);
                a[3] = pack_bf16(S[2 * kk + 1][2], S[2 * kk + 1][3]);
#pragma unroll
                for (int np = 0; np < HS / 16; np++) {
                    uint32_t bb[4];
                    load_b_kn(bb, Ks, STR, kk * 16, np * 16, lane);
                    mma_bf16(dqa[2 * np], a, bb[0], bb[1]);
                    mma_bf16(dqa[2 * np + 1], a, bb[2], bb[3]);
                }
            }
        }
        __syncthreads();  // the stage just read is overwritten by the next iteration's prefetch
    }
#pragma unroll
    for (int hf = 0; hf < 2; hf++) {
        const int row = hf == 0 ? row0 : row1;
        if (row < s || row >= e) continue;
        bf16* drow = dq + bq + (int64_t)row * ld;
#pragma unroll
        for (int n = 0; n < NTO; n++) {
#pragma unroll
            for (int x = 0; x < 2; x++) {
                const int d = n * 8 + 2 * c + x;
                drow[d] = __float2bfloat16_rn(__bfloat162float(drow[d]) + dqa[n][2 * hf + x] * scale);
            }
        }
    }
}

// dK, dV for 64 keys (4 warps x 16 keys) of one (b, h), looping over query tiles of BR rows.
// Works on transposed products: S^T = K Q^T, dP^T = V dO^T, so P^T and dS^T are A operands of
// dV += P^T dO and dK += dS^T Q without leaving registers.
// Query tiles are double-buffered. Shared: K, V (64, HS+8), Q[2], dO[2] (BR, HS+8) bf16; lse*log2e[2] and
// D[2] (BR) fp32.
template <int HS, int BR>
__global__ void __launch_bounds__(128) attn_bwd_dkdv_bf16_kernel(bf16* dk, bf16* dv, const bf16* dout,
                                                                 const float* lse, const float* D, const bf16* q,
                                                                 const bf16* k, const bf16* v, int64_t ld, int T,
                                                                 int NH, int G, const int32_t* kv_start,
                                                                 const int32_t* kv_end, float scale,
                                                                 bool aligned) {
    constexpr int BC = 64, NT = 128, STR = HS + 8, NTS = BR / 8, NTO = HS / 8;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16* Ks = reinterpret_cast<bf16*>(smem_raw);
    bf16* Vs = Ks + BC * STR;
    bf16* Qs0 = Vs + BC * STR;
    bf16* dOs0 = Qs0 + 2 * BR * STR;
    float* Ls0 = reinterpret_cast<float*>(dOs0 + 2 * BR * STR);
    float* Ds0 = Ls0 + 2 * BR;

    const int b = blockIdx.z, kvh = blockIdx.y, k0 = blockIdx.x * BC;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, c = lane & 3;
    int s, e;
    row_range(kv_start, kv_end, b, T, s, e);
    if (max(s, k0) >= min(e, k0 + BC)) return;  // no key of this tile is attended to
    const int64_t C = (int64_t)NH * HS;
    const int64_t bk = (int64_t)b * T * ld + (int64_t)kvh * HS;
    const int key0 = k0 + warp * 16 + g, key1 = key0 + 8;
    const float scale_log2 = scale * kLog2e;
    const bool dout_aligned = (reinterpret_cast<uintptr_t>(dout) & 15) == 0;

    // stage st of query tile x of the group (query head kvh*G + x / ntiles, tile x % ntiles, starting at row
    // i_begin + BR * (x % ntiles)): Q, dO rows by cp.async; lse*log2e and D by plain stores
    const int i_begin = max(k0, s);
    const int ntiles = (e - i_begin + BR - 1) / BR;
    auto load_queries = [&](int st, int x) {
        const int h = kvh * G + x / ntiles, i0 = i_begin + (x % ntiles) * BR;
        const int64_t bq = (int64_t)b * T * ld + (int64_t)h * HS;
        const int64_t bo = (int64_t)b * T * C + (int64_t)h * HS;
        const int64_t bl = ((int64_t)b * NH + h) * T;
        load_tile_bf16<BR, HS, NT>(Qs0 + st * BR * STR, q + bq, ld, i0, e, aligned, tid);
        load_tile_bf16<BR, HS, NT>(dOs0 + st * BR * STR, dout + bo, C, i0, e, dout_aligned, tid);
        if (tid < BR) {
            const int i = i0 + tid;
            Ls0[st * BR + tid] = i < e ? lse[bl + i] * kLog2e : 0.f;
            Ds0[st * BR + tid] = i < e ? D[bl + i] : 0.f;
        }
    };
    load_tile_bf16<BC, HS, NT>(Ks, k + bk, ld, k0, e, aligned, tid);
    load_tile_bf16<BC, HS, NT>(Vs, v + bk, ld, k0, e, aligned, tid);
    load_queries(0, 0);
    cp_async_commit();

    float dka[NTO][4], dva[NTO][4];
#pragma unroll
    for (int n = 0; n < NTO; n++) {
        dka[n][0] = dka[n][1] = dka[n][2] = dka[n][3] = 0.f;
        dva[n][0] = dva[n][1] = dva[n][2] = dva[n][3] = 0.f;
    }
    for (int it = 0; it < G * ntiles; it++) {
        const int i0 = i_begin + (it % ntiles) * BR;
        if (it + 1 < G * ntiles) {
            load_queries((it + 1) & 1, it + 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const bf16* Qs = Qs0 + (it & 1) * BR * STR;
        const bf16* dOs = dOs0 + (it & 1) * BR * STR;
        const float* Ls = Ls0 + (it & 1) * BR;
        const float* Ds = Ds0 + (it & 1) * BR;
        if (i0 + BR - 1 >= k0 + warp * 16) {  // else every query of the tile precedes this warp's keys
            float S[NTS][4], dP[NTS][4];
#pragma unroll
            for (int n = 0; n < NTS; n++) {
                S[n][0] = S[n][1] = S[n][2] = S[n][3] = 0.f;
                dP[n][0] = dP[n][1] = dP[n][2] = dP[n][3] = 0.f;
            }
#pragma unroll
            for (int kk = 0; kk < HS / 16; kk++) {
                uint32_t ak[4], av[4];
                load_a(ak, Ks, STR, warp * 16, kk * 16, lane);
                load_a(av, Vs, STR, warp * 16, kk * 16, lane);
#pragma unroll
                for (int np = 0; np < BR / 16; np++) {
                    uint32_t bb[4];
                    load_b_nk(bb, Qs, STR, np * 16, kk * 16, lane);
                    mma_bf16(S[2 * np], ak, bb[0], bb[1]);
                    mma_bf16(S[2 * np + 1], ak, bb[2], bb[3]);
                    load_b_nk(bb, dOs, STR, np * 16, kk * 16, lane);
                    mma_bf16(dP[2 * np], av, bb[0], bb[1]);
                    mma_bf16(dP[2 * np + 1], av, bb[2], bb[3]);
                }
            }
            // S, dP hold (key, query) elements: key = key0/key1 by register half, query = i0 + n*8 + 2c + (r&1).
#pragma unroll
            for (int n = 0; n < NTS; n++) {
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const int qi = n * 8 + 2 * c + (r & 1), i = i0 + qi;
                    const int key = r < 2 ? key0 : key1;
                    const bool on = i >= key && i < e && key >= s;
                    const float p = on ? exp2f(S[n][r] * scale_log2 - Ls[qi]) : 0.f;
                    S[n][r] = p;                        // P^T
                    dP[n][r] = p * (dP[n][r] - Ds[qi]);  // dS^T
                }
            }
#pragma unroll
            for (int kk = 0; kk < BR / 16; kk++) {
                uint32_t ap[4], as[4];
                ap[0] = pack_bf16(S[2 * kk][0], S[2 * kk][1]);
                ap[1] = pack_bf16(S[2 * kk][2], S[2 * kk][3]);
                ap[2] = pack_bf16(S[2 * kk + 1][0], S[2 * kk + 1][1]);
                ap[3] = pack_bf16(S[2 * kk + 1][2], S[2 * kk + 1][3]);
                as[0] = pack_bf16(dP[2 * kk][0], dP[2 * kk][1]);
                as[1] = pack_bf16(dP[2 * kk][2], dP[2 * kk][3]);
                as[2] = pack_bf16(dP[2 * kk + 1][0], dP[2 * kk + 1][1]);
                as[3] = pack_bf16(dP[2 * kk + 1][2], dP[2 * kk + 1][3]);
#pragma unroll
                for (int np = 0; np < HS / 16; np++) {
                    uint32_t bb[4];
                    load_b_kn(bb, dOs, STR, kk * 16, np * 16, lane);
                    mma_bf16(dva[2 * np], ap, bb[0], bb[1]);
                    mma_bf16(dva[2 * np + 1], ap, bb[2], bb[3]);
                    load_b_kn(bb, Qs, STR, kk * 16, np * 16, lane);
                    mma_bf16(dka[2 * np], as, bb[0], bb[1]);
                    mma_bf16(dka[2 * np + 1], as, bb[2], bb[3]);
                }
            }
        }
        __syncthreads();  // the stage just read is overwritten by the next iteration's prefetch
    }
#pragma unroll
    for (int hf = 0; hf < 2; hf++) {
        const int key = hf == 0 ? key0 : key1;
        if (key < s || key >= e) continue;
        bf16* krow = dk + bk + (int64_t)key * ld;
        bf16* vrow = dv + bk + (int64_t)key * ld;
#pragma unroll
        for (int n = 0; n < NTO; n++) {
#pragma unroll
            for (int x = 0; x < 2; x++) {
                const int d = n * 8 + 2 * c + x;
                krow[d] = __float2bfloat16_rn(__bfloat162float(krow[d]) + dka[n][2 * hf + x] * scale);
                vrow[d] = __float2bfloat16_rn(__bfloat162float(vrow[d]) + dva[n][2 * hf + x]);
            }
        }
    }
}

// ------------------------------------------------------------------ decode with a KV cache

// Copies the NKV kv heads of Tq rows into the caches (B, maxT, NKV, HS).
__global__ void kvcache_append_kernel(float* k_cache, float* v_cache, const float* k, const float* v, int64_t ld,
                                      int64_t B, int64_t Tq, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos) {
    const int64_t n = B * Tq * NKV * HS;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t d = idx % HS, h = (idx / HS) % NKV, t = (idx / (HS * NKV)) % Tq, b = idx / (HS * NKV * Tq);
        const int64_t src = b * Tq * ld + t * ld + h * HS + d;
        const int64_t dst = ((b * maxT + pos + t) * NKV + h) * HS + d;
        k_cache[dst] = k[src];
        v_cache[dst] = v[src];
    }
}

// One block per (query i, head h, batch b); 8 warps take 32-key chunks in turn (lane = key for the scores,
// lane = dims lane + 32*r for the values) and merge their (max, sum, acc) at the end. Head h reads the cache
// rows of kv head h / G.
template <int HS>
__global__ void __launch_bounds__(256) attn_kvcache_kernel(float* out, const float* q, const float* k_cache,
                                                           const float* v_cache, int64_t ld, int64_t Tq,
                                                           int NH, int G, int64_t maxT, int64_t pos,
                                                           const int32_t* kv_start, float scale) {
    constexpr int NW = 8, DL = HS / 32;
    __shared__ float qs[HS];
    __shared__ float ps[NW][32];
    __shared__ float wm[NW], wl[NW];
    __shared__ float wo[NW][HS];
    const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int64_t kend = min(pos + i + 1, maxT);
    int64_t s = kv_start ? (int64_t)kv_start[b] : 0;
    s = s < 0 ? 0 : s;
    const int64_t rs = (int64_t)(NH / G) * HS;  // cache row stride (NKV heads)
    const float* kb = k_cache + (int64_t)b * maxT * rs + (int64_t)(h / G) * HS;
    const float* vb = v_cache + (int64_t)b * maxT * rs + (int64_t)(h / G) * HS;
    for (int d = tid; d < HS; d += blockDim.x) qs[d] = q[(int64_t)b * Tq * ld + (int64_t)i * ld + h * HS + d] * scale;
    __syncthreads();

    float m = -INFINITY, l = 0.f, acc[DL];
#pragma unroll
    for (int r = 0; r < DL; r++) acc[r] = 0.f;
    for (int64_t c0 = s + (int64_t)warp * 32; c0 < kend; c0 += NW * 32) {
        const int64_t j = c0 + lane;
        float sc = -INFINITY;
        if (j < kend) {
            const float* kr = kb + j * rs;
            float dot = 0.f;
#pragma unroll 8
            for (int d = 0; d < HS; d++) dot += qs[d] * kr[d];
            sc = dot;
        }
        const float mnew = fmaxf(m, warp_max(sc));  // finite: key c0 < kend exists
        const float alpha = expf(m - mnew);
        const float p = j < kend ? expf(sc - mnew) : 0.f;
        l = l * alpha + warp_sum(p);
#pragma unroll
        for (int r = 0; r < DL; r++) acc[r] *= alpha;
        ps[warp][lane] = p;
        __syncwarp();
        const int cnt = (int)min((int64_t)32, kend - c0);
        for (int jj = 0; jj < cnt; jj++) {
            const float pj = ps[warp][jj];
            const float* vr = vb + (c0 + jj) * rs;
#pragma unroll
            for (int r = 0; r < DL; r++) acc[r] += pj * vr[lane + 32 * r];
        }
        __syncwarp();
        m = mnew;
    }
    if (lane == 0) {
        wm[warp] = m;
        wl[warp] = l;
    }
#pragma unroll
    for (int r = 0; r < DL; r++) wo[warp][lane + 32 * r] = acc[r];
    __syncthreads();
    for (int d = tid; d < HS; d += blockDim.x) {
        float M = -INFINITY;
        for (int w = 0; w < NW; w++) M = fmaxf(M, wm[w]);
        float L = 0.f, O = 0.f;
        if (M != -INFINITY) {
            for (int w = 0; w < NW; w++) {
                const float f = wm[w] == -INFINITY ? 0.f : expf(wm[w] - M);
                L += wl[w] * f;
                O += wo[w][d] * f;
            }
        }
        out[(((int64_t)b * Tq + i) * NH + h) * HS + d] = L > 0.f ? O / L : 0.f;
    }
}

// ------------------------------------------------------------------ launch helpers

inline bool head_size_ok(int64_t HS) { return HS == 32 || HS == 64 || HS == 128; }

// NH query heads over NKV kv heads: both in the grid's y range, NH a multiple of NKV.
inline bool heads_ok(int64_t NH, int64_t NKV) {
    return NH > 0 && NKV > 0 && NH <= kMaxGridYZ && NKV <= NH && NH % NKV == 0;
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

inline int rowdot(float* D, const void* dout, const void* out, bool is_bf16, int64_t B, int64_t T, int64_t NH,
                  int64_t HS, cudaStream_t st) {
    const int64_t rows = B * T * NH;
    const int64_t blocks = std::min<int64_t>((rows + 7) / 8, 65536);
    if (is_bf16)
        attn_bwd_rowdot_kernel<bf16><<<(unsigned)blocks, 256, 0, st>>>(
            D, static_cast<const bf16*>(dout), static_cast<const bf16*>(out), B, T, NH, HS);
    else
        attn_bwd_rowdot_kernel<float><<<(unsigned)blocks, 256, 0, st>>>(
            D, static_cast<const float*>(dout), static_cast<const float*>(out), B, T, NH, HS);
    return (int)cudaGetLastError();
}

// Calls f(b0, nb) for batch chunks that fit the grid's z limit.
template <typename F>
inline int for_batch_chunks(int64_t B, F f) {
    for (int64_t b0 = 0; b0 < B; b0 += kMaxGridYZ) {
        const int err = f(b0, std::min<int64_t>(kMaxGridYZ, B - b0));
        if (err) return err;
    }
    return 0;
}

inline const int32_t* offset_or_null(const int32_t* p, int64_t b0) { return p ? p + b0 : nullptr; }

template <int HS>
int fwd_f32(float* out, float* lse, const float* q, const float* k, const float* v, int64_t ld, int64_t B,
            int64_t T, int64_t NH, int64_t NKV, const int32_t* kv_start, const int32_t* kv_end, cudaStream_t st) {
    const float scale = 1.f / sqrtf((float)HS);
    const int64_t C = NH * HS;
    return for_batch_chunks(B, [&](int64_t b0, int64_t nb) {
        dim3 grid((unsigned)((T + 63) / 64), (unsigned)NH, (unsigned)nb);
        attn_fwd_f32_kernel<HS><<<grid, 256, 0, st>>>(out + b0 * T * C, lse + b0 * NH * T, q + b0 * T * ld,
                                                      k + b0 * T * ld, v + b0 * T * ld, ld, (int)T, (int)NH,
                                                      (int)(NH / NKV), offset_or_null(kv_start, b0),
                                                      offset_or_null(kv_end, b0), scale);
        return (int)cudaGetLastError();
    });
}

template <int HS>
int bwd_f32(float* dq, float* dk, float* dv, const float* dout, const float* lse, const float* D, const float* q,
            const float* k, const float* v, int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV,
            const int32_t* kv_start, const int32_t* kv_end, cudaStream_t st) {
    const float scale = 1.f / sqrtf((float)HS);
    const int64_t C = NH * HS;
    const int G = (int)(NH / NKV);
    return for_batch_chunks(B, [&](int64_t b0, int64_t nb) {
        const int64_t oq = b0 * T * ld, oo = b0 * T * C, ol = b0 * NH * T;
        const int32_t* ks = offset_or_null(kv_start, b0);
        const int32_t* ke = offset_or_null(kv_end, b0);
        dim3 gk((unsigned)((T + 63) / 64), (unsigned)NKV, (unsigned)nb);
        attn_bwd_dkdv_f32_kernel<HS><<<gk, 256, 0, st>>>(dk + oq, dv + oq, dout + oo, lse + ol, D + ol, q + oq,
                                                         k + oq, v + oq, ld, (int)T, (int)NH, G, ks, ke, scale);
        int err = (int)cudaGetLastError();
        if (err) return err;
        dim3 gq((unsigned)((T + 63) / 64), (unsigned)NH, (unsigned)nb);
        attn_bwd_dq_f32_kernel<HS><<<gq, 256, 0, st>>>(dq + oq, dout + oo, lse + ol, D + ol, q + oq, k + oq,
                                                       v + oq, ld, (int)T, (int)NH, G, ks, ke, scale);
        return (int)cudaGetLastError();
    });
}

// Forward tile shapes: WM m-tiles of 16 rows per warp (BR = 64*WM rows per block) and BC keys per tile.
// The default is 128-row tiles (WM = 2; BC = 32 at HS = 128 for the register budget); the environment
// variable JALIGN_ATTN_FWD_TILE=64 selects 64-row tiles (WM = 1, BC = 64) for comparison in benchmarks.
template <int HS, int WM, int BC>
int fwd_bf16_tile(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v, int64_t ld, int64_t B,
                  int64_t T, int64_t NH, int64_t NKV, const int32_t* kv_start, const int32_t* kv_end,
                  cudaStream_t st) {
    constexpr int STR = HS + 8, BR = 64 * WM;
    const size_t smem = (size_t)(BR + 4 * BC) * STR * sizeof(bf16);
    int err = (int)cudaFuncSetAttribute(attn_fwd_bf16_kernel<HS, WM, BC>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err) return err;
    const float scale_log2 = kLog2e / sqrtf((float)HS);
    const bool aligned = aligned16(q) && aligned16(k) && aligned16(v) && ld % 8 == 0;
    const int64_t C = NH * HS;
    return for_batch_chunks(B, [&](int64_t b0, int64_t nb) {
        dim3 grid((unsigned)((T + BR - 1) / BR), (unsigned)NH, (unsigned)nb);
        attn_fwd_bf16_kernel<HS, WM, BC><<<grid, 128, smem, st>>>(
            out + b0 * T * C, lse + b0 * NH * T, q + b0 * T * ld, k + b0 * T * ld, v + b0 * T * ld, ld, (int)T,
            (int)NH, (int)(NH / NKV), offset_or_null(kv_start, b0), offset_or_null(kv_end, b0), scale_log2,
            aligned);
        return (int)cudaGetLastError();
    });
}

inline bool fwd_small_tiles() {
    const char* t = std::getenv("JALIGN_ATTN_FWD_TILE");
    return t && std::strcmp(t, "64") == 0;
}

template <int HS>
int fwd_bf16(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v, int64_t ld, int64_t B,
             int64_t T, int64_t NH, int64_t NKV, const int32_t* kv_start, const int32_t* kv_end, cudaStream_t st) {
    if (fwd_small_tiles())
        return fwd_bf16_tile<HS, 1, 64>(out, lse, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
    return fwd_bf16_tile<HS, 2, HS == 128 ? 32 : 64>(out, lse, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
}

template <int HS>
int bwd_bf16(bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const float* lse, const float* D, const bf16* q,
             const bf16* k, const bf16* v, int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV,
             const int32_t* kv_start, const int32_t* kv_end, cudaStream_t st) {
    constexpr int STR = HS + 8;
    constexpr int BRK = HS == 128 ? 32 : 64;  // query tile of the dK/dV kernel (register budget)
    const size_t smem_q = (size_t)(2 * 64 + 4 * 64) * STR * sizeof(bf16) + 2 * 64 * sizeof(float);
    const size_t smem_k = (size_t)(2 * 64 + 4 * BRK) * STR * sizeof(bf16) + 4 * BRK * sizeof(float);
    int err = (int)cudaFuncSetAttribute(attn_bwd_dq_bf16_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)smem_q);
    if (err) return err;
    err = (int)cudaFuncSetAttribute(attn_bwd_dkdv_bf16_kernel<HS, BRK>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem_k);
    if (err) return err;
    const float scale = 1.f / sqrtf((float)HS);
    const bool aligned = aligned16(q) && aligned16(k) && aligned16(v) && ld % 8 == 0;
    const int64_t C = NH * HS;
    const int G = (int)(NH / NKV);
    return for_batch_chunks(B, [&](int64_t b0, int64_t nb) {
        const int64_t oq = b0 * T * ld, oo = b0 * T * C, ol = b0 * NH * T;
        const int32_t* ks = offset_or_null(kv_start, b0);
        const int32_t* ke = offset_or_null(kv_end, b0);
        dim3 gk((unsigned)((T + 63) / 64), (unsigned)NKV, (unsigned)nb);
        attn_bwd_dkdv_bf16_kernel<HS, BRK><<<gk, 128, smem_k, st>>>(dk + oq, dv + oq, dout + oo, lse + ol, D + ol,
                                                                   q + oq, k + oq, v + oq, ld, (int)T, (int)NH,
                                                                   G, ks, ke, scale, aligned);
        int e2 = (int)cudaGetLastError();
        if (e2) return e2;
        dim3 gq((unsigned)((T + 63) / 64), (unsigned)NH, (unsigned)nb);
        attn_bwd_dq_bf16_kernel<HS><<<gq, 128, smem_q, st>>>(dq + oq, dout + oo, lse + ol, D + ol, q + oq, k + oq,
                                                             v + oq, ld, (int)T, (int)NH, G, ks, ke, scale,
                                                             aligned);
        return (int)cudaGetLastError();
    });
}

// Scratch D(B, NH, T) from the stream-ordered pool, freed in stream order after the kernels that read it.
// Where memory pools are unsupported (cudaMallocAsync fails), a plain cudaMalloc, freed after the stream
// has finished with it.
template <typename F>
int with_rowdot_scratch(int64_t B, int64_t T, int64_t NH, int64_t HS, const void* dout, const void* out,
                        bool is_bf16, cudaStream_t st, F f) {
    float* D = nullptr;
    const size_t bytes = (size_t)(B * NH * T) * sizeof(float);
    bool pooled = true;
    int err = (int)cudaMallocAsync(reinterpret_cast<void**>(&D), bytes, st);
    if (err) {
        (void)cudaGetLastError();
        pooled = false;
        err = (int)cudaMalloc(reinterpret_cast<void**>(&D), bytes);
        if (err) return err;
    }
    err = rowdot(D, dout, out, is_bf16, B, T, NH, HS, st);
    if (!err) err = f(D);
    int err2;
    if (pooled) {
        err2 = (int)cudaFreeAsync(D, st);
    } else {
        err2 = (int)cudaStreamSynchronize(st);
        const int err3 = (int)cudaFree(D);
        if (!err2) err2 = err3;
    }
    return err ? err : err2;
}

}  // namespace

// ------------------------------------------------------------------ launchers (jalign_cuda.h)

int attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, int64_t ld,
                      int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                      const int32_t* kv_end, void* stream) {
    if (!head_size_ok(HS) || !heads_ok(NH, NKV)) return (int)cudaErrorInvalidValue;
    if (B <= 0 || T <= 0) return 0;
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    switch (HS) {
        case 32: return fwd_f32<32>(out, lse, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
        case 64: return fwd_f32<64>(out, lse, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
        default: return fwd_f32<128>(out, lse, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
    }
}

int attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out, const float* lse,
                       const float* q, const float* k, const float* v, int64_t ld, int64_t B, int64_t T,
                       int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start, const int32_t* kv_end,
                       void* stream) {
    if (!head_size_ok(HS) || !heads_ok(NH, NKV)) return (int)cudaErrorInvalidValue;
    if (B <= 0 || T <= 0) return 0;
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    return with_rowdot_scratch(B, T, NH, HS, dout, out, false, st, [&](const float* D) {
        switch (HS) {
            case 32: return bwd_f32<32>(dq, dk, dv, dout, lse, D, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
            case 64: return bwd_f32<64>(dq, dk, dv, dout, lse, D, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
            default: return bwd_f32<128>(dq, dk, dv, dout, lse, D, q, k, v, ld, B, T, NH, NKV, kv_start, kv_end, st);
        }
    });
}

int attention_forward_bf16(uint16_t* out, float* lse, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                           int64_t ld, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS,
                           const int32_t* kv_start, const int32_t* kv_end, void* stream) {
    if (!head_size_ok(HS) || !heads_ok(NH, NKV)) return (int)cudaErrorInvalidValue;
    if (B <= 0 || T <= 0) return 0;
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    bf16* o = reinterpret_cast<bf16*>(out);
    const bf16* qq = reinterpret_cast<const bf16*>(q);
    const bf16* kk = reinterpret_cast<const bf16*>(k);
    const bf16* vv = reinterpret_cast<const bf16*>(v);
    switch (HS) {
        case 32: return fwd_bf16<32>(o, lse, qq, kk, vv, ld, B, T, NH, NKV, kv_start, kv_end, st);
        case 64: return fwd_bf16<64>(o, lse, qq, kk, vv, ld, B, T, NH, NKV, kv_start, kv_end, st);
        default: return fwd_bf16<128>(o, lse, qq, kk, vv, ld, B, T, NH, NKV, kv_start, kv_end, st);
    }
}

int attention_backward_bf16(uint16_t* dq, uint16_t* dk, uint16_t* dv, const uint16_t* dout, const uint16_t* out,
                            const float* lse, const uint16_t* q, const uint16_t* k, const uint16_t* v, int64_t ld,
                            int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HS, const int32_t* kv_start,
                            const int32_t* kv_end, void* stream) {
    if (!head_size_ok(HS) || !heads_ok(NH, NKV)) return (int)cudaErrorInvalidValue;
    if (B <= 0 || T <= 0) return 0;
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    bf16* dqq = reinterpret_cast<bf16*>(dq);
    bf16* dkk = reinterpret_cast<bf16*>(dk);
    bf16* dvv = reinterpret_cast<bf16*>(dv);
    const bf16* d_o = reinterpret_cast<const bf16*>(dout);
    const bf16* qq = reinterpret_cast<const bf16*>(q);
    const bf16* kk = reinterpret_cast<const bf16*>(k);
    const bf16* vv = reinterpret_cast<const bf16*>(v);
    return with_rowdot_scratch(B, T, NH, HS, dout, out, true, st, [&](const float* D) {
        switch (HS) {
            case 32:
                return bwd_bf16<32>(dqq, dkk, dvv, d_o, lse, D, qq, kk, vv, ld, B, T, NH, NKV, kv_start, kv_end, st);
            case 64:
                return bwd_bf16<64>(dqq, dkk, dvv, d_o, lse, D, qq, kk, vv, ld, B, T, NH, NKV, kv_start, kv_end, st);
            default:
                return bwd_bf16<128>(dqq, dkk, dvv, d_o, lse, D, qq, kk, vv, ld, B, T, NH, NKV, kv_start, kv_end, st);
        }
    });
}

int kvcache_append(float* k_cache, float* v_cache, const float* k, const float* v, int64_t ld, int64_t B,
                   int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos, void* stream) {
    if (!heads_ok(NH, NKV)) return (int)cudaErrorInvalidValue;
    const int64_t n = B * Tq * NKV * HS;
    if (n <= 0) return 0;
    const int64_t blocks = std::min<int64_t>((n + 255) / 256, 65536);
    kvcache_append_kernel<<<(unsigned)blocks, 256, 0, static_cast<cudaStream_t>(stream)>>>(
        k_cache, v_cache, k, v, ld, B, Tq, NKV, HS, maxT, pos);
    return (int)cudaGetLastError();
}

int attention_kvcache(float* out, const float* q, const float* k_cache, const float* v_cache, int64_t ld,
                      int64_t B, int64_t Tq, int64_t NH, int64_t NKV, int64_t HS, int64_t maxT, int64_t pos,
                      const int32_t* kv_start, void* stream) {
    if (!head_size_ok(HS) || !heads_ok(NH, NKV) || Tq > 0x7fffffff) return (int)cudaErrorInvalidValue;
    if (B <= 0 || Tq <= 0) return 0;
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    const float scale = 1.f / sqrtf((float)HS);
    const int64_t C = NH * HS, CK = NKV * HS;
    const int G = (int)(NH / NKV);
    return for_batch_chunks(B, [&](int64_t b0, int64_t nb) {
        dim3 grid((unsigned)Tq, (unsigned)NH, (unsigned)nb);
        const float* qb = q + b0 * Tq * ld;
        const float* kc = k_cache + b0 * maxT * CK;
        const float* vc = v_cache + b0 * maxT * CK;
        float* ob = out + b0 * Tq * C;
        const int32_t* ks = offset_or_null(kv_start, b0);
        switch (HS) {
            case 32:
                attn_kvcache_kernel<32><<<grid, 256, 0, st>>>(ob, qb, kc, vc, ld, Tq, (int)NH, G, maxT, pos, ks, scale);
                break;
            case 64:
                attn_kvcache_kernel<64><<<grid, 256, 0, st>>>(ob, qb, kc, vc, ld, Tq, (int)NH, G, maxT, pos, ks, scale);
                break;
            default:
                attn_kvcache_kernel<128><<<grid, 256, 0, st>>>(ob, qb, kc, vc, ld, Tq, (int)NH, G, maxT, pos, ks,
                                                               scale);
                break;
        }
        return (int)cudaGetLastError();
    });
}

}  // namespace cuda
}  // namespace jalign
