// One training step (zero grads, forward, cross-entropy, backward, Adam step, and for sparse runs
// the re-selection of both masked weight copies) with N:M BDWP sparsity against the same dense
// step: the MLP 784-2048-2048-10 at batch 256 and the reference CNN of examples/fmnist_cnn.toml at
// batch 128. Arguments: model (0 MLP, 1 CNN), sparse (0 dense, 1 BDWP), N, M, threads. Sparse
// layers are scheduled (kernel chosen per layer) before timing, as the trainer does.
#include <benchmark/benchmark.h>

#include "frugal/autograd/ops.h"
#include "frugal/core/parallel.h"
#include "frugal/core/rng.h"
#include "frugal/nn/builder.h"
#include "frugal/sparse/nm_layers.h"
#include "frugal/train/optimizer.h"

using namespace frugal;

namespace {

nn::Json mlp_spec() {
  return nn::Json::array({{{"type", "flatten"}},
                          {{"type", "linear"}, {"in", 784}, {"out", 2048}},
                          {{"type", "relu"}},
                          {{"type", "linear"}, {"in", 2048}, {"out", 2048}},
                          {{"type", "relu"}},
                          {{"type", "linear"}, {"in", 2048}, {"out", 10}}});
}

nn::Json cnn_spec() {
  return nn::Json::array({{{"type", "conv2d"}, {"in", 1}, {"out", 32}, {"kernel", 3}, {"pad", 1}},
                          {{"type", "relu"}},
                          {{"type", "maxpool2d"}, {"kernel", 2}},
                          {{"type", "conv2d"}, {"in", 32}, {"out", 64}, {"kernel", 3}, {"pad", 1}},
                          {{"type", "relu"}},
                          {{"type", "maxpool2d"}, {"kernel", 2}},
                          {{"type", "flatten"}},
                          {{"type", "linear"}, {"in", 3136}, {"out", 128}},
                          {{"type", "relu"}},
                          {{"type", "linear"}, {"in", 128}, {"out", 10}}});
}

void BM_train_step(benchmark::State& state) {
  bool cnn = state.range(0) == 1, sparse_run = state.range(1) == 1;
  sparse::NMConfig nm;
  nm.pattern = {static_cast<int>(state.range(2)), static_cast<int>(state.range(3))};
  set_num_threads(static_cast<int>(state.range(4)));
  int64_t batch = cnn ? 128 : 256;
  Rng rng(42);
  nn::ModulePtr model = nn::build_sequential(cnn ? cnn_spec() : mlp_spec(), rng);
  Tensor x = Tensor::empty({batch, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform(0.0f, 1.0f);
  std::vector<int> labels(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) labels[static_cast<size_t>(i)] = static_cast<int>(i % 10);
  std::string kernels;
  if (sparse_run) {
    sparse::sparsify(*model, nm);
    for (const std::string& line : sparse::schedule(*model, x.shape())) {
      size_t arrow = line.rfind("-> ");
      kernels += (arrow == std::string::npos ? std::string("masked_dense") : line.substr(arrow + 3)) + " ";
    }
    sparse::prepare_all(*model);
  }
  train::OptimizerConfig oc;
  oc.type = "adam";
  oc.lr = 1e-4;
  train::Optimizer opt(model->parameters(), oc);
  for (auto _ : state) {
    opt.zero_grad();
    autograd::Var loss = autograd::softmax_cross_entropy(model->forward(autograd::Var(x)), labels);
    autograd::backward(loss);
    opt.step(oc.lr);
    if (sparse_run) sparse::prepare_all(*model);
  }
  state.SetLabel(std::string(cnn ? "cnn" : "mlp") + (sparse_run ? " bdwp " + nm.pattern.str() + " " + kernels : " dense"));
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  set_num_threads(0);
}

// Only the per-step re-selection of both copies of every sparse layer (part of BM_train_step).
void BM_prepare_all(benchmark::State& state) {
  bool cnn = state.range(0) == 1;
  sparse::NMConfig nm;
  nm.pattern = {static_cast<int>(state.range(2)), static_cast<int>(state.range(3))};
  set_num_threads(static_cast<int>(state.range(4)));
  Rng rng(42);
  nn::ModulePtr model = nn::build_sequential(cnn ? cnn_spec() : mlp_spec(), rng);
  sparse::sparsify(*model, nm);
  for (auto _ : state) sparse::prepare_all(*model);
  state.SetLabel(std::string(cnn ? "cnn " : "mlp ") + nm.pattern.str());
  set_num_threads(0);
}

void step_args(benchmark::internal::Benchmark* b) {
  for (int model = 0; model < 2; ++model)
    for (int threads = 1; threads <= 2; ++threads) {
      b->Args({model, 0, 2, 8, threads});
      b->Args({model, 1, 2, 8, threads});
    }
}

}  // namespace

BENCHMARK(BM_train_step)->Apply(step_args)->ArgNames({"cnn", "sparse", "n", "m", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_prepare_all)->Args({0, 1, 2, 8, 1})->Args({1, 1, 2, 8, 1})->ArgNames({"cnn", "sparse", "n", "m", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
