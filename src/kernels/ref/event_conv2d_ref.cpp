// The plain-loop event-driven conv2d forward (event.h): the oracle of the fast variants and the
// path of the reference backend.
#include <cstddef>
#include <vector>

#include "frugal/kernels/event.h"

namespace frugal::kernels::ref {

void event_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, oh = s.oh(), ow = s.ow();
  // Weights as [c/groups, kh, kw, o] and the output as [oh, ow, o] per sample, so an event's
  // contribution to all output channels of one position is a contiguous vector.
  std::vector<float> wt(static_cast<size_t>(cg * s.kh * s.kw * s.o));
  for (int64_t o = 0; o < s.o; ++o)
    for (int64_t ci = 0; ci < cg; ++ci)
      for (int64_t k = 0; k < s.kh * s.kw; ++k) wt[(ci * s.kh * s.kw + k) * s.o + o] = w[(o * cg + ci) * s.kh * s.kw + k];
#pragma omp parallel
  {
    std::vector<float> acc(static_cast<size_t>(oh * ow * s.o));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t p = 0; p < oh * ow; ++p)
        for (int64_t o = 0; o < s.o; ++o) acc[p * s.o + o] = b ? b[o] : 0.0f;
      // Inputs visited in (c, iy, ix) order reach each output in the reference's (ci, ky, kx) order.
      for (int64_t c = 0; c < s.c; ++c) {
        const int64_t g = c / cg, ci = c % cg;
        const float* xc = x + (n * s.c + c) * s.h * s.w;
        for (int64_t iy = 0; iy < s.h; ++iy)
          for (int64_t ix = 0; ix < s.w; ++ix) {
            const float v = xc[iy * s.w + ix];
            if (v == 0.0f) continue;
            for (int64_t ky = 0; ky < s.kh; ++ky) {
              const int64_t ty = iy + s.pad - ky;
              if (ty < 0 || ty % s.stride != 0 || ty / s.stride >= oh) continue;
              const int64_t oy = ty / s.stride;
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t tx = ix + s.pad - kx;
                if (tx < 0 || tx % s.stride != 0 || tx / s.stride >= ow) continue;
                const int64_t ox = tx / s.stride;
                const float* wk = wt.data() + ((ci * s.kh + ky) * s.kw + kx) * s.o + g * og;
                float* dst = acc.data() + (oy * ow + ox) * s.o + g * og;
                for (int64_t o = 0; o < og; ++o) dst[o] += v * wk[o];
              }
            }
          }
      }
      float* yn = y + n * s.o * oh * ow;
      for (int64_t o = 0; o < s.o; ++o)
        for (int64_t p = 0; p < oh * ow; ++p) yn[o * oh * ow + p] = acc[p * s.o + o];
    }
  }
}

}  // namespace frugal::kernels::ref
