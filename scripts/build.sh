#!/usr/bin/env bash
# Installs what is missing and builds a CMake preset (default: release). Used by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
scripts/setup.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
