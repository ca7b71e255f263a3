#include "frugal/kernels/conv2d.h"

namespace frugal::kernels::ref {

namespace {
// Calls f(n, o, oy, ox, c, ky, kx, iy, ix) for every in-bounds product term of the convolution.
template <typename F>
void for_each_term(const Conv2dShape& s, F f) {
  int64_t cg = s.c / s.groups, og = s.o / s.groups, oh = s.oh(), ow = s.ow();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.o; ++o) {
      int64_t g = o / og;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                int64_t iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                f(n, o, oy, ox, g * cg + ci, ci, ky, kx, iy, ix);
              }
    }
}
}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y) {
  int64_t oh = s.oh(), ow = s.ow(), cg = s.c / s.groups;
  for (int64_t i = 0; i < s.n * s.o * oh * ow; ++i) y[i] = b ? b[(i / (oh * ow)) % s.o] : 0.0f;
  for_each_term(s, [&](int64_t n, int64_t o, int64_t oy, int64_t ox, int64_t c, int64_t ci, int64_t ky, int64_t kx,
                       int64_t iy, int64_t ix) {
    y[((n * s.o + o) * oh + oy) * ow + ox] +=
        x[((n * s.c + c) * s.h + iy) * s.w + ix] * w[((o * cg + ci) * s.kh + ky) * s.kw + kx];
  });
}

void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  int64_t oh = s.oh(), ow = s.ow(), cg = s.c / s.groups;
  for (int64_t i = 0; i < s.n * s.c * s.h * s.w; ++i) dx[i] = 0;
  for_each_term(s, [&](int64_t n, int64_t o, int64_t oy, int64_t ox, int64_t c, int64_t ci, int64_t ky, int64_t kx,
                       int64_t iy, int64_t ix) {
    dx[((n * s.c + c) * s.h + iy) * s.w + ix] +=
        dy[((n * s.o + o) * oh + oy) * ow + ox] * w[((o * cg + ci) * s.kh + ky) * s.kw + kx];
  });
}

void conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  int64_t oh = s.oh(), ow = s.ow(), cg = s.c / s.groups;
  for (int64_t i = 0; i < s.o * cg * s.kh * s.kw; ++i) dw[i] = 0;
  for_each_term(s, [&](int64_t n, int64_t o, int64_t oy, int64_t ox, int64_t c, int64_t ci, int64_t ky, int64_t kx,
                       int64_t iy, int64_t ix) {
    dw[((o * cg + ci) * s.kh + ky) * s.kw + kx] +=
        dy[((n * s.o + o) * oh + oy) * ow + ox] * x[((n * s.c + c) * s.h + iy) * s.w + ix];
  });
  if (!db) return;
  for (int64_t o = 0; o < s.o; ++o) {
    double acc = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < oh * ow; ++p) acc += dy[(n * s.o + o) * oh * ow + p];
    db[o] = static_cast<float>(acc);
  }
}

}  // namespace frugal::kernels::ref
