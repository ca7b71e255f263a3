// The LMU's discretized memory: published values for d = 4, theta = 10 (zero-order hold), and the
// memory's job: decoding the input delayed by theta from m(t) through shifted Legendre polynomials.
#include <gtest/gtest.h>

#include <cmath>

#include "frugal/lmu/legendre.h"

using namespace frugal::lmu;

TEST(Legendre, ZohMatchesPublishedRowZero) {
  LmuMatrices m = discretize_zoh(4, 10.0);
  const double a0[4] = {0.8942, -0.0837, -0.0796, -0.0398};
  const double b[4] = {0.1058, -0.2510, 0.3979, -0.2785};
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(m.A[j], a0[j], 1e-4) << "A[0][" << j << "]";
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(m.B[i], b[i], 1e-4) << "B[" << i << "]";
}

TEST(Legendre, ExpmOfDiagonalAndNilpotent) {
  std::vector<double> d = expm({1.0, 0.0, 0.0, -2.0}, 2);
  EXPECT_NEAR(d[0], std::exp(1.0), 1e-12);
  EXPECT_NEAR(d[3], std::exp(-2.0), 1e-12);
  std::vector<double> n = expm({0.0, 3.0, 0.0, 0.0}, 2);
  EXPECT_NEAR(n[1], 3.0, 1e-12);
}

TEST(Legendre, MemoryReconstructsDelayedInput) {
  const int order = 12;
  const double theta = 50;
  LmuMatrices m = discretize_zoh(order, theta);
  std::vector<double> state(order, 0.0), next(order);
  std::vector<double> u;
  double worst = 0;
  for (int t = 0; t < 400; ++t) {
    double ut = std::sin(0.05 * t) + 0.5 * std::sin(0.013 * t + 1.0);  // smooth, band-limited input
    u.push_back(ut);
    for (int i = 0; i < order; ++i) {
      double s = m.B[i] * ut;
      for (int j = 0; j < order; ++j) s += m.A[static_cast<size_t>(i) * order + j] * state[j];
      next[i] = s;
    }
    state = next;
    if (t >= 200) {
      std::vector<double> c = delay_decoder(order, 1.0);
      double decoded = 0;
      for (int i = 0; i < order; ++i) decoded += c[i] * state[i];
      worst = std::max(worst, std::fabs(decoded - u[t - static_cast<int>(theta)]));
    }
  }
  EXPECT_LT(worst, 0.05);
}
