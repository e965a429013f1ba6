#!/usr/bin/env bash
# jalign GPU check: the one script to run on a GPU machine, from the repository root.
#
#   cuda-kernels/bench/gpu-check.sh [--no-build] [--prebuilt] [--build-only] [--quick] [--no-java] [--java-only]
#
# Works in $GPU_WORK (default /tmp/jalign-gpu-work): one log per step in logs/, the benchmark JSON
# (bench_kernels.json), the PyTorch comparison (torch_compare.json, .md), the GPT-2 training comparison
# (gpt_train.md), JUnit reports, the lifecycle run. After every step it refreshes, in $OUT (default ./gpu-out),
# at most 8 files: summary.txt (each step's exit code and duration), results.tar.gz (the whole work folder but
# large binary files), and copies of bench_kernels.json, torch_compare.json, torch_compare.md, gpt_train.md.
# So a run stopped at its time limit still returns what it finished. Continues past failures; exits 1 if any
# step failed. The whole run keeps to a time budget (GPU_CHECK_BUDGET seconds, default 540): each step's
# limit is cut to what is left, and steps with under 20 s left are skipped (and count as failed).
#
# Steps: environment (nvidia-smi, nvcc, java, python/torch, cmake); build of the native CUDA harness with CMake
# (cuda-kernels/CMakeLists.txt builds every test/*.cu and bench/*.cu into build-cuda/<name>), or, when CMake or
# that file is missing or the build fails, a direct nvcc build of the same executables; every build-cuda/test_*;
# the Java checks (run_java_checks: backend info, cuda-tagged JUnit tests, BackendTest, lifecycle --quick on
# cuda); the GPT-2 124M training throughput of jalign (GptTrainThroughput) and of Hugging Face PyTorch
# (hf_gpt2_train.py) with gpt_train.md comparing them (run_gpt_train); build-cuda/bench_kernels;
# cuda-kernels/bench/torch_compare.py. The Java parts come before the kernel benchmarks so that a slow build
# cannot starve them.
#
#   --no-build    use the executables already in build-cuda/ (e.g. built on another machine with
#                 --build-only and carried over; they link the CUDA runtime statically)
#   --build-only  build, then stop (no GPU needed)
#   --prebuilt    use the executables in build-cuda/ when they are all there and ldd finds their libraries,
#                 else build (the carried build from another machine may not match this one's libraries)
#   --quick       fewer benchmark repeats
#   --no-java     skip the Java checks and the GPT-2 training comparison
#   --java-only   only the environment, the Java checks and the GPT-2 training comparison (no native build,
#                 tests or kernel benchmarks): for a short rerun
# The Java checks use the folder made by cuda-kernels/bench/pack-java.sh (GPU_CARRY, default .gpu-carry), whose
# java-carry.tar.xz is unpacked into GPU_JAVA_DIR (default /tmp/jalign-java): its jlinked runtime when no
# java >= 17 is on PATH, its class path, the JUnit console launcher; the CUDA libraries
# for cuBLAS come from this machine (PyTorch's nvidia/*/lib, /usr/local/cuda/lib64).
# Per-step time limits (seconds) can be set with STEP_TIMEOUT_BUILD, STEP_TIMEOUT_TEST, STEP_TIMEOUT_BENCH.
# The CMake build targets the local GPU's architecture only (faster); CUDA_ARCHS=default keeps the
# CMakeLists' list (sm_80, sm_90, compute_90 PTX), CUDA_ARCHS=<list> sets another.
set -u

OUT="${OUT:-./gpu-out}"
BUILD_DIR="${BUILD_DIR:-build-cuda}"
NO_BUILD=0
BUILD_ONLY=0
QUICK=0
PREBUILT=0
NO_JAVA=0
JAVA_ONLY=0
for a in "$@"; do
  case "$a" in
    --no-build) NO_BUILD=1 ;;
    --build-only) BUILD_ONLY=1 ;;
    --quick) QUICK=1 ;;
    --prebuilt) PREBUILT=1 ;;
    --no-java) NO_JAVA=1 ;;
    --java-only) JAVA_ONLY=1 ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

if [ ! -d cuda-kernels ]; then
  echo "run from the repository root (cuda-kernels/ not found in $(pwd))" >&2
  exit 2
