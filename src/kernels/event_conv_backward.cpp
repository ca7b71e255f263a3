// Event-driven conv2d backward: plain loops for any shape, the run-time choice of kernel, and the
// density crossovers (kernels/event_backward.h).
#include <omp.h>

#include <cstddef>
#include <vector>

#include "event_backward_parts.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/event_backward.h"

namespace frugal::kernels {

// bench/event_backward.cpp on conv 12->64 5x5 12x12 (examples/fmnist_scnn.toml), 1 thread:
// events beat oneDNN up to ~60 % spikes in x (weights) and ~55 % nonzeros in dy (data),
// docs/snn.md; the thresholds keep a margin below both.
double event_backward_weights_threshold() { return 0.5; }
double event_backward_data_threshold() { return 0.5; }

bool use_backward_events(const float* v, int64_t n, double threshold) {
  switch (event_mode()) {
    case EventMode::dense: return false;
    case EventMode::events: return true;
    case EventMode::automatic: return nonzero_fraction(v, n) <= threshold;
  }
  return false;
}

bool cpu_has_avx512f() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}

void event_conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  if (cpu_has_avx512f() && event_conv2d_backward_weights_avx512_fits(s))
    return event_conv2d_backward_weights_avx512(s, x, dy, dw, db);
  event_conv2d_backward_weights_ref(s, x, dy, dw, db);
}

void event_conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  if (cpu_has_avx512f() && event_conv2d_backward_data_avx512_fits(s))
    return event_conv2d_backward_data_avx512(s, dy, w, dx);
  event_conv2d_backward_data_ref(s, dy, w, dx);
}

void event_conv2d_backward(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx,
                           float* dw, float* db) {
  const bool fast = cpu_has_avx512f() && (!dx || event_conv2d_backward_data_avx512_fits(s)) &&
                    (!dw || event_conv2d_backward_weights_avx512_fits(s));
  if (fast) return event_conv2d_backward_avx512(s, x, dy, w, dx, dw, db);
  if (dx) event_conv2d_backward_data(s, dy, w, dx);
  if (dw) event_conv2d_backward_weights(s, x, dy, dw, db);
}

namespace event_parts {

void finish_weights(const Conv2dShape& s, const std::vector<float>& parts, int threads, float* dw) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, k = s.kh * s.kw, size = s.c * k * og;
  std::vector<float> sum(parts.begin(), parts.begin() + size);
  for (int t = 1; t < threads; ++t)
    for (int64_t i = 0; i < size; ++i) sum[i] += parts[t * size + i];
  for (int64_t c = 0; c < s.c; ++c) {
    const int64_t g = c / cg, ci = c % cg;
    for (int64_t j = 0; j < k; ++j)
      for (int64_t oo = 0; oo < og; ++oo) dw[((g * og + oo) * cg + ci) * k + j] = sum[(c * k + j) * og + oo];
  }
}

void bias_grad(const Conv2dShape& s, const float* dy, float* db) {
  const int64_t plane = s.oh() * s.ow();
  std::vector<double> acc(static_cast<size_t>(s.o), 0.0);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.o; ++o) {
      const float* d = dy + (n * s.o + o) * plane;
      float part = 0.0f;
      for (int64_t p = 0; p < plane; ++p) part += d[p];
      acc[o] += part;
    }
  for (int64_t o = 0; o < s.o; ++o) db[o] = static_cast<float>(acc[o]);
}

}  // namespace event_parts

void event_conv2d_backward_weights_ref(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, oh = s.oh(), ow = s.ow();
  const int64_t size = s.c * s.kh * s.kw * og;
  const int threads = omp_get_max_threads();
  std::vector<float> parts(static_cast<size_t>(threads * size), 0.0f);
#pragma omp parallel
  {
    float* acc = parts.data() + omp_get_thread_num() * size;
    // One sample's dy channel-last, so an event adds one contiguous run of output channels.
    std::vector<float> dyt(static_cast<size_t>(oh * ow * s.o));
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
  event_parts::finish_weights(s, parts, threads, dw);
  if (db) event_parts::bias_grad(s, dy, db);
}

void event_conv2d_backward_data_ref(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, oh = s.oh(), ow = s.ow();
  const int64_t hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
  // Weights as [O][KH][KW][C/groups]: one event adds one contiguous run of input channels.
  std::vector<float> wt(static_cast<size_t>(s.o * s.kh * s.kw * cg));
  for (int64_t o = 0; o < s.o; ++o)
    for (int64_t ci = 0; ci < cg; ++ci)
      for (int64_t k = 0; k < s.kh * s.kw; ++k) wt[(o * s.kh * s.kw + k) * cg + ci] = w[(o * cg + ci) * s.kh * s.kw + k];
#pragma omp parallel
  {
    // One sample's dx channel-last on the padded canvas, so no event needs a bounds check.
    std::vector<float> canvas(static_cast<size_t>(hp * wp * s.c));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      for (float& v : canvas) v = 0.0f;
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

}  // namespace frugal::kernels
