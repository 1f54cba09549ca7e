#!/usr/bin/env bash
# End-to-end through mosquitto: Sparkplug B metric updates/s landing in twins
# (twin-node's host -> fabric -> durable), next to what mosquitto alone passes
# to a plain Paho subscriber in the same run with the same payloads, and
# next to the durable floor: that subscriber also writing each raw payload
# to RocksDB with sync group commits.
#
#   bench/run_e2e_mqtt.sh [BUILD_DIR] [SECONDS]
#
# Env: TWIN_E2E_EDGE_NODES (100), TWIN_E2E_DEVICES (10), TWIN_E2E_QOS (0),
#      TWIN_E2E_RATE (0 = full speed; DDATA messages/s of the publisher),
#      TWIN_E2E_NODE_ARGS (more twin-node flags, e.g. "--threads 1"),
#      TWIN_E2E_NODE_PRELOAD (LD_PRELOAD for twin-node only, e.g. an
#      allocator: /usr/lib/x86_64-linux-gnu/libjemalloc.so.2).
# Loopback only. Needs mosquitto, curl and the targets twin-node and
# bench_mqtt_blast in BUILD_DIR.
#
# QoS 0 by default: Sparkplug DDATA is QoS 0 (twin-edge publishes it so), and
# it is the broker's cheapest path. A QoS 0 message a subscriber cannot take
# is queued or dropped by the broker, so both sides are measured at the
# receiver: the plain subscriber counts what it received, twin-node's
# twin_sparkplug_metrics_applied_total counts what its host delivered to the
# twins (and the script waits for twin_sparkplug_in_flight to reach 0, i.e.
# every batch acknowledged durable). Births go at QoS 1 and are waited for.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build-release}" && pwd)"
secs="${2:-10}"
edge="${TWIN_E2E_EDGE_NODES:-100}"
devices="${TWIN_E2E_DEVICES:-10}"
qos="${TWIN_E2E_QOS:-0}"
rate="${TWIN_E2E_RATE:-0}"
blast="$build/bench/bench_mqtt_blast"
node_bin="$build/cli/twin-node"
for f in "$blast" "$node_bin"; do
  [[ -x "$f" ]] || { echo "missing $f (build bench_mqtt_blast and twin-node)" >&2; exit 2; }
done
command -v mosquitto >/dev/null || { echo "mosquitto not installed" >&2; exit 2; }
fleet=(--edge-nodes "$edge" --devices "$devices")
twins=$((edge * devices))

tmp="$(mktemp -d /tmp/twin-e2e-XXXXXX)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}
grep_line() { grep -m1 "$1" "$2" 2>/dev/null; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", (b > 0 ? 100 * a / b : 0) }'; }  # pct A B: A/B

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared, noisy)"

# -- mosquitto on a free loopback port -----------------------------------------
port=""
for _ in 1 2 3 4 5; do
  p=$(( 20000 + RANDOM % 30000 ))
  port_free "$p" || continue
  cat > "$tmp/mosquitto.conf" <<EOF
listener $p 127.0.0.1
allow_anonymous true
log_dest stderr
log_type error
log_type warning
persistence false
max_queued_messages 10000000
max_queued_bytes 0
EOF
  mosquitto -c "$tmp/mosquitto.conf" 2> "$tmp/mosquitto.log" &
  mpid=$!
  if wait_for 5 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null"; then
    pids+=("$mpid"); port="$p"; break
  fi
  kill "$mpid" 2>/dev/null || true
done
[[ -n "$port" ]] || { echo "could not start mosquitto" >&2; cat "$tmp/mosquitto.log" >&2; exit 1; }
url="tcp://127.0.0.1:$port"
echo "mosquitto $(mosquitto -h 2>&1 | head -1 | awk '{print $3}') on $url; fleet ${edge}x${devices} = $twins devices, 10 Double metrics per DDATA, QoS $qos, ${secs}s, rate ${rate:-0} (0 = full speed)"

pub_args=(--url "$url" "${fleet[@]}" --qos "$qos" --duration "$secs")
[[ "$rate" != 0 ]] && pub_args+=(--rate "$rate")

# -- (a) broker alone: publisher -> mosquitto -> plain Paho subscriber ---------
"$blast" sub --url "$url" --idle 3 > "$tmp/sub.out" 2> "$tmp/sub.err" &
sub_pid=$!; pids+=("$sub_pid")
wait_for 10 grep -qs subscribed "$tmp/sub.out" || { echo "subscriber did not start" >&2; cat "$tmp/sub.err" >&2; exit 1; }
"$blast" pub "${pub_args[@]}" > "$tmp/pub_a.out" 2> "$tmp/pub_a.err"
wait "$sub_pid" || true
sent_a=$(grep_line '^sent' "$tmp/pub_a.out")
recv_a=$(grep_line '^received' "$tmp/sub.out")
broker_rate=$(sed -n 's/.*rate_metrics=\([0-9]*\).*/\1/p' <<< "$recv_a")
echo "(a) broker alone:"
echo "    publisher: $sent_a"
echo "    plain subscriber: $recv_a"

