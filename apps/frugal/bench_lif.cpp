// `frugal bench lif [--sizes 512,4096] [--steps 500] [--batch 16] [--repeats 3] [--json]`: seconds
// for one forward and backward pass of Linear(n, n) + LIF over T steps (issue 3's microbenchmark;
// bench/peers/snn.py times the same in snnTorch). Input uniform in [0, 1), PyTorch's default
// Linear init, LIF beta 0.5 with fast_sigmoid slope 25, loss mean(S^2); the best of the repeats
// after one warm-up pass.
#include <chrono>
#include <cmath>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/core/rng.h"
#include "frugal/snn/neurons.h"

namespace frugal::cli {

namespace {

struct LifBenchRow {
  int64_t n = 0;
  double forward_s = 0, total_s = 0;
  double firing_rate = 0;
};

LifBenchRow bench_linear_lif(int64_t n, int64_t steps, int64_t batch, int repeats, uint64_t seed) {
  Rng rng(seed);
  const float bound = 1.0f / std::sqrt(static_cast<float>(n));
  Tensor w = Tensor::empty({n, n}), b = Tensor::empty({n}), x = Tensor::empty({steps, batch, n});
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.uniform(-bound, bound);
  for (int64_t i = 0; i < b.numel(); ++i) b[i] = rng.uniform(-bound, bound);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform(0.0f, 1.0f);
  autograd::Var weight(w, true), bias(b, true), input(x);
  autograd::Var beta(Tensor::full({1}, 0.5f)), threshold(Tensor::full({1}, 1.0f));
  snn::NeuronOptions opt;
  opt.surrogate = snn::make_surrogate("fast_sigmoid", 25.0f);
  const Tensor target = Tensor::zeros({steps, batch, n});
  LifBenchRow row;
  row.n = n;
  row.forward_s = row.total_s = INFINITY;
  using Clock = std::chrono::steady_clock;
  for (int r = 0; r <= repeats; ++r) {  // r == 0 warms up caches and oneDNN's primitive cache
    weight.zero_grad();
    bias.zero_grad();
    auto t0 = Clock::now();
    autograd::Var spikes = snn::lif(autograd::linear(input, weight, bias), beta, threshold, opt).spikes;
    autograd::Var loss = autograd::mse(spikes, target);
    auto t1 = Clock::now();
    autograd::backward(loss);
    auto t2 = Clock::now();
    if (r == 0) {
      double sum = 0;
      for (int64_t i = 0; i < spikes.value().numel(); ++i) sum += spikes.value()[i];
      row.firing_rate = sum / static_cast<double>(spikes.value().numel());
      continue;
    }
    row.forward_s = std::min(row.forward_s, std::chrono::duration<double>(t1 - t0).count());
    row.total_s = std::min(row.total_s, std::chrono::duration<double>(t2 - t0).count());
  }
  return row;
}

}  // namespace

void add_bench_lif(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::vector<int64_t> sizes = {512, 4096};
    int64_t steps = 500, batch = 16;
    int repeats = 3;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* group = command_group(app, "bench", "measure speed and memory");
  CLI::App* cmd = group->add_subcommand("lif", "Linear(n, n) + LIF over T steps: forward and backward seconds");
  cmd->add_option("--sizes", opt->sizes, "neuron counts n (default 512,4096)")->delimiter(',');
  cmd->add_option("--steps", opt->steps, "time steps T (default 500)")->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--batch", opt->batch, "batch size (default 16)")->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--repeats", opt->repeats, "timed passes after the warm-up; the best is reported (default 3)")
      ->check(CLI::Range(1, 1000));
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    Json rows = Json::array();
    for (int64_t n : opt->sizes) {
      require(n >= 1 && n <= 65536, "--sizes: expected neuron counts in 1..65536, got " + std::to_string(n));
      require(opt->steps * opt->batch * n <= (int64_t{1} << 31),
              "--sizes: T x batch x n = " + std::to_string(opt->steps * opt->batch * n) + " exceeds 2^31 elements");
      LifBenchRow r = bench_linear_lif(n, opt->steps, opt->batch, opt->repeats, 42);
      log("linear+lif n " + std::to_string(n) + ", T " + std::to_string(opt->steps) + ", batch " +
          std::to_string(opt->batch) + ", " + std::to_string(num_threads()) + " threads: forward " +
          std::to_string(r.forward_s) + " s, forward + backward " + std::to_string(r.total_s) + " s (firing rate " +
          std::to_string(r.firing_rate) + ")");
      rows.push_back({{"n", n}, {"forward_seconds", r.forward_s}, {"seconds", r.total_s}, {"firing_rate", r.firing_rate}});
    }
    emit_json(opt->common, {{"steps", opt->steps}, {"batch", opt->batch}, {"threads", num_threads()}, {"rows", rows}});
  });
}

}  // namespace frugal::cli
