#!/usr/bin/env bash
# Packs everything the Java GPU checks need into one folder (default .gpu-carry/), to be carried to a GPU
# machine that may have no JDK and no Maven: run from the repository root, on x86-64 Linux.
#
#   cuda-kernels/bench/pack-java.sh [--no-build] [--out DIR]
#
# Once per checkout, keep the folder out of git (not committed; .git/info/exclude is local):
#   echo /.gpu-carry/ >> .git/info/exclude
#
# DIR (default .gpu-carry/) then holds java-carry.tar.xz (what travels; gpu-check.sh unpacks it on the GPU
# machine), MANIFEST.txt and info-here.txt. The unpacked tree is staged in target/gpu-carry/ (ignored, never
# carried). xz is used because the jlinked runtime and libopenblas compress three times better than in zip.
# Contents of the archive:
#   classes/{jalign,bindings,tests,benchmarks}/  compiled classes; bindings/ holds libjniJalignNative.so with
#                                                the CUDA kernels (built with JALIGN_CUDA=on)
#   lib/*.jar                                    runtime jars; the org.bytedeco native jars trimmed to what x86-64
#                                                Linux needs: openblas_nolapack + libopenblas, cudart + cublas JNI
#                                                wrappers (the CUDA libraries themselves come from the GPU machine:
#                                                gpu-check.sh puts PyTorch's nvidia/*/lib on LD_LIBRARY_PATH)
#   junit/junit-platform-console-standalone.jar  the JUnit console launcher
#   native/                                      fallback copies of libgomp/libstdc++ (appended to
#                                                LD_LIBRARY_PATH, so the machine's own libraries win)
#   jre/                                         a jlinked Java runtime (modules from jdeps)
#   classpath.txt                                class path, relative to DEST
#   MANIFEST.txt                                 sizes and what went in
#
# --no-build uses the Maven outputs already in */target (they must have been built with JALIGN_CUDA=on).
# Maven runs offline (-o): every dependency must already be in ~/.m2.
set -euo pipefail

CARRY=.gpu-carry
DEST=target/gpu-carry
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --out) CARRY="$2"; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
[ -d cuda-kernels ] && [ -f pom.xml ] || { echo "run from the repository root" >&2; exit 2; }
[ "$(uname -m)" = x86_64 ] || { echo "pack on x86-64 Linux (the GPU machine is x86-64)" >&2; exit 2; }
M2="${M2_REPO:-$HOME/.m2/repository}"
JUNIT_CONSOLE_VERSION="${JUNIT_CONSOLE_VERSION:-1.14.1}"
MVN=(mvn -B -q -o)

if [ "$BUILD" -eq 1 ]; then
  command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
  echo "[pack] building with CUDA compiled in (JALIGN_CUDA=on; several minutes)"
  JALIGN_CUDA=on nice "${MVN[@]}" -DskipTests install
fi

so=bindings/target/classes/org/jalign/bindings/linux-x86_64/libjniJalignNative.so
[ -f "$so" ] || { echo "missing $so: build first (JALIGN_CUDA=on mvn -DskipTests install)" >&2; exit 1; }
for d in java/target/classes tests/target/test-classes benchmarks/target/classes; do
  [ -d "$d" ] || { echo "missing $d: build first" >&2; exit 1; }
done
if [ "$(nm -D --defined-only "$so" 2>/dev/null | grep -c 'jalign4cuda')" -eq 0 ]; then
  echo "[pack] WARNING: $so shows no CUDA symbols; was it built with JALIGN_CUDA=on?" >&2
fi

rm -rf "$DEST"
mkdir -p "$DEST"/{classes,lib,junit,native}
cp -r java/target/classes "$DEST/classes/jalign"
cp -r bindings/target/classes "$DEST/classes/bindings"
cp -r tests/target/test-classes "$DEST/classes/tests"
cp -r benchmarks/target/classes "$DEST/classes/benchmarks"
# the generated JMH harness is not needed to run plain mains
rm -rf "$DEST/classes/benchmarks/org/openjdk" "$DEST/classes/benchmarks/org/jalign/bench/jmh_generated"

# third-party class path of the tests module (test scope holds the runtime one too)
cpfile="$(mktemp)"
"${MVN[@]}" -pl tests dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile" >/dev/null
tr ':' '\n' < "$cpfile" > "$cpfile.lines"
rm -f "$cpfile"

# trim_jar SRC DST KEEP_REGEX: copies SRC to DST keeping class/metadata entries and only the native files that
# match KEEP_REGEX (an egrep pattern on the entry name)
trim_jar() {
  local src="$1" dst="$2" keep="$3" tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && unzip -q "$src")
  find "$tmp" -type f \( -name '*.so' -o -name '*.so.*' -o -name '*.a' -o -name '*.h' -o -name '*.hpp' \
      -o -name '*.pc' -o -name '*.cmake' \) | while read -r f; do
    rel="${f#"$tmp"/}"
    echo "$rel" | grep -Eq "$keep" || rm -f "$f"
  done
  find "$tmp" -type d -empty -delete
  # stored, not deflated: the xz archive compresses the native libraries far better
  (cd "$tmp" && zip -q -r -0 "$dst" .)
  rm -rf "$tmp"
}

