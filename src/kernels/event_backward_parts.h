// Pieces the plain and the AVX-512 event-driven conv backward kernels share
// (src/kernels/event_conv_backward.cpp, src/kernels/x86/event_conv_backward_avx512.cpp).
#pragma once
#include <cstdint>

#include "frugal/kernels/conv2d.h"

namespace frugal::kernels {

// A zero-initialized array owned by a kernel. Not std::vector: files built for AVX2 or AVX-512
// would instantiate its inline members with those instructions, and the linker may keep that copy
// for the whole program, which would then fault on CPUs without them. In an unnamed namespace, so
// each file has its own.
namespace {
template <typename T>
class Buffer {
 public:
  explicit Buffer(int64_t n) : data_(new T[n > 0 ? n : 1]()) {}
  ~Buffer() { delete[] data_; }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* data() const { return data_; }
  T& operator[](int64_t i) const { return data_[i]; }

 private:
  T* data_;
};
}  // namespace

namespace event_parts {

// Each thread accumulates dW as [C][KH][KW][O/groups] (an input channel's weights to the output
// channels of its group, contiguous); this sums the per-thread parts in thread order (the result
// does not depend on scheduling) and writes dw as OIHW.
void finish_weights(const Conv2dShape& s, const float* parts, int threads, float* dw);

// db[o] = sum of dy over samples and positions (float within a sample, double across them).
void bias_grad(const Conv2dShape& s, const float* dy, float* db);

}  // namespace event_parts

}  // namespace frugal::kernels
