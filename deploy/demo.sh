#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs one node on the
# embedded default (RocksDB in ./demo-data, no Kafka), fed live by a small
# wind farm: mosquitto (Debian's, loopback only, generated config) and
# twin-edge simulating 10 turbines x 3 gearbox bearings over Sparkplug B,
# mapped to 30 twins by deploy/tagmaps/windfarm-demo.json. Prints the URL
# and an admin token, then runs in the foreground until Ctrl-C
# (SIGINT/SIGTERM stop all three cleanly).
#   TWIN_DEMO_HTTP   address to listen on (default 127.0.0.1:8080)
#   TWIN_DEMO_MQTT   loopback port for the demo's mosquitto (default 18831)
#   TWIN_DEMO_DATA   data directory (default ./demo-data)
#   TWIN_DEMO_WEBHOOK  URL that receives every alert as an HTTP POST (optional)
#   TWIN_BUILD_DIR   build directory (default ./build); TWIN_DEMO_NO_BUILD=1 skips
#                    install and build and uses the binaries already there
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TWIN_BUILD_DIR:-$root/build}"
if [ "${TWIN_DEMO_NO_BUILD:-}" != 1 ]; then  # 1: use the binaries already in $build
  "$root/deploy/install-deps.sh"
  "$root/deploy/build.sh" "$build" RelWithDebInfo -DTWIN_BUILD_TESTS=OFF -DTWIN_BUILD_BENCH=OFF
fi
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

# The broker: Debian's mosquitto on loopback only, from a generated config.
mqtt_port="${TWIN_DEMO_MQTT:-18831}"
cat > "$data/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
CONF
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
"$mosquitto_bin" -c "$data/mosquitto.conf" > "$data/mosquitto.log" 2>&1 &
broker_pid=$!
pids=("$broker_pid")
cleanup() {
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do kill -TERM "${pids[k]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
sleep 0.3
kill -0 "$broker_pid" 2>/dev/null || {
  echo "mosquitto did not start on 127.0.0.1:$mqtt_port (port in use? set TWIN_DEMO_MQTT)"
  cat "$data/mosquitto.log" 2>/dev/null; exit 1; }

tagmap="$root/deploy/tagmaps/windfarm-demo.json"
log="$data/node.log"
"$build/cli/twin-node" --data-dir "$data" --http "$http" --tokens "$tokens" \
  --mqtt "tcp://127.0.0.1:$mqtt_port" --tagmap "$tagmap" --sparkplug-group WindFarm \
  --fmu-dir "$build/fmus" --fmu-worker "$build/behaviours/fmu/twin-fmu-worker" \
  ${TWIN_DEMO_WEBHOOK:+--alert-webhook "$TWIN_DEMO_WEBHOOK"} \
  > "$log" 2>&1 &
node_pid=$!
pids+=("$node_pid")
for _ in $(seq 1 100); do
  grep -q '^listening ' "$log" 2>/dev/null && break
  kill -0 $node_pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
url="$(sed -n 's/^listening //p' "$log" | head -1)"
[ -n "$url" ] || { echo "twin-node did not start:"; cat "$log"; exit 1; }

ctl=("$build/cli/twinctl/twinctl" --server "$url" --token "$admin")
model="dtmi:fabric:example:GearboxBearing;1"
if ! "${ctl[@]}" model show "$model" >/dev/null 2>&1; then
  "${ctl[@]}" model add "$root/deploy/models/gearbox-bearing.json"
fi
# Behaviours of every bearing: the bearing-wear FMU (FMI 3.0, in a worker
# process) turns load, speed and temperature into wear; a forecast predicts
# when wear reaches 1 and writes RUL (alert below 30 days); an anomaly model
# trains on the first 120 feature vectors and scores the rest.
fmu_spec='{"kind":"fmu","model":"dtmi:fabric:example:GearboxBearing;1","fmu":"bearing-fmi3.fmu","inputs":{"load":"load","shaftSpeed":"shaftSpeed","temperature":"temperature"},"outputs":{"wear":"wear"},"parameters":{"ratedLoad":20000,"initialWear":0.3},"step":600,"trigger":{"on":"update","names":["load"]},"timeScale":1000}'
rul_spec='{"kind":"forecast","model":"dtmi:fabric:example:GearboxBearing;1","version":"1.0.0","indicator":"wear","limit":1.0,"output":"rul","horizonDays":30,"timeScale":1000}'
anomaly_spec='{"kind":"anomaly","model":"dtmi:fabric:example:GearboxBearing;1","version":"1.0.0","features":["vibrationRms","kurtosis","crestFactor","bandEnergyHigh"],"training":{"samples":120}}'
for t in $(seq -w 1 10); do
  for d in a b c; do
    id="turbine$t-bearing-$d"
    if ! "${ctl[@]}" twin get "$id" >/dev/null 2>&1; then
      "${ctl[@]}" twin create "$id" --model "$model" \
        --set "serialNumber=\"SKF-NU2244-$t$d\"" --set "ratedLoad=20000.0" \
        --set "location=\"Turbine $t gearbox, bearing ${d^^}\"" >/dev/null
      "${ctl[@]}" lifecycle activate "$id" --reason "commissioned by demo" >/dev/null
      "${ctl[@]}" behaviour attach "$id" bearing-wear --spec "$fmu_spec" >/dev/null
      "${ctl[@]}" behaviour attach "$id" rul-forecast --spec "$rul_spec" >/dev/null
      "${ctl[@]}" behaviour attach "$id" bearing-anomaly --spec "$anomaly_spec" >/dev/null
    fi
  done
done

# The edge: 10 turbines x 3 bearings, features at 2 Hz per bearing, wear
# time sped up so that degradation shows within minutes.
"$build/edge/twin-edge" --mqtt "tcp://127.0.0.1:$mqtt_port" --group WindFarm \
  --turbines 10 --devices-per-turbine 3 --rate 2 --speedup 1000 \
  > "$data/edge.log" 2>&1 &
pids+=("$!")

cat <<MSG

  Twin fabric demo node is running.
    Dashboard and API:  $url/   (API under $url/api/v1, OpenAPI at $url/api/v1/openapi.json)
    Admin token:        $admin
    Try:                $build/cli/twinctl/twinctl --server $url --token $admin twin get turbine07-bearing-a
                        $build/cli/twinctl/twinctl --server $url --token $admin history turbine07-bearing-a vibrationRms --from -5m
                        $build/cli/twinctl/twinctl --server $url --token $admin behaviour list turbine07-bearing-a
                        $build/cli/twinctl/twinctl --server $url --token $admin lineage turbine07-bearing-a rul
                        $build/cli/twinctl/twinctl --server $url --token $admin alerts list
    Live feed:          twin-edge (10 turbines x 3 bearings) -> mosquitto 127.0.0.1:$mqtt_port -> Sparkplug B host
    Data directory:     $data   (logs: $log, $data/edge.log, $data/mosquitto.log)
  Ctrl-C stops edge, node and broker cleanly.

MSG
wait $node_pid
