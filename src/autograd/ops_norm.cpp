// Batch normalization over (N, H, W) per channel (Ioffe & Szegedy 2015), PyTorch's conventions:
// biased variance normalizes the batch, the unbiased one updates running_var with `momentum`.
#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"

namespace frugal::autograd {

Var batchnorm2d(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var,
                bool training, float momentum, float eps) {
  const Shape& s = x.shape();
  require(s.size() == 4 || s.size() == 2, "batchnorm2d: input must be [N, C, H, W] or [N, C], got " + shape_str(s));
  int64_t n = s[0], c = s[1], hw = s.size() == 4 ? s[2] * s[3] : 1;
  require(gamma.value().numel() == c && beta.value().numel() == c && running_mean.numel() == c &&
              running_var.numel() == c,
          "batchnorm2d: parameters must have " + std::to_string(c) + " elements");
  int64_t count = n * hw;
  require(!training || count > 1, "batchnorm2d: training needs more than one value per channel");
  const float* xp = x.value().data();
  Tensor mean = Tensor::empty({c}), inv_std = Tensor::empty({c});
#pragma omp parallel for
  for (int64_t ch = 0; ch < c; ++ch) {
    double m, var;
    if (training) {
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t p = 0; p < hw; ++p) {
          double v = xp[(i * c + ch) * hw + p];
          sum += v;
          sq += v * v;
        }
      m = sum / count;
      var = std::max(0.0, sq / count - m * m);
      running_mean[ch] = static_cast<float>((1 - momentum) * running_mean[ch] + momentum * m);
      running_var[ch] =
          static_cast<float>((1 - momentum) * running_var[ch] + momentum * var * count / (count - 1));
    } else {
      m = running_mean[ch];
      var = running_var[ch];
    }
    mean[ch] = static_cast<float>(m);
    inv_std[ch] = static_cast<float>(1.0 / std::sqrt(var + eps));
  }
  Tensor y = Tensor::empty(s);
  const float* g = gamma.value().data();
  const float* b = beta.value().data();
#pragma omp parallel for collapse(2)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      float a = g[ch] * inv_std[ch], sh = b[ch] - mean[ch] * a;
      const float* xr = xp + (i * c + ch) * hw;
      float* yr = y.data() + (i * c + ch) * hw;
      for (int64_t p = 0; p < hw; ++p) yr[p] = xr[p] * a + sh;
    }
  return record(y, {x, gamma, beta}, [x, gamma, beta, mean, inv_std, n, c, hw, training](const Tensor& dy) {
    const float* xp = x.value().data();
    const float* g = gamma.value().data();
    Tensor dgamma = Tensor::empty({c}), dbeta = Tensor::empty({c});
    Tensor dx = x.requires_grad() ? Tensor::empty(x.shape()) : Tensor();
#pragma omp parallel for
    for (int64_t ch = 0; ch < c; ++ch) {
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t p = 0; p < hw; ++p) {
          int64_t k = (i * c + ch) * hw + p;
          double xhat = (xp[k] - mean[ch]) * inv_std[ch];
          sum_dy += dy[k];
          sum_dy_xhat += dy[k] * xhat;
        }
      dgamma[ch] = static_cast<float>(sum_dy_xhat);
      dbeta[ch] = static_cast<float>(sum_dy);
      if (!dx.defined()) continue;
      double count = static_cast<double>(n * hw);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t p = 0; p < hw; ++p) {
          int64_t k = (i * c + ch) * hw + p;
          double xhat = (xp[k] - mean[ch]) * inv_std[ch];
          double d = dy[k];
          // In training the batch statistics depend on x; in evaluation they are constants.
          if (training) d -= (sum_dy + xhat * sum_dy_xhat) / count;
          dx[k] = static_cast<float>(g[ch] * inv_std[ch] * d);
        }
    }
    if (dx.defined()) x.add_grad(dx);
    if (gamma.requires_grad()) gamma.add_grad(dgamma);
    if (beta.requires_grad()) beta.add_grad(dbeta);
  });
}

}  // namespace frugal::autograd
