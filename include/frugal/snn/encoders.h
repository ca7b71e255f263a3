// Input encoders: turn a static sample (or a sequence) into the [T, ...] input of a spiking net.
// Formulas of snnTorch 0.9 spikegen (rate, latency, delta); direct current repeats the analog
// input every step (the first layer then acts as the encoder). Rate coding draws from frugal::Rng,
// so the same seed gives the same spikes.
#pragma once
#include <cstdint>

#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"

namespace frugal::snn {

// [T, ...x.shape]: x at every step.
Tensor encode_direct(const Tensor& x, int64_t steps);

// [T, ...]: spike with probability clamp(gain*x + offset, 0, 1) at each step (snnTorch rate).
Tensor encode_rate(const Tensor& x, int64_t steps, Rng& rng, float gain = 1.0f, float offset = 0.0f);

struct LatencyOptions {
  float tau = 1.0f;          // RC time constant of the charging neuron (log code) or slope (linear)
  float threshold = 0.01f;   // inputs below it fire last (or never with clip)
  bool linear = false;       // t = tau*(1 - x) instead of t = tau*ln(x / (x - threshold))
  bool normalize = false;    // stretch times so the latest spike lands on step T-1
  bool clip = false;         // inputs below threshold do not fire
};
// [T, ...]: one spike per element at its time-to-first-spike, rounded half to even as torch does.
// x must lie in [0, 1]; a spike time past T-1 is an error (as in snnTorch without bypass).
Tensor encode_latency(const Tensor& x, int64_t steps, const LatencyOptions& opt = {});

// x [T, ...] -> [T, ...]: +1 where x[t] - x[t-1] >= threshold (x[-1] = 0, or x[0] with padding),
// and -1 where it is <= -threshold when off_spikes.
Tensor encode_delta(const Tensor& x, float threshold = 0.1f, bool padding = false, bool off_spikes = false);

}  // namespace frugal::snn
