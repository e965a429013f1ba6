#!/usr/bin/env bash
# Generates Java from every FlatBuffers schema under src/main/flatbuffers with the flatc 2.0.8 that Maven
# unpacked into target/flatc (it pairs with flatbuffers-java 2.0.8). Skips work when nothing changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
flatc="$here/target/flatc/bin/flatc"
out="$here/target/generated-sources/flatbuffers"
shopt -s nullglob
schemas=("$here"/src/main/flatbuffers/*.fbs)
mkdir -p "$out"
[ ${#schemas[@]} -gt 0 ] || exit 0
stamp="$out/.stamp"
if [ -f "$stamp" ]; then
  newer=0
  for s in "${schemas[@]}"; do [ "$s" -nt "$stamp" ] && newer=1; done
  [ $newer = 1 ] || exit 0
fi
chmod +x "$flatc"
rm -rf "$out"/org
"$flatc" --java -o "$out" "${schemas[@]}"
touch "$stamp"
