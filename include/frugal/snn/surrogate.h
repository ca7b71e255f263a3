// Surrogate gradients for the spike nonlinearity S = H(u), u = U - threshold (snnTorch 0.9,
// snntorch/surrogate.py). The forward pass is always the strict step u > 0; only dS/du differs.
// Formulas (docs/snn.md): atan (Fang et al. 2021), fast_sigmoid (Zenke & Ganguli 2018, SuperSpike),
// sigmoid, and snnTorch's `triangular`, whose backward is +param below threshold and -param at or
// above it (snnTorch's formula, kept for agreement).
#pragma once
#include <cmath>
#include <string>

namespace frugal::snn {

enum class SurrogateKind { atan, fast_sigmoid, sigmoid, triangle };

struct Surrogate {
  SurrogateKind kind = SurrogateKind::atan;
  float param = 2.0f;  // atan: alpha; fast_sigmoid, sigmoid: slope; triangle: threshold scale
};

float default_surrogate_param(SurrogateKind kind);  // 2, 25, 25, 1 (snnTorch's defaults)
// "atan", "fast_sigmoid", "sigmoid", "triangle"; param NaN means the default. Throws Error on an
// unknown name or a parameter that is not positive and finite.
Surrogate make_surrogate(const std::string& name, float param = NAN);
std::string surrogate_name(SurrogateKind kind);

// dS/du at u. Inline because the fused neuron kernels call it per element; the fast kernels use
// the same float operations in the same order, so ref and fast agree bit for bit.
inline float surrogate_grad(const Surrogate& s, float u) {
  switch (s.kind) {
    case SurrogateKind::atan: {
      float v = (1.5707963267948966f * s.param) * u;
      return (0.5f * s.param) / (1.0f + v * v);
    }
    case SurrogateKind::fast_sigmoid: {
      float d = s.param * std::fabs(u) + 1.0f;
      return 1.0f / (d * d);
    }
    case SurrogateKind::sigmoid: {
      // snnTorch writes slope*e^(-slope*u)/(e^(-slope*u)+1)^2, which is even in u; using |u|
      // keeps e <= 1, where snnTorch's form overflows to inf/inf = NaN for slope*u < -88.
      float e = std::exp(-s.param * std::fabs(u));
      float d = e + 1.0f;
      return s.param * e / (d * d);
    }
    case SurrogateKind::triangle:
      return u < 0.0f ? s.param : -s.param;
  }
  return 0.0f;
}

}  // namespace frugal::snn
