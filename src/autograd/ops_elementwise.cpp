// Elementwise and shape ops: relu, add, mul, scale, dropout, reshape, flatten, concat.
#include <cstdint>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"

namespace frugal::autograd {

Var relu(const Var& x) {
  const Tensor& xv = x.value();
  Tensor y = Tensor::empty(xv.shape());
  const float* xp = xv.data();
  float* yp = y.data();
  int64_t n = xv.numel();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] > 0 ? xp[i] : 0.0f;
  // Backward needs only the output's sign, so keep y rather than x (x can then be freed).
  return record(y, {x}, [x, y](const Tensor& dy) {
    Tensor dx = Tensor::empty(dy.shape());
    const float* yp = y.data();
    // dy where y > 0, else +0, as bit masks: GCC keeps `y > 0 ? dy : 0` as a branch per element.
    const auto* g = reinterpret_cast<const uint32_t*>(dy.data());
    auto* d = reinterpret_cast<uint32_t*>(dx.data());
    int64_t n = dy.numel();
#pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) d[i] = g[i] & (0u - static_cast<uint32_t>(yp[i] > 0));
    x.add_grad(dx);
  });
}

Var add(const Var& a, const Var& b) {
  require(a.shape() == b.shape(), "add: shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " differ");
  Tensor y = Tensor::empty(a.shape());
  const float* ap = a.value().data();
  const float* bp = b.value().data();
  float* yp = y.data();
  int64_t n = y.numel();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) yp[i] = ap[i] + bp[i];
  return record(y, {a, b}, [a, b](const Tensor& dy) {
    if (a.requires_grad()) a.add_grad(dy);
    if (b.requires_grad()) b.add_grad(dy);
  });
}

Var mul(const Var& a, const Var& b) {
  require(a.shape() == b.shape(), "mul: shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " differ");
  Tensor y = Tensor::empty(a.shape());
  for (int64_t i = 0; i < y.numel(); ++i) y[i] = a.value()[i] * b.value()[i];
  return record(y, {a, b}, [a, b](const Tensor& dy) {
    if (a.requires_grad()) {
      Tensor da = Tensor::empty(dy.shape());
      for (int64_t i = 0; i < da.numel(); ++i) da[i] = dy[i] * b.value()[i];
      a.add_grad(da);
    }
    if (b.requires_grad()) {
      Tensor db = Tensor::empty(dy.shape());
      for (int64_t i = 0; i < db.numel(); ++i) db[i] = dy[i] * a.value()[i];
      b.add_grad(db);
    }
  });
}

Var scale(const Var& x, float s, float shift) {
  Tensor y = Tensor::empty(x.shape());
  for (int64_t i = 0; i < y.numel(); ++i) y[i] = x.value()[i] * s + shift;
  return record(y, {x}, [x, s](const Tensor& dy) {
    Tensor dx = Tensor::empty(dy.shape());
    for (int64_t i = 0; i < dx.numel(); ++i) dx[i] = dy[i] * s;
    x.add_grad(dx);
  });
}

Var dropout(const Var& x, float p, bool training, Rng& rng) {
  require(p >= 0 && p < 1, "dropout: p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0) return x;
  // Inverted dropout: kept values are scaled by 1/(1-p) so evaluation needs no change.
  Tensor mask = Tensor::empty(x.shape());
  float keep = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < mask.numel(); ++i) mask[i] = rng.uniform(0.0f, 1.0f) >= p ? keep : 0.0f;
  Tensor y = Tensor::empty(x.shape());
  for (int64_t i = 0; i < y.numel(); ++i) y[i] = x.value()[i] * mask[i];
  return record(y, {x}, [x, mask](const Tensor& dy) {
    Tensor dx = Tensor::empty(dy.shape());
    for (int64_t i = 0; i < dx.numel(); ++i) dx[i] = dy[i] * mask[i];
    x.add_grad(dx);
  });
}

Var reshape(const Var& x, const Shape& shape) {
  Tensor y = x.value().reshape(shape);
  return record(y, {x}, [x](const Tensor& dy) { x.add_grad(dy.reshape(x.shape())); });
}

Var flatten(const Var& x, int start_axis) {
  const Shape& s = x.shape();
  require(start_axis >= 0 && start_axis < static_cast<int>(s.size()),
          "flatten: start axis " + std::to_string(start_axis) + " out of range for " + shape_str(s));
  Shape out(s.begin(), s.begin() + start_axis);
  int64_t rest = 1;
  for (size_t i = start_axis; i < s.size(); ++i) rest *= s[i];
  out.push_back(rest);
  return reshape(x, out);
}

Var concat(const std::vector<Var>& xs, int axis) {
  require(!xs.empty(), "concat: no inputs");
  Shape s = xs[0].shape();
  int rank = static_cast<int>(s.size());
  if (axis < 0) axis += rank;
  require(axis >= 0 && axis < rank, "concat: axis out of range for " + shape_str(s));
  int64_t total = 0;
  for (const Var& v : xs) {
    const Shape& vs = v.shape();
    bool ok = static_cast<int>(vs.size()) == rank;
    for (int d = 0; ok && d < rank; ++d) ok = d == axis || vs[d] == s[d];
    require(ok, "concat: shape " + shape_str(vs) + " does not match " + shape_str(s) + " off axis " +
                    std::to_string(axis));
    total += vs[axis];
  }
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = axis + 1; d < rank; ++d) inner *= s[d];
  Shape ys = s;
  ys[axis] = total;
  Tensor y = Tensor::empty(ys);
  int64_t offset = 0;
  for (const Var& v : xs) {
    int64_t len = v.shape()[axis] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::copy(v.value().data() + o * len, v.value().data() + (o + 1) * len, y.data() + o * total * inner + offset);
    offset += len;
  }
  return record(y, xs, [xs, outer, inner, total, axis](const Tensor& dy) {
    int64_t offset = 0;
    for (const Var& v : xs) {
      int64_t len = v.shape()[axis] * inner;
      if (v.requires_grad()) {
        Tensor dx = Tensor::empty(v.shape());
        for (int64_t o = 0; o < outer; ++o)
          std::copy(dy.data() + o * total * inner + offset, dy.data() + o * total * inner + offset + len,
                    dx.data() + o * len);
        v.add_grad(dx);
      }
      offset += len;
    }
  });
}

}  // namespace frugal::autograd
