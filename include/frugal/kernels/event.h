// Event-driven synaptic products for spiking inputs: instead of a dense product over every input,
// add the weight columns of the nonzero inputs (the spikes) only, so the work scales with the
// number of events (as on neuromorphic hardware, e.g. Davies et al., Loihi, IEEE Micro 2018).
// Both kernels accumulate each output in the order and precision of the plain-loop references
// (ref::gemm: double, input order; ref::conv2d_forward: float, (c, ky, kx) order), so they equal
// the reference dense path bit for bit; zero inputs contribute exact zeros there.
#pragma once
#include <cstdint>

#include "frugal/kernels/conv2d.h"

namespace frugal::kernels {

// automatic: events when the input's nonzero fraction is at most event_density_threshold().
enum class EventMode { automatic, dense, events };
EventMode event_mode();
void set_event_mode(EventMode mode);

// Crossover density measured with bench/event_driven.cpp (docs/snn.md): below it the event
// kernels beat oneDNN on the layers of examples/fmnist_snn.toml.
double event_density_threshold();

double nonzero_fraction(const float* x, int64_t n);

// What linear and conv2d should run for input x under the current mode.
bool use_events(const float* x, int64_t n);

// y [rows, out] = x [rows, in] · wᵀ + b; w [out, in]; b [out] or null.
void event_linear_forward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w, const float* b,
                          float* y);
// NCHW input, OIHW weights, as kernels::conv2d_forward.
void event_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y);

// While alive, forces a mode (tests and benchmarks compare the paths).
class EventModeGuard {
 public:
  explicit EventModeGuard(EventMode m) : previous_(event_mode()) { set_event_mode(m); }
  ~EventModeGuard() { set_event_mode(previous_); }
  EventModeGuard(const EventModeGuard&) = delete;
  EventModeGuard& operator=(const EventModeGuard&) = delete;

 private:
  EventMode previous_;
};

}  // namespace frugal::kernels
