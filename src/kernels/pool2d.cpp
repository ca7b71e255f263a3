#include "frugal/kernels/pool2d.h"

#include <limits>

namespace frugal::kernels {

namespace {
// The 2x2, stride-2 window of most CNNs, without bounds checks and with selects instead of
// branches (which mispredict half the time on real activations). Like the general loop, a NaN
// wins its window.
void max_pool_2x2(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  int64_t oh = s.oh(), ow = s.ow();
#pragma omp parallel for
  for (int64_t p = 0; p < s.planes; ++p) {
    const float* xp = x + p * s.h * s.w;
    float* yp = y + p * oh * ow;
    int32_t* ap = argmax ? argmax + p * oh * ow : nullptr;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const float* r0 = xp + 2 * oy * s.w;
      const float* r1 = r0 + s.w;
      int32_t base = static_cast<int32_t>(2 * oy * s.w);
      int32_t w = static_cast<int32_t>(s.w);
      for (int64_t ox = 0; ox < ow; ++ox) {
        int32_t i = base + static_cast<int32_t>(2 * ox);
        float best = r0[2 * ox];
        int32_t bi = i;
        float v = r0[2 * ox + 1];
        bool take = !(v <= best);
        best = take ? v : best;
        bi = take ? i + 1 : bi;
        v = r1[2 * ox];
        take = !(v <= best);
        best = take ? v : best;
        bi = take ? i + w : bi;
        v = r1[2 * ox + 1];
        take = !(v <= best);
        best = take ? v : best;
        bi = take ? i + w + 1 : bi;
        yp[oy * ow + ox] = best;
        if (ap) ap[oy * ow + ox] = bi;
      }
    }
  }
}
}  // namespace

void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  if (s.kernel == 2 && s.stride == 2 && s.pad == 0) return max_pool_2x2(s, x, y, argmax);
  int64_t oh = s.oh(), ow = s.ow();
#pragma omp parallel for
  for (int64_t p = 0; p < s.planes; ++p) {
    const float* xp = x + p * s.h * s.w;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        float best = -std::numeric_limits<float>::infinity();
        int32_t best_i = -1;
        for (int64_t ky = 0; ky < s.kernel; ++ky) {
          int64_t iy = oy * s.stride - s.pad + ky;
          if (iy < 0 || iy >= s.h) continue;
          for (int64_t kx = 0; kx < s.kernel; ++kx) {
            int64_t ix = ox * s.stride - s.pad + kx;
            if (ix < 0 || ix >= s.w) continue;
            float v = xp[iy * s.w + ix];
            // NaN propagates, like PyTorch: a NaN input wins the window.
            if (v > best || best_i < 0 || v != v) {
              best = v;
              best_i = static_cast<int32_t>(iy * s.w + ix);
              if (v != v) break;
            }
          }
        }
        int64_t o = (p * oh + oy) * ow + ox;
        y[o] = best;
        if (argmax) argmax[o] = best_i;
      }
  }
}

void max_pool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx) {
  int64_t oh = s.oh(), ow = s.ow();
#pragma omp parallel for
  for (int64_t p = 0; p < s.planes; ++p) {
    float* dxp = dx + p * s.h * s.w;
    for (int64_t i = 0; i < s.h * s.w; ++i) dxp[i] = 0;
    for (int64_t i = 0; i < oh * ow; ++i) {
      int32_t a = argmax[p * oh * ow + i];
      if (a >= 0) dxp[a] += dy[p * oh * ow + i];
    }
  }
}

void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  int64_t oh = s.oh(), ow = s.ow();
  float inv = 1.0f / static_cast<float>(s.kernel * s.kernel);
#pragma omp parallel for
  for (int64_t p = 0; p < s.planes; ++p) {
    const float* xp = x + p * s.h * s.w;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        float acc = 0;
        for (int64_t ky = 0; ky < s.kernel; ++ky) {
          int64_t iy = oy * s.stride - s.pad + ky;
          if (iy < 0 || iy >= s.h) continue;
          for (int64_t kx = 0; kx < s.kernel; ++kx) {
            int64_t ix = ox * s.stride - s.pad + kx;
            if (ix >= 0 && ix < s.w) acc += xp[iy * s.w + ix];
          }
        }
        y[(p * oh + oy) * ow + ox] = acc * inv;
      }
  }
}

void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  int64_t oh = s.oh(), ow = s.ow();
  float inv = 1.0f / static_cast<float>(s.kernel * s.kernel);
#pragma omp parallel for
  for (int64_t p = 0; p < s.planes; ++p) {
    float* dxp = dx + p * s.h * s.w;
    for (int64_t i = 0; i < s.h * s.w; ++i) dxp[i] = 0;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        float g = dy[(p * oh + oy) * ow + ox] * inv;
        for (int64_t ky = 0; ky < s.kernel; ++ky) {
          int64_t iy = oy * s.stride - s.pad + ky;
          if (iy < 0 || iy >= s.h) continue;
          for (int64_t kx = 0; kx < s.kernel; ++kx) {
            int64_t ix = ox * s.stride - s.pad + kx;
            if (ix >= 0 && ix < s.w) dxp[iy * s.w + ix] += g;
          }
        }
      }
  }
}

}  // namespace frugal::kernels
