#!/usr/bin/env bash
# make bench: runs every benchmark and writes its results to bench/results/.
# Usage: bench/run.sh [path/to/medhub]. BENCH_SECONDS (default 10) sets each run's length.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/medhub}
secs=${BENCH_SECONDS:-10}
mkdir -p bench/results

echo "bench: store ingest, sync=full, 1000 patients x 8 codes, ${secs}s"
"$bin" bench store --patients 1000 --codes 8 --seconds "$secs" --sync full \
  --out bench/results/store-ingest.json
echo
echo "bench: store ingest, sync=normal (reference), ${secs}s"
"$bin" bench store --patients 1000 --codes 8 --seconds "$secs" --sync normal \
  --out bench/results/store-ingest-normal.json
echo
echo "bench: MQTT gateway vs mosquitto (bench/mqtt.sh), ${secs}s per run"
bench/mqtt.sh "$bin"
echo
echo "bench: rules engine cost and end-to-end alert latency (bench/rules.sh), ${secs}s per run"
bench/rules.sh "$bin"
echo
echo "bench: FHIR search, ward overview and SSE fan-out (bench/http.sh), ${secs}s per run"
bench/http.sh "$bin"
echo
echo "results: bench/results/"
