#!/usr/bin/env bash
# Builds native/ (and cuda-kernels/ when nvcc is available) into a static library for the JNI link.
#   bindings/build-native.sh <out-dir>
# JALIGN_CUDA=off skips CUDA even when nvcc is present; JALIGN_CUDA=on fails when nvcc is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/target/native}"
mkdir -p "$out"
cuda=0
nvcc_bin="$(command -v nvcc || true)"
if [ -z "$nvcc_bin" ] && [ -x /usr/local/cuda/bin/nvcc ] && [ "${JALIGN_CUDA:-auto}" = on ]; then nvcc_bin=/usr/local/cuda/bin/nvcc; fi
case "${JALIGN_CUDA:-auto}" in
  off) cuda=0 ;;
  on) [ -n "$nvcc_bin" ] || { echo "JALIGN_CUDA=on but nvcc was not found on PATH" >&2; exit 1; }; cuda=1 ;;
  *) [ -n "$nvcc_bin" ] && [ -n "$(ls "$here"/../cuda-kernels/*.cu 2>/dev/null)" ] && cuda=1 ;;
esac
jobs="$(nproc 2>/dev/null || echo 2)"
if [ "$cuda" = 1 ]; then
  echo "[jalign] building native library with CUDA kernels ($nvcc_bin)"
  make -s -C "$here/../native" OUT="$out" CUDA=1 NVCC="$nvcc_bin" -j"$jobs"
else
  echo "[jalign] building native library for the CPU only (nvcc not found or JALIGN_CUDA=off): CUDA not compiled in"
  make -s -C "$here/../native" OUT="$out" CUDA=0 -j"$jobs"
fi
echo "$cuda" > "$out/cuda-compiled"
mkdir -p "$out/lib"
src="$out/lib-$([ "$cuda" = 1 ] && echo cuda || echo cpu)/libjalign_native.a"
cmp -s "$src" "$out/lib/libjalign_native.a" 2>/dev/null || cp "$src" "$out/lib/libjalign_native.a"
