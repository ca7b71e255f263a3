// Event-driven conv2d backward: plain loops for any shape, the run-time choice of kernel, and the
// density crossovers (kernels/event_backward.h).
#include <cstddef>
#include <vector>

#include "event_backward_loops.h"
#include "event_backward_parts.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/event_backward.h"
#include "frugal/kernels/lif.h"

namespace frugal::kernels {

// bench/event_backward.cpp on conv 12->64 5x5 12x12 (examples/fmnist_scnn.toml), 1 thread:
// the AVX-512 kernels beat oneDNN up to ~60 % spikes in x (weights) and ~55 % nonzeros in dy
// (data); the AVX2 loops up to ~20 % and ~10 % (docs/snn.md). The thresholds keep a margin.
double event_backward_weights_threshold(const Conv2dShape& s) {
  return cpu_has_avx512() && event_conv2d_backward_weights_avx512_fits(s) ? 0.5 : 0.15;
}

double event_backward_data_threshold(const Conv2dShape& s) {
  return cpu_has_avx512() && event_conv2d_backward_data_avx512_fits(s) ? 0.5 : 0.08;
}

namespace {
// The nonzero fraction of one 64-float run in every 8: the choice only needs the side of the
// threshold, and a full pass over a [T, N, 64, 8, 8] dy cost 2 % of a training step.
double sampled_nonzero_fraction(const float* v, int64_t n) {
  constexpr int64_t kRun = 64, kStride = 8 * kRun;
  if (n < kStride) return nonzero_fraction(v, n);
  int64_t nonzero = 0, seen = 0;
  for (int64_t i = 0; i + kRun <= n; i += kStride) {
    for (int64_t j = 0; j < kRun; ++j) nonzero += v[i + j] != 0.0f;
    seen += kRun;
  }
  return static_cast<double>(nonzero) / static_cast<double>(seen);
}
}  // namespace

bool use_backward_events(const float* v, int64_t n, double threshold) {
  switch (event_mode()) {
    case EventMode::dense: return false;
    case EventMode::events: return true;
    case EventMode::automatic: return sampled_nonzero_fraction(v, n) <= threshold;
  }
  return false;
}

bool cpu_has_avx512() {
  // The *_avx512.cpp files are built with F, BW, VL, DQ and FMA: the compiler may use any of them.
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("fma");
  return has;
}

void event_conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  if (cpu_has_avx512() && event_conv2d_backward_weights_avx512_fits(s))
    return event_conv2d_backward_weights_avx512(s, x, dy, dw, db);
  if (cpu_has_avx2()) return event_conv2d_backward_weights_avx2(s, x, dy, dw, db);
  event_conv2d_backward_weights_ref(s, x, dy, dw, db);
}

void event_conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  if (cpu_has_avx512() && event_conv2d_backward_data_avx512_fits(s))
    return event_conv2d_backward_data_avx512(s, dy, w, dx);
  if (cpu_has_avx2()) return event_conv2d_backward_data_avx2(s, dy, w, dx);
  event_conv2d_backward_data_ref(s, dy, w, dx);
}

void event_conv2d_backward(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx,
                           float* dw, float* db) {
  const bool fast = cpu_has_avx512() && (!dx || event_conv2d_backward_data_avx512_fits(s)) &&
                    (!dw || event_conv2d_backward_weights_avx512_fits(s));
  if (fast) return event_conv2d_backward_avx512(s, x, dy, w, dx, dw, db);
  if (dx) event_conv2d_backward_data(s, dy, w, dx);
  if (dw) event_conv2d_backward_weights(s, x, dy, dw, db);
}

namespace event_parts {

void finish_weights(const Conv2dShape& s, const float* parts, int threads, float* dw) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, k = s.kh * s.kw, size = s.c * k * og;
  std::vector<float> sum(parts, parts + size);
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
  event_loops::backward_weights(s, x, dy, dw, db);
}

void event_conv2d_backward_data_ref(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  event_loops::backward_data(s, dy, w, dx);
}

}  // namespace frugal::kernels
