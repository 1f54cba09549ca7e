#!/usr/bin/env bash
# Cluster scaling curve: telemetry updates/s applied by 1, 2 and 3 twin-node
# processes sharing one Kafka (librdkafka's mock cluster, a fresh one per
# step), all on loopback.
#
#   bench/run_cluster.sh BUILD_DIR [UPDATES]
#
# Env: TWIN_CLUSTER_TWINS (1000), TWIN_CLUSTER_SHARDS (16),
#      TWIN_CLUSTER_STEPS ("1 2 3": node counts to measure).
# Needs curl and, in BUILD_DIR, the targets twin-node, cluster_blast and
# kafka_mock_cluster (tests on) or bench_kafka_mock (tests off).
#
# Per step: kafka-mock-cluster --shards S; N twin-nodes (node-a, node-b,
# node-c: own data dir, own fsync stream, mTLS certificates from
# deploy/make-fabric-certs.sh, one shared token file); wait until the
# consumer group has settled (every node serves shards, S in all, stable for
# 2 s); model + T twins created and activated over REST on node-a (forwarded
# to the owners); then cluster_blast produces UPDATES records to the
# telemetry topic at full speed, in the nodes' own format (encode(
# ingest_record), key twin id, partition shard_of), and the script polls the
# sum of twin_cluster_telemetry_total{outcome="applied"} over the nodes'
# /metrics every 0.1 s until it reaches UPDATES. Rate = UPDATES / (first
# produce -> last applied).
#
# The limit on this machine: 2 cores shared by the mock broker, the blaster
# and every node. More nodes add fsync streams (each its own RocksDB WAL) and
# consumers, not CPU: past the point where the nodes are CPU-bound, a second
# and third node only split the same two cores (plus their own overhead:
# group heartbeats, announcements, more producers and consumers on the mock).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:?usage: run_cluster.sh BUILD_DIR [UPDATES]}" && pwd)"
updates="${2:-100000}"
twins="${TWIN_CLUSTER_TWINS:-1000}"
shards="${TWIN_CLUSTER_SHARDS:-16}"
steps="${TWIN_CLUSTER_STEPS:-1 2 3}"
node_bin="$build/cli/twin-node"
mock_bin="$build/tests/kafka_mock_cluster/kafka-mock-cluster"
[[ -x "$mock_bin" ]] || mock_bin="$build/bench/kafka-mock-cluster"  # TWIN_BUILD_TESTS=OFF
blast="$build/bench/cluster_blast"
for f in "$node_bin" "$mock_bin" "$blast"; do
  [[ -x "$f" ]] || { echo "missing $f (build twin-node cluster_blast and kafka_mock_cluster or bench_kafka_mock)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 2; }
(( updates / shards < 90000 )) || echo "warning: $((updates / shards)) records per partition: the mock keeps only ~100k" >&2

tmp="$(mktemp -d /tmp/twin-cluster-bench-XXXXXX)"
pids=()       # everything started (the mock and the blaster)
node_pids=()  # the twin-nodes of the current step
stop_pid() {  # SIGTERM, then SIGKILL after 30 s
  local p=$1 i
  kill "$p" 2>/dev/null || return 0
  for (( i = 0; i < 300; i++ )); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
stop_all() {  # the nodes first (they leave the group through Kafka), then the rest
  local p
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${node_pids[@]}"; do stop_pid "$p"; done
  for p in "${pids[@]}"; do stop_pid "$p"; done
  pids=(); node_pids=()
}
cleanup() { trap "" INT TERM; stop_all; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"; }
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}
metric() {  # metric BASE NAME [LABEL-FILTER]: sum of the series on one node
  curl -sf "$1/metrics" | awk -v n="$2" -v f="${3:-}" \
    '($1 == n || index($1, n "{") == 1) && index($1, f) { s += $2 } END { printf "%.0f\n", s }'
}
applied_sum() {
  local b s=0
  for b in "${bases[@]}"; do s=$(( s + $(metric "$b" twin_cluster_telemetry_total 'outcome="applied"') )); done
  echo "$s"
}
settled() {  # every node serves some shards, S in all
  local b n s=0
  for b in "${bases[@]}"; do
    n=$(metric "$b" twin_cluster_shards_served) || return 1
    (( n > 0 )) || return 1
    s=$(( s + n ))
  done
  (( s == shards ))
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared, noisy)"
echo "$twins twins, $updates telemetry records, $shards shards; steps: $steps nodes"
"$root/deploy/make-fabric-certs.sh" "$tmp/certs" node-a node-b node-c > "$tmp/certs.log" 2>&1 \
  || { cat "$tmp/certs.log" >&2; exit 1; }
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '# TOKEN PRINCIPAL ROLES\n%s admin admin\n' "$token" > "$tmp/tokens"
chmod 600 "$tmp/tokens"
cat > "$tmp/model.json" <<'EOF'
{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:Sensor;1", "@type": "Interface",
 "contents": [{"@type": "Telemetry", "name": "temperature", "schema": "double"},
              {"@type": "Telemetry", "name": "vibrationRms", "schema": "double"}]}
EOF
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
names=(node-a node-b node-c)
declare -A result

for n in $steps; do
  run="$tmp/run$n"; mkdir -p "$run"
  # -- a fresh mock cluster ------------------------------------------------------
  "$mock_bin" --shards "$shards" > "$run/mock.out" 2> "$run/mock.err" &
  mock_pid=$!; pids+=("$mock_pid")
  wait_for 10 grep -q '^ready' "$run/mock.out" || { echo "mock did not start" >&2; cat "$run/mock.err" >&2; exit 1; }
  bootstrap=$(awk '/^bootstrap/ {print $2; exit}' "$run/mock.out")
  # -- N nodes ---------------------------------------------------------------------
  bases=(); node_pids=()
  for (( i = 0; i < n; i++ )); do
    id=${names[$i]}
    mkdir -p "$run/$id"
    "$node_bin" --data-dir "$run/$id" --http 127.0.0.1:0 --shards "$shards" --tokens "$tmp/tokens" \
      --kafka "$bootstrap" --node-id "$id" --cluster-cert "$tmp/certs/$id.pem" \
      --cluster-key "$tmp/certs/$id.key" --cluster-ca "$tmp/certs/ca.pem" \
      > "$run/$id.out" 2> "$run/$id.err" &
    node_pids+=($!)
  done
  for (( i = 0; i < n; i++ )); do
    id=${names[$i]}
    wait_for 60 grep -q '^listening' "$run/$id.out" \
      || { echo "$id did not start" >&2; tail -20 "$run/$id.err" >&2; exit 1; }
    bases+=("$(awk '/^listening/ {print $2; exit}' "$run/$id.out")")
  done
  t_start=$(now)
  # Settled: the condition holds on 20 polls in a row (2 s).
  ok=0; deadline=$(( $(date +%s) + 90 ))
  while (( ok < 20 )); do
    (( $(date +%s) < deadline )) || { echo "$n nodes: shards did not settle" >&2; tail -5 "$run"/node-*.err >&2; exit 1; }
    if settled; then ok=$(( ok + 1 )); else ok=0; fi
    sleep 0.1
  done
  settle_secs=$(awk -v a="$(now)" -v b="$t_start" 'BEGIN { printf "%.1f", a - b - 2 }')
  served=$(for b in "${bases[@]}"; do metric "$b" twin_cluster_shards_served; done | tr '\n' '/' | sed 's#/$##')
  # -- model and twins over REST on node-a --------------------------------------------
  curl -sf -o /dev/null "${auth[@]}" -X POST --data-binary @"$tmp/model.json" "${bases[0]}/api/v1/models" \
    || { echo "model upload failed" >&2; exit 1; }
  for b in "${bases[@]}"; do  # every node has imported it from the cluster topic
    wait_for 30 curl -sf -o /dev/null "${auth[@]}" "$b/api/v1/models/dtmi:bench:Sensor;1" \
      || { echo "model not imported on $b" >&2; exit 1; }
  done
  {
    for (( t = 0; t < twins; t++ )); do
      (( t == 0 )) || printf 'next\n'
      printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$token"
      printf 'request = "PUT"\nurl = "%s/api/v1/twins/bench-twin-%d"\n' "${bases[0]}" "$t"
      printf 'data = "{\\"$model\\": \\"dtmi:bench:Sensor;1\\"}"\n'
      printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nnext\n'
      printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$token"
      printf 'request = "POST"\nurl = "%s/api/v1/twins/bench-twin-%d/lifecycle"\n' "${bases[0]}" "$t"
      printf 'data = "{\\"to\\": \\"active\\", \\"reason\\": \\"bench\\"}"\n'
      printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
    done
  } > "$run/curl.cfg"
  t_rest=$(now)
  curl -s -K "$run/curl.cfg" > "$run/curl.codes" || true
  rest_secs=$(awk -v a="$(now)" -v b="$t_rest" 'BEGIN { printf "%.1f", a - b }')
  bad=$(grep -cv -E '^(200|201)$' "$run/curl.codes" || true)
  (( $(wc -l < "$run/curl.codes") == 2 * twins )) || bad="missing"
  [[ "$bad" == 0 ]] || { echo "REST setup: $bad requests failed ($(sort "$run/curl.codes" | uniq -c | tr '\n' ' '))" >&2; exit 1; }
  settled || { echo "$n nodes: the group moved shards during setup" >&2; exit 1; }
  # -- the blast ---------------------------------------------------------------------
  applied0=$(applied_sum)
  cpu0=(); for p in "${node_pids[@]}"; do cpu0+=("$(cpu_secs "$p")"); done
  mock_cpu0=$(cpu_secs "$mock_pid")
  t0=$(now)
  "$blast" --bootstrap "$bootstrap" --shards "$shards" --twins "$twins" --updates "$updates" \
    > "$run/blast.out" 2> "$run/blast.err" || { echo "blast failed" >&2; cat "$run/blast.err" "$run/blast.out" >&2; exit 1; }
  t_blast=$(now)
  target=$(( applied0 + updates ))
  deadline=$(( $(date +%s) + 600 ))
  : > "$run/poll.txt"
  while :; do
    a=$(applied_sum)
    echo "$(now) $(( a - applied0 ))" >> "$run/poll.txt"
    (( a >= target )) && break
    (( $(date +%s) < deadline )) || { echo "$n nodes: only $((a - applied0)) of $updates applied after 600 s" >&2; exit 1; }
    sleep 0.1
  done
  t1=$(now)
  node_cpu=0
  for (( i = 0; i < n; i++ )); do
    node_cpu=$(awk -v s="$node_cpu" -v a="$(cpu_secs "${node_pids[$i]}")" -v b="${cpu0[$i]}" 'BEGIN { printf "%.2f", s + a - b }')
  done
  mock_cpu=$(awk -v a="$(cpu_secs "$mock_pid")" -v b="$mock_cpu0" 'BEGIN { printf "%.2f", a - b }')
  secs=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
  rate=$(awk -v u="$updates" -v s="$secs" 'BEGIN { printf "%.0f", u / s }')
  blast_rate=$(awk -v a="$t_blast" -v b="$t0" -v u="$updates" 'BEGIN { printf "%.0f", u / (a - b) }')
  rejected=0; for b in "${bases[@]}"; do rejected=$(( rejected + $(metric "$b" twin_cluster_telemetry_total 'outcome="rejected"') )); done
  per_node=$(for b in "${bases[@]}"; do metric "$b" twin_cluster_telemetry_total 'outcome="applied"'; done | tr '\n' '/' | sed 's#/$##')
  # Applied per 0.5 s window: the steadiest half-second rate and the longest
  # stretch without progress.
  shape=$(awk -v t0="$t0" '
    { t = $1 - t0; if (NR > 1 && $2 == pa && t - pt > 0) stall += t - pt; else if (stall > maxs) maxs = stall;
      if ($2 != pa) stall = 0; pt = t; pa = $2; T[NR] = t; A[NR] = $2 }
    END { if (stall > maxs) maxs = stall; best = 0
          for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (T[j] - T[i] >= 0.5) { r = (A[j] - A[i]) / (T[j] - T[i]); if (r > best) best = r; break }
          printf "first applied at %.2fs, best 0.5 s window %.0f/s, longest stall %.2fs", T[1] + 0, best, maxs }' \
    <(awk '$2 > 0' "$run/poll.txt"))
  # Consumer lag as the nodes announce it (offsets are committed every 0.2 s,
  # announced every 1 s): time until it is 0 everywhere, at most 30 s.
  lag_of() { curl -sf "${auth[@]}" "${bases[0]}/api/v1/cluster" | grep -o '"lag":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }'; }
  lag=$(lag_of); lag_deadline=$(( $(date +%s) + 30 ))
  while (( lag > 0 && $(date +%s) < lag_deadline )); do sleep 0.2; lag=$(lag_of); done
  lag_secs=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
  echo "$n node(s): settled in ${settle_secs}s (shards served ${served}); REST setup ${rest_secs}s;" \
       "blast $(cat "$run/blast.out")"
  echo "    applied $updates (per node ${per_node}, rejected $rejected) in ${secs}s: $rate updates/s;" \
       "CPU nodes ${node_cpu}s ($(awk -v c="$node_cpu" -v u="$updates" 'BEGIN { printf "%.1f", 1e6 * c / u }') us/update)," \
       "mock ${mock_cpu}s"
  echo "    $shape; announced lag $lag at ${lag_secs}s after the blast started"
  result[$n]=$rate
  stop_all
done

echo "== telemetry updates/s applied (fsync on, $shards shards, $twins twins, $updates records)"
for n in $steps; do
  echo "  $n node(s): ${result[$n]} updates/s ($(awk -v a="${result[$n]}" -v b="${result[${steps%% *}]}" 'BEGIN { printf "%.2fx", a / b }') of ${steps%% *} node(s))"
done
echo "limit: all nodes, the mock broker and the blaster share these $(nproc) cores; each node adds" \
     "its own fsync stream (RocksDB WAL) and consumer, not CPU, so past CPU saturation more" \
     "nodes split the same cores (see bench/README.md)."
