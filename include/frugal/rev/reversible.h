// Additive reversible coupling (Gomez et al., "The Reversible Residual Network", NeurIPS 2017),
// as used by the reversible MBConv 3-D U-Net (Pendse et al., BrainLes 2020): the channels of x
// split into halves (x1, x2) and each block computes
//   y1 = x1 + F(x2),  y2 = x2 + G(y1),  inverted by  x2 = y2 - G(y1),  x1 = y1 - F(x2).
// A reversible sequence keeps only its output for backward. Its backward walks the blocks in
// reverse, recomputing G(y1) and F(x2) once each with a local tape: that recompute both rebuilds
// the block's input and yields the local gradients, so F and G run twice in total per step.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "frugal/nn/module.h"

namespace frugal::rev {

using autograd::Var;

// F or G of a coupling. Beyond forward, the coupling needs to replay its randomness (dropout)
// on the recompute and to keep normalization running statistics from moving a second time.
class ResidualFn : public nn::Module {
 public:
  virtual std::vector<uint64_t> random_state() const { return {}; }
  virtual void set_random_state(const std::vector<uint64_t>&) {}
  // True while the backward pass recomputes this function.
  void set_recomputing(bool on) { recomputing_ = on; }
  bool recomputing() const { return recomputing_; }

 protected:
  bool recomputing_ = false;
};

using ResidualFnPtr = std::unique_ptr<ResidualFn>;

struct Coupling {
  ResidualFnPtr f, g;  // each maps C/2 channels to C/2 channels
};

class ReversibleSequence : public nn::Module {
 public:
  // reversible = false runs the same blocks with ordinary backprop (every activation stored):
  // the baseline the memory benchmark and the gradient tests compare against.
  explicit ReversibleSequence(bool reversible) : reversible(reversible) {}
  void add(ResidualFnPtr f, ResidualFnPtr g);
  // x [N, C, ...] with C even. In reversible training the storage of x is released once y is
  // computed (it is rebuilt from y in backward, and put back into x then); a caller that
  // needs x's value between forward and backward must keep its own copy.
  Var forward(const Var& x) override;
  std::string type() const override { return "reversible_sequence"; }
  nn::Json spec() const override;
  std::vector<nn::Param> parameters() override;
  std::vector<nn::Buffer> buffers() override;
  void set_training(bool on) override;

  bool reversible;
  std::vector<Coupling> blocks;

 private:
  Var forward_plain(const Var& x);
  Var forward_reversible(const Var& x);
  // Per block, the random state of F and of G taken just before the forward evaluated them.
  std::vector<std::vector<uint64_t>> f_states_, g_states_;
};

}  // namespace frugal::rev
