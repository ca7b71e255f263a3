// N:M-sparse Linear and Conv2d layers for BDWP training (SAT paper, Fang et al.), and the steps
// that turn a dense model into a sparse one. The layers keep the dense master weights of their nn
// base class; their masked copies are made once per optimizer step by prepare() (the SAT
// "pre-generate both packed weights" dataflow), and the forward pass runs from those copies, in
// training and at inference. Which kernel a layer runs (N:M GEMM or masked dense oneDNN) is
// chosen once, before training, by timing both on the layer's real shapes (schedule()), SAT's
// offline scheduling; the choice is part of the layer's spec, so a saved model keeps it.
//
// Saved spec: {"type": "nm_linear" | "nm_conv2d", ...the nn layer's keys..., "sparsity": "2:8",
// "sparsity_mode": "bdwp", "sr_ste_decay": 0, "nm_kernel": "nm_gemm" | "masked_dense"}.
#pragma once
#include <string>
#include <vector>

#include "frugal/nn/layers.h"
#include "frugal/sparse/nm_ops.h"

namespace frugal::sparse {

class NmLinear : public nn::Linear {
 public:
  NmLinear(int in_features, int out_features, bool bias, Rng& rng, const NMConfig& nm, NMKernel kernel);
  autograd::Var forward(const autograd::Var& x) override;
  std::string type() const override { return "nm_linear"; }
  nn::Json spec() const override;
  // Re-selects the masked copies from the current weights; the trainer calls it after every
  // optimizer step. Anyone else who changes the weights must call it too.
  void prepare();
  NMConfig nm;
  NMKernel kernel;

 private:
  NMLinearWeights prepared_;
  bool ready_ = false;
  bool backward_copy_ = true;  // whether the last forward's input needed a gradient (bdwp)
};

class NmConv2d : public nn::Conv2d {
 public:
  NmConv2d(int in_channels, int out_channels, int kernel_size, int stride, int pad, bool bias, Rng& rng,
           const NMConfig& nm, NMKernel kernel);
  autograd::Var forward(const autograd::Var& x) override;
  std::string type() const override { return "nm_conv2d"; }
  nn::Json spec() const override;
  void prepare();  // as NmLinear::prepare
  NMConfig nm;
  NMKernel kernel;

 private:
  NMConvWeights prepared_;
  bool ready_ = false;
};

// Lets nn::build_module (and so nn::load_model) build nm_linear and nm_conv2d specs.
void register_layers();

// Replaces every Linear and groups = 1 Conv2d of the model (inside nested Sequentials too) by its
// sparse version sharing the same weight Vars, so call it before building the optimizer. Returns
// one line per layer for the run's log; layers left dense say why.
std::vector<std::string> sparsify(nn::Module& model, const NMConfig& nm);

// Chooses each sparse layer's kernel by timing a training step of the layer (prepare, forward,
// backward) with each candidate on its real input, given the model's input shape; returns one log
// line per layer naming both times and the choice. `reps` timed runs per candidate, best taken.
std::vector<std::string> schedule(nn::Module& model, const Shape& input_shape, int reps = 3);

// Calls prepare() on every sparse layer.
void prepare_all(nn::Module& model);

// Sets the dense weights to W ⊙ mask_fw (the sparse network itself), before saving a trained model.
void prune_to_masks(nn::Module& model);

// Per sparse layer, for reports (frugal info): its name in the module tree, pattern, mode,
// kernel, the fraction of zero weights, and the forward copy's packed bytes (nm_packed.h format)
// against the dense float32 bytes.
struct SparseLayerInfo {
  std::string name, type, pattern, mode, kernel;
  double zero_fraction = 0;
  int64_t dense_bytes = 0, packed_bytes = 0;
};
std::vector<SparseLayerInfo> describe(nn::Module& model);

}  // namespace frugal::sparse
