// A convolution followed by 2x2, stride-2 max-pooling, fused so the convolution's output never
// leaves oneDNN's blocked layout (nChw16c / nChw8c): the pool reads the blocked output and writes
// the plain NCHW result, a quarter of the size, and the backward pass scatters the pooled
// gradient straight into the blocked layout the backward primitives read. Unfused, the full-size
// output and its gradient were each reordered between layouts (a quarter of the reference CNN's
// oneDNN time). Results equal conv2d_forward + max_pool2d_forward bit for bit, ties and NaNs included.
#pragma once
#include <cstdint>

#include "frugal/core/tensor.h"
#include "frugal/kernels/conv2d.h"

namespace frugal::kernels {

// True when the fast backend runs this convolution with a blocked output layout that the
// backward primitives read too; otherwise callers run the two ops unfused.
bool conv2d_maxpool2_fusable(const Conv2dShape& s);

// How many int32 window offsets the forward writes (the pooled tensor in the blocked layout,
// channels padded to whole blocks).
int64_t conv2d_maxpool2_window_elements(const Conv2dShape& s);

// y [N, O, OH/2, OW/2] (NCHW, floor), window: per pooled value, the offset 0..3 of its maximum in
// the 2x2 window (row-major), in the blocked layout. x_in_layout keeps the input in the primitive's layout for the
// backward-weights pass (undefined when that layout is plain NCHW).
void conv2d_maxpool2_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                             int32_t* window, Tensor& x_in_layout);

// dy: gradient of y. dx, dw, db may be null to skip them.
void conv2d_maxpool2_backward(const Conv2dShape& s, const float* x, const Tensor& x_in_layout, const float* dy,
                              const int32_t* window, const float* w, float* dx, float* dw, float* db);

}  // namespace frugal::kernels
