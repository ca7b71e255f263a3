// libFuzzer target for the NumPy .npy reader (header dict, dtypes, shape): io::read_npy.
// Built by the "fuzz" preset, run by scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return frugal::fuzz::run_one("npy", data, size);
}
