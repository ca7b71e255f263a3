// Operation and energy accounting for (spiking) networks, per layer and per time step: firing
// rates, synaptic operations (SOPs: each nonzero input to a synaptic layer times the outputs it
// reaches), multiply-accumulates (MACs) of layers fed by analog values, and bytes moved. Energy is
// MACs * E_mac + SOPs * E_ac with the 45 nm figures of Horowitz, "Computing's energy problem (and
// what we can do about it)", ISSCC 2014: 4.6 pJ per 32-bit float MAC (3.7 pJ mult + 0.9 pJ add)
// and 0.9 pJ per 32-bit float add (an SOP is one accumulate). Model and caveats: docs/snn.md.
#pragma once
#include <string>
#include <vector>

#include "frugal/core/tensor.h"
#include "frugal/nn/module.h"

namespace frugal::energy {

struct EnergyModel {
  double pj_per_mac = 4.6;
  double pj_per_ac = 0.9;
};

// All counts are per sample (averaged over the samples counted).
struct LayerCount {
  std::string name;  // index in the Sequential and type: "3:conv2d"
  std::string type;
  bool spiking_input = false;   // synaptic layer whose input held only zeros and one spike value
  double macs = 0, sops = 0, bytes = 0;
  double firing_rate = -1;      // neuron layers: spikes / (neurons * T); -1 for other layers
  std::vector<double> rate_per_step;  // neuron layers fed a sequence
  std::vector<double> ops_per_step;   // MACs or SOPs per step, synaptic layers fed a sequence
  double energy_pj = 0;
};

struct EnergyReport {
  EnergyModel model;
  int64_t samples = 0;
  std::vector<LayerCount> layers;
  double macs = 0, sops = 0, bytes = 0, energy_pj = 0;  // totals per sample
};

// Runs a Sequential layer by layer (no gradients) and accumulates the counts of each batch.
// A non-Sequential model is counted as one opaque layer (bytes only).
class EnergyCounter {
 public:
  EnergyCounter(nn::Module& model, const EnergyModel& em);
  // Returns the model's output for the batch, so a caller can also score it.
  Tensor add_batch(const Tensor& x);
  EnergyReport report() const;

 private:
  nn::Module& model_;
  EnergyModel em_;
  int64_t samples_ = 0;
  std::vector<LayerCount> sums_;  // totals over all samples so far
  std::vector<std::vector<double>> slots_;  // per layer and step: neuron-steps counted
};

nn::Json to_json(const EnergyReport& r);
// A plain-text table, one row per layer, then the totals.
std::string format_table(const EnergyReport& r);

}  // namespace frugal::energy