fi
# RESULTS: what comes back (few files); OUT (below): the work folder with everything
mkdir -p "$OUT"
RESULTS="$(cd "$OUT" && pwd)"
OUT="${GPU_WORK:-${TMPDIR:-/tmp}/jalign-gpu-work}"
rm -rf "$OUT"
mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
FAILED=0
START_TIME=$(date +%s)
BUDGET="${GPU_CHECK_BUDGET:-540}"
GPU_CARRY="${GPU_CARRY:-.gpu-carry}"
[ -d "$GPU_CARRY" ] && GPU_CARRY="$(cd "$GPU_CARRY" && pwd)"
GPU_JAVA_DIR="${GPU_JAVA_DIR:-${TMPDIR:-/tmp}/jalign-java}"
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
  local left=$(( START_TIME + BUDGET - $(date +%s) - 10 ))
  if [ "$left" -lt 20 ]; then
    note "$name" "skipped (time budget of ${BUDGET}s spent)"
    FAILED=1
    collect
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit="$left"
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
  collect
  return "$rc"
}

note() { printf '%-28s %s\n' "$1" "$2" >> "$SUMMARY"; echo "=== [$1] $2"; }

# collect: refreshes the returned files in $RESULTS from the work folder (called after every step)
collect() {
  cp "$SUMMARY" "$RESULTS/summary.txt" 2>/dev/null
  local f
  for f in bench_kernels.json torch_compare.json torch_compare.md gpt_train.md; do
    [ -f "$OUT/$f" ] && cp "$OUT/$f" "$RESULTS/$f"
  done
  # everything but large binaries (checkpoints, model files); then, if still over 15 MiB, nothing over 1 MiB
  tar -czf "$RESULTS/results.tar.gz" -C "$(dirname "$OUT")" \
    --exclude='*.ckpt' --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' "$(basename "$OUT")" 2>/dev/null
  if [ "$(stat -c %s "$RESULTS/results.tar.gz" 2>/dev/null || echo 0)" -gt $((15 * 1048576)) ]; then
    (cd "$(dirname "$OUT")" && find "$(basename "$OUT")" -type f -size -1M -print0 |
      tar -czf "$RESULTS/results.tar.gz" --null -T -) 2>/dev/null
  fi
  return 0
}

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
# is retried with attention.cu only (the benchmark then skips sampling, the PPO loss and the Llama-family ops).
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
         nvcc $flags -DJALIGN_BENCH_SAMPLING=0 -DJALIGN_BENCH_PPO=0 -DJALIGN_BENCH_LLAMA=0 "$src" "$BUILD_DIR/obj/attention.o" -o "$exe"; then
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
    if step build_cmake "${STEP_TIMEOUT_BUILD:-300}" build_cmake; then
      return 0
    fi
    echo "CMake build failed; trying the direct nvcc build"
  else
    note build_cmake "skipped (no cmake or no cuda-kernels/CMakeLists.txt)"
  fi
  step build_nvcc "${STEP_TIMEOUT_BUILD:-300}" build_nvcc
}

# ------------------------------------------------------------------ Java

