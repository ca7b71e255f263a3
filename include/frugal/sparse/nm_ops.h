// N:M-sparse linear and conv2d ops for BDWP training (SAT paper, Fang et al.). The masks come from
// the dense weights: either per call, or once per optimizer step through prepare_linear /
// prepare_conv2d (the SAT dataflow: both copies pre-generated right after the weight update, so
// the next step's forward and backward find them ready).
//   dense    plain linear / conv2d
//   forward  y uses W ⊙ mask_fw; dX = dY · (W ⊙ mask_fw) (the true gradient of the sparse forward)
//   bdwp     y uses W ⊙ mask_fw; dX = dY · (W ⊙ mask_bw), N:M along output channels
// In every mode the weight gradient is dense and reaches the dense weights (straight-through),
// plus SR-STE's decay · (1 − mask_fw) ⊙ W when decay > 0.
#pragma once
#include <memory>
#include <string>

#include "frugal/autograd/ops.h"
#include "frugal/sparse/nm_mask.h"
#include "frugal/sparse/nm_packed.h"
#include "frugal/sparse/nm_select.h"

namespace frugal::sparse {

enum class NMMode { dense, forward, bdwp };

NMMode parse_nm_mode(const std::string& text, const std::string& where);  // "dense" | "forward" | "bdwp"
const char* nm_mode_name(NMMode mode);

struct NMConfig {
  NMPattern pattern;
  NMMode mode = NMMode::bdwp;
  float sr_ste_decay = 0;
};

// How the masked products of a layer run: through the N:M GEMM (kernels/nm_gemm.h), or as dense
// oneDNN products of W ⊙ mask (faster for some shapes; chosen per layer before training).
enum class NMKernel { nm_gemm, masked_dense };
const char* nm_kernel_name(NMKernel k);  // "nm_gemm" | "masked_dense"

// The per-step copies of a linear weight [out, in]: fw rows = out (groups along in), bw rows = in
// (groups along out; made in bdwp mode only). Shared so a recorded backward keeps them alive.
struct NMLinearWeights {
  std::shared_ptr<NMRows> fw, bw;
};
NMLinearWeights prepare_linear(const Tensor& w, const NMConfig& nm);
// Re-selects `prepared` from w in place: copies no recorded step still holds are overwritten
// (one fused pass, no allocation), shared ones are replaced. backward = false skips the bdwp
// backward copy (a layer whose input needs no gradient, such as the first, never reads it).
void prepare_linear(const Tensor& w, const NMConfig& nm, NMLinearWeights& prepared, bool backward = true);

// As autograd::linear: x [..., in], w [out, in], b [out] or undefined. The weight gradient is the
// dense GEMM (straight-through) plus SR-STE's decay. `prepared` must come from w's current values
// (in bdwp mode with the backward copy, unless x needs no gradient).
autograd::Var nm_linear(const autograd::Var& x, const autograd::Var& w, const autograd::Var& b, const NMConfig& nm,
                        const NMLinearWeights& prepared, NMKernel kernel = NMKernel::nm_gemm);
// Prepares on the spot.
autograd::Var nm_linear(const autograd::Var& x, const autograd::Var& w, const autograd::Var& b,
                        const NMConfig& nm);

// The per-step copies of a conv weight [O, C, KH, KW]. nm_gemm (im2col, needs C % M == 0): fw rows =
// O over columns (kh, kw, c) with groups along c; bw rows = (c, kh, kw) over O. masked_dense:
// w_fw = W ⊙ mask_fw and w_bw = W ⊙ mask_bw (or w_fw in forward mode) as dense tensors.
struct NMConvWeights {
  NMKernel kernel = NMKernel::masked_dense;
  std::shared_ptr<const NMRows> fw, bw;
  Tensor w_fw, w_bw;
};
NMConvWeights prepare_conv2d(const Tensor& w, const NMConfig& nm, NMKernel kernel);
// Whether the im2col + N:M GEMM path can run this weight (groups of M must not straddle a
// kernel position): C divisible by M.
bool conv2d_gemm_fits(const Tensor& w, const NMPattern& p);

// As autograd::conv2d with groups = 1: x [N, C, H, W] or [T, N, C, H, W].
autograd::Var nm_conv2d(const autograd::Var& x, const autograd::Var& w, const autograd::Var& b,
                        const autograd::Conv2dParams& p, const NMConfig& nm, const NMConvWeights& prepared);
// Prepares on the spot, through masked dense oneDNN products.
autograd::Var nm_conv2d(const autograd::Var& x, const autograd::Var& w, const autograd::Var& b,
                        const autograd::Conv2dParams& p, const NMConfig& nm);

// The forward copy packed for inference and reporting (frugal info: sparsity, packed bytes).
// Linear [out, in]: rows = out; conv [O, C, KH, KW]: rows = O · KH · KW, groups along C.
NMPacked pack_forward(const Tensor& weight, const NMPattern& p);

}  // namespace frugal::sparse
