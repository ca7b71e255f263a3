// The IDX format of the MNIST family (LeCun et al., yann.lecun.com/exdb/mnist): a 4-byte magic
// 0x00 0x00 <type> <ndim>, ndim big-endian uint32 dimensions, then the data row-major. Only type
// 0x08 (unsigned byte) is read, which is what MNIST and Fashion-MNIST ship. Files may be gzipped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace frugal::io {

struct IdxArray {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // row-major, product(shape) bytes
};

// Reads plain or gzip-compressed files (detected by content, not by name). A truncated file,
// wrong magic, unsupported type or a length that does not match the dimensions is a
// frugal::Error naming the file and the field.
IdxArray read_idx(const std::string& path);

}  // namespace frugal::io
