// conv3d (through kernels/conv3d: oneDNN or the reference), max-pool 3-D and upsampling. Pooling
// and upsampling are cheap memory-bound loops, so they have one implementation here.
#include <algorithm>
#include <cmath>

#include "frugal/autograd/ops3d.h"
#include "frugal/core/error.h"
#include "frugal/kernels/conv3d.h"

namespace frugal::autograd {

namespace {
void require_5d(const Var& x, const char* op) {
  require(x.defined() && x.shape().size() == 5,
          std::string(op) + ": input must be [N, C, D, H, W], got " + (x.defined() ? shape_str(x.shape()) : "none"));
}
}  // namespace

Var conv3d(const Var& x, const Var& w, const Var& b, const Conv3dParams& p) {
  require_5d(x, "conv3d");
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  require(ws.size() == 5, "conv3d: weight must be [O, C/groups, KD, KH, KW], got " + shape_str(ws));
  kernels::Conv3dShape s;
  s.n = xs[0];
  s.c = xs[1];
  s.d = xs[2];
  s.h = xs[3];
  s.w = xs[4];
  s.o = ws[0];
  s.kd = ws[2];
  s.kh = ws[3];
  s.kw = ws[4];
  s.stride = p.stride;
  s.pad = p.pad;
  s.groups = p.groups;
  require(p.stride > 0 && p.pad >= 0 && p.groups > 0 && s.c % p.groups == 0 && s.o % p.groups == 0 &&
              ws[1] == s.c / p.groups,
          "conv3d: weight " + shape_str(ws) + " does not fit input " + shape_str(xs) + " with groups " +
              std::to_string(p.groups));
  require(s.od() > 0 && s.oh() > 0 && s.ow() > 0, "conv3d: kernel larger than padded input " + shape_str(xs));
  require(!b.defined() || b.value().numel() == s.o, "conv3d: bias must have " + std::to_string(s.o) + " elements");
  Tensor y = Tensor::empty({s.n, s.o, s.od(), s.oh(), s.ow()});
  kernels::conv3d_forward(s, x.value().data(), w.value().data(), b.defined() ? b.value().data() : nullptr, y.data());
  return record(y, {x, w, b}, [x, w, b, s](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      kernels::conv3d_backward_data(s, dy.data(), w.value().data(), dx.data());
      x.add_grad(dx);
    }
    if (w.requires_grad() || b.requires_grad()) {
      Tensor dw = Tensor::empty(w.shape());
      Tensor db = Tensor::empty({s.o});
      kernels::conv3d_backward_weights(s, x.value().data(), dy.data(), dw.data(), db.data());
      if (w.requires_grad()) w.add_grad(dw);
      if (b.requires_grad()) b.add_grad(db);
    }
  });
}

Var max_pool3d(const Var& x, int kernel) {
  require_5d(x, "max_pool3d");
  const Shape& xs = x.shape();
  require(kernel > 0 && xs[2] % kernel == 0 && xs[3] % kernel == 0 && xs[4] % kernel == 0,
          "max_pool3d: D, H, W of " + shape_str(xs) + " must be divisible by the kernel " + std::to_string(kernel));
  int64_t planes = xs[0] * xs[1], d = xs[2], h = xs[3], w = xs[4];
  int64_t od = d / kernel, oh = h / kernel, ow = w / kernel, k = kernel;
  Tensor y = Tensor::empty({xs[0], xs[1], od, oh, ow});
  // Argmax offsets within each plane, kept in a tracked buffer so their bytes are counted.
  Tensor argmax = Tensor::empty(y.shape());
  auto* idx = reinterpret_cast<int32_t*>(argmax.data());
  const float* xp = x.value().data();
  float* yp = y.data();
#pragma omp parallel for
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t oz = 0; oz < od; ++oz)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t best = ((oz * k) * h + oy * k) * w + ox * k;
          for (int64_t kz = 0; kz < k; ++kz)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                int64_t at = ((oz * k + kz) * h + oy * k + ky) * w + ox * k + kx;
                if (xp[pl * d * h * w + at] > xp[pl * d * h * w + best]) best = at;
              }
          int64_t o = ((pl * od + oz) * oh + oy) * ow + ox;
          yp[o] = xp[pl * d * h * w + best];
          idx[o] = static_cast<int32_t>(best);
        }
  int64_t in_plane = d * h * w, out_plane = od * oh * ow;
  return record(y, {x}, [x, argmax, planes, in_plane, out_plane](const Tensor& dy) {
    Tensor dx = Tensor::zeros(x.shape());
    const auto* idx = reinterpret_cast<const int32_t*>(argmax.data());
#pragma omp parallel for
    for (int64_t pl = 0; pl < planes; ++pl)
      for (int64_t o = 0; o < out_plane; ++o) dx[pl * in_plane + idx[pl * out_plane + o]] += dy[pl * out_plane + o];
    x.add_grad(dx);
  });
}

