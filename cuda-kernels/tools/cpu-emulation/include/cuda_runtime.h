// CPU emulation of the CUDA runtime and of the device intrinsics used by jalign's core, sampling and loss
// kernels, so that their logic (indexing, barriers, warp collectives, reductions) can run and be tested on a
// machine without a GPU. See ../README.md. Not for production: thousands of times slower than a GPU.
//
// Model: each CUDA thread is a ucontext fiber; the blocks of a grid run one after another on one OS thread;
// __syncthreads() is a rendezvous of every live thread of the block, a warp collective (shuffle, ballot,
// reduce) a rendezvous of the 32 lanes of a warp; __shared__ variables are function statics (one block at a
// time); "device" memory is host memory and every stream is synchronous. A barrier that not every thread
// reaches aborts with "emu: deadlock". What it cannot show: races between threads (fibers switch only at
// sync points), timing, occupancy, shared-memory limits and the hardware's float rounding of fast-math
// intrinsics.
#pragma once
#include <ucontext.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <climits>
#include <functional>
#include <vector>
#include <tuple>

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint3_ { unsigned x, y, z; };
struct float4 { float x, y, z, w; };
inline float4 make_float4(float a, float b, float c, float d) { return float4{a, b, c, d}; }

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

typedef enum cudaError {
  cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidMemcpyDirection = 21, cudaErrorLaunchFailure = 719
} cudaError_t;
typedef enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 } cudaMemcpyKind;
struct CUstream_st { int dummy; };
typedef CUstream_st* cudaStream_t;
#define cudaStreamNonBlocking 1
struct cudaDeviceProp { char name[256]; int major, minor; };

namespace emu {
constexpr size_t kStack = 128 * 1024;
struct Fiber {
  ucontext_t ctx;
  char* stack = nullptr;
  int state = 0;  // 0 runnable, 1 block barrier, 2 warp barrier, 3 done
  uint3_ tid;
  int linear = 0;
};
inline ucontext_t g_sched;
inline Fiber* g_cur = nullptr;
inline Fiber g_pool[1024];
inline uint3_ g_block_idx;
inline dim3 g_block_dim, g_grid_dim;
inline std::function<void()> g_body;
inline unsigned long long g_xchg[32][32];  // [warp][lane]
inline cudaError_t g_last = cudaSuccess;
inline unsigned long long g_switches = 0;

inline void yield_state(int st) {
  g_cur->state = st;
  ++g_switches;
  swapcontext(&g_cur->ctx, &g_sched);
}
inline void entry() {
  g_body();
  g_cur->state = 3;
  swapcontext(&g_cur->ctx, &g_sched);
}

inline void run_block(unsigned bx, unsigned by, unsigned bz) {
  g_block_idx = uint3_{bx, by, bz};
  Fiber* fs = g_pool;
  const unsigned n = g_block_dim.x * g_block_dim.y * g_block_dim.z;
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = fs[i];
    if (!f.stack) f.stack = (char*)std::malloc(kStack);
    f.state = 0;
    f.linear = i;
    f.tid = uint3_{i % g_block_dim.x, (i / g_block_dim.x) % g_block_dim.y, i / (g_block_dim.x * g_block_dim.y)};
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack;
    f.ctx.uc_stack.ss_size = kStack;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, entry, 0);
  }
  const unsigned nwarps = (n + 31) / 32;
  for (;;) {
    bool ran = false;
    for (unsigned i = 0; i < n; ++i) {
      if (fs[i].state != 0) continue;
      g_cur = &fs[i];
      swapcontext(&g_sched, &fs[i].ctx);
      ran = true;
    }
    unsigned done = 0, atbar = 0;
    for (unsigned i = 0; i < n; ++i) { done += fs[i].state == 3; atbar += fs[i].state == 1; }
    if (done == n) return;
    bool released = false;
    if (atbar + done == n) {
      for (unsigned i = 0; i < n; ++i) if (fs[i].state == 1) fs[i].state = 0;
      released = true;
    }
    for (unsigned w = 0; w < nwarps; ++w) {
      unsigned lo = w * 32, hi = lo + 32 < n ? lo + 32 : n, waiting = 0, live = 0;
      for (unsigned i = lo; i < hi; ++i) { if (fs[i].state != 3) ++live; if (fs[i].state == 2) ++waiting; }
      if (waiting > 0 && waiting == live) {
        if (live != hi - lo) { std::fprintf(stderr, "emu: warp collective with exited lanes\n"); std::abort(); }
        for (unsigned i = lo; i < hi; ++i) fs[i].state = 0;
        released = true;
      }
    }
    if (!ran && !released) {
      std::fprintf(stderr, "emu: deadlock (block %u,%u,%u): %u done, %u at __syncthreads\n", bx, by, bz, done, atbar);
      std::abort();
    }
  }
}

