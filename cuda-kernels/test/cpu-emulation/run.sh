#!/usr/bin/env bash
# Builds and runs the jalign CUDA attention test (cuda-kernels/test/test_cuda_attention.cu) against a CPU
# emulation of the kernels in cuda-kernels/attention.cu (see include/cuda_emulation.h). Needs g++ and python3,
# no GPU. Slow (minutes): use the test's filters, e.g.
#   cuda-kernels/test/cpu-emulation/run.sh --quick --T 64
# Build files go to $EMU_BUILD_DIR (default ${TMPDIR:-/tmp}/jalign-cuda-emulation).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
W="${EMU_BUILD_DIR:-${TMPDIR:-/tmp}/jalign-cuda-emulation}"
mkdir -p "$W"
python3 "$HERE/transform.py" "$ROOT" "$W" > /dev/null
F=(-std=c++17 -O2 -I"$HERE/include" -I"$W" -I"$ROOT/cuda-kernels/include" -I"$ROOT/native/include" -include cuda_emulation.h)
g++ "${F[@]}" -c "$W/attention_emulated.cpp" -o "$W/attention_emulated.o"
g++ "${F[@]}" -x c++ -c "$ROOT/cuda-kernels/test/test_cuda_attention.cu" -o "$W/test_cuda_attention.o"
g++ -std=c++17 -O2 -I"$HERE/include" -c "$HERE/cuda_emulation.cpp" -o "$W/cuda_emulation.o"
g++ "$W/test_cuda_attention.o" "$W/attention_emulated.o" "$W/cuda_emulation.o" -o "$W/test_cuda_attention_emulated"
exec "$W/test_cuda_attention_emulated" "$@"
