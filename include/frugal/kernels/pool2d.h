// 2-D max and average pooling over NCHW, square windows, zero padding. These are memory-bound
// plain loops parallel over (n, c) planes; they are their own reference.
#pragma once
#include <cstdint>

namespace frugal::kernels {

struct Pool2dShape {
  int64_t planes = 0, h = 0, w = 0;  // planes = N * C
  int64_t kernel = 2, stride = 2, pad = 0;
  int64_t oh() const { return (h + 2 * pad - kernel) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - kernel) / stride + 1; }
};

// argmax receives, per output, the flat index of the max within its input plane (for backward); it
// may be null when no backward follows.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax);
void max_pool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx);
// Divides by kernel² (padding counted, PyTorch's count_include_pad default).
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);

}  // namespace frugal::kernels
