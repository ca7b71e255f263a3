// Shared plumbing of the neuron ops (lif.cpp, cuba_lif.cpp, if_neuron.cpp): parameter broadcasting,
// reduction of per-element parameter gradients, and recording one BPTT for the two outputs.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "frugal/snn/neurons.h"

namespace frugal::snn::detail {

// x must be [T, batch, ...] with T >= 1; returns elements per step.
int64_t check_sequence(const autograd::Var& x, const std::string& op);

// One value per element of a step ([n]): the parameter repeated over the leading dims, clamped
// to [0, 1] when `clamp01`. Throws when its element count does not fit x (see neurons.h).
Tensor expand_param(const autograd::Var& p, const autograd::Var& x, bool clamp01, const std::string& what);

// Adds to p's gradient the per-element sums `elem` [n], reduced over the broadcast positions.
void add_param_grad(const autograd::Var& p, const Tensor& elem, bool clamp01);

// diff_spikes / diff_mem are null when no gradient reached that output.
using Bptt = std::function<void(const Tensor* diff_spikes, const Tensor* diff_mem)>;

// Records spikes (and membranes when asked) so that one BPTT runs with both outputs' gradients.
// The membranes' entry is later on the tape, so it runs first, when the spikes' gradient is
// complete; it does the work, and the spikes' entry runs the BPTT only if it has not run.
NeuronOutput record_neuron(Tensor spikes, Tensor mem, bool want_mem, const std::vector<autograd::Var>& inputs,
                           Bptt bptt);

}  // namespace frugal::snn::detail