# java_unpack: unpacks $GPU_CARRY/java-carry.tar.xz (made by pack-java.sh) into $GPU_JAVA_DIR, once; with tar
# and xz, else with python3's tarfile. A $GPU_CARRY that already holds classpath.txt is used as it is.
java_unpack() {
  if [ -f "$GPU_CARRY/classpath.txt" ]; then echo "using the unpacked $GPU_CARRY"; return 0; fi
  local arc="$GPU_CARRY/java-carry.tar.xz"
  [ -f "$arc" ] || { echo "no $arc: run cuda-kernels/bench/pack-java.sh and carry .gpu-carry"; return 1; }
  rm -rf "$GPU_JAVA_DIR"
  mkdir -p "$GPU_JAVA_DIR"
  if command -v xz >/dev/null 2>&1 && tar -C "$GPU_JAVA_DIR" -xJf "$arc"; then
    :
  elif command -v python3 >/dev/null 2>&1; then
    echo "tar/xz failed or missing: unpacking with python3"
    rm -rf "$GPU_JAVA_DIR"; mkdir -p "$GPU_JAVA_DIR"
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$arc" "$GPU_JAVA_DIR" || return 1
  else
    return 1
  fi
  chmod +x "$GPU_JAVA_DIR"/jre/bin/* 2>/dev/null
  du -sh "$GPU_JAVA_DIR"
  cat "$GPU_JAVA_DIR/classpath.txt" | tr ':' '\n' | head -40
}

# java_setup (after java_unpack): exports JAVA (a java >= 17: the PATH one, else the carried jlinked runtime),
# JCP (the class path from pack-java.sh, absolute), JUNIT (the console launcher), JOPTS, and LD_LIBRARY_PATH with this machine's
# CUDA libraries (PyTorch's nvidia/*/lib, /usr/local/cuda/lib64, the driver's) first and the carried fallback
# C++ runtime last. Returns 1 when no usable Java or no packed folder is found.
java_setup() {
  local J="$GPU_JAVA_DIR"
  [ -f "$GPU_CARRY/classpath.txt" ] && J="$GPU_CARRY"
  JAVA=""
  # GPU_CARRIED_JAVA=1 uses the carried runtime even where a java is on PATH (to rehearse it)
  if [ "${GPU_CARRIED_JAVA:-0}" != 1 ] && command -v java >/dev/null 2>&1; then
    local v
    v="$(java -version 2>&1 | head -1 | sed -E 's/.*version "([0-9]+).*/\1/')"
    [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 17 ] && JAVA="$(command -v java)"
  fi
  if [ -z "$JAVA" ] && [ -x "$J/jre/bin/java" ]; then JAVA="$J/jre/bin/java"; fi
  if [ -z "$JAVA" ]; then echo "no java >= 17 on PATH and no $J/jre (did java_unpack run?)"; return 1; fi
  if [ ! -f "$J/classpath.txt" ]; then
    echo "no $J/classpath.txt: run cuda-kernels/bench/pack-java.sh here first and carry .gpu-carry"
    return 1
  fi
  local rel entry
  JCP=""
  IFS=: read -r -a rel < "$J/classpath.txt"
  for entry in "${rel[@]}"; do JCP="${JCP:+$JCP:}$J/$entry"; done  # entries are relative to the packed folder
  JTESTS="$J/classes/tests"
  JUNIT="$J/junit/junit-platform-console-standalone.jar"
  local dirs
  dirs="$(cuda_lib_dirs)"
  export LD_LIBRARY_PATH="${dirs:+$dirs:}${LD_LIBRARY_PATH:-}${LD_LIBRARY_PATH:+:}$J/native"
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
  # JALIGN_JAVA_OPTS adds JVM options, e.g. -Djalign.cublas=false (jalign's own CUDA SGEMM instead of cuBLAS)
  JOPTS="-Xmx24g -Djava.awt.headless=true -Dorg.bytedeco.javacpp.pathsFirst=true -Djava.library.path=${dirs}"
  JOPTS="$JOPTS ${JALIGN_JAVA_OPTS:-}"
  export JAVA JCP JUNIT JOPTS JTESTS
  echo "java: $JAVA ($("$JAVA" -version 2>&1 | head -1))"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  return 0
}

# cuda_lib_dirs: colon-separated folders that hold libcudart/libcublas on this machine
cuda_lib_dirs() {
  local d out=""
  if command -v python3 >/dev/null 2>&1; then
    out="$(python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = []
try:
    import nvidia
    roots += list(nvidia.__path__)
except Exception:
    pass
try:
    sps = site.getsitepackages() + [site.getusersitepackages()]
except Exception:
    sps = []
sps += [p for p in sys.path if p.endswith("site-packages")]
roots += [os.path.join(sp, "nvidia") for sp in sps if os.path.isdir(os.path.join(sp, "nvidia"))]
out = []
for r in roots:
    for d in sorted(glob.glob(os.path.join(r, "*", "lib"))):
        d = os.path.realpath(d)
        if d not in out and (glob.glob(os.path.join(d, "libcublas*.so*")) or glob.glob(os.path.join(d, "libcudart*.so*"))):
            out.append(d)
print(":".join(out))
PY
)"
  fi
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && out="${out:+$out:}$d"
  done
  echo "$out"
}

java_info() {
  java_setup || return 1
  # shellcheck disable=SC2086
  "$JAVA" $JOPTS -cp "$JCP" org.jalign.cli.Main info
}

# java_tests TAG_OR_CLASSES: JUnit console launcher over the carried test classes; "cuda" runs the cuda-tagged
# tests, anything else is a space-separated list of test classes to select
java_tests() {
  java_setup || return 1
  local what="$1" reports="$OUT/junit-$2" sel=()
  mkdir -p "$reports"
  if [ "$what" = cuda ]; then
    sel=(--scan-class-path "$JTESTS" --include-tag cuda)
  else
    local c
    for c in $what; do sel+=(--select-class "$c"); done
  fi
  # shellcheck disable=SC2086
  "$JAVA" $JOPTS -jar "$JUNIT" execute --class-path "$JCP:$JTESTS" "${sel[@]}" \
    --details=tree --disable-banner --disable-ansi-colors --reports-dir "$reports"
}

java_lifecycle() {
  java_setup || return 1
  # shellcheck disable=SC2086
  if ! "$JAVA" $JOPTS -cp "$JCP" org.jalign.cli.Main --help 2>&1 | grep -q lifecycle; then
    echo "this build's CLI has no 'lifecycle' command"
    return 3
  fi
  # shellcheck disable=SC2086
  "$JAVA" $JOPTS -cp "$JCP" org.jalign.cli.Main lifecycle --quick --device cuda --out "$OUT/lifecycle"
}

