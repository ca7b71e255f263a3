#!/usr/bin/env bash
# Installs what is missing, builds Release and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
ctest --preset release -j "$(nproc)"
