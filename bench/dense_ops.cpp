// Dense kernels at the reference CNN's shapes (batch 128, Fashion-MNIST): conv2d forward,
// backward-data and backward-weights, the linear layer's GEMMs, and max pooling, each through the
// fast path (oneDNN) and, for the GEMM and conv forward, the plain-loop reference for scale.
// Run: build/release/bench_dense_ops [--benchmark_filter=conv]; set threads with OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/kernels/gemm.h"
#include "frugal/kernels/pool2d.h"

using namespace frugal;

namespace {
Tensor random_tensor(const Shape& s) {
  Rng rng(1);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

kernels::Conv2dShape conv_shape(int64_t c, int64_t hw, int64_t o) {
  kernels::Conv2dShape s;
  s.n = 128;
  s.c = c;
  s.h = s.w = hw;
  s.o = o;
  s.kh = s.kw = 3;
  s.pad = 1;
  return s;
}

// Args: {in channels, spatial size, out channels}: the CNN's conv1 (1, 28, 32) and conv2 (32, 14, 64).
void BM_conv_forward(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape(state.range(0), state.range(1), state.range(2));
  Tensor x = random_tensor({s.n, s.c, s.h, s.w}), w = random_tensor({s.o, s.c, 3, 3}), b = random_tensor({s.o});
  Tensor y = Tensor::empty({s.n, s.o, s.oh(), s.ow()});
  for (auto _ : state) kernels::onednn::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * s.n * s.o * s.c * 9 * s.oh() * s.ow(),
                                                 benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_conv_forward)->Args({1, 28, 32})->Args({32, 14, 64})->Unit(benchmark::kMillisecond);

void BM_conv_backward_data(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape(state.range(0), state.range(1), state.range(2));
  Tensor dy = random_tensor({s.n, s.o, s.oh(), s.ow()}), w = random_tensor({s.o, s.c, 3, 3});
  Tensor dx = Tensor::empty({s.n, s.c, s.h, s.w});
  for (auto _ : state) kernels::onednn::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
}
BENCHMARK(BM_conv_backward_data)->Args({32, 14, 64})->Unit(benchmark::kMillisecond);

void BM_conv_backward_weights(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape(state.range(0), state.range(1), state.range(2));
  Tensor x = random_tensor({s.n, s.c, s.h, s.w}), dy = random_tensor({s.n, s.o, s.oh(), s.ow()});
  Tensor dw = Tensor::empty({s.o, s.c, 3, 3}), db = Tensor::empty({s.o});
  for (auto _ : state) kernels::onednn::conv2d_backward_weights(s, x.data(), dy.data(), dw.data(), db.data());
}
BENCHMARK(BM_conv_backward_weights)->Args({1, 28, 32})->Args({32, 14, 64})->Unit(benchmark::kMillisecond);

void BM_conv_forward_reference(benchmark::State& state) {
  kernels::Conv2dShape s = conv_shape(32, 14, 64);
  s.n = 8;
  Tensor x = random_tensor({s.n, s.c, s.h, s.w}), w = random_tensor({s.o, s.c, 3, 3}), b = random_tensor({s.o});
  Tensor y = Tensor::empty({s.n, s.o, s.oh(), s.ow()});
  for (auto _ : state) kernels::ref::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
}
BENCHMARK(BM_conv_forward_reference)->Unit(benchmark::kMillisecond);

// The CNN's linear layer 3136 -> 128 at batch 128: forward Y = X·Wᵀ.
void BM_gemm_linear(benchmark::State& state) {
  int64_t m = 128, n = 128, k = 3136;
  Tensor a = random_tensor({m, k}), b = random_tensor({n, k}), c = Tensor::empty({m, n});
  kernels::GemmArgs g;
  g.trans_b = true;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a.data();
  g.lda = k;
  g.b = b.data();
  g.ldb = k;
  g.c = c.data();
  g.ldc = n;
  for (auto _ : state) {
    if (state.range(0))
      kernels::onednn::gemm(g);
    else
      kernels::ref::gemm(g);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_gemm_linear)->Arg(1)->Arg(0)->ArgName("fast")->Unit(benchmark::kMillisecond);

void BM_max_pool_2x2(benchmark::State& state) {
  kernels::Pool2dShape s;
  s.planes = 128 * 32;
  s.h = s.w = 28;
  Tensor x = random_tensor({s.planes, 28, 28}), y = Tensor::empty({s.planes, 14, 14}),
         idx = Tensor::empty({s.planes, 14, 14});
  for (auto _ : state) kernels::max_pool2d_forward(s, x.data(), y.data(), reinterpret_cast<int32_t*>(idx.data()));
}
BENCHMARK(BM_max_pool_2x2)->Unit(benchmark::kMillisecond);
}  // namespace

BENCHMARK_MAIN();
