// What each spiking layer of a net does for one sample: its spike train and membrane potential
// over time, recorded by running a Sequential net layer by layer (`frugal eval --plot` draws them).
#pragma once
#include <string>
#include <vector>

#include "frugal/core/tensor.h"
#include "frugal/nn/module.h"

namespace frugal::snn {

struct LayerTrace {
  std::string name;                // "<layer index>:<type>", e.g. "3:lif"
  int64_t steps = 0, neurons = 0;  // neurons of one sample (features, or C*H*W)
  std::vector<float> spikes;       // [steps, neurons]
  std::vector<float> membranes;    // [steps, neurons]; empty for rlif (its membrane is not an output)
  std::vector<float> threshold;    // one shared value or one per neuron
};

// Runs `x` ([N, ...], N >= 1) through a Sequential net without gradients and keeps, for sample 0,
// every lif, cuba_lif and if layer (spikes and membranes) and every rlif layer that outputs spikes.
std::vector<LayerTrace> record_traces(nn::Module& model, const Tensor& x);

}  // namespace frugal::snn
