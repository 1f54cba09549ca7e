#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs one node on the
# embedded default (RocksDB in ./demo-data, no Kafka) with the example
# Bearing model and a few twins loaded. Prints the URL and an admin token,
# then runs in the foreground until Ctrl-C (SIGINT/SIGTERM stop it cleanly).
#   TWIN_DEMO_HTTP   address to listen on (default 127.0.0.1:8080)
#   TWIN_DEMO_DATA   data directory (default ./demo-data)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
build="${TWIN_BUILD_DIR:-$root/build}"
"$root/deploy/build.sh" "$build" RelWithDebInfo -DTWIN_BUILD_TESTS=OFF -DTWIN_BUILD_BENCH=OFF
http="${TWIN_DEMO_HTTP:-127.0.0.1:8080}"
data="${TWIN_DEMO_DATA:-$root/demo-data}"
mkdir -p "$data"
tokens="$data/tokens"
if [ ! -f "$tokens" ]; then
  admin="$(openssl rand -hex 16)"
  operator="$(openssl rand -hex 16)"
  viewer="$(openssl rand -hex 16)"
  umask 077
  printf '# TOKEN PRINCIPAL ROLES\n%s admin admin\n%s operator operator\n%s viewer viewer\n' \
    "$admin" "$operator" "$viewer" > "$tokens"
fi
admin="$(awk '$3 ~ /admin/ {print $1; exit}' "$tokens")"

log="$data/node.log"
"$build/cli/twin-node" --data-dir "$data" --http "$http" --tokens "$tokens" > "$log" 2>&1 &
node_pid=$!
trap 'kill -TERM $node_pid 2>/dev/null; wait $node_pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  grep -q '^listening ' "$log" 2>/dev/null && break
  kill -0 $node_pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
url="$(sed -n 's/^listening //p' "$log" | head -1)"
[ -n "$url" ] || { echo "twin-node did not start:"; cat "$log"; exit 1; }

ctl=("$build/cli/twinctl/twinctl" --server "$url" --token "$admin")
model="dtmi:example:Bearing;1"
if ! "${ctl[@]}" model show "$model" >/dev/null 2>&1; then
  "${ctl[@]}" model add "$root/tests/data/dtdl/bearing.json"
fi
for i in 1 2 3 4; do
  id="turbine07-bearing-$i"
  if ! "${ctl[@]}" twin get "$id" >/dev/null 2>&1; then
    "${ctl[@]}" twin create "$id" --model "$model" \
      --set "serialNumber=\"SKF-6205-00$i\"" --set "ratedLoad=$((1000 + 100 * i)).0" \
      --set "location=\"Turbine 07 gearbox\"" >/dev/null
    "${ctl[@]}" lifecycle activate "$id" --reason "commissioned by demo" >/dev/null
    "${ctl[@]}" telemetry send "$id" --set temperature=$((55 + i)).5 --set vibrationRms=0.$((20 + i)) >/dev/null
  fi
done

cat <<MSG

  Twin fabric demo node is running.
    Dashboard and API:  $url/   (API under $url/api/v1, OpenAPI at $url/api/v1/openapi.json)
    Admin token:        $admin
    Try:                $build/cli/twinctl/twinctl --server $url --token $admin twin list
    Data directory:     $data   (log: $log)
  Ctrl-C stops the node cleanly.

MSG
wait $node_pid
