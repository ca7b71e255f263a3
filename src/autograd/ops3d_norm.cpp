// Group normalization (Wu & He, ECCV 2018) over [N, C, ...]: statistics per sample and group of
// C/groups channels, so they do not depend on the batch (3-D nets train with batch 1 or 2).
// Instance norm is the case of one channel per group.
#include <cmath>

#include "frugal/autograd/ops3d.h"
#include "frugal/core/error.h"

namespace frugal::autograd {

Var group_norm(const Var& x, int groups, const Var& gamma, const Var& beta, float eps) {
  const Shape& s = x.shape();
  require(s.size() >= 3, "group_norm: input must be [N, C, ...], got " + shape_str(s));
  int64_t n = s[0], c = s[1], spatial = 1;
  for (size_t k = 2; k < s.size(); ++k) spatial *= s[k];
  require(groups > 0 && c % groups == 0,
          "group_norm: " + std::to_string(c) + " channels do not split into " + std::to_string(groups) + " groups");
  require(gamma.value().numel() == c && beta.value().numel() == c,
          "group_norm: gamma and beta must have " + std::to_string(c) + " elements");
  int64_t cg = c / groups, count = cg * spatial;
  Tensor mean = Tensor::empty({n * groups}), inv_std = Tensor::empty({n * groups});
  const float* xp = x.value().data();
#pragma omp parallel for
  for (int64_t ng = 0; ng < n * groups; ++ng) {
    const float* src = xp + ng * count;  // a group's channels are contiguous in NC...
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < count; ++i) {
      sum += src[i];
      sq += static_cast<double>(src[i]) * src[i];
    }
    double m = sum / static_cast<double>(count);
    double var = std::max(0.0, sq / static_cast<double>(count) - m * m);
    mean[ng] = static_cast<float>(m);
    inv_std[ng] = static_cast<float>(1.0 / std::sqrt(var + eps));
  }
  Tensor y = Tensor::empty(s);
  const float* g = gamma.value().data();
  const float* b = beta.value().data();
#pragma omp parallel for collapse(2)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      int64_t ng = i * groups + ch / cg;
      float a = g[ch] * inv_std[ng], sh = b[ch] - mean[ng] * a;
      const float* src = xp + (i * c + ch) * spatial;
      float* dst = y.data() + (i * c + ch) * spatial;
      for (int64_t p = 0; p < spatial; ++p) dst[p] = src[p] * a + sh;
    }
  return record(y, {x, gamma, beta}, [x, gamma, beta, mean, inv_std, n, c, groups, cg, spatial](const Tensor& dy) {
    const float* xp = x.value().data();
    const float* g = gamma.value().data();
    Tensor dgamma = Tensor::zeros({c}), dbeta = Tensor::zeros({c});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch) {
        int64_t ng = i * groups + ch / cg;
        double sg = 0, sb = 0;
        for (int64_t p = 0; p < spatial; ++p) {
          int64_t k = (i * c + ch) * spatial + p;
          sg += dy[k] * (xp[k] - mean[ng]) * inv_std[ng];
          sb += dy[k];
        }
        dgamma[ch] += static_cast<float>(sg);
        dbeta[ch] += static_cast<float>(sb);
      }
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      double count = static_cast<double>(cg * spatial);
      // dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) within each group.
#pragma omp parallel for
      for (int64_t ng = 0; ng < n * groups; ++ng) {
        int64_t first_ch = (ng % groups) * cg;
        double sum_d = 0, sum_dx = 0;
        for (int64_t ci = 0; ci < cg; ++ci)
          for (int64_t p = 0; p < spatial; ++p) {
            int64_t k = ng * cg * spatial + ci * spatial + p;
            double dxhat = dy[k] * g[first_ch + ci];
            sum_d += dxhat;
            sum_dx += dxhat * (xp[k] - mean[ng]) * inv_std[ng];
          }
        for (int64_t ci = 0; ci < cg; ++ci)
          for (int64_t p = 0; p < spatial; ++p) {
            int64_t k = ng * cg * spatial + ci * spatial + p;
            double xhat = (xp[k] - mean[ng]) * inv_std[ng];
            double dxhat = dy[k] * g[first_ch + ci];
            dx[k] = static_cast<float>(inv_std[ng] * (dxhat - sum_d / count - xhat * sum_dx / count));
          }
      }
      x.add_grad(dx);
    }
    if (gamma.requires_grad()) gamma.add_grad(dgamma);
    if (beta.requires_grad()) beta.add_grad(dbeta);
  });
}

Var instance_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
  require(x.shape().size() >= 3, "instance_norm: input must be [N, C, ...], got " + shape_str(x.shape()));
  return group_norm(x, static_cast<int>(x.shape()[1]), gamma, beta, eps);
}

}  // namespace frugal::autograd
