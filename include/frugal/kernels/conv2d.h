// 2-D convolution kernels, NCHW activations and OIHW weights (grouped: [O, C/groups, KH, KW]),
// symmetric zero padding. Forward, backward-data and backward-weights; the fast versions run
// through oneDNN with primitives cached per shape, the references are direct loops.
#pragma once
#include <cstdint>

namespace frugal::kernels {

struct Conv2dShape {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t o = 0, kh = 0, kw = 0;       // output channels, kernel
  int64_t stride = 1, pad = 0, groups = 1;
  int64_t oh() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - kw) / stride + 1; }
};

namespace ref {
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx);
// db may be null (no bias).
void conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db);
}  // namespace ref

namespace onednn {
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx);
void conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db);
void conv2d_backward(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx, float* dw,
                     float* db);
}  // namespace onednn

// Dispatch on the current backend. conv2d_backward does both backward products (dx or dw may be
// null to skip one) and shares the work they have in common.
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx);
void conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db);

void conv2d_backward(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx, float* dw,
                     float* db);

}  // namespace frugal::kernels