Var upsample_nearest3d(const Var& x, int factor) {
  require_5d(x, "upsample_nearest3d");
  require(factor > 0, "upsample_nearest3d: factor must be positive");
  const Shape& xs = x.shape();
  int64_t planes = xs[0] * xs[1], d = xs[2], h = xs[3], w = xs[4], f = factor;
  Tensor y = Tensor::empty({xs[0], xs[1], d * f, h * f, w * f});
  const float* xp = x.value().data();
#pragma omp parallel for
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t z = 0; z < d * f; ++z)
      for (int64_t yy = 0; yy < h * f; ++yy)
        for (int64_t xx = 0; xx < w * f; ++xx)
          y[((pl * d * f + z) * h * f + yy) * w * f + xx] = xp[((pl * d + z / f) * h + yy / f) * w + xx / f];
  return record(y, {x}, [x, planes, d, h, w, f](const Tensor& dy) {
    Tensor dx = Tensor::zeros(x.shape());
#pragma omp parallel for
    for (int64_t pl = 0; pl < planes; ++pl)
      for (int64_t z = 0; z < d * f; ++z)
        for (int64_t yy = 0; yy < h * f; ++yy)
          for (int64_t xx = 0; xx < w * f; ++xx)
            dx[((pl * d + z / f) * h + yy / f) * w + xx / f] += dy[((pl * d * f + z) * h * f + yy) * w * f + xx];
    x.add_grad(dx);
  });
}

namespace {
// For each output coordinate along one axis: the two source indices and the weight of the second,
// with PyTorch's align_corners=false mapping src = (dst + 0.5) / f - 0.5, clamped at 0.
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<float> t;
};
Taps linear_taps(int64_t in, int64_t factor) {
  Taps taps;
  for (int64_t o = 0; o < in * factor; ++o) {
    double src = std::max(0.0, (o + 0.5) / static_cast<double>(factor) - 0.5);
    int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
    taps.i0.push_back(i0);
    taps.i1.push_back(std::min(i0 + 1, in - 1));
    taps.t.push_back(static_cast<float>(src - static_cast<double>(i0)));
  }
  return taps;
}
}  // namespace

Var upsample_trilinear3d(const Var& x, int factor) {
  require_5d(x, "upsample_trilinear3d");
  require(factor > 0, "upsample_trilinear3d: factor must be positive");
  const Shape& xs = x.shape();
  int64_t planes = xs[0] * xs[1], d = xs[2], h = xs[3], w = xs[4];
  Taps tz = linear_taps(d, factor), ty = linear_taps(h, factor), tx = linear_taps(w, factor);
  int64_t od = d * factor, oh = h * factor, ow = w * factor;
  Tensor y = Tensor::empty({xs[0], xs[1], od, oh, ow});
  const float* xp = x.value().data();
#pragma omp parallel for
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* src = xp + pl * d * h * w;
    for (int64_t z = 0; z < od; ++z)
      for (int64_t yy = 0; yy < oh; ++yy)
        for (int64_t xx = 0; xx < ow; ++xx) {
          float acc = 0;
          for (int cz = 0; cz < 2; ++cz)
            for (int cy = 0; cy < 2; ++cy)
              for (int cx = 0; cx < 2; ++cx) {
                float wz = cz ? tz.t[z] : 1 - tz.t[z], wy = cy ? ty.t[yy] : 1 - ty.t[yy],
                      wx = cx ? tx.t[xx] : 1 - tx.t[xx];
                int64_t iz = cz ? tz.i1[z] : tz.i0[z], iy = cy ? ty.i1[yy] : ty.i0[yy],
                        ix = cx ? tx.i1[xx] : tx.i0[xx];
                acc += wz * wy * wx * src[(iz * h + iy) * w + ix];
              }
          y[((pl * od + z) * oh + yy) * ow + xx] = acc;
        }
  }
  return record(y, {x}, [x, planes, d, h, w, od, oh, ow, tz, ty, tx](const Tensor& dy) {
    Tensor dx = Tensor::zeros(x.shape());
#pragma omp parallel for
    for (int64_t pl = 0; pl < planes; ++pl) {
      float* dst = dx.data() + pl * d * h * w;
      for (int64_t z = 0; z < od; ++z)
        for (int64_t yy = 0; yy < oh; ++yy)
          for (int64_t xx = 0; xx < ow; ++xx) {
            float g = dy[((pl * od + z) * oh + yy) * ow + xx];
            for (int cz = 0; cz < 2; ++cz)
              for (int cy = 0; cy < 2; ++cy)
                for (int cx = 0; cx < 2; ++cx) {
                  float wz = cz ? tz.t[z] : 1 - tz.t[z], wy = cy ? ty.t[yy] : 1 - ty.t[yy],
                        wx = cx ? tx.t[xx] : 1 - tx.t[xx];
                  int64_t iz = cz ? tz.i1[z] : tz.i0[z], iy = cy ? ty.i1[yy] : ty.i0[yy],
                          ix = cx ? tx.i1[xx] : tx.i0[xx];
                  dst[(iz * h + iy) * w + ix] += wz * wy * wx * g;
                }
          }
    }
    x.add_grad(dx);
  });
}

}  // namespace frugal::autograd
