// Counter-based random numbers shared by the CPU and CUDA samplers (host and device).
// A uniform draw is a pure function of (seed, offset, row, counter): no state, so a batch is reproducible
// row by row and the CPU and CUDA kernels can draw the same stream. splitmix64 finaliser over a mixed key.
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define JALIGN_HD __host__ __device__ __forceinline__
#else
#define JALIGN_HD inline
#endif

namespace jalign {

JALIGN_HD uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// 64 random bits for (seed, offset, row, counter).
JALIGN_HD uint64_t rng_bits(uint64_t seed, uint64_t offset, uint64_t row, uint64_t counter) {
  uint64_t h = mix64(seed);
  h = mix64(h ^ offset);
  h = mix64(h ^ (row * 0xD1B54A32D192ED03ull));
  return mix64(h ^ (counter * 0x8CB92BA72F3D8DD7ull));
}

// Uniform float in [0, 1) with 24 random bits.
JALIGN_HD float rng_uniform(uint64_t seed, uint64_t offset, uint64_t row, uint64_t counter) {
  return (float)(rng_bits(seed, offset, row, counter) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace jalign
