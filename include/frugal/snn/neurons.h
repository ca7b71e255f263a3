// Spiking neurons as autograd ops over a whole sequence x [T, batch, ...]: LIF (snnTorch 0.9
// `Leaky`), CuBa-LIF (`Synaptic`) and IF (Leaky with beta = 1, reset by subtraction, a starting
// membrane, graded output). Forward runs the fused kernel of kernels/lif.h once over T; backward
// is BPTT with the surrogate gradient, the reset detached as in snnTorch. Equations: docs/snn.md.
#pragma once
#include <string>

#include "frugal/autograd/tape.h"
#include "frugal/kernels/lif.h"
#include "frugal/snn/surrogate.h"

namespace frugal::snn {

using kernels::Reset;
Reset parse_reset(const std::string& name);  // "subtract", "zero", "none"
std::string reset_name(Reset reset);

struct NeuronOptions {
  Reset reset = Reset::subtract;
  Surrogate surrogate;       // atan, alpha 2 (snnTorch's default)
  float amplitude = 1.0f;    // spike value (snnTorch's graded_spikes_factor)
  float init_frac = 0.0f;    // U[-1] = init_frac * threshold
  bool membranes = false;    // also return the membranes as a differentiable output
};

struct NeuronOutput {
  autograd::Var spikes;     // [T, batch, ...], values 0 or amplitude
  autograd::Var membranes;  // same shape, U[t] before the next step's reset; undefined unless asked
};

// Parameters (beta, alpha, threshold) hold one shared value or one per neuron: their element count
// is 1 or the product of a trailing run of x's dimensions after T (e.g. [features] for
// [T, batch, features], [C, H, W] for [T, batch, C, H, W]). A parameter Var that requires a
// gradient is learned: its gradient is summed over time and batch. beta and alpha are clamped to
// [0, 1] in the forward pass; outside that range their gradient is zero (torch.clamp).
NeuronOutput lif(const autograd::Var& x, const autograd::Var& beta, const autograd::Var& threshold,
                 const NeuronOptions& opt = {});
NeuronOutput cuba_lif(const autograd::Var& x, const autograd::Var& alpha, const autograd::Var& beta,
                      const autograd::Var& threshold, const NeuronOptions& opt = {});

struct IfOptions {
  Surrogate surrogate;
  float amplitude = 1.0f;
  float init_frac = 0.0f;  // conversion work often starts at 0.5 (half the threshold)
  bool membranes = false;
};
NeuronOutput if_neuron(const autograd::Var& x, const autograd::Var& threshold, const IfOptions& opt = {});

// Checks hyper-parameters from a config: 0 <= beta <= 1, threshold > 0, both finite. `where`
// names the layer or file in the message.
void check_neuron_params(float beta, float threshold, const std::string& where);

}  // namespace frugal::snn