# -- (a2) the durable floor: the same subscriber also group-commits every raw
# DDATA payload to a fresh RocksDB (sync), decoding nothing: the least any
# durable ingest does. twin-node cannot beat it; its ratio bounds (b)'s.
"$blast" sub --url "$url" --idle 3 --durable "$tmp/floor-db" > "$tmp/floor.out" 2> "$tmp/floor.err" &
floor_pid=$!; pids+=("$floor_pid")
wait_for 10 grep -qs subscribed "$tmp/floor.out" || { echo "durable subscriber did not start" >&2; cat "$tmp/floor.err" >&2; exit 1; }
"$blast" pub "${pub_args[@]}" > "$tmp/pub_a2.out" 2> "$tmp/pub_a2.err"
wait "$floor_pid" || { echo "durable subscriber failed" >&2; cat "$tmp/floor.err" >&2; exit 1; }
rm -rf "$tmp/floor-db"
recv_a2=$(grep_line '^received' "$tmp/floor.out")
floor_rate=$(sed -n 's/.*rate_metrics=\([0-9]*\).*/\1/p' <<< "$recv_a2")
echo "(a2) durable floor (raw payload per DDATA into RocksDB, sync group commits, no decoding):"
echo "    publisher: $(grep_line '^sent' "$tmp/pub_a2.out")"
echo "    durable subscriber: $recv_a2; $(grep_line '^durable' "$tmp/floor.out")"

# -- (b) twin-node: publisher -> mosquitto -> twin-node -> twins (durable) -----
"$blast" tagmap "${fleet[@]}" --out "$tmp/tagmap.json"
mkdir -p "$tmp/data"
LD_PRELOAD="${TWIN_E2E_NODE_PRELOAD:-}" \
"$node_bin" --data-dir "$tmp/data" --http 127.0.0.1:0 --mqtt "$url" \
  --tagmap "$tmp/tagmap.json" ${TWIN_E2E_NODE_ARGS:-} > "$tmp/node.out" 2> "$tmp/node.err" &
node_pid=$!; pids+=("$node_pid")
wait_for 30 grep -q '^admin token' "$tmp/node.out" || { echo "twin-node did not start" >&2; cat "$tmp/node.err" >&2; exit 1; }
base=$(grep_line '^listening' "$tmp/node.out" | awk '{print $2}')
token=$(grep_line '^admin token' "$tmp/node.out" | awk '{print $3}')
metric() {  # metric NAME [LABEL-FILTER]: sum of the series
  curl -sf "$base/metrics" | awk -v n="$1" -v f="${2:-}" \
    '($1 == n || index($1, n "{") == 1) && index($1, f) { s += $2 } END { printf "%.0f\n", s }'
}
wait_for 30 bash -c "curl -sf '$base/metrics' | grep -q '^twin_sparkplug_connected 1'" \
  || { echo "twin-node's Sparkplug host did not connect" >&2; cat "$tmp/node.err" >&2; exit 1; }

# Model and twins over REST (one curl, one connection).
curl -sf -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary @"$root/deploy/models/gearbox-bearing.json" "$base/api/v1/models"
"$blast" twins "${fleet[@]}" > "$tmp/twins.txt"
{
  first=1
  while read -r id; do
    (( first )) || printf 'next\n'
    first=0
    printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$token"
    printf 'request = "PUT"\nurl = "%s/api/v1/twins/%s"\n' "$base" "$id"
    printf 'data = "{\\"$model\\": \\"dtmi:fabric:example:GearboxBearing;1\\"}"\n'
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nnext\n'
    printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$token"
    printf 'request = "POST"\nurl = "%s/api/v1/twins/%s/lifecycle"\n' "$base" "$id"
    printf 'data = "{\\"to\\": \\"active\\", \\"reason\\": \\"bench\\"}"\n'
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
  done < "$tmp/twins.txt"
} > "$tmp/curl.cfg"
curl -s -K "$tmp/curl.cfg" > "$tmp/curl.codes" || true
bad=$(grep -cv -E '^(200|201)$' "$tmp/curl.codes" || true)
(( $(wc -l < "$tmp/curl.codes") == 2 * twins )) || bad="missing"
[[ "$bad" == 0 ]] || { echo "REST setup: $bad requests failed ($(sort "$tmp/curl.codes" | uniq -c | tr '\n' ' '))" >&2; exit 1; }
echo "(b) twin-node $base: $twins twins created and activated over REST"

# Births (QoS 1), then wait until the host applied all of them.
"$blast" pub --url "$url" "${fleet[@]}" --births-only > /dev/null
wait_for 60 bash -c "[[ \$(curl -sf '$base/metrics' | awk '/^twin_sparkplug_metrics_applied_total/ {print int(\$2)}') -ge $((twins * 10)) ]]" \
  || { echo "births were not applied" >&2; tail -5 "$tmp/node.err" >&2; exit 1; }
