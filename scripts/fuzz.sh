#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz": clang, ASan + UBSan) and runs each for SECONDS
# (default 60), one after another. Corpora start from the project's fixtures and grow under
# build/fuzz-corpus/<target>; crashing inputs land in build/fuzz-artifacts/<target>, logs (with
# libFuzzer's final stats: inputs tried) in build/fuzz-logs/<target>.log. Exits 1 if any target
# crashed, leaked or tripped a sanitizer. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(idx har nifti nir safetensors npy onnx config)

scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j 2 --target "${targets[@]/#/fuzz_}"

# Seeds per target: fixtures by extension, the target's own seeds and its past crashes.
seeds_for() {
  case $1 in
    idx) echo tests/data/fuzz_seeds/idx/* ;;
    har) echo tests/data/fuzz_seeds/har/* tests/data/nir/*.csv ;;
    nifti) echo tests/data/fuzz_seeds/nifti/* ;;
    nir) echo tests/data/nir/*.nir ;;
    safetensors) echo tests/data/io/*.safetensors ;;
    npy) echo tests/data/io/*.npy ;;
    config) echo examples/*.toml ;;
    onnx) echo tests/data/onnx/*.onnx ;;
  esac
  [[ -d tests/data/fuzz/$1 ]] && echo tests/data/fuzz/$1/*
  return 0
}

failed=()
for t in "${targets[@]}"; do
  corpus=build/fuzz-corpus/$t artifacts=build/fuzz-artifacts/$t log=build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  for f in $(seeds_for "$t"); do [[ -f $f ]] && cp -n "$f" "$corpus/"; done
  echo "fuzz: $t for ${seconds}s" >&2
  # Leaks inside libhdf5's own cache are suppressed (fuzz/lsan_libhdf5.supp says which and why); the
  # slow unwinder sees through libhdf5's frames, which have no frame pointers, so the suppression can match.
  # One malloc above 1 GiB, 2 GiB of RSS or 10 s on one input count as failures: a parser must
  # check a header's sizes against the file before it allocates.
  if OMP_NUM_THREADS=1 LSAN_OPTIONS=suppressions=fuzz/lsan_libhdf5.supp:fast_unwind_on_malloc=0 ./build/fuzz/fuzz_"$t" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | tr '\n' ' ' >&2
    echo >&2
  else
    echo "fuzz: $t FAILED, see $log and $artifacts" >&2
    failed+=("$t")
  fi
done
((${#failed[@]} == 0)) || { echo "fuzz: failures in ${failed[*]}" >&2; exit 1; }
