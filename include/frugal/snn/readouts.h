// Readouts reduce a spiking layer's output sequence [T, batch, ...] over time to [batch, ...],
// and the classification losses built on them (snnTorch 0.9 functional: ce_count_loss,
// ce_max_membrane_loss, mse_count_loss).
#pragma once
#include <string>
#include <vector>

#include "frugal/autograd/tape.h"

namespace frugal::snn {

enum class Readout { spike_count, membrane_mean, membrane_max, membrane_last };
Readout parse_readout(const std::string& name);  // "spike_count", "membrane_mean", "membrane_max", "membrane_last"

// spike_count sums over T, membrane_mean averages, membrane_max takes the maximum (the gradient
// goes to the first step holding it), membrane_last keeps step T-1.
autograd::Var readout(const autograd::Var& seq, Readout how);

// Cross-entropy of the spike counts (mean over the batch). spikes [T, batch, classes].
autograd::Var ce_count_loss(const autograd::Var& spikes, const std::vector<int>& labels);
// Cross-entropy of a membrane readout (snnTorch's ce_max_membrane_loss with membrane_max).
autograd::Var ce_membrane_loss(const autograd::Var& membranes, const std::vector<int>& labels,
                               Readout how = Readout::membrane_max);
// Mean squared error between spike counts and targets int(T*correct_rate) for the label's
// class and int(T*incorrect_rate) for the others, divided by T (snnTorch's mse_count_loss).
autograd::Var mse_count_loss(const autograd::Var& spikes, const std::vector<int>& labels, float correct_rate = 1.0f,
                             float incorrect_rate = 0.0f);

}  // namespace frugal::snn
