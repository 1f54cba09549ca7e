#!/usr/bin/env bash
# REST GET /api/v1/twins/{id} throughput and p99 with wrk on loopback, next
# to the trivial Beast handler measured the same way in the same run.
#   bench/run_rest.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-release}"
dur="${2:-10}"
conns="${3:-8}"
command -v wrk >/dev/null || { echo "wrk is missing: deploy/install-deps.sh installs it"; exit 1; }
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
wait_url() { for _ in $(seq 1 200); do u="$(sed -n 's/^listening //p' "$1" | head -1)"; [ -n "$u" ] && { echo "$u"; return; }; sleep 0.05; done; cat "$1" >&2; exit 1; }

token="$(openssl rand -hex 16)"
echo "$token bench admin" > "$work/tokens"
"$build/cli/twin-node" --data-dir "$work/data" --http 127.0.0.1:0 --tokens "$work/tokens" ${TWIN_REST_NODE_ARGS:-} > "$work/node.log" 2>&1 &
pids+=($!)
url="$(wait_url "$work/node.log")"
ctl=("$build/cli/twinctl/twinctl" --server "$url" --token "$token")
"${ctl[@]}" model add "$root/tests/data/dtdl/bearing.json" >/dev/null
"${ctl[@]}" twin create bench-1 --model 'dtmi:example:Bearing;1' --set ratedLoad=1200.0 --set 'serialNumber="SN-1"' --set 'location="hall 3"' >/dev/null
"${ctl[@]}" lifecycle activate bench-1 --reason bench >/dev/null
"${ctl[@]}" telemetry send bench-1 --set temperature=61.5 --set vibrationRms=0.21 --set speed=1500.0 >/dev/null
bytes="$(curl -s -H "Authorization: Bearer $token" "$url/api/v1/twins/bench-1" | wc -c)"

"$build/bench/bench_trivial_http" 0 "$bytes" > "$work/trivial.log" 2>&1 &
pids+=($!)
turl="$(wait_url "$work/trivial.log")"

echo "machine: $(nproc) cores; wrk -t1 -c$conns -d${dur}s --latency; twin document $bytes B"
run() { wrk -t1 -c"$conns" -d"${dur}s" --latency -H "Authorization: Bearer $token" "$1" > "$work/wrk.out"; 
  rps="$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")"
  p99="$(awk '$1=="99%" {print $2}' "$work/wrk.out")"
  echo "$rps $p99"; }
# The machine is shared and noisy: alternate the two servers for ROUNDS
# rounds and report each round's ratio and the median.
rounds="${ROUNDS:-3}"
ratios=()
for r in $(seq 1 "$rounds"); do
  read -r t_rps t_p99 < <(run "$turl/")
  read -r g_rps g_p99 < <(run "$url/api/v1/twins/bench-1")
  ratio="$(awk -v g="$g_rps" -v t="$t_rps" 'BEGIN { printf "%.1f", 100*g/t }')"
  ratios+=("$ratio")
  echo "round $r: trivial Beast handler $t_rps req/s p99 $t_p99 | gateway GET twin $g_rps req/s p99 $g_p99 | $ratio%"
done
median="$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
echo "ratio gateway/trivial, median of $rounds rounds: $median% (target >= 70%)"
