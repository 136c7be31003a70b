#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with clang and runs each for N seconds,
# starting from its seed corpus (tests/fuzz/corpus/<target>/) and dictionary if present.
# New inputs go to a scratch copy so the committed corpus stays small. Usage: tools/fuzz.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
dir=build-fuzz
[ -f "$dir/build.ninja" ] || CC=clang cmake -S . -B "$dir" -G Ninja -DMEDHUB_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$dir"
status=0
for src in tests/fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  t=$(basename "$src" .c)
  scratch=$(mktemp -d)
  seeds=tests/fuzz/corpus/$t
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0)
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  mkdir -p "$dir/crashes/$t"
  args+=(-artifact_prefix="$dir/crashes/$t/")
  echo "fuzz: $t for ${secs}s"
  if [ -d "$seeds" ]; then
    "$dir/$t" "${args[@]}" "$scratch" "$seeds" 2>"$dir/$t.log" || status=1
  else
    "$dir/$t" "${args[@]}" "$scratch" 2>"$dir/$t.log" || status=1
  fi
  tail -n 3 "$dir/$t.log"
  rm -rf "$scratch"
done
exit $status
