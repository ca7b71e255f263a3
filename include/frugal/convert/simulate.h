// Runs a converted net as a spiking net over T time steps, event-driven: a Conv or fully connected
// layer fed by a time-varying tensor adds the weight columns of its nonzero inputs only (a spike
// of amplitude θ_c multiplies a column by a per-channel constant that hardware folds into the
// weights, so it is counted as accumulates: SOPs). Layers whose inputs never change (the first
// conv on the analog image: direct input coding) run once and are counted as MACs once.
// IF neurons (Bu et al., CVPR 2025): membrane starts at 0.5θ_c; each step m += input; a spike
// when m > θ_c, output θ_c and m −= θ_c (reset by subtraction); a channel with θ_c = 0 never
// fires. The layer producing the graph output stays analog; the readout sums its logits over the
// steps kept after the delay (delayed evaluation).
#pragma once
#include <cstdint>
#include <vector>

#include "frugal/convert/thresholds.h"

namespace frugal::convert {

struct SpikingRun {
  int timesteps = 0;
  Tensor logits;                           // [T, N, classes]: the analog output at each step
  std::vector<double> sops, macs, spikes;  // per step, summed over the batch
  double static_macs = 0;                  // layers computed once, summed over the batch
  double neurons = 0;                      // neurons of all sites, per sample
};

SpikingRun run_spiking(const SpikingNet& net, const Thresholds& th, const Tensor& x, int timesteps);

// Delayed evaluation: a site needs about 0.5·θ/a steps before its first spike (the membrane
// starts at 0.5θ and gains a, its mean positive activation, per step), and each site waits for the
// sites before it, so the readout delay is the sum over sites, rounded up.
struct DelayEstimate {
  std::vector<double> per_site;
  int steps = 0;
};

// From the clipped ANN's activations on one calibration batch (one more forward pass).
DelayEstimate estimate_delay(const SpikingNet& net, const Thresholds& th, const Tensor& batch);

// Readout steps discarded at budget T: the delay, but at least 5 steps are kept when T is small.
int discarded_steps(int timesteps, int delay);

// 45 nm figures of Horowitz, ISSCC 2014: a 32-bit float MAC 4.6 pJ, an accumulate 0.9 pJ.
struct EnergyCosts {
  double pj_per_mac = 4.6;
  double pj_per_sop = 0.9;
};

// Scores runs over a test set at several budgets T from one simulation of max(T) steps.
class SpikingEval {
 public:
  SpikingEval(std::vector<int> budgets, int delay);
  void add(const SpikingRun& run, const std::vector<int>& labels);

  const std::vector<int>& budgets() const { return budgets_; }
  int64_t samples() const { return samples_; }
  double accuracy(size_t b) const;
  double firing_rate(size_t b) const;  // spikes / (neurons · T)
  double sops_per_sample(size_t b) const;
  double macs_per_sample(size_t b) const;
  double energy_pj(size_t b, const EnergyCosts& e) const;  // per sample

 private:
  std::vector<int> budgets_;
  int delay_;
  int64_t samples_ = 0;
  std::vector<int64_t> correct_;
  std::vector<double> sops_, macs_, spikes_;
  double static_macs_ = 0, neurons_ = 0;
};

}  // namespace frugal::convert
