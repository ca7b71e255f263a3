// The event-driven conv2d backward in plain loops (kernels/event_backward.h), for any shape. A
// header so the same loops compile twice: as the reference (src/kernels/event_conv_backward.cpp)
// and vectorized by the compiler for AVX2 (src/kernels/x86/event_conv_backward_avx2.cpp).
#pragma once
#include <omp.h>

#include <cstddef>

#include "event_backward_parts.h"
#include "frugal/kernels/conv2d.h"

namespace frugal::kernels::event_loops {

// Internal linkage: each including file gets its own copy, built with its own instruction set.
namespace {

inline void backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, oh = s.oh(), ow = s.ow();
  const int64_t size = s.c * s.kh * s.kw * og;
  const int threads = omp_get_max_threads();
  Buffer<float> parts(threads * size);
#pragma omp parallel
  {
    float* acc = parts.data() + omp_get_thread_num() * size;
    // One sample's dy channel-last, so an event adds one contiguous run of output channels.
    Buffer<float> dyt(oh * ow * s.o);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t o = 0; o < s.o; ++o)
        for (int64_t p = 0; p < oh * ow; ++p) dyt[p * s.o + o] = dy[(n * s.o + o) * oh * ow + p];
      for (int64_t c = 0; c < s.c; ++c) {
        const int64_t g = c / cg;
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
                const float* src = dyt.data() + (oy * ow + tx / s.stride) * s.o + g * og;
                float* dst = acc + ((c * s.kh + ky) * s.kw + kx) * og;
                for (int64_t o = 0; o < og; ++o) dst[o] += v * src[o];
              }
            }
          }
      }
    }
  }
  event_parts::finish_weights(s, parts.data(), threads, dw);
  if (db) event_parts::bias_grad(s, dy, db);
}

inline void backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, oh = s.oh(), ow = s.ow();
  const int64_t hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
  // Weights as [O][KH][KW][C/groups]: one event adds one contiguous run of input channels.
  Buffer<float> wt(s.o * s.kh * s.kw * cg);
  for (int64_t o = 0; o < s.o; ++o)
    for (int64_t ci = 0; ci < cg; ++ci)
      for (int64_t k = 0; k < s.kh * s.kw; ++k)
        wt[(o * s.kh * s.kw + k) * cg + ci] = w[(o * cg + ci) * s.kh * s.kw + k];
#pragma omp parallel
  {
    // One sample's dx channel-last on the padded canvas, so no event needs a bounds check.
    Buffer<float> canvas(hp * wp * s.c);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t i = 0; i < hp * wp * s.c; ++i) canvas[i] = 0.0f;
      for (int64_t o = 0; o < s.o; ++o) {
        const int64_t g = o / og;
        const float* d = dy + (n * s.o + o) * oh * ow;
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            const float v = d[oy * ow + ox];
            if (v == 0.0f) continue;
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const float* src = wt.data() + ((o * s.kh + ky) * s.kw + kx) * cg;
                float* dst = canvas.data() + ((oy * s.stride + ky) * wp + ox * s.stride + kx) * s.c + g * cg;
                for (int64_t ci = 0; ci < cg; ++ci) dst[ci] += v * src[ci];
              }
          }
      }
      float* dxn = dx + n * s.c * s.h * s.w;
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t iy = 0; iy < s.h; ++iy)
          for (int64_t ix = 0; ix < s.w; ++ix)
            dxn[(c * s.h + iy) * s.w + ix] = canvas[((iy + s.pad) * wp + ix + s.pad) * s.c + c];
    }
  }
}

}  // namespace

}  // namespace frugal::kernels::event_loops
