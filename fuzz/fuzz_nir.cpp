// libFuzzer target for the NIR (HDF5) graph reader with shape inference: io::read_nir.
// Built by the "fuzz" preset, run by scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return frugal::fuzz::run_one("nir", data, size);
}
