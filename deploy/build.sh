#!/usr/bin/env bash
# Configures and builds the fabric. Usage: deploy/build.sh [BUILD_DIR] [BUILD_TYPE] [extra cmake args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
type="${2:-RelWithDebInfo}"
shift $(( $# > 2 ? 2 : $# )) || true
jobs="${TWIN_JOBS:-2}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
cmake --build "$build" -j"$jobs"
