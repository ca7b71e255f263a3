// Event-driven linear and conv2d forward (event.h): the automatic dense/events choice and the run-time
// choice of the conv kernel variant.
#include <cstddef>
#include <vector>

#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/core/tensor.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/pool2d.h"

namespace frugal::kernels {

namespace {
EventMode g_mode = EventMode::automatic;
}

EventMode event_mode() { return g_mode; }
void set_event_mode(EventMode mode) { g_mode = mode; }

// bench/event_driven.cpp, 1 thread (docs/snn.md): events beat oneDNN below 5% density on linear
// 1024->512 and below about 85% on conv 12->64 5x5 (at 70% they take 0.9x oneDNN's time, 0.8x
// fused with the max-pool), so conv switches at 70%.
double event_density_threshold(EventOp op) { return op == EventOp::conv2d ? 0.70 : 0.05; }

double nonzero_fraction(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  int64_t nz = 0;
#pragma omp parallel for reduction(+ : nz) schedule(static)
  for (int64_t i = 0; i < n; ++i) nz += x[i] != 0.0f;
  return static_cast<double>(nz) / static_cast<double>(n);
}

double spike_fraction(const float* x, int64_t n) {
  int64_t first = 0;
  while (first < n && x[first] == 0.0f) ++first;
  if (first == n) return 0.0;
  const float spike = x[first];
  int64_t nz = 0, other = 0;
#pragma omp parallel for reduction(+ : nz, other) schedule(static)
  for (int64_t i = first; i < n; ++i) {
    nz += x[i] != 0.0f;
    other += x[i] != 0.0f && x[i] != spike;
  }
  return other > 0 ? 1.0 : static_cast<double>(nz) / static_cast<double>(n);
}

bool use_events(EventOp op, const float* x, int64_t n) {
  switch (g_mode) {
    case EventMode::dense: return false;
    case EventMode::events: return true;
    case EventMode::automatic: return spike_fraction(x, n) <= event_density_threshold(op);
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

bool event_conv2d_runs(EventConvVariant v) {
#if defined(__x86_64__)
  switch (v) {
    case EventConvVariant::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    case EventConvVariant::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case EventConvVariant::ref: return true;
  }
#endif
  return v == EventConvVariant::ref;
}

EventConvVariant event_conv2d_variant() {
  static const EventConvVariant v = event_conv2d_runs(EventConvVariant::avx512) ? EventConvVariant::avx512
                                    : event_conv2d_runs(EventConvVariant::avx2) ? EventConvVariant::avx2
                                                                                : EventConvVariant::ref;
  return v;
}

int64_t event_conv2d_workspace_floats(const Conv2dShape& s, int64_t opad) {
  // Bit rows, row windows and receptive fields (uint64 each), then the channel-last accumulator.
  const int64_t words = (s.w + 2 * s.pad + 63) / 64;
  const int64_t bit_words = s.c * s.h * words + s.c * s.h * s.ow() + s.c * s.oh() * s.ow();
  const int64_t bit_floats = (bit_words * 2 + 15) / 16 * 16;
  const int64_t acc_floats = (s.oh() * s.ow() * s.groups * opad + 15) / 16 * 16;
  return bit_floats + acc_floats;
}

namespace {
// pool is 1 (none) or 2 (2x2 max, stride 2).
void event_conv2d(EventConvVariant v, const Conv2dShape& s, const float* x, const float* w, const float* b,
                  int64_t pool, float* y) {
  require(event_conv2d_runs(v), "event_conv2d_forward: this CPU cannot run the requested variant");
  // The fast variants' receptive-field masks hold one input channel's taps in 64 bits.
  if (v == EventConvVariant::ref || s.kh * s.kw > 64) {
    if (pool == 1) return ref::event_conv2d_forward(s, x, w, b, y);
    Tensor full = Tensor::empty({s.n, s.o, s.oh(), s.ow()});
    ref::event_conv2d_forward(s, x, w, b, full.data());
    Pool2dShape ps;
    ps.planes = s.n * s.o;
    ps.h = s.oh();
    ps.w = s.ow();
    ps.kernel = ps.stride = 2;
    return max_pool2d_forward(ps, full.data(), y, nullptr);
  }
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, per = s.kh * s.kw, opad = (og + 15) / 16 * 16;
  Tensor wt = Tensor::zeros({s.c * per * opad});
  Tensor bias = Tensor::zeros({s.groups * opad});
  for (int64_t o = 0; o < s.o; ++o) {
    const int64_t g = o / og, oo = o % og;
    for (int64_t ci = 0; ci < cg; ++ci)
      for (int64_t k = 0; k < per; ++k) wt[((g * cg + ci) * per + k) * opad + oo] = w[(o * cg + ci) * per + k];
    if (b) bias[g * opad + oo] = b[o];
  }
  EventConvWeights ew;
  ew.wt = wt.data();
  ew.bias = bias.data();
  ew.opad = opad;
  ew.pool = pool;
  Tensor workspace = Tensor::empty({num_threads() * event_conv2d_workspace_floats(s, opad)});
  if (v == EventConvVariant::avx512) event_conv2d_avx512(s, ew, x, y, workspace.data());
  else event_conv2d_avx2(s, ew, x, y, workspace.data());
}

EventConvVariant current_variant() {
  return backend() == Backend::reference ? EventConvVariant::ref : event_conv2d_variant();
}
}  // namespace

void event_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y) {
  event_conv2d(current_variant(), s, x, w, b, 1, y);
}

void event_conv2d_forward(EventConvVariant v, const Conv2dShape& s, const float* x, const float* w, const float* b,
                          float* y) {
  event_conv2d(v, s, x, w, b, 1, y);
}

void event_conv2d_max_pool2_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y) {
  event_conv2d(current_variant(), s, x, w, b, 2, y);
}

void event_conv2d_max_pool2_forward(EventConvVariant v, const Conv2dShape& s, const float* x, const float* w,
                                    const float* b, float* y) {
  event_conv2d(v, s, x, w, b, 2, y);
}

}  // namespace frugal::kernels
