// CPU emulation of the CUDA features used by the jalign attention kernels, so that their index arithmetic,
// fragment layouts and masking can be tested on a machine without a GPU (cuda-kernels/test/cpu-emulation/run.sh).
// Blocks run one after another; the threads of a block are ucontext fibers scheduled round-robin in one OS
// thread; barriers and warp collectives (shuffles, ldmatrix, mma.sync) yield until every participant arrived.
// Device memory is host memory filled with 0xff (NaN) on allocation, so reads of unwritten memory show up;
// dynamic shared memory is bounds- and alignment-checked by ldmatrix and cp.async. Not a performance model.
#pragma once
#include <ucontext.h>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>
#include <algorithm>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(x) alignas(x)
#define __shared__ static

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint4 { unsigned x, y, z, w; };
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }

typedef int cudaError_t;
typedef void* cudaStream_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorNoDevice = 100 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
struct cudaDeviceProp { char name[256]; int major, minor, multiProcessorCount, l2CacheSize; };

namespace emu {
struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack;
    dim3 tidx;
    bool done = false;
};
struct Barrier {
    int count = 0, expected = 0;
    long gen = 0;
};
extern Fiber* g_cur;
extern dim3 g_block_idx, g_block_dim, g_grid_dim;
extern unsigned char* g_dyn_smem;
extern size_t g_dyn_smem_bytes, g_dyn_smem_allowed;
extern int g_last_error;
void yield();
void block_sync();
void warp_sync();
int lane();
// per-warp exchange slots (64-bit) for collectives
uint64_t* warp_slots(int n_per_lane);
void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body);
}  // namespace emu

#define threadIdx (emu::g_cur->tidx)
#define blockIdx (emu::g_block_idx)
#define blockDim (emu::g_block_dim)
#define gridDim (emu::g_grid_dim)

inline void __syncthreads() { emu::block_sync(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp_sync(); }
inline float __shfl_xor_sync(unsigned, float x, int o) {
    uint64_t* s = emu::warp_slots(1);
    const int l = emu::lane();
    uint32_t u;
    std::memcpy(&u, &x, 4);
    s[l] = u;
    emu::warp_sync();
    uint32_t r = (uint32_t)s[l ^ o];
    emu::warp_sync();
    float f;
    std::memcpy(&f, &r, 4);
    return f;
}

template <class A, class B>
inline typename std::common_type<A, B>::type min(A a, B b) { return a < b ? a : b; }
template <class A, class B>
inline typename std::common_type<A, B>::type max(A a, B b) { return a > b ? a : b; }

// ---- bf16
struct __nv_bfloat16 { uint16_t v; };
struct __nv_bfloat162 { __nv_bfloat16 x, y; };
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) { r.v = (uint16_t)((u >> 16) | 0x40u); return r; }
    u += 0x7fffu + ((u >> 16) & 1u);
    r.v = (uint16_t)(u >> 16);
    return r;
}
inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.v << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)}; }

// ---- runtime
inline int cudaGetLastError() { int e = emu::g_last_error; emu::g_last_error = 0; return e; }
inline const char* cudaGetErrorString(int e) { return e == 0 ? "no error" : "emulated error"; }
template <class F>
inline int cudaFuncSetAttribute(F, cudaFuncAttribute, int v) {
    if (v > 227 * 1024) return cudaErrorInvalidValue;
    emu::g_dyn_smem_allowed = std::max<size_t>(emu::g_dyn_smem_allowed, (size_t)v);
    return 0;
}
inline int cudaMalloc(void* p, size_t n) {
    void* q = std::malloc(n ? n : 1);
    std::memset(q, 0xff, n);  // NaN pattern: reads of unwritten memory show up
    *reinterpret_cast<void**>(p) = q;
    return 0;
}
template <class T> inline int cudaMalloc(T** p, size_t n) { return cudaMalloc((void*)p, n); }
inline int cudaMallocAsync(void** p, size_t n, cudaStream_t) { return cudaMalloc((void*)p, n); }
inline int cudaFreeAsync(void* p, cudaStream_t) { std::free(p); return 0; }
inline int cudaFree(void* p) { std::free(p); return 0; }
inline int cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { std::memcpy(d, s, n); return 0; }
inline int cudaMemset(void* d, int v, size_t n) { std::memset(d, v, n); return 0; }
inline int cudaDeviceSynchronize() { return 0; }
inline int cudaStreamSynchronize(cudaStream_t) { return 0; }
inline int cudaGetDeviceCount(int* n) { *n = 1; return 0; }
inline int cudaGetDeviceProperties(cudaDeviceProp* p, int) {
    std::strcpy(p->name, "CPU emulation");
    p->major = 9; p->minor = 0; p->multiProcessorCount = 1; p->l2CacheSize = 0;
    return 0;
}
inline int __cvta_generic_to_shared(const void*) { return 0; }
