// Vectorisable exp for the sampling and RL-loss kernels (jalign::cpu).
// Plain scalar code written so that g++ -O3 -mavx2 -mfma turns loops that call it into AVX2 code:
// no branches, no calls, no errno. Cephes-style: n = round(x*log2(e)), r = x - n*ln2 (two-part ln2),
// degree-6 polynomial for exp(r) on [-ln2/2, ln2/2], scale by 2^n built in the exponent bits.
// Relative error about 2 ulp over [-87.3, 88]; x < -87.33 (including -inf) gives exactly 0; exp(0) == 1.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace jalign {
namespace cpu {

static inline float vexp(float x) {
  const float kHi = 88.0f;
  const float kLo = -87.33654475f;
  float xc = x < kHi ? x : kHi;
  xc = xc > kLo ? xc : kLo;
  const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const float y = p * scale;
  return x < kLo ? 0.0f : y;
}

}  // namespace cpu
}  // namespace jalign
