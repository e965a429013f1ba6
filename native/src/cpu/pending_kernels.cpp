// Weak placeholders for kernels that are built in their own source files; a strong definition replaces each.
// Calling one that is still a placeholder raises a clear error through the ABI guard.
#include <stdexcept>

#include "cpu/cpu_kernels.h"

#define PENDING(name) throw std::runtime_error(name ": kernel not built into this library")
#define WEAK __attribute__((weak))

namespace jalign {
namespace cpu {
WEAK void attention_forward(float*, float*, const float*, const float*, const float*, int64_t, int64_t, int64_t,
                            int64_t, int64_t, const int32_t*, const int32_t*) { PENDING("attention_forward"); }
WEAK void attention_backward(float*, float*, float*, const float*, const float*, const float*, const float*,
                             const float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, const int32_t*,
                             const int32_t*) { PENDING("attention_backward"); }
WEAK void kvcache_append(float*, float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int64_t) { PENDING("kvcache_append"); }
WEAK void attention_kvcache(float*, const float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t,
                            int64_t, int64_t, int64_t, const int32_t*) { PENDING("attention_kvcache"); }
// sample: defined in sampling.cpp. No placeholder: in a static archive a weak placeholder in a member that
// sorts first (pending_kernels.o before sampling.o) satisfies the reference and sampling.o is never linked.
WEAK void ppo_loss(float*, float*, float*, const float*, const int32_t*, const float*, const float*, const float*,
                   const float*, int64_t, int64_t, int64_t, float, float, float, float, int) { PENDING("ppo_loss"); }
WEAK void value_loss(float*, float*, const float*, const float*, const float*, const float*, int64_t, float) {
  PENDING("value_loss");
}
WEAK void ranking_loss(float*, float*, float*, const float*, const int32_t*, const float*, int64_t, int64_t) {
  PENDING("ranking_loss");
}
}  // namespace cpu
}  // namespace jalign
