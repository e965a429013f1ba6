// Warp-level tensor-core helpers for the jalign attention kernels (sm_80+): ldmatrix fragment loaders,
// the bf16 m16n8k16 MMA with fp32 accumulation, cp.async copies and bf16 packing.
//
// Fragment layouts of mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (g = lane/4, c = lane%4):
//   A (16x16, row-major): a0 = A[g][2c..2c+1], a1 = A[g+8][2c..], a2 = A[g][2c+8..], a3 = A[g+8][2c+8..]
//   B (16x8, "col"):      b0 = B[2c..2c+1][g], b1 = B[2c+8..2c+9][g]
//   C (16x8, fp32):       c0,c1 = C[g][2c, 2c+1], c2,c3 = C[g+8][2c, 2c+1]
// A C fragment of two adjacent n-tiles therefore packs directly into an A fragment (FlashAttention-2).
// Shared-memory tiles are row-major bf16 with a row stride of (HS + 8) elements: 16-byte aligned rows for
// ldmatrix and no bank conflicts (consecutive rows start 4 banks apart).
#pragma once
#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace jalign {
namespace cuda {
namespace attn {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low 16 bits) = lo
    return *reinterpret_cast<uint32_t*>(&v);
}

// c += a * b (one 16x8x16 tile).
__device__ __forceinline__ void mma_bf16(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t* r, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t* r, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}

// A fragment of rows [r0, r0+16) x cols [k0, k0+16) of a row-major tile (stride elements per row).
__device__ __forceinline__ void load_a(uint32_t* a, const __nv_bfloat16* tile, int stride, int r0, int k0,
                                       int lane) {
    const int mi = lane >> 3, r = lane & 7;
    ldmatrix_x4(a, tile + (r0 + r + (mi & 1) * 8) * stride + k0 + (mi >> 1) * 8);
}

// B fragments for two n-tiles when B^T is stored row-major as tile[n][k] (e.g. K rows for S = Q K^T):
// b[0],b[1] for n in [n0, n0+8); b[2],b[3] for n in [n0+8, n0+16); k in [k0, k0+16).
__device__ __forceinline__ void load_b_nk(uint32_t* b, const __nv_bfloat16* tile, int stride, int n0, int k0,
                                          int lane) {
    const int mi = lane >> 3, r = lane & 7;
    ldmatrix_x4(b, tile + (n0 + r + (mi >> 1) * 8) * stride + k0 + (mi & 1) * 8);
}

// B fragments for two n-tiles when B is stored row-major as tile[k][n] (e.g. V rows for O = P V):
// b[0],b[1] for n in [n0, n0+8); b[2],b[3] for n in [n0+8, n0+16); k in [k0, k0+16).
__device__ __forceinline__ void load_b_kn(uint32_t* b, const __nv_bfloat16* tile, int stride, int k0, int n0,
                                          int lane) {
    const int mi = lane >> 3, r = lane & 7;
    ldmatrix_x4_trans(b, tile + (k0 + r + (mi & 1) * 8) * stride + n0 + (mi >> 1) * 8);
}

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_u32(smem)), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Copies rows [row0, row0+R) of a (rows, HS) bf16 view (row r at src + r*ld) into a row-major shared tile
// with row stride HS+8; rows at or past row_end are zero-filled. aligned: src rows are 16-byte aligned
// (then cp.async, otherwise plain loads). Block-cooperative over NT threads; caller commits and waits.
template <int R, int HS, int NT>
__device__ __forceinline__ void load_tile_bf16(__nv_bfloat16* tile, const __nv_bfloat16* src, int64_t ld,
                                               int row0, int row_end, bool aligned, int tid) {
    constexpr int CHUNKS = HS / 8;  // 16-byte chunks per row
    constexpr int STR = HS + 8;
    for (int idx = tid; idx < R * CHUNKS; idx += NT) {
        const int r = idx / CHUNKS, ch = idx % CHUNKS;
        __nv_bfloat16* dst = tile + r * STR + ch * 8;
        const int grow = row0 + r;
        if (grow < row_end) {
            const __nv_bfloat16* s = src + (int64_t)grow * ld + ch * 8;
            if (aligned) {
                cp_async16(dst, s);
            } else {
#pragma unroll
                for (int i = 0; i < 8; i++) dst[i] = s[i];
            }
        } else {
            *reinterpret_cast<uint4*>(dst) = make_uint4(0u, 0u, 0u, 0u);
        }
    }
}

}  // namespace attn
}  // namespace cuda
}  // namespace jalign
