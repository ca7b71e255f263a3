#!/usr/bin/env bash
# Objects compiled for one ISA (*_avx512.cpp, *_avx2.cpp) must define no weak symbols: an inline
# function instantiated there (a Tensor destructor, a std::vector method) could be the copy the
# linker keeps for the whole program, and then AVX-512 code would run on CPUs without it.
# Usage: check_isa_objects.sh OBJECT...   (ctest passes the library's objects)
set -euo pipefail
status=0
for obj in "$@"; do
  [[ $obj == *_avx512.cpp.o || $obj == *_avx2.cpp.o ]] || continue
  weak=$(nm -C --defined-only "$obj" | awk '$2 == "W" || ($2 == "V" && $3 !~ /^DW\.ref/)' || true)
  if [[ -n $weak ]]; then
    echo "$obj defines shared inline code compiled for its ISA:" >&2
    echo "$weak" >&2
    status=1
  fi
done
exit $status
