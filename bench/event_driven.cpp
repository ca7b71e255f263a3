// Event-driven vs dense synaptic products at the spiking layers of examples/fmnist_scnn.toml
// (1024 rows of time steps x samples): conv 12->64 5x5 on 12x12 spike maps (alone and fused with
// the 2x2 max-pool that follows it) and linear 1024->10, plus a wider linear 1024->512, at input
// densities from 1 to 100 percent.
// The crossover densities set kernels::event_density_threshold(op) (docs/snn.md).
// Run: build/release/bench_event_driven; set threads with OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/gemm.h"
#include "frugal/kernels/pool2d.h"

using namespace frugal;

namespace {
constexpr int64_t kRows = 1024;

Tensor random_tensor(const Shape& s) {
  Rng rng(1);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

Tensor spikes(const Shape& s, double density) {
  Rng rng(2);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform() < density ? 1.0f : 0.0f;
  return t;
}

kernels::Conv2dShape conv_shape() {
  kernels::Conv2dShape s;
  s.n = kRows;
  s.c = 12;
  s.h = s.w = 12;
  s.o = 64;
  s.kh = s.kw = 5;
  return s;
}

// Args: {density in percent, 1 for events / 0 for oneDNN}.
void BM_conv(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape();
  Tensor x = spikes({s.n, s.c, s.h, s.w}, static_cast<double>(state.range(0)) / 100.0);
  Tensor w = random_tensor({s.o, s.c, 5, 5}), b = random_tensor({s.o});
  Tensor y = Tensor::empty({s.n, s.o, s.oh(), s.ow()});
  for (auto _ : state) {
    if (state.range(1))
      kernels::event_conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    else
      kernels::onednn::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
  }
}

// The inference pair conv + 2x2 max-pool. Args: {density in percent, 1 for the fused event kernel /
// 0 for oneDNN then the pooling kernel}.
void BM_conv_pool(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape();
  Tensor x = spikes({s.n, s.c, s.h, s.w}, static_cast<double>(state.range(0)) / 100.0);
  Tensor w = random_tensor({s.o, s.c, 5, 5}), b = random_tensor({s.o});
  Tensor y = Tensor::empty({s.n, s.o, s.oh(), s.ow()}), pooled = Tensor::empty({s.n, s.o, s.oh() / 2, s.ow() / 2});
  kernels::Pool2dShape ps;
  ps.planes = s.n * s.o;
  ps.h = s.oh();
  ps.w = s.ow();
  for (auto _ : state) {
    if (state.range(1)) {
      kernels::event_conv2d_max_pool2_forward(s, x.data(), w.data(), b.data(), pooled.data());
    } else {
      kernels::onednn::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
      kernels::max_pool2d_forward(ps, y.data(), pooled.data(), nullptr);
    }
  }
}

// Args: {density in percent, 1 for events / 0 for oneDNN, out features}.
void BM_linear(benchmark::State& state) {
  const int64_t in = 1024, out = state.range(2);
  Tensor x = spikes({kRows, in}, static_cast<double>(state.range(0)) / 100.0);
  Tensor w = random_tensor({out, in}), b = random_tensor({out});
  Tensor y = Tensor::empty({kRows, out});
  for (auto _ : state) {
    if (state.range(1)) {
      kernels::event_linear_forward(kRows, in, out, x.data(), w.data(), b.data(), y.data());
    } else {
      kernels::GemmArgs g;
      g.trans_b = true;
      g.m = kRows;
      g.n = out;
      g.k = in;
      g.a = x.data();
      g.lda = in;
      g.b = w.data();
      g.ldb = in;
      g.c = y.data();
      g.ldc = out;
      kernels::onednn::gemm(g);
    }
  }
}
}  // namespace

BENCHMARK(BM_conv)->ArgsProduct({{1, 5, 10, 20, 30, 50, 70, 100}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv_pool)->ArgsProduct({{10, 30, 50, 70}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_linear)->ArgsProduct({{1, 5, 10, 20, 50}, {0, 1}, {10, 512}})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
