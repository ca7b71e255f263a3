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

// automatic: events when the input is spikes at a density at most event_density_threshold(op).
enum class EventMode { automatic, dense, events };
EventMode event_mode();
void set_event_mode(EventMode mode);

enum class EventOp { linear, conv2d };

// Crossover density per op measured with bench/event_driven.cpp (docs/snn.md): below it the event
// kernel beats oneDNN on the spiking layers of examples/fmnist_scnn.toml and fmnist_snn.toml.
double event_density_threshold(EventOp op);

double nonzero_fraction(const float* x, int64_t n);
// The nonzero fraction of x when its nonzeros are spikes (all one value: 1, or a converted net's
// amplitude), else 1. The event kernels were measured against oneDNN on spikes; a ReLU's sparse
// real-valued output (the reference CNN's conv2 sees ~50 % zeros) stays on the dense kernels.
double spike_fraction(const float* x, int64_t n);

// What op should run for input x under the current mode: events when x is spikes at a density
// at most event_density_threshold(op).
bool use_events(EventOp op, const float* x, int64_t n);

// y [rows, out] = x [rows, in] · wᵀ + b; w [out, in]; b [out] or null.
void event_linear_forward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w, const float* b,
                          float* y);
// NCHW input, OIHW weights, as kernels::conv2d_forward. Runs the fastest variant this CPU has
// (event_conv2d_variant()), ref::event_conv2d_forward under the reference backend.
void event_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y);

// The variants in order of preference, the reference last; tests and benchmarks run each one.
enum class EventConvVariant { avx512, avx2, ref };
bool event_conv2d_runs(EventConvVariant v);
EventConvVariant event_conv2d_variant();
void event_conv2d_forward(EventConvVariant v, const Conv2dShape& s, const float* x, const float* w, const float* b,
                          float* y);

// The conv followed by a 2x2, stride-2 max-pool in one pass, y [N, O, OH/2, OW/2]: for inference,
// where the conv output is read by the pool only (nothing records argmax for a backward), this
// saves writing and reading the full-resolution output.
void event_conv2d_max_pool2_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y);
void event_conv2d_max_pool2_forward(EventConvVariant v, const Conv2dShape& s, const float* x, const float* w,
                                    const float* b, float* y);

namespace ref {
// Plain loops, input-stationary: each spike adds its weight taps to every output it reaches.
void event_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y);
}  // namespace ref

// The fast variants walk the input channels one 64-bit receptive-field mask at a time (those
// channels' weight taps stay in L1); per output position the output channels' sums sit in vector
// registers while the mask's set bits add their weight taps, so a binary spike costs one vector add
// per 16 output channels.
// Weights come re-laid out once per call: wt [C, KH, KW, opad] holds, for each input channel and
// tap, the output channels of the channel's group padded with zeros to opad (a multiple of 16);
// bias [groups, opad], zero where the layer has none. Both variants need KH·KW <= 64.
// pool 2: the output is max-pooled 2x2, stride 2, as the conv and then max_pool2d_forward would.
struct EventConvWeights {
  const float* wt = nullptr;
  const float* bias = nullptr;
  int64_t opad = 0;
  int64_t pool = 1;
};
// Per-thread workspace in floats (64-byte multiples); the caller passes threads of them, 64-byte aligned.
int64_t event_conv2d_workspace_floats(const Conv2dShape& s, int64_t opad);
void event_conv2d_avx512(const Conv2dShape& s, const EventConvWeights& w, const float* x, float* y, float* workspace);
void event_conv2d_avx2(const Conv2dShape& s, const EventConvWeights& w, const float* x, float* y, float* workspace);

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
