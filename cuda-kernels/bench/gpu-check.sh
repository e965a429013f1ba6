#!/usr/bin/env bash
# jalign GPU check: the one script to run on a GPU machine, from the repository root.
#
#   cuda-kernels/bench/gpu-check.sh [--no-build] [--build-only] [--quick]
#
# Writes everything under $OUT (default ./gpu-out): one log per step in $OUT/logs/, the benchmark JSON
# ($OUT/bench_kernels.json), the PyTorch comparison ($OUT/torch_compare.json, .md) and $OUT/summary.txt with
# each step's exit code and duration. Continues past failures; exits 1 if any step failed.
#
# Steps: environment (nvidia-smi, nvcc, java, python/torch, cmake); build of the native CUDA harness with CMake
# (cuda-kernels/CMakeLists.txt builds every test/*.cu and bench/*.cu into build-cuda/<name>), or, when CMake or
# that file is missing or the build fails, a direct nvcc build of the same executables; every build-cuda/test_*;
# build-cuda/bench_kernels; cuda-kernels/bench/torch_compare.py; the Java checks (run_java_checks).
#
#   --no-build    use the executables already in build-cuda/ (e.g. built on another machine with
#                 --build-only and carried over; they link the CUDA runtime statically)
#   --build-only  build, then stop (no GPU needed)
#   --quick       fewer benchmark repeats
# Per-step time limits (seconds) can be set with STEP_TIMEOUT_BUILD, STEP_TIMEOUT_TEST, STEP_TIMEOUT_BENCH.
# The CMake build targets the local GPU's architecture only (faster); CUDA_ARCHS=default keeps the
# CMakeLists' list (sm_80, sm_90, compute_90 PTX), CUDA_ARCHS=<list> sets another.
set -u

OUT="${OUT:-./gpu-out}"
BUILD_DIR="${BUILD_DIR:-build-cuda}"
NO_BUILD=0
BUILD_ONLY=0
QUICK=0
for a in "$@"; do
  case "$a" in
    --no-build) NO_BUILD=1 ;;
    --build-only) BUILD_ONLY=1 ;;
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

if [ ! -d cuda-kernels ]; then
  echo "run from the repository root (cuda-kernels/ not found in $(pwd))" >&2
  exit 2
fi
mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
FAILED=0
JOBS="$(nproc 2>/dev/null || echo 4)"

