// libFuzzer target for the NIfTI-1/-2 reader over nifti_clib, plain and gzip: io::read_nifti.
// Built by the "fuzz" preset, run by scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return frugal::fuzz::run_one("nifti", data, size);
}
