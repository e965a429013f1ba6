// Timing of the CPU GELU (forward and backward) against the plain scalar formula, in the same run.
// Build and run (from the repository root; a few seconds):
//   g++ -O3 -std=c++17 -fopenmp -fPIC -mavx2 -mfma -mf16c -Inative/include -Inative/src
//       native/test/bench_core.cpp native/src/cpu/core.cpp -o /tmp/bench_core && OMP_WAIT_POLICY=PASSIVE /tmp/bench_core
// Shape legend: N = B*T rows, 4C = the MLP's hidden width; GELU is elementwise over N*4C values.
//   (3200, 512):  a reward-model step of the default lifecycle (32 sequences of ~100 tokens, C = 128)
//   (2048, 512):  a pretraining step of the default lifecycle (B = 16, T = 128, C = 128)
//   (2048, 3072): GPT-2 small, B*T = 2048
// jalign: x·σ(2u) with the vectorised exp (core.cpp). Baseline: 0.5·x·(1 + tanh(u)) with std::tanh per element,
// the same OpenMP loop. Both run on all threads; time = median of the repetitions.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "bench_timing.h"
#include "cpu/cpu_kernels.h"

namespace {
constexpr float kScale = 0.7978845608028654f;  // sqrt(2/pi)

void baseline_forward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 14))
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + std::tanh(kScale * (x + 0.044715f * x * x * x)));
  }
}

void baseline_backward(float* dinp, const float* inp, const float* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 14))
  for (int64_t i = 0; i < n; i++) {
    const float x = inp[i];
    const float th = std::tanh(kScale * (x + 0.044715f * x * x * x));
    const float grad = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * kScale * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += grad * dout[i];
  }
}

void bench(int64_t rows, int64_t width, int reps) {
  const int64_t n = rows * width;
  std::vector<float> x(n), g(n), y(n), y0(n), dx(n, 0.0f), dx0(n, 0.0f);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.5f);
  for (auto& v : x) v = nd(rng);
  for (auto& v : g) v = nd(rng);
  const Timing f = median_ms(reps, [&] { jalign::cpu::gelu_forward(y.data(), x.data(), n); });
  const Timing f0 = median_ms(reps, [&] { baseline_forward(y0.data(), x.data(), n); });
  const Timing b = median_ms(reps, [&] { jalign::cpu::gelu_backward(dx.data(), x.data(), g.data(), n); });
  const Timing b0 = median_ms(reps, [&] { baseline_backward(dx0.data(), x.data(), g.data(), n); });
  double diff = 0;
  for (int64_t i = 0; i < n; i++) diff = std::fmax(diff, std::fabs((double)y[i] - y0[i]));
  std::printf("(%5lld, %4lld)  forward %7.3f ms vs %7.3f ms (%5.1fx)  backward %7.3f ms vs %7.3f ms (%5.1fx)  "
              "cpu-time ratios %5.1fx / %5.1fx  max |fwd diff| %.1e\n",
              (long long)rows, (long long)width, f.wall, f0.wall, f0.wall / f.wall, b.wall, b0.wall, b0.wall / b.wall,
              f0.cpu / f.cpu, b0.cpu / b.cpu, diff);
}
}  // namespace

int main() {
  std::printf("GELU, jalign vs the scalar std::tanh formula (wall ms, medians; ratio = baseline / jalign)\n");
  bench(3200, 512, 40);
  bench(2048, 512, 40);
  bench(2048, 3072, 15);
  return 0;
}
