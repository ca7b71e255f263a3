#!/usr/bin/env bash
# Installs what is missing, builds Release and runs every test with ctest. Then builds the asan
# preset (AddressSanitizer + UndefinedBehaviorSanitizer) for the tests that feed frugal untrusted
# bytes or run its own kernels on them — every parser, the fuzz regressions, the limits, the core
# and the op table — and runs them; any sanitizer report fails the run. Only these tests, so that
# CI stays within 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
ctest --preset release -j "$(nproc)"

asan_tests=(test_core test_ops test_io_formats test_io_har test_io_limits test_fuzz_regressions test_onnx test_nir
            test_nifti_brats test_data)
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$(nproc)" --target "${asan_tests[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${asan_tests[@]}"; do
  echo "asan: $t" >&2
  OMP_NUM_THREADS=2 "build/asan/$t" --gtest_brief=1
done
