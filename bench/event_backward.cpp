// Event-driven vs oneDNN conv2d backward at the second convolution of examples/fmnist_scnn.toml
// (conv 12->64 5x5 on 12x12 spike maps; 512 rows of its T·batch = 3200): backward-weights at
// spike densities of x, backward-data at nonzero densities of dy (25 % after its 2x2 max-pool).
// The crossovers set kernels::event_backward_weights_threshold() and
// event_backward_data_threshold() (docs/snn.md).
// Run: build/release/bench_event_backward; set threads with OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/kernels/event_backward.h"

using namespace frugal;

namespace {

// Values in [-1, 1) at the given density, zeros elsewhere; spikes (1.0) when binary.
Tensor sparse(const Shape& s, double density, bool binary, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const bool on = rng.uniform() < density;
    const float v = binary ? 1.0f : rng.uniform(-1.0f, 1.0f);
    t[i] = on ? v : 0.0f;
  }
  return t;
}

kernels::Conv2dShape conv_shape() {
  kernels::Conv2dShape s;
  s.n = 512;
  s.c = 12;
  s.h = s.w = 12;
  s.o = 64;
  s.kh = s.kw = 5;
  return s;
}

// Args: {density of x in percent, 0 oneDNN / 1 events (best kernel) / 2 the AVX2 loops}; dy at 25 %.
void BM_backward_weights(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape();
  Tensor x = sparse({s.n, s.c, s.h, s.w}, static_cast<double>(state.range(0)) / 100.0, true, 1);
  Tensor dy = sparse({s.n, s.o, s.oh(), s.ow()}, 0.25, false, 2);
  Tensor dw = Tensor::empty({s.o, s.c, s.kh, s.kw}), db = Tensor::empty({s.o});
  for (auto _ : state) {
    if (state.range(1) == 2)
      kernels::event_conv2d_backward_weights_avx2(s, x.data(), dy.data(), dw.data(), db.data());
    else if (state.range(1) == 1)
      kernels::event_conv2d_backward_weights(s, x.data(), dy.data(), dw.data(), db.data());
    else
      kernels::onednn::conv2d_backward_weights(s, x.data(), dy.data(), dw.data(), db.data());
  }
}

// Args: {density of dy in percent, 0 oneDNN / 1 events (best kernel) / 2 the AVX2 loops}.
void BM_backward_data(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape();
  Tensor dy = sparse({s.n, s.o, s.oh(), s.ow()}, static_cast<double>(state.range(0)) / 100.0, false, 2);
  Tensor w = sparse({s.o, s.c, s.kh, s.kw}, 1.0, false, 3);
  Tensor dx = Tensor::empty({s.n, s.c, s.h, s.w});
  for (auto _ : state) {
    if (state.range(1) == 2)
      kernels::event_conv2d_backward_data_avx2(s, dy.data(), w.data(), dx.data());
    else if (state.range(1) == 1)
      kernels::event_conv2d_backward_data(s, dy.data(), w.data(), dx.data());
    else
      kernels::onednn::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  }
}

}  // namespace

BENCHMARK(BM_backward_weights)->ArgsProduct({{5, 10, 20, 30, 50}, {0, 1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_backward_data)->ArgsProduct({{10, 25, 40, 60, 100}, {0, 1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
