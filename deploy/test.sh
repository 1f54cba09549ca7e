#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (the
# README's test command; .ci/run runs exactly this).
#   TWIN_SOAK_ROUNDS  rounds of the SIGKILL durability test (default 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
build="${TWIN_BUILD_DIR:-$root/build}"
"$root/deploy/build.sh" "$build" RelWithDebInfo -DTWIN_BUILD_BENCH=ON
cd "$build"
export TWIN_SOAK_ROUNDS="${TWIN_SOAK_ROUNDS:-3}"
ctest --output-on-failure --timeout 900 "$@"