wait_for 60 bash -c "curl -sf '$base/metrics' | grep -q '^twin_sparkplug_in_flight 0'"
applied0=$(metric twin_sparkplug_metrics_applied_total)
node_cpu0=$(cpu_secs "$node_pid"); mosq_cpu0=$(cpu_secs "${pids[0]}")

# Poll the counters while the blast runs and the node drains.
( while :; do
    m=$(curl -sf "$base/metrics" || true)
    a=$(awk '/^twin_sparkplug_metrics_applied_total/ {printf "%.0f", $2}' <<< "$m")
    f=$(awk '/^twin_sparkplug_in_flight / {printf "%.0f", $2}' <<< "$m")
    echo "$(now) ${a:-0} ${f:-0}"
    sleep 0.1
  done ) > "$tmp/poll.txt" &
poll_pid=$!; pids+=("$poll_pid")
"$blast" pub "${pub_args[@]}" --no-births > "$tmp/pub_b.out" 2> "$tmp/pub_b.err"
# Drain: until the counter has not moved for 3 s and nothing is in flight.
deadline=$(( $(date +%s) + 600 ))
while (( $(date +%s) < deadline )); do
  sleep 1
  last=$(tail -1 "$tmp/poll.txt")
  a=$(awk '{print $2}' <<< "$last"); f=$(awk '{print $3}' <<< "$last")
  # printf, not print: print's %.6g would round the epoch time (to the
  # future or the past, by up to ~5000 s).
  changed=$(awk -v a="$a" '$2 != a {t = $1} END {printf "%.3f\n", t + 0}' "$tmp/poll.txt")
  if [[ "$f" == 0 ]] && awk -v c="$changed" -v n="$(now)" 'BEGIN {exit !(n - c > 3)}'; then break; fi
done
kill "$poll_pid" 2>/dev/null || true
node_cpu=$(awk -v a="$(cpu_secs "$node_pid")" -v b="$node_cpu0" 'BEGIN { printf "%.2f", a - b }')
mosq_cpu=$(awk -v a="$(cpu_secs "${pids[0]}")" -v b="$mosq_cpu0" 'BEGIN { printf "%.2f", a - b }')
sent_b=$(grep_line '^sent' "$tmp/pub_b.out")
read -r node_metrics node_secs node_rate < <(awk -v a0="$applied0" '
  $2 > a0 && !t1 { t1 = $1 }            # first poll that saw an increase
  $2 > last { tl = $1; last = $2 }      # last poll that saw an increase
  END { d = last - a0; s = tl - t1; printf "%d %.3f %.0f\n", d, s, (s > 0 ? d / s : 0) }' "$tmp/poll.txt")
failures=$(metric twin_sparkplug_ingest_failures_total)
dropped=$(( $(metric twin_sparkplug_dropped_total) - $(metric twin_sparkplug_dropped_total 'reason="not_for_host"') ))
unmapped=$(metric twin_sparkplug_unmapped_metrics_total)
commits=$(metric twin_store_group_commits)
requests=$(metric twin_store_write_requests)
hist=$(curl -sf -H "Authorization: Bearer $token" \
  "$base/api/v1/twins/$(head -1 "$tmp/twins.txt")/history?name=vibrationRms&resolution=raw&from=$(( ($(date +%s) - 7200) * 1000 ))&limit=100000" \
  | grep -o '"time":' | wc -l || echo '?')
echo "    publisher: $sent_b"
echo "    twins: metrics applied=$node_metrics over first_to_last=${node_secs}s: $node_rate metric updates/s" \
     "($((node_metrics / 10)) DDATA); ingest failures=$failures, drops=$dropped (not counting not_for_host), unmapped=$unmapped;" \
     "history of $(head -1 "$tmp/twins.txt")/vibrationRms: $hist raw points"
echo "    CPU: twin-node $node_cpu s ($(awk -v c="$node_cpu" -v n="$node_metrics" 'BEGIN { printf "%.1f", (n > 0 ? 1e6 * c * 10 / n : 0) }') us per DDATA," \
     "CPU-bound estimate with $(nproc) idle cores: $(awk -v c="$node_cpu" -v n="$node_metrics" -v k="$(nproc)" 'BEGIN { printf "%.0f", (c > 0 ? k * n / c : 0) }') metric updates/s), mosquitto $mosq_cpu s;" \
     "the plain Paho subscriber of (a): $(sed -n 's/.*cpu_us_per_message=\([0-9.]*\).*/\1/p' <<< "$recv_a") us per DDATA"
echo "    store: $commits group commits, $requests write requests ($(awk -v r="$requests" -v c="$commits" 'BEGIN { printf "%.1f", (c > 0 ? r / c : 0) }') per commit)"
echo "broker alone: $broker_rate metrics/s; twins: $node_rate metric updates/s;" \
     "ratio twins/broker = $(pct "$node_rate" "$broker_rate") (goal >= 90%)"
echo "durable floor: $floor_rate metrics/s = $(pct "$floor_rate" "$broker_rate") of the broker;" \
     "twins/floor = $(pct "$node_rate" "$floor_rate")"
