// Direct-loop 3-D convolution: every output voxel sums its in-bounds window. Slow and obvious on
// purpose, it is the oracle the oneDNN path is tested against.
#include "frugal/kernels/conv3d.h"

namespace frugal::kernels::ref {

namespace {
int64_t x_index(const Conv3dShape& s, int64_t n, int64_t c, int64_t z, int64_t y, int64_t x) {
  return (((n * s.c + c) * s.d + z) * s.h + y) * s.w + x;
}
int64_t w_index(const Conv3dShape& s, int64_t o, int64_t ci, int64_t kz, int64_t ky, int64_t kx) {
  return (((o * (s.c / s.groups) + ci) * s.kd + kz) * s.kh + ky) * s.kw + kx;
}
int64_t y_index(const Conv3dShape& s, int64_t n, int64_t o, int64_t z, int64_t y, int64_t x) {
  return (((n * s.o + o) * s.od() + z) * s.oh() + y) * s.ow() + x;
}
bool in_bounds(const Conv3dShape& s, int64_t z, int64_t y, int64_t x) {
  return z >= 0 && z < s.d && y >= 0 && y < s.h && x >= 0 && x < s.w;
}
}  // namespace

void conv3d_forward(const Conv3dShape& s, const float* x, const float* w, const float* b, float* y) {
  int64_t cg = s.c / s.groups, og = s.o / s.groups;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.o; ++o)
      for (int64_t oz = 0; oz < s.od(); ++oz)
        for (int64_t oy = 0; oy < s.oh(); ++oy)
          for (int64_t ox = 0; ox < s.ow(); ++ox) {
            double acc = b ? b[o] : 0.0;
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t kz = 0; kz < s.kd; ++kz)
                for (int64_t ky = 0; ky < s.kh; ++ky)
                  for (int64_t kx = 0; kx < s.kw; ++kx) {
                    int64_t iz = oz * s.stride - s.pad + kz, iy = oy * s.stride - s.pad + ky,
                            ix = ox * s.stride - s.pad + kx;
                    if (!in_bounds(s, iz, iy, ix)) continue;
                    acc += x[x_index(s, n, (o / og) * cg + ci, iz, iy, ix)] * w[w_index(s, o, ci, kz, ky, kx)];
                  }
            y[y_index(s, n, o, oz, oy, ox)] = static_cast<float>(acc);
          }
}

void conv3d_backward_data(const Conv3dShape& s, const float* dy, const float* w, float* dx) {
  int64_t cg = s.c / s.groups, og = s.o / s.groups;
  for (int64_t i = 0; i < s.n * s.c * s.d * s.h * s.w; ++i) dx[i] = 0;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.o; ++o)
      for (int64_t oz = 0; oz < s.od(); ++oz)
        for (int64_t oy = 0; oy < s.oh(); ++oy)
          for (int64_t ox = 0; ox < s.ow(); ++ox) {
            float g = dy[y_index(s, n, o, oz, oy, ox)];
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t kz = 0; kz < s.kd; ++kz)
                for (int64_t ky = 0; ky < s.kh; ++ky)
                  for (int64_t kx = 0; kx < s.kw; ++kx) {
                    int64_t iz = oz * s.stride - s.pad + kz, iy = oy * s.stride - s.pad + ky,
                            ix = ox * s.stride - s.pad + kx;
                    if (!in_bounds(s, iz, iy, ix)) continue;
                    dx[x_index(s, n, (o / og) * cg + ci, iz, iy, ix)] += g * w[w_index(s, o, ci, kz, ky, kx)];
                  }
          }
}

void conv3d_backward_weights(const Conv3dShape& s, const float* x, const float* dy, float* dw, float* db) {
  int64_t cg = s.c / s.groups, og = s.o / s.groups;
  for (int64_t i = 0; i < s.o * cg * s.kd * s.kh * s.kw; ++i) dw[i] = 0;
  if (db)
    for (int64_t o = 0; o < s.o; ++o) db[o] = 0;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.o; ++o)
      for (int64_t oz = 0; oz < s.od(); ++oz)
        for (int64_t oy = 0; oy < s.oh(); ++oy)
          for (int64_t ox = 0; ox < s.ow(); ++ox) {
            float g = dy[y_index(s, n, o, oz, oy, ox)];
            if (db) db[o] += g;
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t kz = 0; kz < s.kd; ++kz)
                for (int64_t ky = 0; ky < s.kh; ++ky)
                  for (int64_t kx = 0; kx < s.kw; ++kx) {
                    int64_t iz = oz * s.stride - s.pad + kz, iy = oy * s.stride - s.pad + ky,
                            ix = ox * s.stride - s.pad + kx;
                    if (!in_bounds(s, iz, iy, ix)) continue;
                    dw[w_index(s, o, ci, kz, ky, kx)] += g * x[x_index(s, n, (o / og) * cg + ci, iz, iy, ix)];
                  }
          }
}

}  // namespace frugal::kernels::ref
