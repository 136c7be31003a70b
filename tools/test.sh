#!/usr/bin/env bash
# The test driver behind `make test` (stage "all") and its parts. Runs every stage even when
# one fails, then prints one summary line per stage and a closing "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."

stage=${1:-all}
JOBS=${JOBS:-2}
PYTHON=/usr/bin/python3
passed=0
failed=0
summary=()

run_stage() {
  local name=$1
  shift
  echo
  echo "=== $name ==="
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    summary+=("  ok    $name ($((SECONDS - t0)) s)")
  else
    failed=$((failed + 1))
    summary+=("  FAIL  $name ($((SECONDS - t0)) s)")
  fi
}

configure() { # dir, extra cmake args...
  local dir=$1
  shift
  [ -f "$dir/build.ninja" ] || cmake -S . -B "$dir" -G Ninja -DMEDHUB_WERROR=ON "$@" >/dev/null
}

build_main() { configure build && ninja -C build; }
unit_tests() { ctest --test-dir build -j "$JOBS" --output-on-failure; }
integration_tests() {
  MEDHUB_BIN="$PWD/build/medhub" $PYTHON -m pytest -q -p no:cacheprovider tests/integration
}
# Unit tests, then the integration suite against the sanitized daemon and CLI.
asan_tests() {
  configure build-asan -DMEDHUB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug &&
    ninja -C build-asan &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      MEDHUB_CRASH_ROUNDS=5 ctest --test-dir build-asan -j "$JOBS" --output-on-failure &&
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      MEDHUB_BIN="$PWD/build-asan/medhub" $PYTHON -m pytest -q -p no:cacheprovider tests/integration
}
fuzz_smoke() { tools/fuzz.sh "${FUZZ_SMOKE_SECONDS:-6}"; }

case $stage in
all)
  run_stage build build_main
  run_stage lint tools/lint
  run_stage format tools/format-check
  run_stage unit unit_tests
  run_stage integration integration_tests
  run_stage asan+ubsan asan_tests
  run_stage fuzz fuzz_smoke
  ;;
unit) run_stage build build_main && run_stage unit unit_tests ;;
integration) run_stage build build_main && run_stage integration integration_tests ;;
asan) run_stage asan+ubsan asan_tests ;;
fuzz) run_stage fuzz fuzz_smoke ;;
*)
  echo "usage: tools/test.sh all|unit|integration|asan|fuzz" >&2
  exit 2
  ;;
esac

echo
echo "=== summary ==="
printf '%s\n' "${summary[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
