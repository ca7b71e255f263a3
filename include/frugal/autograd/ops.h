// The differentiable ops every model is built from. Each computes its forward eagerly through
// kernels/ (oneDNN or frugal's own fast kernel, with a plain-loop reference as the oracle) and
// records its backward on the tape. Layouts: NCHW activations, OIHW conv weights, [out, in]
// linear weights (PyTorch's), so imported weights need no transposes.
#pragma once
#include <vector>

#include "frugal/autograd/tape.h"
#include "frugal/core/rng.h"

namespace frugal::autograd {

// y = x · wᵀ + b over the last axis of x (any leading axes); w [out, in]; b [out] or undefined.
Var linear(const Var& x, const Var& w, const Var& b);
// [M, K] x [K, N] -> [M, N]
Var matmul(const Var& a, const Var& b);

struct Conv2dParams {
  int stride = 1;
  int pad = 0;
  int groups = 1;
};
// x [N, C, H, W] (or [T, N, C, H, W]: time folded into the batch), w [O, C/groups, KH, KW], b [O] or undefined.
Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p);
// max_pool2d(conv2d(x, w, b, p), 2, 2) with the same values and gradients, fused where the fast
// backend allows (kernels/conv2d_pool.h); 4-D dense inputs only, otherwise it runs the two ops.
// Sparse (spiking) input where no backward is recorded pools inside the event-driven kernel
// (kernels::event_conv2d_max_pool2_forward), 4-D or 5-D.
Var conv2d_maxpool2(const Var& x, const Var& w, const Var& b, const Conv2dParams& p);

Var max_pool2d(const Var& x, int kernel, int stride, int pad = 0);
Var avg_pool2d(const Var& x, int kernel, int stride, int pad = 0);  // counts padding, like PyTorch's default

Var relu(const Var& x);
Var reshape(const Var& x, const Shape& shape);
Var flatten(const Var& x, int start_axis = 1);  // [N, ...] -> [N, prod(...)]
Var add(const Var& a, const Var& b);            // same shape
Var mul(const Var& a, const Var& b);            // same shape, elementwise
Var scale(const Var& x, float s, float shift = 0.0f);  // s·x + shift
Var concat(const std::vector<Var>& xs, int axis);

// Batch norm over (N, H, W) per channel. In training it uses batch statistics and updates the
// running ones (PyTorch's momentum convention, unbiased running variance).
Var batchnorm2d(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
                bool training, float momentum = 0.1f, float eps = 1e-5f);
Var dropout(const Var& x, float p, bool training, Rng& rng);

// Mean over the batch of -log softmax(logits)[label]. logits [N, classes].
Var softmax_cross_entropy(const Var& logits, const std::vector<int>& labels);
// Mean of (a - target)^2 over all elements.
Var mse(const Var& a, const Tensor& target);

}  // namespace frugal::autograd
