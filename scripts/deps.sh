#!/usr/bin/env bash
# Installs the Debian packages medhub needs to build, test and run, and only those missing.
# Idempotent and non-interactive; apt-get only. Usage: scripts/deps.sh [build|test]
set -euo pipefail

build_pkgs=(cmake ninja-build pkg-config gcc libc6-dev make
  libuv1-dev libssl-dev libsqlite3-dev libsodium-dev libjansson-dev libcbor-dev
  libhttp-parser-dev libinih-dev libqrencode-dev libcurl4-openssl-dev
  mosquitto-clients) # mosquitto_pub: the demo banner's first publish
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev clang-format sqlite3 util-linux openssl
  mosquitto-clients python3 python3-pytest python3-paho-mqtt python3-requests)

want=("${build_pkgs[@]}")
if [ "${1:-build}" = test ]; then
  want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
