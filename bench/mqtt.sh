#!/usr/bin/env bash
# MQTT gateway benchmark: medhub vs mosquitto side by side, same load generator
# (`medhub bench --mqtt`), loopback only. The server under test is pinned to CPU 0 and the
# generator (and mosquitto_sub) to CPU 1. Scenarios:
#   a  QoS 1, 1,000 devices, as fast as acknowledged: medhub (sync=full) vs mosquitto PUBACK
#      rate (3 runs each, median)
#   b  QoS 0, 1,000 devices: medhub storing vs mosquitto forwarding to one subscriber
#   c  PUBACK latency at a fixed 40,000 msgs/s from 1,000 devices (target p99 < 10 ms)
#   d  10,000 idle connected devices: server RSS per connection (target < 4 KiB)
# Writes bench/results/mqtt-*.json and bench/results/mqtt-summary.md.
# Usage: bench/mqtt.sh [path/to/medhub]. BENCH_SECONDS (default 10) sets each run's length;
# BENCH_RUNS (default 3) the repetitions of scenario a; BENCH_SCENARIOS (default abcd) which
# scenarios run. Installs nothing: without
# /usr/sbin/mosquitto (Debian package mosquitto) it prints why and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/medhub}")
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
scenarios=${BENCH_SCENARIOS:-abcd} # a subset (e.g. "d") for a quick look; the summary shows "-"
mosq=/usr/sbin/mosquitto
results=bench/results
py=/usr/bin/python3

if [ ! -x "$mosq" ] || ! command -v mosquitto_sub >/dev/null; then
  echo "bench mqtt: SKIPPED: needs $mosq and mosquitto_sub (Debian packages mosquitto and"
  echo "            mosquitto-clients; 'make bench' installs them)"
  exit 0
fi

# Pinning: server on CPU 0, client side on CPU 1 (no pinning on a single CPU).
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  srv_pin=(taskset -c 0)
  cli_pin=(taskset -c 1)
else
  srv_pin=()
  cli_pin=()
fi

