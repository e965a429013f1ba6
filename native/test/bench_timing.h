// Timing helper shared by the native benchmark programs (native/test/bench_*.cpp): the median over repetitions
// of the wall time and of the process CPU time (all threads), in ms. On a shared machine the CPU time (with
// OMP_WAIT_POLICY=PASSIVE, so that it excludes spinning) is the steadier figure.
#pragma once
#include <time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

struct Timing {
  double wall, cpu;
};
static double cpu_now_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
static Timing median_ms(int reps, const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> w, c;
  for (int r = 0; r < reps; r++) {
    const double c0 = cpu_now_ms();
    const auto a = std::chrono::steady_clock::now();
    f();
    const auto b = std::chrono::steady_clock::now();
    c.push_back(cpu_now_ms() - c0);
    w.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(w.begin(), w.end());
  std::sort(c.begin(), c.end());
  return {w[w.size() / 2], c[c.size() / 2]};
}