if [ -d /usr/local/cuda/bin ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
if [ -z "${CUDACXX:-}" ] && command -v nvcc >/dev/null 2>&1; then
  export CUDACXX="$(command -v nvcc)"
fi

# step NAME TIMEOUT CMD...: runs CMD (a command or an exported function of this script) with a time limit,
# output to the terminal and $OUT/logs/NAME.log, and records "NAME rc=N seconds=S" in the summary.
step() {
  local name="$1" limit="$2"
  shift 2
  echo
  echo "=== [$name] $*"
  local t0 rc
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" bash -c '"$@"' step "$@" 2>&1 | tee "$OUT/logs/$name.log"
  rc=${PIPESTATUS[0]}
  local dt=$(( $(date +%s) - t0 ))
  [ "$rc" -eq 124 ] && echo "=== [$name] timed out after ${limit}s"
  echo "=== [$name] exit code $rc (${dt}s)"
  printf '%-28s rc=%-4s seconds=%s\n' "$name" "$rc" "$dt" >> "$SUMMARY"
  [ "$rc" -ne 0 ] && FAILED=1
  return "$rc"
}

note() { printf '%-28s %s\n' "$1" "$2" >> "$SUMMARY"; echo "=== [$1] $2"; }

# ------------------------------------------------------------------ environment

environment() {
  echo "date: $(date -u)"
  echo "host: $(uname -a)"
  echo "--- nvidia-smi"
  if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi; else echo "nvidia-smi: not found"; fi
  echo "--- nvcc"
  if command -v nvcc >/dev/null 2>&1; then nvcc --version; else echo "nvcc: not found"; fi
  echo "--- cmake"
  if command -v cmake >/dev/null 2>&1; then cmake --version | head -1; else echo "cmake: not found"; fi
  echo "--- java"
  if command -v java >/dev/null 2>&1; then java -version 2>&1; else echo "java: not found"; fi
  echo "--- python / torch"
  if command -v python3 >/dev/null 2>&1; then
    python3 --version
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1
  else
    echo "python3: not found"
  fi
  echo "--- git"
  git log --oneline -1 2>/dev/null || true
  return 0
}

# ------------------------------------------------------------------ build

gpu_gencode() {
  # the local GPU's architecture when nvidia-smi reports it, else sm_80 + sm_90 (+ PTX)
  local cc=""
  if command -v nvidia-smi >/dev/null 2>&1; then
    cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
  fi
  if [[ "$cc" =~ ^[0-9]+$ ]]; then
    echo "-gencode arch=compute_${cc},code=sm_${cc}"
  else
    echo "-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"
  fi
}

# CUDA architectures for the CMake build: CUDA_ARCHS if set ("default" = the CMakeLists' sm_80 + sm_90 + PTX
# list), else the local GPU's (e.g. 90-real on an H200), which compiles about three times faster.
cmake_arch_args() {
  local archs="${CUDA_ARCHS:-}" cc=""
  if [ -z "$archs" ] && command -v nvidia-smi >/dev/null 2>&1; then
    cc="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
    [[ "$cc" =~ ^[0-9]+$ ]] && archs="${cc}-real"
  fi
  if [ -n "$archs" ] && [ "$archs" != "default" ]; then
    echo "-DCMAKE_CUDA_ARCHITECTURES=$archs"
  fi
}

build_cmake() {
  local arch
  arch="$(cmake_arch_args)"
  echo "cmake -S cuda-kernels -B $BUILD_DIR -DCMAKE_BUILD_TYPE=Release $arch"
  # shellcheck disable=SC2086
  cmake -S cuda-kernels -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release $arch && cmake --build "$BUILD_DIR" -j"$JOBS"
}

# Direct nvcc build: every top-level cuda-kernels/*.cu into an object, then every test/*.cu and bench/*.cu
# linked with them. A kernel file that does not compile is left out; an executable that then fails to link
# is retried with attention.cu only (the benchmark then skips sampling and the PPO loss).
build_nvcc() {
  command -v nvcc >/dev/null 2>&1 || { echo "nvcc not found"; return 1; }
  local gencode flags obj objs=() rc=0
  gencode="$(gpu_gencode)"
  flags="-O3 -std=c++17 -Xcompiler -fPIC $gencode -Icuda-kernels/include -Icuda-kernels -Inative/include -Inative/src -DJALIGN_WITH_CUDA"
  mkdir -p "$BUILD_DIR/obj"
  echo "nvcc flags: $flags"
  local pids=() srcs=()
  for src in cuda-kernels/*.cu; do
    [ -e "$src" ] || continue
    obj="$BUILD_DIR/obj/$(basename "${src%.cu}").o"
    # shellcheck disable=SC2086
    nvcc $flags -c "$src" -o "$obj" > "$obj.log" 2>&1 &
    pids+=($!)
    srcs+=("$src")
  done
  local i
  for i in "${!pids[@]}"; do
    obj="$BUILD_DIR/obj/$(basename "${srcs[$i]%.cu}").o"
    if wait "${pids[$i]}"; then
      objs+=("$obj")
      echo "compiled ${srcs[$i]}"
    else
      echo "FAILED to compile ${srcs[$i]}:"
      cat "$obj.log"
      rc=1
    fi
  done
  for src in cuda-kernels/test/*.cu cuda-kernels/bench/*.cu; do
    [ -e "$src" ] || continue
    local exe="$BUILD_DIR/$(basename "${src%.cu}")"
    # shellcheck disable=SC2086
    if nvcc $flags "$src" "${objs[@]}" -o "$exe"; then
      echo "built $exe"
    elif [ -e "$BUILD_DIR/obj/attention.o" ] &&
         nvcc $flags -DJALIGN_BENCH_SAMPLING=0 -DJALIGN_BENCH_PPO=0 "$src" "$BUILD_DIR/obj/attention.o" -o "$exe"; then
      echo "built $exe with attention.cu only"
    else
      echo "FAILED to build $exe"
      rc=1
    fi
  done
  return $rc
}

build() {
  if [ -f cuda-kernels/CMakeLists.txt ] && command -v cmake >/dev/null 2>&1; then
    if step build_cmake "${STEP_TIMEOUT_BUILD:-420}" build_cmake; then
      return 0
    fi
    echo "CMake build failed; trying the direct nvcc build"
  else
    note build_cmake "skipped (no cmake or no cuda-kernels/CMakeLists.txt)"
  fi
  step build_nvcc "${STEP_TIMEOUT_BUILD:-420}" build_nvcc
}

# ------------------------------------------------------------------ Java

# The Java checks of the CUDA backend. The lead fills this in (plain java/javac commands; no Maven wrapper).
run_java_checks() {
  if ! command -v java >/dev/null 2>&1; then
    echo "java not found: Java checks skipped"
    return 0
  fi
  java -version 2>&1 | head -1
  echo "run_java_checks: no Java GPU checks defined yet (placeholder)"
  return 0
}

# ------------------------------------------------------------------ main

export -f environment cmake_arch_args build_cmake build_nvcc gpu_gencode run_java_checks
export BUILD_DIR JOBS OUT
export PYTHONUNBUFFERED=1

step environment 120 environment

if [ "$NO_BUILD" -eq 0 ]; then
  build
else
  note build "skipped (--no-build)"
fi
if [ "$BUILD_ONLY" -eq 1 ]; then
  echo; echo "=== summary ($SUMMARY)"; cat "$SUMMARY"
  exit "$FAILED"
fi

shopt -s nullglob
tests=("$BUILD_DIR"/test_*)
if [ "${#tests[@]}" -eq 0 ]; then
  note tests "no $BUILD_DIR/test_* executables"
  FAILED=1
fi
for t in "${tests[@]}"; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  step "$(basename "$t")" "${STEP_TIMEOUT_TEST:-240}" "$t"
done

bench_args=(--json "$OUT/bench_kernels.json")
torch_args=(--ours "$OUT/bench_kernels.json" --json "$OUT/torch_compare.json")
if [ "$QUICK" -eq 1 ]; then
  bench_args+=(--quick)
  torch_args+=(--reps 3 --warmup 1)
fi
if [ -x "$BUILD_DIR/bench_kernels" ]; then
  step bench_kernels "${STEP_TIMEOUT_BENCH:-300}" "$BUILD_DIR/bench_kernels" "${bench_args[@]}"
else
  note bench_kernels "missing $BUILD_DIR/bench_kernels"
  FAILED=1
fi

if command -v python3 >/dev/null 2>&1; then
  step torch_compare "${STEP_TIMEOUT_BENCH:-300}" python3 cuda-kernels/bench/torch_compare.py "${torch_args[@]}"
else
  note torch_compare "python3 not found"
fi

step java_checks 300 run_java_checks

echo
echo "=== summary ($SUMMARY)"
cat "$SUMMARY"
exit "$FAILED"
