#!/usr/bin/env bash
# Builds cuda-kernels/test/test_cuda_ops.cu with the core, Llama-family, sampling, loss and runtime kernels against the CPU
# emulation of CUDA (include/cuda_runtime.h) and the CPU kernels of native/src/cpu, then runs it.
#
#   cuda-kernels/tools/cpu-emulation/run_test_cuda_ops.sh [BUILD_DIR [TEST ...]]   (from the repository root)
#
# TEST names select tests of the harness (e.g. `build-cuda/emu rmsnorm rope swiglu`); none: all of them.
#
# Needs only g++ (C++17) and python3. A full run takes a few minutes on 2 cores. Exit code: the harness's.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
EMU="$ROOT/cuda-kernels/tools/cpu-emulation"
B="${1:-$ROOT/build-cuda/emu}"
shift || true
mkdir -p "$B/src" "$B/obj" "$B/cpu"
DEFS=""
[ -f "$ROOT/native/src/cpu/core.cpp" ] && [ -f "$ROOT/native/src/cpu/gemm.cpp" ] && DEFS="$DEFS -DJALIGN_HAVE_CPU_CORE"
[ -f "$ROOT/native/src/cpu/sampling.cpp" ] && DEFS="$DEFS -DJALIGN_HAVE_CPU_SAMPLING"
[ -f "$ROOT/native/src/cpu/losses.cpp" ] && DEFS="$DEFS -DJALIGN_HAVE_CPU_LOSSES"
FLAGS="-std=c++17 -O2 -g -w -I$EMU/include -I$ROOT/cuda-kernels/include -I$ROOT/cuda-kernels \
 -I$ROOT/native/include -I$ROOT/native/src -DJALIGN_CUDA_EMULATION $DEFS"
pids=()
for f in core llama sampling losses runtime test/test_cuda_ops; do
  name="$(basename "$f")"
  python3 "$EMU/launch_rewrite.py" "$ROOT/cuda-kernels/$f.cu" "$B/src/$name.cpp"
  g++ $FLAGS -c "$B/src/$name.cpp" -o "$B/obj/$name.o" & pids+=($!)
done
cpu_objs=()
for c in "$ROOT"/native/src/cpu/*.cpp; do
  [ -e "$c" ] || continue
  o="$B/cpu/$(basename "$c" .cpp).o"
  g++ -std=c++17 -O2 -fopenmp -mavx2 -mfma -mf16c -w -I"$ROOT/native/include" -I"$ROOT/native/src" -c "$c" -o "$o" &
  pids+=($!)
  cpu_objs+=("$o")
done
for p in "${pids[@]}"; do wait "$p"; done
g++ -fopenmp -o "$B/test_cuda_ops_emu" "$B"/obj/*.o "${cpu_objs[@]}" -ldl
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" "$B/test_cuda_ops_emu" "$@"