template <typename... P>
struct Launcher {
  void (*k)(P...);
  dim3 g, b;
  template <typename... A>
  void operator()(A&&... args) {
    const unsigned n = b.x * b.y * b.z;
    if (n == 0 || n > 1024 || g.x == 0 || g.y > 65535 || g.z > 65535 || b.z > 64) { g_last = cudaErrorInvalidConfiguration; return; }
    std::tuple<P...> params(std::forward<A>(args)...);
    auto kk = k;
    g_body = [&params, kk]() { std::apply(kk, params); };
    g_block_dim = b;
    g_grid_dim = g;
    for (unsigned z = 0; z < g.z; ++z)
      for (unsigned y = 0; y < g.y; ++y)
        for (unsigned x = 0; x < g.x; ++x) run_block(x, y, z);
  }
};
template <typename... P>
Launcher<P...> launch(void (*k)(P...), dim3 g, dim3 b, size_t = 0, cudaStream_t = nullptr) { return Launcher<P...>{k, g, b}; }

inline unsigned lane() { return g_cur->linear & 31; }
inline unsigned warp() { return g_cur->linear >> 5; }
template <typename T>
inline T exchange(T v, int src_lane, bool valid) {
  unsigned long long raw = 0;
  std::memcpy(&raw, &v, sizeof(T));
  g_xchg[warp()][lane()] = raw;
  yield_state(2);
  unsigned long long got = valid ? g_xchg[warp()][src_lane] : raw;
  yield_state(2);
  T r;
  std::memcpy(&r, &got, sizeof(T));
  return r;
}
}  // namespace emu

#define threadIdx (emu::g_cur->tid)
#define blockIdx (emu::g_block_idx)
#define blockDim (emu::g_block_dim)
#define gridDim (emu::g_grid_dim)

inline void __syncthreads() { emu::yield_state(1); }
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int o) { return emu::exchange(v, (int)(emu::lane() ^ o), true); }
template <typename T> inline T __shfl_sync(unsigned, T v, int src) { return emu::exchange(v, src & 31, true); }
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned o) { int s = (int)emu::lane() + (int)o; return emu::exchange(v, s, s < 32); }
template <typename T> inline T __shfl_up_sync(unsigned, T v, unsigned o) { int s = (int)emu::lane() - (int)o; return emu::exchange(v, s, s >= 0); }
// Collectives over all 32 lanes: one exchange round, then every lane reads the whole warp's values.
inline unsigned long long* emu_gather(unsigned long long v) {
  emu::g_xchg[emu::warp()][emu::lane()] = v;
  emu::yield_state(2);
  return emu::g_xchg[emu::warp()];
}
inline unsigned __ballot_sync(unsigned, int pred) {
  unsigned long long* all = emu_gather(pred ? 1 : 0);
  unsigned r = 0;
  for (int l = 0; l < 32; ++l) if (all[l]) r |= 1u << l;
  emu::yield_state(2);
  return r;
}
inline int __reduce_max_sync(unsigned, int v) {
  unsigned long long* all = emu_gather((unsigned long long)(long long)v);
  int r = INT_MIN;
  for (int l = 0; l < 32; ++l) { int o = (int)(long long)all[l]; r = o > r ? o : r; }
  emu::yield_state(2);
  return r;
}
inline unsigned __reduce_min_sync(unsigned, unsigned v) {
  unsigned long long* all = emu_gather(v);
  unsigned r = 0xffffffffu;
  for (int l = 0; l < 32; ++l) { unsigned o = (unsigned)all[l]; r = o < r ? o : r; }
  emu::yield_state(2);
  return r;
}
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __expf(float x) { return std::exp(x); }
// Fibers run on one OS thread and only switch at sync points: a plain read-modify-write is atomic here.
template <typename T> inline T atomicAdd(T* p, T v) { T o = *p; *p = o + v; return o; }

inline cudaError_t cudaGetLastError() { cudaError_t e = emu::g_last; emu::g_last = cudaSuccess; return e; }
inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated cuda error"; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) { std::strcpy(p->name, "CPU emulation"); p->major = 9; p->minor = 0; return cudaSuccess; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = new CUstream_st(); return cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t n) { *p = std::aligned_alloc(256, (n + 255) / 256 * 256 + 256); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
template <typename T> inline cudaError_t cudaMalloc(T** p, size_t n) { return cudaMalloc((void**)p, n); }
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t) { return cudaMalloc(p, n); }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { std::memmove(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) { std::memmove(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t = nullptr) { std::memset(d, v, n); return cudaSuccess; }
