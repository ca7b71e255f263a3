// libFuzzer target for the sensor text readers: WISDM raw CSV (io::read_wisdm) and sktime .ts (io::read_ts).
// Built by the "fuzz" preset, run by scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return frugal::fuzz::run_one("har", data, size);
}
