// Volumetric ops for 3-D segmentation nets (the reversible MBConv U-Net, Pendse et al., BrainLes
// 2020): conv3d (dense, grouped/depthwise, 1x1x1), group and instance norm (Wu & He 2018),
// max-pool, nearest and trilinear upsampling, the MBConv activations (SiLU, ReLU6, LeakyReLU)
// and the squeeze-excitation pieces (Hu et al. 2018). Layouts are PyTorch's: activations
// [N, C, D, H, W], conv weights [O, C/groups, KD, KH, KW].
#pragma once
#include <vector>

#include "frugal/autograd/tape.h"

namespace frugal::autograd {

struct Conv3dParams {
  int stride = 1;
  int pad = 0;
  int groups = 1;  // groups == C == O: depthwise
};
// b [O] or undefined.
Var conv3d(const Var& x, const Var& w, const Var& b, const Conv3dParams& p);

// Normalizes each (sample, group of C/groups channels) over its channels and voxels with the
// biased variance, then applies the per-channel affine gamma, beta [C]. No running statistics:
// training and evaluation compute the same function.
Var group_norm(const Var& x, int groups, const Var& gamma, const Var& beta, float eps = 1e-5f);
// Group norm with one channel per group.
Var instance_norm(const Var& x, const Var& gamma, const Var& beta, float eps = 1e-5f);

// Non-overlapping max pooling (kernel == stride), each of D, H, W divisible by the kernel.
Var max_pool3d(const Var& x, int kernel);
// Upsampling by an integer factor along D, H, W. Trilinear uses PyTorch's align_corners=false.
Var upsample_nearest3d(const Var& x, int factor);
Var upsample_trilinear3d(const Var& x, int factor);

Var silu(const Var& x);  // x * sigmoid(x)
Var relu6(const Var& x);
Var leaky_relu(const Var& x, float slope = 0.01f);
Var sigmoid(const Var& x);

// [N, C, D, H, W] -> [N, C, 1, 1, 1], the mean over the volume (the "squeeze").
Var global_avg_pool3d(const Var& x);
// x [N, C, D, H, W] scaled per channel by s [N, C, 1, 1, 1] (the "excitation").
Var channel_mul(const Var& x, const Var& s);

// Channels [start, start + count) of x [N, C, ...].
Var slice_channels(const Var& x, int64_t start, int64_t count);

}  // namespace frugal::autograd
