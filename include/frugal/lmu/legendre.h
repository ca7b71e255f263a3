// The Legendre Memory Unit's linear memory (Voelker, Kajić & Eliasmith, NeurIPS 2019):
// continuous-time A, B of order d for a sliding window theta, discretized by zero-order hold
// (Ā = e^{A}, B̄ = A⁻¹(Ā − I)B, with A, B already divided by theta; dt = 1) or by Euler
// (Ā = I + A, B̄ = B), plus the shifted Legendre polynomials that decode u(t − θ') from m(t).
#pragma once
#include <vector>

namespace frugal::lmu {

// Row-major d x d matrix and d vector, in double for the discretization.
struct LmuMatrices {
  int order = 0;
  std::vector<double> A;  // d*d
  std::vector<double> B;  // d
};

LmuMatrices continuous(int order, double theta);  // A/theta, B/theta
LmuMatrices discretize_zoh(int order, double theta);
LmuMatrices discretize_euler(int order, double theta);

// exp(M) for a row-major n x n matrix (scaling and squaring with a degree-12 Taylor sum).
std::vector<double> expm(const std::vector<double>& M, int n);

// Weights c_i that decode u(t − r·theta) ≈ Σ c_i m_i(t), 0 <= r <= 1: the shifted Legendre
// polynomials P̃_i(r) = P_i(2r − 1) (paper, eq. 3).
std::vector<double> delay_decoder(int order, double r);

}  // namespace frugal::lmu
