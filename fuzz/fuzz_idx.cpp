// libFuzzer target for the IDX (MNIST family) reader, plain and gzip: io::read_idx.
// Built by the "fuzz" preset, run by scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return frugal::fuzz::run_one("idx", data, size);
}
