#!/usr/bin/env bash
# Rules benchmark:
#   1. `medhub bench rules`: the engine's evaluation cost per reading, in memory.
#   2. End to end: medhub serve (pinned to CPU 0; sync=full) with 1,000 patients, each with a
#      monitor under the adult-ward protocol (thresholds, NEWS2, forecasts), takes 40,000
#      readings/s (20,000 msgs/s, QoS 1, heart rate + SpO2 per message: the issue's load)
#      from `medhub bench --mqtt` (pinned to CPU 1), and then twice that for headroom. The generator's SpO2 stays at 94-99 % except two readings at 90 % every 200
#      messages per device (devices out of step), so each patient's SpO2 rule raises and then
#      resolves an episode every 5 s: 100 raises/s across the ward at 20,000 msgs/s. The daemon
#      measures, for every raise or update, the time from the reading's arrival at the gateway
#      to the transition in memory ("raised") and to its commit ("persisted"), and logs the
#      percentiles when it stops. Targets: p99 < 5 ms raised, < 20 ms persisted.
# Writes bench/results/rules-eval.json, rules-latency.json (40,000 readings/s) and
# rules-latency-80k.json (80,000 readings/s).
# Usage: bench/rules.sh [path/to/medhub]. BENCH_SECONDS (default 10) sets the run's length.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/medhub}")
secs=${BENCH_SECONDS:-10}
results=bench/results
py=/usr/bin/python3
mkdir -p "$results"

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  srv_pin=(taskset -c 0)
  cli_pin=(taskset -c 1)
else
  srv_pin=()
  cli_pin=()
fi

echo "bench rules: evaluation cost per reading"
"${srv_pin[@]}" "$bin" bench rules --out "$results/rules-eval.json"

tmp=$(mktemp -d /tmp/medhub-bench-rules.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" init --data-dir "$tmp/d" >/dev/null
"$bin" bench --provision 1000 --patients --data-dir "$tmp/d" --creds "$tmp/creds.csv" >/dev/null
serve=("${srv_pin[@]}" "$bin" serve --data-dir "$tmp/d" --set "mqtt.listen=127.0.0.1:$port"
  --set mqtt.tls_listen= --set storage.sync=full --set mqtt.publish_rate=1000000)

# run RATE OUT: one end-to-end run at RATE messages/s (two readings each), results into OUT.
run() {
  local rate=$1 out=$2
  "${serve[@]}" 2>"$tmp/serve.log" &
  pid=$!
  for _ in $(seq 300); do grep -q 'msg="ready"' "$tmp/serve.log" && break; sleep 0.1; done
  echo "bench rules: end to end at $rate msgs/s ($((rate * 2)) readings/s) from 1,000 devices for ${secs}s"
  "${cli_pin[@]}" "$bin" bench --mqtt "127.0.0.1:$port" --creds "$tmp/creds.csv" \
    --devices 1000 --rate "$rate" --qos 1 --duration "$secs" --out "$tmp/gen.json"
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
  local line
  line=$(grep 'msg="alerting stopped"' "$tmp/serve.log" | tail -1)
  echo "$line"
  summarize "$line" "$tmp/gen.json" "$out" "$secs" "$rate"
}

summarize() {
$py - "$@" <<'PY'
import json, re, sys
line, gen, out, secs, rate = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4], int(sys.argv[5])
kv = dict(re.findall(r'(\w+)=(\d+)', line))
cpu = open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].split('\n')[0].strip()
r = {
    'benchmark': 'rules-latency',
    'cpu': cpu,
    'devices': 1000, 'rate_msgs_per_s': rate, 'readings_per_msg': 2, 'qos': 1,
    'duration_s': int(secs),
    'generator': {'sent': gen.get('sent'), 'acked': gen.get('acked'),
                  'msgs_per_s': gen.get('msgs_per_s'), 'puback_latency_ms': gen.get('latency_ms')},
    'readings_evaluated': int(kv['readings']), 'alerts_raised': int(kv['raised']),
    'alerts_resolved': int(kv['resolved']), 'transitions_persisted': int(kv['persisted']),
    'latency_samples': int(kv['latency_samples']),
    'raised_us': {'p50': int(kv['raise_p50_us']), 'p99': int(kv['raise_p99_us']),
                  'p999': int(kv['raise_p999_us']), 'max': int(kv['raise_max_us'])},
    'persisted_us': {'p50': int(kv['persist_p50_us']), 'p99': int(kv['persist_p99_us']),
                     'p999': int(kv['persist_p999_us']), 'max': int(kv['persist_max_us'])},
    'targets': {'raised_p99_us': 5000, 'persisted_p99_us': 20000},
    'commands': ['medhub bench --provision 1000 --patients --data-dir DIR --creds CREDS',
                 'taskset -c 0 medhub serve --data-dir DIR --set mqtt.listen=127.0.0.1:PORT '
                 '--set storage.sync=full --set mqtt.publish_rate=1000000',
                 'taskset -c 1 medhub bench --mqtt 127.0.0.1:PORT --creds CREDS --devices 1000 '
                 '--rate %d --qos 1 --duration %s' % (rate, secs)],
}
r['met'] = r['raised_us']['p99'] < 5000 and r['persisted_us']['p99'] < 20000
json.dump(r, open(out, 'w'), indent=2)
print('raised p50/p99/p99.9 us: %(p50)s/%(p99)s/%(p999)s' % r['raised_us'])
print('persisted p50/p99/p99.9 us: %(p50)s/%(p99)s/%(p999)s' % r['persisted_us'])
PY
}

run 20000 "$results/rules-latency.json"
run 40000 "$results/rules-latency-80k.json"
