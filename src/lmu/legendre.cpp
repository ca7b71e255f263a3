#include "frugal/lmu/legendre.h"

#include <cmath>

#include "frugal/core/error.h"

namespace frugal::lmu {

namespace {
std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int n) {
  std::vector<double> c(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k) {
      double aik = a[static_cast<size_t>(i) * n + k];
      for (int j = 0; j < n; ++j) c[static_cast<size_t>(i) * n + j] += aik * b[static_cast<size_t>(k) * n + j];
    }
  return c;
}

// Solves M x = rhs by Gaussian elimination with partial pivoting (M is small: d <= a few hundred).
std::vector<double> solve(std::vector<double> M, std::vector<double> rhs, int n) {
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int r = col + 1; r < n; ++r)
      if (std::fabs(M[static_cast<size_t>(r) * n + col]) > std::fabs(M[static_cast<size_t>(pivot) * n + col])) pivot = r;
    require(std::fabs(M[static_cast<size_t>(pivot) * n + col]) > 1e-300, "lmu: singular matrix in discretization");
    for (int j = 0; j < n; ++j) std::swap(M[static_cast<size_t>(col) * n + j], M[static_cast<size_t>(pivot) * n + j]);
    std::swap(rhs[col], rhs[pivot]);
    for (int r = col + 1; r < n; ++r) {
      double f = M[static_cast<size_t>(r) * n + col] / M[static_cast<size_t>(col) * n + col];
      for (int j = col; j < n; ++j) M[static_cast<size_t>(r) * n + j] -= f * M[static_cast<size_t>(col) * n + j];
      rhs[r] -= f * rhs[col];
    }
  }
  std::vector<double> x(n);
  for (int r = n - 1; r >= 0; --r) {
    double s = rhs[r];
    for (int j = r + 1; j < n; ++j) s -= M[static_cast<size_t>(r) * n + j] * x[j];
    x[r] = s / M[static_cast<size_t>(r) * n + r];
  }
  return x;
}
}  // namespace

LmuMatrices continuous(int order, double theta) {
  require(order > 0 && order <= 1024, "lmu: order must be in 1..1024");
  require(theta > 0, "lmu: theta must be positive");
  LmuMatrices m;
  m.order = order;
  m.A.assign(static_cast<size_t>(order) * order, 0.0);
  m.B.assign(order, 0.0);
  for (int i = 0; i < order; ++i) {
    double r = (2.0 * i + 1.0) / theta;
    for (int j = 0; j < order; ++j) m.A[static_cast<size_t>(i) * order + j] = r * (i < j ? -1.0 : ((i - j + 1) % 2 ? -1.0 : 1.0));
    m.B[i] = r * (i % 2 ? -1.0 : 1.0);
  }
  return m;
}

std::vector<double> expm(const std::vector<double>& M, int n) {
  double norm = 0;
  for (int i = 0; i < n; ++i) {
    double row = 0;
    for (int j = 0; j < n; ++j) row += std::fabs(M[static_cast<size_t>(i) * n + j]);
    norm = std::max(norm, row);
  }
  int squarings = norm > 0.5 ? static_cast<int>(std::ceil(std::log2(norm / 0.5))) : 0;
  double scale = std::ldexp(1.0, -squarings);
  std::vector<double> X(M.size());
  for (size_t i = 0; i < M.size(); ++i) X[i] = M[i] * scale;
  std::vector<double> result(M.size(), 0.0), term(M.size(), 0.0);
  for (int i = 0; i < n; ++i) result[static_cast<size_t>(i) * n + i] = term[static_cast<size_t>(i) * n + i] = 1.0;
  for (int k = 1; k <= 18; ++k) {
    term = matmul(term, X, n);
    for (double& t : term) t /= k;
    for (size_t i = 0; i < M.size(); ++i) result[i] += term[i];
  }
  for (int s = 0; s < squarings; ++s) result = matmul(result, result, n);
  return result;
}

LmuMatrices discretize_zoh(int order, double theta) {
  LmuMatrices c = continuous(order, theta);
  LmuMatrices d;
  d.order = order;
  d.A = expm(c.A, order);
  // B̄ = A⁻¹ (Ā − I) B
  std::vector<double> rhs(order, 0.0);
  for (int i = 0; i < order; ++i)
    for (int j = 0; j < order; ++j)
      rhs[i] += (d.A[static_cast<size_t>(i) * order + j] - (i == j ? 1.0 : 0.0)) * c.B[j];
  d.B = solve(c.A, rhs, order);
  return d;
}

LmuMatrices discretize_euler(int order, double theta) {
  LmuMatrices d = continuous(order, theta);
  for (int i = 0; i < order; ++i) d.A[static_cast<size_t>(i) * order + i] += 1.0;
  return d;
}

std::vector<double> delay_decoder(int order, double r) {
  // Shifted Legendre polynomials P̃_i(r) = P_i(2r − 1) by the three-term recurrence.
  std::vector<double> p(order);
  double x = 2.0 * r - 1.0;
  for (int i = 0; i < order; ++i) {
    if (i == 0)
      p[i] = 1.0;
    else if (i == 1)
      p[i] = x;
    else
      p[i] = ((2.0 * i - 1.0) * x * p[i - 1] - (i - 1.0) * p[i - 2]) / i;
  }
  return p;
}

}  // namespace frugal::lmu