tmp=$(mktemp -d /tmp/medhub-bench-mqtt.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # 10,000 connections need 10,000 descriptors
mkdir -p "$results"

free_port() {
  $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
json() { # json FILE EXPR: a value from a JSON file (EXPR is a Python expression over r)
  $py -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
wait_for() { # wait_for FILE PATTERN SECONDS PID
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench mqtt: '$2' did not appear in $1:" >&2
  tail -20 "$1" >&2
  return 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
forget() { # forget PID: drop a stopped process from the cleanup list
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

want() { [[ $scenarios == *$1* ]]; }
a_med=- a_ref=- a_ratio=- b_med=- b_ref=- b_ratio=- b_rows=0 b_med_sent=- b_delivered=- b_ref_sent=-
c_med=- c_ref=- c_med_rate=- c_ref_rate=- c_med_p50=- c_med_p999=-
d_med=- d_ref=- d_med_before=- d_med_after=- d_ref_before=- d_ref_after=-
a_medhub=()
a_mosq=()

commands=()
note_cmd() { commands+=("$*"); }

# ---- servers -------------------------------------------------------------------------------
medhub_pid=
medhub_log=
start_medhub() { # start_medhub DATA_DIR PORT LOG [--set ...]
  local dir=$1 port=$2
  medhub_log=$3
  shift 3
  local cmd=("${srv_pin[@]}" "$bin" serve --data-dir "$dir"
    --set "mqtt.listen=127.0.0.1:$port" --set mqtt.tls_listen= --set http.listen=127.0.0.1:0
    --set http.tls_listen= --set hl7.listen=127.0.0.1:0 --set storage.sync=full
    --set mqtt.publish_rate=1000000 "$@")
  note_cmd "${cmd[@]}"
  "${cmd[@]}" 2>"$medhub_log" &
  medhub_pid=$!
  pids+=("$medhub_pid")
  wait_for "$medhub_log" 'msg="ready"' 30 "$medhub_pid"
}
committed=0
stop_medhub() { # sets committed: the rows the store writer committed, from its last log line
  kill -TERM "$medhub_pid"
  local i=0
  while kill -0 "$medhub_pid" 2>/dev/null && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if kill -0 "$medhub_pid" 2>/dev/null; then
    echo "bench mqtt: medhub did not stop within 60 s of SIGTERM; killing it" >&2
    kill -KILL "$medhub_pid" 2>/dev/null || true
  fi
  wait "$medhub_pid" || true
  forget "$medhub_pid"
  committed=$(sed -n 's/.*msg="store writer stopped".* committed=\([0-9]*\).*/\1/p' "$medhub_log" | tail -1)
}

mosq_pid=
start_mosquitto() { # start_mosquitto PORT
  cat >"$tmp/mosquitto.conf" <<EOF
listener $1 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_inflight_messages 0
max_queued_messages 0
persistence false
log_dest none
EOF
  local cmd=("${srv_pin[@]}" "$mosq" -c "$tmp/mosquitto.conf")
  note_cmd "${cmd[@]}"
  "${cmd[@]}" 2>"$tmp/mosquitto.log" &
  mosq_pid=$!
  pids+=("$mosq_pid")
  local i
  for ((i = 0; i < 50; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench mqtt: mosquitto did not start" >&2
  cat "$tmp/mosquitto.log" >&2
  return 1
}
stop_mosquitto() {
  kill -TERM "$mosq_pid"
  wait "$mosq_pid" || true
  forget "$mosq_pid"
}

gen() { # gen PORT OUT.json CREDS [options...]: the load generator on the client CPU
  local port=$1 out=$2 creds=$3
  shift 3
  local cmd=("${cli_pin[@]}" "$bin" bench --mqtt "127.0.0.1:$port" --creds "$creds" --out "$out"
    "$@")
  note_cmd "${cmd[@]}"
  "${cmd[@]}" | sed 's/^/    /'
}

# ---- setup ---------------------------------------------------------------------------------
echo "bench mqtt: provisioning 1,000 devices with patients and 10,000 devices (fresh data dirs)"
d1k=$tmp/data-1k
d10k=$tmp/data-10k
"$bin" init --data-dir "$d1k" >/dev/null
"$bin" bench --provision 1000 --patients --data-dir "$d1k" --creds "$tmp/creds-1k.csv"
"$bin" init --data-dir "$d10k" >/dev/null
"$bin" bench --provision 10000 --data-dir "$d10k" --creds "$tmp/creds-10k.csv"
note_cmd "$bin" init --data-dir DIR
note_cmd "$bin" bench --provision 1000 --patients --data-dir DIR --creds CREDS.csv

# ---- a: QoS 1 as fast as acknowledged ------------------------------------------------------
if want a; then
echo
echo "bench mqtt (a): QoS 1, 1,000 devices, as fast as acknowledged, ${secs}s x $runs"
for ((i = 1; i <= runs; i++)); do
  port=$(free_port)
  start_medhub "$d1k" "$port" "$tmp/medhub-a$i.log"
  echo "  medhub run $i"
  gen "$port" "$tmp/a-medhub-$i.json" "$tmp/creds-1k.csv" --qos 1 --duration "$secs" || true
  stop_medhub
  a_medhub+=("$(json "$tmp/a-medhub-$i.json" 'r["msgs_per_s"]')")
  port=$(free_port)
  start_mosquitto "$port"
  echo "  mosquitto run $i"
  gen "$port" "$tmp/a-mosquitto-$i.json" "$tmp/creds-1k.csv" --qos 1 --duration "$secs" || true
  stop_mosquitto
  a_mosq+=("$(json "$tmp/a-mosquitto-$i.json" 'r["msgs_per_s"]')")
done
a_med=$(median "${a_medhub[@]}")
a_ref=$(median "${a_mosq[@]}")
# Keep the median runs' JSON as the recorded results.
for ((i = 1; i <= runs; i++)); do
  [ "${a_medhub[$((i - 1))]}" = "$a_med" ] && cp "$tmp/a-medhub-$i.json" "$results/mqtt-qos1-medhub.json"
  [ "${a_mosq[$((i - 1))]}" = "$a_ref" ] && cp "$tmp/a-mosquitto-$i.json" "$results/mqtt-qos1-mosquitto.json"
done
a_ratio=$(ratio "$a_med" "$a_ref")
echo "  => medhub ${a_medhub[*]} msgs/s (median $a_med), mosquitto ${a_mosq[*]} (median $a_ref): ${a_ratio}x"
fi

# ---- b: QoS 0 ------------------------------------------------------------------------------
if want b; then
echo
echo "bench mqtt (b): QoS 0, 1,000 devices, as fast as the socket takes, ${secs}s"
# Stored rows: counted in the database before and after (a daemon that has to be killed
# still has every committed row); the writer's "committed=" log line without sqlite3.
obs_rows() { sqlite3 "$d1k/medhub.db" 'SELECT count(*) FROM obs'; }
command -v sqlite3 >/dev/null && rows0=$(obs_rows)
port=$(free_port)
start_medhub "$d1k" "$port" "$tmp/medhub-b.log"
gen "$port" "$results/mqtt-qos0-medhub.json" "$tmp/creds-1k.csv" --qos 0 --duration "$secs" || true
stop_medhub
b_rows=${committed:-0}
command -v sqlite3 >/dev/null && b_rows=$(($(obs_rows) - rows0))
b_med_wall=$(json "$results/mqtt-qos0-medhub.json" 'r["wall_s"]')
b_med_sent=$(json "$results/mqtt-qos0-medhub.json" 'r["sent"]')
b_med=$(awk -v n="$b_rows" -v w="$b_med_wall" 'BEGIN {printf "%.0f", n / 2 / w}')
port=$(free_port)
start_mosquitto "$port"
sub_cmd=("${cli_pin[@]}" mosquitto_sub -h 127.0.0.1 -p "$port" -q 0 -t '#')
note_cmd "${sub_cmd[@]}" "> FILE"
"${sub_cmd[@]}" >"$tmp/sub.out" &
sub_pid=$!
pids+=("$sub_pid")
sleep 0.5
gen "$port" "$results/mqtt-qos0-mosquitto.json" "$tmp/creds-1k.csv" --qos 0 --duration "$secs" || true
sleep 2 # let the subscriber catch up with what mosquitto still holds
kill "$sub_pid" 2>/dev/null || true
wait "$sub_pid" 2>/dev/null || true
forget "$sub_pid"
stop_mosquitto
b_delivered=$(wc -l <"$tmp/sub.out")
rm -f "$tmp/sub.out"
b_ref_wall=$(json "$results/mqtt-qos0-mosquitto.json" 'r["wall_s"]')
b_ref_sent=$(json "$results/mqtt-qos0-mosquitto.json" 'r["sent"]')
b_ref=$(awk -v n="$b_delivered" -v w="$b_ref_wall" 'BEGIN {printf "%.0f", n / w}')
b_ratio=$(ratio "$b_med" "$b_ref")
echo "  => medhub stored $((b_rows / 2)) of $b_med_sent messages ($b_med msgs/s);" \
  "mosquitto delivered $b_delivered of $b_ref_sent ($b_ref msgs/s): ${b_ratio}x"
fi

# ---- c: latency at 40,000 msgs/s ------------------------------------------------------------
if want c; then
echo
echo "bench mqtt (c): QoS 1 at 40,000 msgs/s from 1,000 devices, ${secs}s"
port=$(free_port)
start_medhub "$d1k" "$port" "$tmp/medhub-c.log"
gen "$port" "$results/mqtt-latency-medhub.json" "$tmp/creds-1k.csv" --qos 1 --rate 40000 \
  --duration "$secs" || true
stop_medhub
port=$(free_port)
start_mosquitto "$port"
gen "$port" "$results/mqtt-latency-mosquitto.json" "$tmp/creds-1k.csv" --qos 1 --rate 40000 \
  --duration "$secs" || true
stop_mosquitto
c_med=$(json "$results/mqtt-latency-medhub.json" 'r["latency_ms"]["p99"]')
c_med_rate=$(json "$results/mqtt-latency-medhub.json" 'r["msgs_per_s"]')
c_ref=$(json "$results/mqtt-latency-mosquitto.json" 'r["latency_ms"]["p99"]')
c_ref_rate=$(json "$results/mqtt-latency-mosquitto.json" 'r["msgs_per_s"]')
c_med_p50=$(json "$results/mqtt-latency-medhub.json" 'r["latency_ms"]["p50"]')
c_med_p999=$(json "$results/mqtt-latency-medhub.json" 'r["latency_ms"]["p99_9"]')
echo "  => medhub p99 $c_med ms at $c_med_rate msgs/s; mosquitto p99 $c_ref ms at $c_ref_rate"
fi

# ---- d: 10,000 idle connections ------------------------------------------------------------
idle_secs=$((secs > 10 ? secs : 10))
if want d; then
echo
echo "bench mqtt (d): 10,000 idle connected devices"
idle_run() { # idle_run NAME PID PORT: prints "before after connected"
  local before after
  sleep 1
  before=$(rss_kib "$2")
  local cmd=("${cli_pin[@]}" "$bin" bench --mqtt "127.0.0.1:$3" --creds "$tmp/creds-10k.csv"
    --idle --duration "$idle_secs" --out "$results/mqtt-idle-$1.json")
  note_cmd "${cmd[@]}"
  "${cmd[@]}" >"$tmp/idle-$1.out" 2>&1 &
  local gpid=$!
  pids+=("$gpid")
  wait_for "$tmp/idle-$1.out" 'bench mqtt: connected' 120 "$gpid" >&2
  sleep 2 # let the server settle (registry refresh, buffers)
  after=$(rss_kib "$2")
  wait "$gpid" || true
  forget "$gpid"
  sed 's/^/    /' "$tmp/idle-$1.out" >&2
  echo "$before $after $(json "$results/mqtt-idle-$1.json" 'r["connected"]')"
}
port=$(free_port)
start_medhub "$d10k" "$port" "$tmp/medhub-d.log" --set mqtt.max_connections=20000
read -r d_med_before d_med_after d_med_n < <(idle_run medhub "$medhub_pid" "$port")
stop_medhub
port=$(free_port)
start_mosquitto "$port"
read -r d_ref_before d_ref_after d_ref_n < <(idle_run mosquitto "$mosq_pid" "$port")
stop_mosquitto
per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f", (n > 0 ? (b - a) / n : 0)}'; }
d_med=$(per_conn "$d_med_before" "$d_med_after" "$d_med_n")
d_ref=$(per_conn "$d_ref_before" "$d_ref_after" "$d_ref_n")
echo "  => medhub RSS $d_med_before -> $d_med_after KiB for $d_med_n connections = $d_med KiB each;" \
  "mosquitto $d_ref_before -> $d_ref_after KiB = $d_ref KiB each"
for name in medhub mosquitto; do
  f=$results/mqtt-idle-$name.json
  if [ "$name" = medhub ]; then
    extra="\"rss_kib_before\": $d_med_before, \"rss_kib_after\": $d_med_after, \"rss_kib_per_conn\": $d_med"
  else
    extra="\"rss_kib_before\": $d_ref_before, \"rss_kib_after\": $d_ref_after, \"rss_kib_per_conn\": $d_ref"
  fi
  $py - "$f" "$extra" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["server_rss"] = json.loads("{" + sys.argv[2] + "}")
json.dump(r, open(sys.argv[1], "w"), indent=2)
EOF
done
fi

# ---- summary -------------------------------------------------------------------------------
mq_version=$({ "$mosq" -h 2>&1 || true; } | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p' | head -1)
med_version=$("$bin" --version 2>/dev/null | head -1 || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
pass() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {ok = (dir == "<" ? v < t : v >= t); print (ok ? "yes" : "NO")}'; }
{
  echo "# MQTT gateway benchmark: medhub vs mosquitto"
  echo
  echo "Generated by bench/mqtt.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)."
  echo
  echo "- machine: $(nproc) CPUs, $cpu; server pinned to CPU 0, generator (and mosquitto_sub) to CPU 1"
  echo "- versions: $med_version, mosquitto $mq_version, $(uname -sr)"
  echo "- load: \`medhub bench --mqtt\`, MQTT 5, SenML JSON of 2 readings (heart_rate + spo2, 89 bytes), 1,000 devices, ${secs} s per run, window 32 unacknowledged messages per connection"
  echo "- medhub: storage.sync=full (fsync per commit), mqtt.publish_rate raised to 1000000 (the per-device limit is policy, not capacity), other settings default"
  echo
  echo "| scenario | medhub | mosquitto | ratio | target |"
  echo "|---|---|---|---|---|"
  echo "| a. QoS 1 PUBACK rate, as fast as acknowledged (median of $runs) | $a_med msgs/s | $a_ref msgs/s | **${a_ratio}x** | >= 1.0x: $(pass "$a_ratio" 1.0 '>=') |"
  echo "| b. QoS 0: medhub stored vs mosquitto delivered to 1 subscriber | $b_med msgs/s ($((b_rows / 2)) of $b_med_sent stored) | $b_ref msgs/s ($b_delivered of $b_ref_sent delivered) | **${b_ratio}x** | |"
  echo "| c. PUBACK latency at 40,000 msgs/s: p99 | $c_med ms (p50 $c_med_p50, p99.9 $c_med_p999; $c_med_rate msgs/s acked) | $c_ref ms ($c_ref_rate msgs/s) | | < 10 ms: $(pass "$c_med" 10 '<') |"
  echo "| d. RSS per idle connection (10,000 devices) | $d_med KiB ($d_med_before -> $d_med_after KiB) | $d_ref KiB ($d_ref_before -> $d_ref_after KiB) | | < 4 KiB: $(pass "$d_med" 4 '<') |"
  echo
  echo "Scenario a, every run (msgs/s): medhub ${a_medhub[*]}; mosquitto ${a_mosq[*]}."
  echo
  echo "Results: bench/results/mqtt-qos1-{medhub,mosquitto}.json (median runs), mqtt-qos0-*.json, mqtt-latency-*.json, mqtt-idle-*.json."
  echo
  echo "## Commands"
  echo
  echo '```'
  printf '%s\n' "${commands[@]}" "${cli_pin[*]} $bin bench --mqtt 127.0.0.1:PORT --creds CREDS-10k.csv --idle --duration $idle_secs --out FILE.json" |
    sed -E "s|$tmp|\$TMP|g; s/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g; s/-p [0-9]+ /-p PORT /; s/-[0-9]+\.json/-N.json/" |
    awk '!seen[$0]++'
  echo '```'
  echo
  echo "mosquitto.conf (plus \`log_dest none\`): \`listener PORT 127.0.0.1\`, \`allow_anonymous true\`,"
  echo "\`set_tcp_nodelay true\`, \`max_inflight_messages 0\`, \`max_queued_messages 0\`, \`persistence false\`."
  echo "Devices: \`medhub bench --provision 1000 --patients\` (a-c) and \`--provision 10000\` (d) into fresh data dirs."
} >"$results/mqtt-summary.md"
echo
cat "$results/mqtt-summary.md"
