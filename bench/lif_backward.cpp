// The fused LIF backward (BPTT) kernel at the two spiking layers of examples/fmnist_scnn.toml:
// T = 25 steps of batch 128 x 12x12x12 (after conv1) and 128 x 64x4x4 (after conv2), beta 0.5,
// fast-sigmoid surrogate, gradient reaching the spikes only (as in training).
// Run: build/release/bench_lif_backward; set threads with OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include <vector>

#include "frugal/core/rng.h"
#include "frugal/kernels/lif.h"

using namespace frugal;

namespace {

// Args: {elements per step, 0 reference / 1 AVX2}.
void BM_lif_backward(benchmark::State& state) {
  const int64_t steps = 25, n = state.range(0);
  Rng rng(1);
  std::vector<float> mem(static_cast<size_t>(steps * n)), ds(mem.size()), dsrc(mem.size());
  for (float& v : mem) v = rng.uniform(-0.5f, 1.5f);
  for (float& v : ds) v = rng.uniform(-1.0f, 1.0f);
  std::vector<float> beta(static_cast<size_t>(n), 0.5f), thr(static_cast<size_t>(n), 1.0f);
  kernels::LifArgs a;
  a.steps = steps;
  a.n = n;
  a.beta = beta.data();
  a.threshold = thr.data();
  a.surrogate.kind = snn::SurrogateKind::fast_sigmoid;
  a.surrogate.param = 25.0f;
  kernels::LifGrads g;
  g.diff_src = dsrc.data();
  for (auto _ : state) {
    if (state.range(1)) kernels::lif_backward_avx2(a, mem.data(), ds.data(), nullptr, g);
    else kernels::lif_backward_ref(a, mem.data(), ds.data(), nullptr, g);
  }
}

}  // namespace

BENCHMARK(BM_lif_backward)->ArgsProduct({{128 * 1728, 128 * 1024}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
