#!/usr/bin/env bash
# Installs what is missing, builds Release and runs every test with ctest, then builds the asan
# preset and runs the same tests under AddressSanitizer + UndefinedBehaviorSanitizer (any report
# fails the run: leaks at exit, and UB through -fno-sanitize-recover).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
ctest --preset release -j "$(nproc)"
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j "$(nproc)"
