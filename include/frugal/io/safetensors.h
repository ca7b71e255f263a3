// The safetensors format (huggingface/safetensors, docs "Format"): an 8-byte little-endian header
// length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then one byte buffer that the tensors cover without holes.
// frugal writes float32 and reads F32, F64, F16, BF16, I64, I32, I8, U8 and BOOL into float32,
// so files written by PyTorch or Hugging Face load. Models and checkpoints use it.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "frugal/core/tensor.h"

namespace frugal::io {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // read back in the order of their data
  std::map<std::string, std::string> metadata;
};

// Atomic (temp file, fsync, rename). The header is padded with spaces to an 8-byte boundary so
// the data of every tensor is aligned.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

// Every size and offset is checked against the file before it is used; errors name the file and
// the tensor or field.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace frugal::io
