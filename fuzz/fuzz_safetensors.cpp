// libFuzzer target for the safetensors reader (header JSON, offsets, dtypes): io::read_safetensors.
// Built by the "fuzz" preset, run by scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return frugal::fuzz::run_one("safetensors", data, size);
}
