// The residual function of a reversible MBConv block (Pendse et al., BrainLes 2020, after
// MobileNetV2 / EfficientNet's inverted bottleneck): 1x1x1 expansion by e, norm, activation,
// 3x3x3 depthwise conv, norm, activation, optional squeeze-excitation, optional dropout, 1x1x1
// linear projection. The projection starts at zero, so a fresh block is the identity (y = x),
// which keeps deep reversible stacks stable at the start of training.
#pragma once
#include <string>

#include "frugal/core/rng.h"
#include "frugal/rev/reversible.h"

namespace frugal::rev {

struct MBConvConfig {
  int channels = 0;            // in and out of F (half the coupling's channels)
  int expansion = 4;           // e
  std::string norm = "group";  // group | instance | batch
  int norm_groups = 4;         // for "group": capped at the channel count, must divide it
  std::string activation = "silu";  // silu | relu6 | leaky_relu
  bool squeeze_excitation = false;
  double se_ratio = 0.25;  // squeezed channels = max(1, expanded * se_ratio)
  double dropout = 0;      // before the projection; replayed exactly on the recompute
};

class MBConv3d : public ResidualFn {
 public:
  MBConv3d(const MBConvConfig& config, Rng& rng);
  Var forward(const Var& x) override;
  std::string type() const override { return "mbconv3d"; }
  nn::Json spec() const override;
  std::vector<nn::Param> parameters() override;
  std::vector<nn::Buffer> buffers() override;
  std::vector<uint64_t> random_state() const override { return dropout_rng.state(); }
  void set_random_state(const std::vector<uint64_t>& s) override { dropout_rng.set_state(s); }

  MBConvConfig config;
  int expanded;
  Var w_expand, w_depthwise, w_project, b_project;
  Var gamma1, beta1, gamma2, beta2;
  Var w_se_reduce, b_se_reduce, w_se_expand, b_se_expand;  // undefined without SE
  Tensor running_mean1, running_var1, running_mean2, running_var2;  // for norm = "batch"
  Rng dropout_rng;

 private:
  Var norm(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var);
  Var activate(const Var& x) const;
};

// Appends one reversible MBConv block (a coupling of two MBConv3d on channels / 2 each).
void add_rev_mbconv3d(ReversibleSequence& sequence, int channels, MBConvConfig config, Rng& rng);

}  // namespace frugal::rev
