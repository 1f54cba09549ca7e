#!/usr/bin/env bash
# Installs every Debian 12 package the twin fabric needs to build, test and run
# its demo. Idempotent: packages already present are skipped, and apt is not
# touched at all when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config openssl ccache git
  libcaf-dev librocksdb-dev libpaho-mqttpp-dev libpaho-mqtt-dev librdkafka-dev libssl-dev
  libboost-test-dev libboost-dev nlohmann-json3-dev libcli11-dev
  prometheus-cpp-dev libzip-dev zipcmp zipmerge ziptool libpugixml-dev
  libprotobuf-dev protobuf-compiler libfftw3-dev libjwt-dev
  libjemalloc-dev
  mosquitto mosquitto-clients curl wrk procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts the mosquitto service on install; the fabric's tests and demo
# start their own brokers on free loopback ports, so a system one is not needed.
