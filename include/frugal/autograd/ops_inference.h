// Ops for inference only: fused forms of op pairs that skip what only a backward pass would read.
// Each falls back to the pair of taped ops whenever a tape would record a backward.
#pragma once
#include "frugal/autograd/ops.h"

namespace frugal::autograd {

// max_pool2d(conv2d(x, w, b, p), 2, 2) in one pass when nothing records a backward and the input
// is sparse enough for events (kernels::event_conv2d_max_pool2_forward): the full-resolution conv
// output and the pooling argmax are never written.
Var conv2d_max_pool2(const Var& x, const Var& w, const Var& b, const Conv2dParams& p);

}  // namespace frugal::autograd
