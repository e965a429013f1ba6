// How many pieces the CPU kernels cut a split reduction or a panel decomposition into. It follows the machine's
// core count, never the current thread count, so every kernel gives the same bits under any OMP_NUM_THREADS or
// jalign_set_num_threads (threads then share the pieces).
#pragma once
#include <omp.h>

#include <algorithm>

namespace jalign {
namespace cpu {

inline int work_slots() { return std::max(1, omp_get_num_procs()); }

}  // namespace cpu
}  // namespace jalign
