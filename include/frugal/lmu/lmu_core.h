// The LMU recurrence as one autograd op over a whole sequence, shared by the non-spiking LMU cell
// (Voelker, Kajić & Eliasmith 2019, eqs. 4, 6, 7) and the spiking L2MU (Leto, Urgese, Macii & Fra),
// where every element is a population of LIF or CuBa-LIF neurons. Per step t, memory_size M,
// order d, hidden H, unit f_u, f_m, f_h (identity/tanh for the LMU, neurons for the L2MU):
//   u[t]      = f_u(e_x x[t] + e_h h[t-1] + e_m m[t-1])                   [M]
//   m[t][k,:] = f_m(E m[t-1][k,:] + B̄ u[t][k]),  E = Ā (or Āᵀ, see transpose_a)   [M, d]
//   h[t]      = f_h(W_x x[t] + W_h h[t-1] + W_m m[t])                       [H]
// Forward runs the loop once; backward is BPTT with the input and weight gradients batched into
// GEMMs over all steps. Neuron semantics are those of kernels/lif.h (snnTorch Leaky / Synaptic,
// reset detached, surrogate from snn/surrogate.h).
#pragma once
#include <string>

#include "frugal/autograd/tape.h"
#include "frugal/kernels/lif.h"
#include "frugal/snn/surrogate.h"

namespace frugal::lmu {

enum class Unit { linear, tanh, lif, cuba_lif };
Unit parse_unit(const std::string& name);  // "linear", "tanh", "lif", "cuba_lif"
std::string unit_name(Unit unit);

enum class Discretizer { zoh, euler };
Discretizer parse_discretizer(const std::string& name);  // "zoh", "euler"

// A population's neuron parameters: [1] (shared) or [size] (one per neuron). A Var that requires a
// gradient is learned. alpha is used by cuba_lif only; none are used by linear and tanh units.
struct Population {
  Unit unit = Unit::linear;
  autograd::Var beta, alpha, threshold;
};

struct LmuWeights {
  autograd::Var e_x, e_h, e_m;  // [M, F], [M, H], [M, M*d]; e_h, e_m may be undefined (off)
  autograd::Var W_x, W_h, W_m;  // [H, F], [H, H], [H, M*d]; W_x, W_h may be undefined (off)
  autograd::Var theta_inv;      // [1]: 1/theta; learned when it requires a gradient
};

struct LmuCoreOptions {
  int memory_size = 0;
  int order = 0;
  int hidden = 0;
  Discretizer discretizer = Discretizer::zoh;
  // The L2MU authors' code keeps keras-lmu's transposed Ā but applies it as F.linear(m, A), i.e.
  // it multiplies the memory by Āᵀ; true reproduces that (docs/l2mu.md).
  bool transpose_a = false;
  kernels::Reset reset = kernels::Reset::subtract;
  snn::Surrogate surrogate;
};

// x [T, N, F] -> h [T, N, H]. u, m, h are the populations of the three elements.
autograd::Var lmu_sequence(const autograd::Var& x, const LmuWeights& w, const Population& u, const Population& m,
                           const Population& h, const LmuCoreOptions& opt);

// [A, B, ...] -> [B, A, ...]: batch-first datasets to time-first sequences and back.
autograd::Var swap_leading_axes(const autograd::Var& x);

}  // namespace frugal::lmu
