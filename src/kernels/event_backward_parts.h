// Pieces the plain and the AVX-512 event-driven conv backward kernels share
// (src/kernels/event_conv_backward.cpp, src/kernels/x86/event_conv_backward_avx512.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "frugal/kernels/conv2d.h"

namespace frugal::kernels::event_parts {

// Each thread accumulates dW as [C][KH][KW][O/groups] (an input channel's weights to the output
// channels of its group, contiguous); this sums the per-thread parts in thread order (the result
// does not depend on scheduling) and writes dw as OIHW.
void finish_weights(const Conv2dShape& s, const std::vector<float>& parts, int threads, float* dw);

// db[o] = sum of dy over samples and positions (float within a sample, double across them).
void bias_grad(const Conv2dShape& s, const float* dy, float* db);

}  // namespace frugal::kernels::event_parts
