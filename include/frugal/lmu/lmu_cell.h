// The non-spiking Legendre Memory Unit layer (Voelker, Kajić & Eliasmith, NeurIPS 2019) over a
// sequence, with keras-lmu's switches and names (docs/l2mu.md maps them):
//   u[t] = e_x x[t] + e_h h[t-1] + e_m m[t-1]       (e_h: hidden_to_memory, e_m: memory_to_memory)
//   m[t] = Ā m[t-1] + B̄ u[t]                         (per memory row; Ā, B̄ from lmu/legendre.h)
//   h[t] = tanh(W_x x[t] + W_h h[t-1] + W_m m[t])   (W_x: input_to_hidden, W_h: hidden_recurrent)
// Input [N, T, F] (batch first, as datasets give it) or [T, N, F]; output the last h [N, H], or the
// whole sequence when return_sequences. BPTT runs in the fused op of lmu/lmu_core.h.
#pragma once
#include "frugal/core/rng.h"
#include "frugal/lmu/lmu_core.h"
#include "frugal/nn/module.h"

namespace frugal::lmu {

struct LmuCellConfig {
  int in = 0;            // input features F
  int memory_d = 1;      // M, keras-lmu memory_d
  int order = 0;         // d
  double theta = 0;      // window in steps
  int hidden = 0;        // H (keras-lmu: hidden_cell units)
  bool hidden_to_memory = false;   // keras-lmu defaults: all three off
  bool memory_to_memory = false;
  bool input_to_hidden = false;
  bool hidden_recurrent = true;    // W_h: a SimpleRNNCell hidden cell (false: Dense)
  bool trainable_theta = false;
  std::string discretizer = "zoh";
  bool return_sequences = false;
  bool batch_first = true;
};

class LmuCell : public nn::Module {
 public:
  LmuCell(const LmuCellConfig& config, Rng& rng);
  nn::Var forward(const nn::Var& x) override;
  std::string type() const override { return "lmu"; }
  nn::Json spec() const override;
  std::vector<nn::Param> parameters() override;
  LmuCellConfig config;
  LmuWeights weights;
};

// Initializers of the NeurIPS 2019 LMU and the L2MU authors' code: encoders LeCun-uniform
// (U(±sqrt(3/fan_in))), kernels Xavier-normal (N(0, 2/(fan_in + fan_out))).
autograd::Var lecun_uniform(Shape shape, Rng& rng);
autograd::Var xavier_normal(Shape shape, Rng& rng);

}  // namespace frugal::lmu