# gpt_train_jalign ARGS...: org.jalign.bench.GptTrainThroughput on CUDA (default GPT-2 124M, B=8, T=1024)
gpt_train_jalign() {
  java_setup || return 1
  # shellcheck disable=SC2086
  "$JAVA" $JOPTS -cp "$JCP" org.jalign.bench.GptTrainThroughput --device cuda "$@"
}

# The Java checks of the CUDA backend, each a step with its own limit and exit code in the summary.
run_java_checks() {
  step java_unpack 90 java_unpack
  step java_info 60 java_info
  step java_cuda_tests 150 java_tests cuda cuda
  step java_backend_tests 90 java_tests "org.jalign.backend.BackendTest" backend
  step java_lifecycle 180 java_lifecycle
}

# GPT-2 small training throughput: jalign (fp32) and Hugging Face PyTorch (fp32, tf32, bf16 autocast) on the
# same shapes, then gpt_train.md comparing them.
run_gpt_train() {
  local steps=10
  [ "$QUICK" -eq 1 ] && steps=6
  step gpt_train_jalign 150 gpt_train_jalign --batch 8 --seq 1024 --steps "$steps" --warmup 2 --peak-tflops 67
  if command -v python3 >/dev/null 2>&1; then
    step gpt_train_hf 150 python3 cuda-kernels/bench/hf_gpt2_train.py --batch 8 --seq 1024 --steps "$steps" \
      --warmup 3 --json "$OUT/gpt_train_hf.json"
    python3 cuda-kernels/bench/hf_gpt2_train.py --report "$OUT/logs/gpt_train_jalign.log" "$OUT/logs/gpt_train_hf.log" \
      > "$OUT/gpt_train.md" 2>&1
    cat "$OUT/gpt_train.md"
    collect
  else
    note gpt_train_hf "python3 not found"
  fi
}

# ------------------------------------------------------------------ main

export -f environment cmake_arch_args build_cmake build_nvcc gpu_gencode java_unpack java_setup cuda_lib_dirs java_info \
  java_tests java_lifecycle gpt_train_jalign
export BUILD_DIR JOBS OUT GPU_CARRY GPU_JAVA_DIR
export PYTHONUNBUFFERED=1

step environment 120 environment

# prebuilt_ok: the carried build-cuda/ has the test and bench executables and ldd finds all their libraries
prebuilt_ok() {
  local exes=("$BUILD_DIR"/test_* "$BUILD_DIR"/bench_kernels) e
  [ -x "$BUILD_DIR/bench_kernels" ] || return 1
  for e in "${exes[@]}"; do
    [ -f "$e" ] && [ -x "$e" ] || return 1
    if ldd "$e" 2>&1 | grep -q 'not found'; then echo "$e: $(ldd "$e" | grep 'not found')"; return 1; fi
  done
  return 0
}

if [ "$JAVA_ONLY" -eq 1 ]; then
  run_java_checks
  run_gpt_train
  note total "seconds=$(( $(date +%s) - START_TIME )) budget=${BUDGET}"
  collect
  echo; echo "=== summary ($SUMMARY; returned files in $RESULTS)"; cat "$SUMMARY"
  exit "$FAILED"
fi

if [ "$PREBUILT" -eq 1 ] && prebuilt_ok; then
  note build "skipped (--prebuilt: carried $BUILD_DIR/ executables load here)"
elif [ "$NO_BUILD" -eq 0 ] || [ "$PREBUILT" -eq 1 ]; then
  build
else
  note build "skipped (--no-build)"
fi
if [ "$BUILD_ONLY" -eq 1 ]; then
  collect
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

if [ "$NO_JAVA" -eq 0 ]; then
  run_java_checks
  run_gpt_train
else
  note java "skipped (--no-java)"
fi

bench_args=(--json "$OUT/bench_kernels.json")
torch_args=(--ours "$OUT/bench_kernels.json" --json "$OUT/torch_compare.json" --md "$OUT/torch_compare.md")
if [ "$QUICK" -eq 1 ]; then
  bench_args+=(--quick)
  torch_args+=(--reps 3 --warmup 1)
fi
if [ -x "$BUILD_DIR/bench_kernels" ]; then
  step bench_kernels "${STEP_TIMEOUT_BENCH:-150}" "$BUILD_DIR/bench_kernels" "${bench_args[@]}"
else
  note bench_kernels "missing $BUILD_DIR/bench_kernels"
  FAILED=1
fi

if command -v python3 >/dev/null 2>&1; then
  step torch_compare "${STEP_TIMEOUT_BENCH:-150}" python3 cuda-kernels/bench/torch_compare.py "${torch_args[@]}"
else
  note torch_compare "python3 not found"
fi

note total "seconds=$(( $(date +%s) - START_TIME )) budget=${BUDGET}"
collect
echo
echo "=== summary ($SUMMARY; returned files in $RESULTS)"
cat "$SUMMARY"
exit "$FAILED"
