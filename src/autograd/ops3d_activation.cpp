// The MBConv activations (SiLU, ReLU6, LeakyReLU), sigmoid, and the squeeze-excitation pieces
// (global average pool, per-channel scale), plus the channel slice the reversible coupling
// splits its input with. Where the derivative can be read off the output, the closure keeps the
// output rather than the input.
#include <cmath>

#include "frugal/autograd/ops3d.h"
#include "frugal/core/error.h"

namespace frugal::autograd {

Var silu(const Var& x) {
  const float* xp = x.value().data();
  Tensor y = Tensor::empty(x.shape());
  int64_t n = y.numel();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) y[i] = xp[i] / (1.0f + std::exp(-xp[i]));
  return record(y, {x}, [x](const Tensor& dy) {
    const float* xp = x.value().data();
    Tensor dx = Tensor::empty(x.shape());
    int64_t n = dx.numel();
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) {
      float sg = 1.0f / (1.0f + std::exp(-xp[i]));
      dx[i] = dy[i] * sg * (1.0f + xp[i] * (1.0f - sg));
    }
    x.add_grad(dx);
  });
}

Var relu6(const Var& x) {
  const float* xp = x.value().data();
  Tensor y = Tensor::empty(x.shape());
  int64_t n = y.numel();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(6.0f, std::max(0.0f, xp[i]));
  return record(y, {x}, [x, y](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
    int64_t n = dx.numel();
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f && y[i] < 6.0f ? dy[i] : 0.0f;
    x.add_grad(dx);
  });
}

Var leaky_relu(const Var& x, float slope) {
  require(slope > 0, "leaky_relu: slope must be positive (its backward reads the sign of the output)");
  const float* xp = x.value().data();
  Tensor y = Tensor::empty(x.shape());
  int64_t n = y.numel();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) y[i] = xp[i] > 0 ? xp[i] : slope * xp[i];
  return record(y, {x}, [x, y, slope](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
    int64_t n = dx.numel();
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0 ? dy[i] : slope * dy[i];
    x.add_grad(dx);
  });
}

Var sigmoid(const Var& x) {
  const float* xp = x.value().data();
  Tensor y = Tensor::empty(x.shape());
  int64_t n = y.numel();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-xp[i]));
  return record(y, {x}, [x, y](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
    int64_t n = dx.numel();
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
    x.add_grad(dx);
  });
}

Var global_avg_pool3d(const Var& x) {
  const Shape& s = x.shape();
  require(s.size() == 5, "global_avg_pool3d: input must be [N, C, D, H, W], got " + shape_str(s));
  int64_t planes = s[0] * s[1], spatial = s[2] * s[3] * s[4];
  Tensor y = Tensor::empty({s[0], s[1], 1, 1, 1});
  const float* xp = x.value().data();
#pragma omp parallel for
  for (int64_t pl = 0; pl < planes; ++pl) {
    double sum = 0;
    for (int64_t p = 0; p < spatial; ++p) sum += xp[pl * spatial + p];
    y[pl] = static_cast<float>(sum / static_cast<double>(spatial));
  }
  return record(y, {x}, [x, planes, spatial](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
#pragma omp parallel for
    for (int64_t pl = 0; pl < planes; ++pl) {
      float g = dy[pl] / static_cast<float>(spatial);
      for (int64_t p = 0; p < spatial; ++p) dx[pl * spatial + p] = g;
    }
    x.add_grad(dx);
  });
}

Var channel_mul(const Var& x, const Var& s) {
  const Shape& xs = x.shape();
  require(xs.size() >= 2 && s.value().numel() == xs[0] * xs[1],
          "channel_mul: scale " + shape_str(s.shape()) + " must hold one value per (sample, channel) of " +
              shape_str(xs));
  int64_t planes = xs[0] * xs[1], spatial = x.value().numel() / planes;
  Tensor y = Tensor::empty(xs);
  const float* xp = x.value().data();
  const float* sp = s.value().data();
#pragma omp parallel for
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t p = 0; p < spatial; ++p) y[pl * spatial + p] = xp[pl * spatial + p] * sp[pl];
  return record(y, {x, s}, [x, s, planes, spatial](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      const float* sp = s.value().data();
#pragma omp parallel for
      for (int64_t pl = 0; pl < planes; ++pl)
        for (int64_t p = 0; p < spatial; ++p) dx[pl * spatial + p] = dy[pl * spatial + p] * sp[pl];
      x.add_grad(dx);
    }
    if (s.requires_grad()) {
      Tensor ds = Tensor::empty(s.shape());
      const float* xp = x.value().data();
#pragma omp parallel for
      for (int64_t pl = 0; pl < planes; ++pl) {
        double acc = 0;
        for (int64_t p = 0; p < spatial; ++p) acc += dy[pl * spatial + p] * xp[pl * spatial + p];
        ds[pl] = static_cast<float>(acc);
      }
      s.add_grad(ds);
    }
  });
}

Var slice_channels(const Var& x, int64_t start, int64_t count) {
  const Shape& xs = x.shape();
  require(xs.size() >= 2 && start >= 0 && count > 0 && start + count <= xs[1],
          "slice_channels: channels [" + std::to_string(start) + ", " + std::to_string(start + count) +
              ") out of range for " + shape_str(xs));
  int64_t n = xs[0], c = xs[1], inner = x.value().numel() / (n * c);
  Shape ys = xs;
  ys[1] = count;
  Tensor y = Tensor::empty(ys);
  const float* xp = x.value().data();
  for (int64_t i = 0; i < n; ++i)
    std::copy(xp + (i * c + start) * inner, xp + (i * c + start + count) * inner, y.data() + i * count * inner);
  return record(y, {x}, [x, n, c, inner, start, count](const Tensor& dy) {
    Tensor dx = Tensor::zeros(x.shape());
    for (int64_t i = 0; i < n; ++i)
      std::copy(dy.data() + i * count * inner, dy.data() + (i + 1) * count * inner, dx.data() + (i * c + start) * inner);
    x.add_grad(dx);
  });
}

}  // namespace frugal::autograd
