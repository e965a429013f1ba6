#!/usr/bin/env bash
# Builds and runs every native test (native/test/test_*.cpp), each a standalone main that compares the CPU
# kernels against plain double-precision references and exits non-zero on failure.
#   native/test/run-tests.sh [OUT_DIR]            optimised build (-O2)
#   JALIGN_SANITIZE=1 native/test/run-tests.sh    AddressSanitizer + UndefinedBehaviorSanitizer build
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/bindings/target/native-tests}"
mode=opt
flags=(-O2 -std=c++17 -fopenmp -mavx2 -mfma -mf16c -I"$root/native/include" -I"$root/native/src")
if [ "${JALIGN_SANITIZE:-0}" = 1 ]; then
  mode=asan
  flags=(-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
         -std=c++17 -fopenmp -mavx2 -mfma -mf16c -I"$root/native/include" -I"$root/native/src")
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
mkdir -p "$out/$mode"
shopt -s nullglob
tests=("$here"/test_*.cpp)
[ ${#tests[@]} -gt 0 ] || { echo "no native tests"; exit 0; }
srcs=("$root"/native/src/cpu/*.cpp "$root"/native/src/abi/*.cpp)
# Kernel objects once per mode, then one link per test.
objs=()
for s in "${srcs[@]}"; do
  o="$out/$mode/$(basename "$(dirname "$s")")_$(basename "$s" .cpp).o"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ -n "$(find "$root/native/include" "$root/native/src" -name '*.h' -newer "$o" | head -1)" ]; then
    g++ "${flags[@]}" -c "$s" -o "$o" &
  fi
  objs+=("$o")
done
wait
passed=0; failed=0
for t in "${tests[@]}"; do
  name="$(basename "$t" .cpp)"
  exe="$out/$mode/$name"
  g++ "${flags[@]}" "$t" "${objs[@]}" -ldl -o "$exe"
  echo "== $name ($mode)"
  if OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$exe"; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAILED: $name ($mode)"; fi
done
echo "native tests ($mode): $passed passed, $failed failed"
[ "$failed" = 0 ]
