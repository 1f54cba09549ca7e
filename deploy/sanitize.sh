#!/usr/bin/env bash
# ASan + UBSan build of the fabric; runs the unit tests under it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
build="${TWIN_BUILD_DIR:-$root/build-asan}"
"$root/deploy/build.sh" "$build" Debug -DTWIN_SANITIZE=ON -DTWIN_BUILD_BENCH=OFF
cd "$build"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --output-on-failure -L unit "$@"
