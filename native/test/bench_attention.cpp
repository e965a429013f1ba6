// Timing of the CPU attention kernels: forward, backward and forward+backward GFLOP/s at
// (B, NH, T, HS) = (8, 6, 256, 64) and (4, 12, 1024, 64), the grouped-query shape (B, NH, NKV, T, HS) =
// (4, 12, 4, 512, 64) beside its multi-head twin, plus one KV-cache decode step each.
// FLOPs (causal): forward 4*B*T^2*NH*HS/2, backward 2.5x the forward.
//
// Build and run (from the repository root):
//   g++ -O3 -std=c++17 -fopenmp -mavx2 -mfma -mf16c -Inative/include -Inative/src native/test/bench_attention.cpp native/src/cpu/attention*.cpp -o /tmp/bench_attention
//   OMP_NUM_THREADS=2 /tmp/bench_attention [avx2|avx512] [fused]
//
// Shape legend: B = batch, T = time, C = channels (NH*HS), NH = query heads, NKV = key/value heads,
// CK = NKV*HS, HS = head size.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/attention_internal.h"
#include "cpu/cpu_kernels.h"

using namespace jalign;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// CPU seconds used by the process during the last time_it (all threads), for the per-core rate.
static double g_cpu_seconds = 0;

// Median wall seconds of fn over reps runs (after one warm-up run); g_cpu_seconds gets the median CPU seconds.
// On a shared machine the wall time includes waiting for cores; CPU time (with OMP_WAIT_POLICY=passive, so
// idle threads sleep instead of spinning) measures how fast the kernel runs while it has a core.
template <class F>
static double time_it(F fn, int reps) {
  fn();
  std::vector<double> t, c;
  for (int i = 0; i < reps; ++i) {
    const double c0 = cpu_now(), t0 = now();
    fn();
    t.push_back(now() - t0);
    c.push_back(cpu_now() - c0);
  }
  std::sort(t.begin(), t.end());
  std::sort(c.begin(), c.end());
  g_cpu_seconds = c[c.size() / 2];
  return t[t.size() / 2];
}

static void bench_shape(int64_t B, int64_t NH, int64_t NKV, int64_t T, int64_t HS, bool fused, int reps) {
  const int64_t C = NH * HS, CK = NKV * HS, ld = fused ? C + 2 * CK : C;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const int64_t n_in = fused ? B * T * ld : 3 * B * T * C;
  std::vector<float> qkv(n_in), dqkv(n_in, 0.f), out(B * T * C), dout(B * T * C), lse(B * NH * T);
  for (auto& x : qkv) x = u(rng);
  for (auto& x : dout) x = u(rng);
  const float* q = qkv.data();
  const float* k = fused ? q + C : q + B * T * C;
  const float* v = fused ? q + C + CK : q + 2 * B * T * C;
  float* dq = dqkv.data();
  float* dk = fused ? dq + C : dq + B * T * C;
  float* dv = fused ? dq + C + CK : dq + 2 * B * T * C;

  const double fwd_flops = 4.0 * B * (double)T * T * NH * HS / 2.0;
  const double bwd_flops = 2.5 * fwd_flops;
  const double tf = time_it([&] { cpu::attention_forward(out.data(), lse.data(), q, k, v, ld, B, T, NH, NKV, HS, nullptr, nullptr); }, reps);
  const double cf = g_cpu_seconds;
  const double tb = time_it([&] {
    cpu::attention_backward(dq, dk, dv, dout.data(), out.data(), lse.data(), q, k, v, ld, B, T, NH, NKV, HS, nullptr,
                            nullptr);
  }, reps);
  const double cb = g_cpu_seconds;
  std::printf("B=%-2ld NH=%-2ld NKV=%-2ld T=%-5ld HS=%-3ld %-8s  fwd %7.2f ms %6.1f GFLOP/s | bwd %7.2f ms %6.1f GFLOP/s | "
              "fwd+bwd %7.2f ms %6.1f GFLOP/s\n",
              (long)B, (long)NH, (long)NKV, (long)T, (long)HS, fused ? "fused" : "separate", tf * 1e3, fwd_flops / tf * 1e-9,
              tb * 1e3, bwd_flops / tb * 1e-9, (tf + tb) * 1e3, (fwd_flops + bwd_flops) / (tf + tb) * 1e-9);
  std::printf("    per core (FLOPs / CPU-seconds): fwd %6.1f  bwd %6.1f  fwd+bwd %6.1f GFLOP/s per core\n",
              fwd_flops / cf * 1e-9, bwd_flops / cb * 1e-9, (fwd_flops + bwd_flops) / (cf + cb) * 1e-9);

  // One decode step against a cache holding T-1 rows (memory bound: report GB/s of cache read).
  const int64_t maxT = T;
  std::vector<float> kc(B * maxT * CK), vc(B * maxT * CK), q1(B * C), o1(B * C);
  for (auto& x : kc) x = u(rng);
  for (auto& x : vc) x = u(rng);
  for (auto& x : q1) x = u(rng);
  const double td = time_it([&] {
    cpu::attention_kvcache(o1.data(), q1.data(), kc.data(), vc.data(), C, B, 1, NH, NKV, HS, maxT, T - 1, nullptr);
  }, reps * 4);
  std::printf("    decode step (Tq=1, %ld cached rows): %7.3f ms, %6.1f GB/s of K/V cache read\n", (long)T,
              td * 1e3, 2.0 * B * T * CK * 4 / td * 1e-9);
}

int main(int argc, char** argv) {
  bool fused = false;
  int want = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "avx2")) want = 1;
    if (!std::strcmp(argv[i], "avx512")) want = 2;
    if (!std::strcmp(argv[i], "fused")) fused = true;
  }
  const int isa = cpu::attn::set_isa(want);
  std::printf("jalign CPU attention benchmark: %s engine, %d threads\n", isa == 2 ? "AVX-512" : "AVX2+FMA",
              omp_get_max_threads());
  bench_shape(8, 6, 6, 256, 64, fused, 9);
  bench_shape(4, 12, 12, 1024, 64, fused, 5);
  bench_shape(4, 12, 12, 512, 64, fused, 5);
  bench_shape(4, 12, 4, 512, 64, fused, 5);
  return 0;
}
