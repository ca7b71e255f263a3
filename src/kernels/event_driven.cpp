#include <cstddef>
#include <vector>

#include "frugal/kernels/event.h"

namespace frugal::kernels {

namespace {
EventMode g_mode = EventMode::automatic;
}

EventMode event_mode() { return g_mode; }
void set_event_mode(EventMode mode) { g_mode = mode; }

// bench/event_driven.cpp, 1 thread: events beat oneDNN below about 6% density on conv 12->64 5x5
// and 5% on linear 1024->512 (docs/snn.md), so 5% is where the automatic choice switches.
double event_density_threshold() { return 0.05; }

double nonzero_fraction(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  int64_t nz = 0;
#pragma omp parallel for reduction(+ : nz) schedule(static)
  for (int64_t i = 0; i < n; ++i) nz += x[i] != 0.0f;
  return static_cast<double>(nz) / static_cast<double>(n);
}

bool use_events(const float* x, int64_t n) {
  switch (g_mode) {
    case EventMode::dense: return false;
    case EventMode::events: return true;
    case EventMode::automatic: return nonzero_fraction(x, n) <= event_density_threshold();
  }
  return false;
}

void event_linear_forward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w, const float* b,
                          float* y) {
  // Rows of wt are the weight columns, so one event adds a contiguous vector.
  std::vector<float> wt(static_cast<size_t>(in * out));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) wt[i * out + o] = w[o * in + i];
#pragma omp parallel
  {
    std::vector<double> acc(static_cast<size_t>(out));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < out; ++o) acc[o] = 0.0;
      const float* xr = x + r * in;
      for (int64_t i = 0; i < in; ++i) {
        if (xr[i] == 0.0f) continue;
        const double v = xr[i];
        const float* col = wt.data() + i * out;
        for (int64_t o = 0; o < out; ++o) acc[o] += v * col[o];
      }
      // ref::gemm's epilogue: alpha*acc + beta*c with c holding the bias (or beta = 0).
      for (int64_t o = 0; o < out; ++o)
        y[r * out + o] = static_cast<float>(acc[o] + (b ? static_cast<double>(b[o]) : 0.0));
    }
  }
}

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

}  // namespace frugal::kernels
