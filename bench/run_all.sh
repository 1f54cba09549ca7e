#!/usr/bin/env bash
# Builds Release and runs every benchmark, printing figures and baselines.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
build="${TWIN_BENCH_BUILD:-$root/build-release}"
"$root/deploy/build.sh" "$build" Release -DTWIN_BUILD_TESTS=OFF -DTWIN_BUILD_BENCH=ON
echo "== ingest: actor path into RocksDB vs raw batched puts"
"$build/bench/bench_ingest" "$@"
echo "== memory per hot twin"
"$build/bench/bench_memory"
echo "== REST GET vs trivial Beast"
"$root/bench/run_rest.sh" "$build"
echo "== sparkplug: DDATA -> twins, durable, no broker vs raw RocksDB puts"
"$build/bench/bench_sparkplug"
echo "== sparkplug end to end through mosquitto vs the broker alone"
"$root/bench/run_e2e_mqtt.sh" "$build" 10
echo "== behaviours: FMU steps / ML scores per twin update through the fabric vs direct"
"$build/bench/bench_behaviours"
echo "== cluster: Kafka round trip per update (one node, in-process mock) vs the single node"
"$build/bench/bench_cluster"
echo "== cluster: updates/s applied by 1, 2, 3 twin-node processes on one mock cluster"
"$root/bench/run_cluster.sh" "$build" 100000
