// N:M-sparse linear and conv2d ops for BDWP training (SAT paper, Fang et al.). Masks are
// recomputed from the dense weights on every call; both packed copies are made in the forward
// call (the weights do not change before the backward), so the backward pass finds its copy ready.
//   dense    plain linear / conv2d
//   forward  y uses W ⊙ mask_fw; dX = dY · (W ⊙ mask_fw) (the true gradient of the sparse forward)
//   bdwp     y uses W ⊙ mask_fw; dX = dY · (W ⊙ mask_bw), N:M along output channels
// In every mode the weight gradient is dense and reaches the dense weights (straight-through),
// plus SR-STE's decay · (1 − mask_fw) ⊙ W when decay > 0.
#pragma once
#include <string>

#include "frugal/autograd/ops.h"
#include "frugal/sparse/nm_mask.h"
#include "frugal/sparse/nm_packed.h"

namespace frugal::sparse {

enum class NMMode { dense, forward, bdwp };

NMMode parse_nm_mode(const std::string& text, const std::string& where);  // "dense" | "forward" | "bdwp"
const char* nm_mode_name(NMMode mode);

struct NMConfig {
  NMPattern pattern;
  NMMode mode = NMMode::bdwp;
  float sr_ste_decay = 0;
};

// As autograd::linear: x [..., in], w [out, in], b [out] or undefined. The products run through
// the N:M GEMM (kernels/nm_gemm.h); the weight gradient through the dense GEMM.
autograd::Var nm_linear(const autograd::Var& x, const autograd::Var& w, const autograd::Var& b,
                        const NMConfig& nm);

// As autograd::conv2d with groups = 1: x [N, C, H, W] or [T, N, C, H, W]. The sparse weights are
// materialised densely (masked) and run through oneDNN, which keeps the BDWP semantics but not
// the speed; an im2col + N:M GEMM path is future work.
autograd::Var nm_conv2d(const autograd::Var& x, const autograd::Var& w, const autograd::Var& b,
                        const autograd::Conv2dParams& p, const NMConfig& nm);

// The forward copy packed for inference and reporting (frugal info: sparsity, packed bytes).
// Linear [out, in]: rows = out; conv [O, C, KH, KW]: rows = O · KH · KW, groups along C.
NMPacked pack_forward(const Tensor& weight, const NMPattern& p);

}  // namespace frugal::sparse