while read -r jar; do
  [ -n "$jar" ] || continue
  base="$(basename "$jar")"
  case "$base" in
    # the console launcher below carries the JUnit platform, Jupiter, opentest4j and apiguardian
    junit-*|opentest4j-*|apiguardian-*) continue ;;
    # JMH is only for the JMH benchmarks
    jmh-*|jopt-simple-*|commons-math3-*) continue ;;
    openblas-*-linux-x86_64.jar)
      trim_jar "$jar" "$PWD/$DEST/lib/$base" \
        '/(libopenblas\.so\.0|libjniopenblas_nolapack\.so|libgfortran\.so\.5|libquadmath\.so\.0|libgcc_s\.so\.1)$' ;;
    cuda-*-linux-x86_64.jar)
      trim_jar "$jar" "$PWD/$DEST/lib/$base" '/(libjnicudart\.so|libjnicublas\.so)$' ;;
    *-linux-*.jar|*-macosx-*.jar|*-windows-*.jar|*-android-*.jar|*-ios-*.jar)
      case "$base" in *-linux-x86_64.jar) cp "$jar" "$DEST/lib/" ;; *) ;; esac ;;
    # jalign's own classes are carried as class folders (the bindings folder holds the JNI library)
    jalign-*.jar) ;;
    *) cp "$jar" "$DEST/lib/" ;;
  esac
done < "$cpfile.lines"
rm -f "$cpfile.lines"

console="$M2/org/junit/platform/junit-platform-console-standalone/$JUNIT_CONSOLE_VERSION/junit-platform-console-standalone-$JUNIT_CONSOLE_VERSION.jar"
if [ ! -f "$console" ]; then
  echo "[pack] resolving junit-platform-console-standalone $JUNIT_CONSOLE_VERSION from Maven Central"
  mvn -B -q dependency:get -Dartifact="org.junit.platform:junit-platform-console-standalone:$JUNIT_CONSOLE_VERSION"
fi
cp "$console" "$DEST/junit/junit-platform-console-standalone.jar"

# fallback copies of the C/C++ runtime libraries the JNI library needs (appended, never preferred, at run time)
ldd "$so" | awk '/=> \// {print $3}' | while read -r lib; do
  case "$(basename "$lib")" in
    libgomp.so.*|libstdc++.so.*|libgcc_s.so.*) cp -L "$lib" "$DEST/native/" ;;
  esac
done

# class path, relative to DEST (gpu-check.sh prefixes the carried folder's path)
{
  printf '%s' "classes/jalign:classes/bindings:classes/benchmarks"
  for j in "$DEST"/lib/*.jar; do printf ':lib/%s' "$(basename "$j")"; done
  echo
} > "$DEST/classpath.txt"
abs_cp() { local d e out=""; d="$(cd "$DEST" && pwd)"; IFS=: read -r -a e < "$DEST/classpath.txt";
  for x in "${e[@]}"; do out="${out:+$out:}$d/$x"; done; echo "$out"; }

# a jlinked runtime with the modules the code uses (jdk.unsupported: JavaCPP uses sun.misc.Unsafe)
jars=("$DEST"/lib/*.jar)
mods="$(jdeps --print-module-deps --ignore-missing-deps --multi-release 17 -q \
  --class-path "$(IFS=:; echo "${jars[*]}")" \
  "$DEST/classes/jalign" "$DEST/classes/bindings" "$DEST/classes/benchmarks" "$DEST/classes/tests" "${jars[@]}" \
  "$DEST/junit/junit-platform-console-standalone.jar" 2>/dev/null | tail -1)"
mods="${mods:+$mods,}jdk.unsupported,jdk.crypto.ec,jdk.zipfs"
echo "[pack] jlink modules: $mods"
# --compress=0: the xz archive below compresses the runtime to about a third of jlink's own --compress=2
jlink --add-modules "$mods" --strip-debug --strip-native-debug-symbols=exclude-debuginfo-files --no-header-files \
  --no-man-pages --compress=0 --output "$DEST/jre"

# smoke test of the packed runtime
"$DEST/jre/bin/java" -cp "$(abs_cp)" -Djalign.backend=cpu org.jalign.cli.Main info \
  > "$DEST/info-here.txt" 2>&1 || echo "[pack] WARNING: 'Main info' failed with the packed runtime (see $DEST/info-here.txt)"

rm -rf "$CARRY"; mkdir -p "$CARRY"
rm -f "$CARRY/java-carry.tar.xz"
echo "[pack] writing $CARRY/java-carry.tar.xz (xz; a few minutes on a loaded machine)"
tar -C "$DEST" -cf - . | nice xz -"${XZ_LEVEL:-4}" -T0 > "$CARRY/java-carry.tar.xz"
cp "$DEST/info-here.txt" "$CARRY/"
{
  echo "packed $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "jlink modules: $mods"
  echo "unpacked (in $DEST):"
  du -sh "$DEST"/* | sort -h
  echo "unpacked total: $(du -sh "$DEST" | cut -f1)"
  echo "carried: $CARRY/java-carry.tar.xz $(stat -c %s "$CARRY/java-carry.tar.xz") bytes ($(du -sh "$CARRY/java-carry.tar.xz" | cut -f1))"
  echo "jars:"
  ls -la "$DEST"/lib
} > "$CARRY/MANIFEST.txt"
cat "$CARRY/MANIFEST.txt"
total=$(du -sb "$CARRY" | cut -f1)
if [ "$total" -gt $((48 * 1024 * 1024)) ]; then
  echo "[pack] WARNING: $CARRY is $((total / 1048576)) MiB; the tree that travels must stay under 64 MiB" >&2
fi
