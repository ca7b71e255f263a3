// Fused LIF and CuBa-LIF neuron kernels over a whole sequence: one pass over T forward and one
// reverse pass backward (BPTT), neurons independent so threads split them. Semantics of snnTorch
// 0.9 Leaky / Synaptic with reset_delay=True and the reset detached (docs/snn.md):
//   R[t] = H(U[t-1] - thr)                  (detached: no gradient)
//   I[t] = alpha*I[t-1] + x[t]              (CuBa only; LIF uses I[t] = x[t])
//   U[t] = beta*U[t-1] + I[t] - R[t]*thr    (subtract)
//        = beta*(1-R[t])*U[t-1] + x[t]      (zero, LIF)
//        = (1-R[t])*(beta*U[t-1] + I[t])    (zero, CuBa: snnTorch zeroes the new membrane)
//        = beta*U[t-1] + I[t]               (none)
//   S[t] = amplitude * H(U[t] - thr),  H strict (u > 0),  U[-1] = init_frac*thr, I[-1] = 0
// Backward needs only the stored membranes (and synaptic currents for CuBa): spikes and resets
// are recomputed from them by the same comparisons.
#pragma once
#include <cstdint>

#include "frugal/snn/surrogate.h"

namespace frugal::kernels {

enum class Reset { subtract, zero, none };

// Per-element arrays have n entries: the op expands shared or per-neuron parameters once so the
// kernels stream contiguously. beta and alpha are already clamped to [0, 1] (snnTorch clamps).
struct LifArgs {
  int64_t steps = 0;
  int64_t n = 0;  // elements per step (batch x neurons)
  const float* beta = nullptr;
  const float* alpha = nullptr;  // CuBa only
  const float* threshold = nullptr;
  float init_frac = 0.0f;
  float amplitude = 1.0f;
  Reset reset = Reset::subtract;
  snn::Surrogate surrogate;
};

// diff_mem may be null (no gradient reaches the membranes). diff_beta, diff_alpha, diff_threshold
// may be null; otherwise they receive per-element sums over time ([n]), reduced by the caller.
struct LifGrads {
  float* diff_src = nullptr;  // [steps, n]
  float* diff_beta = nullptr;
  float* diff_alpha = nullptr;
  float* diff_threshold = nullptr;
};

// mem may be null in lif_forward (inference keeps no membranes: backward is the only reader).
void lif_forward_ref(const LifArgs& a, const float* src, float* spikes, float* mem);
void lif_backward_ref(const LifArgs& a, const float* mem, const float* diff_spikes, const float* diff_mem,
                      const LifGrads& g);
void cuba_lif_forward_ref(const LifArgs& a, const float* src, float* spikes, float* syn, float* mem);
void cuba_lif_backward_ref(const LifArgs& a, const float* syn, const float* mem, const float* diff_spikes,
                           const float* diff_mem, const LifGrads& g);

// AVX2 versions, bit-identical to the reference; call only when cpu_has_avx2().
void lif_forward_avx2(const LifArgs& a, const float* src, float* spikes, float* mem);
void lif_backward_avx2(const LifArgs& a, const float* mem, const float* diff_spikes, const float* diff_mem,
                       const LifGrads& g);
void cuba_lif_forward_avx2(const LifArgs& a, const float* src, float* spikes, float* syn, float* mem);
void cuba_lif_backward_avx2(const LifArgs& a, const float* syn, const float* mem, const float* diff_spikes,
                            const float* diff_mem, const LifGrads& g);

bool cpu_has_avx2();

// The dispatchers: the first of (avx2, ref) that this CPU runs.
void lif_forward(const LifArgs& a, const float* src, float* spikes, float* mem);
void lif_backward(const LifArgs& a, const float* mem, const float* diff_spikes, const float* diff_mem,
                  const LifGrads& g);
void cuba_lif_forward(const LifArgs& a, const float* src, float* spikes, float* syn, float* mem);
void cuba_lif_backward(const LifArgs& a, const float* syn, const float* mem, const float* diff_spikes,
                       const float* diff_mem, const LifGrads& g);

}  // namespace frugal::kernels
