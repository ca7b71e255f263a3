// libFuzzer target for the ONNX model reader (protobuf parse, tensor decoding, external data,
// graph checks): io::read_onnx. Built by the "fuzz" preset, run by scripts/fuzz.sh.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return frugal::fuzz::run_one("onnx", data, size);
}
