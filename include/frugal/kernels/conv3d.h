// 3-D convolution kernels, NCDHW activations and OIDHW weights (grouped: [O, C/groups, KD, KH,
// KW]), symmetric zero padding. The fast versions run through oneDNN with primitives cached per
// shape; the references are direct loops, the oracle the tests compare against.
#pragma once
#include <cstdint>

namespace frugal::kernels {

struct Conv3dShape {
  int64_t n = 0, c = 0, d = 0, h = 0, w = 0;  // input
  int64_t o = 0, kd = 0, kh = 0, kw = 0;      // output channels, kernel
  int64_t stride = 1, pad = 0, groups = 1;
  int64_t od() const { return (d + 2 * pad - kd) / stride + 1; }
  int64_t oh() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - kw) / stride + 1; }
};

namespace ref {
void conv3d_forward(const Conv3dShape& s, const float* x, const float* w, const float* b, float* y);
void conv3d_backward_data(const Conv3dShape& s, const float* dy, const float* w, float* dx);
// db may be null (no bias).
void conv3d_backward_weights(const Conv3dShape& s, const float* x, const float* dy, float* dw, float* db);
}  // namespace ref

namespace onednn {
void conv3d_forward(const Conv3dShape& s, const float* x, const float* w, const float* b, float* y);
void conv3d_backward_data(const Conv3dShape& s, const float* dy, const float* w, float* dx);
void conv3d_backward_weights(const Conv3dShape& s, const float* x, const float* dy, float* dw, float* db);
}  // namespace onednn

// Dispatch on the current backend.
void conv3d_forward(const Conv3dShape& s, const float* x, const float* w, const float* b, float* y);
void conv3d_backward_data(const Conv3dShape& s, const float* dy, const float* w, float* dx);
void conv3d_backward_weights(const Conv3dShape& s, const float* x, const float* dy, float* dw, float* db);

}  // namespace frugal::kernels
