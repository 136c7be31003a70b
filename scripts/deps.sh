#!/usr/bin/env bash
# Installs the Debian packages medhub needs to build, test and run, and only those missing.
# Idempotent and non-interactive; apt-get only. Usage: scripts/deps.sh [build|test|bench]
set -euo pipefail

build_pkgs=(cmake ninja-build pkg-config gcc libc6-dev make
  libuv1-dev libssl-dev libsqlite3-dev libsodium-dev libjansson-dev libcbor-dev
  libhttp-parser-dev libinih-dev libqrencode-dev libcurl4-openssl-dev zlib1g-dev
  mosquitto-clients) # mosquitto_pub: the demo banner's first publish
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev clang-format sqlite3 util-linux openssl
  mosquitto-clients python3 python3-pytest python3-paho-mqtt python3-requests)

# make bench runs Debian's mosquitto broker beside medhub as the reference, and wrk (HTTP).
bench_pkgs=(mosquitto mosquitto-clients util-linux wrk curl)

want=("${build_pkgs[@]}")
case "${1:-build}" in
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${bench_pkgs[@]}") ;;
esac

# npm packages the tests use (MQTT.js, the Medplum FHIR validator, fhir-kit-client), from
# package-lock.json; node_modules is never committed.
npm_deps() {
  local top
  top=$(cd "$(dirname "$0")/.." && pwd)
  [ -f "$top/package-lock.json" ] || return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "deps: npm not found; tests that need MQTT.js or Medplum will be skipped" >&2
    return 0
  fi
  if [ ! -f "$top/node_modules/.package-lock.json" ] ||
    [ "$top/package-lock.json" -nt "$top/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci"
    (cd "$top" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js for the MQTT.js tests: only when there is none at all (a machine may carry a newer
# nodejs from elsewhere whose bundled npm conflicts with Debian's npm package).
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  [ "${1:-build}" = test ] && npm_deps
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
[ "${1:-build}" = test ] && npm_deps
exit 0
