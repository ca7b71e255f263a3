// `frugal bench nm-gemm [--shapes FILE] [--patterns 2:4,1:4,2:8,1:8] [--reps R] [--json]`: the N:M
// GEMM against the dense oneDNN GEMM per shape and pattern (sparse/nm_bench.h).
// `frugal bench nm-step CONFIG [--batch B] [--steps S] [--set k=v]... [--json]`: one training step
// of the config's model dense against N:M sparse (its `sparsity`, `sparsity_mode`), alternating,
// medians per phase, plus each sparse linear layer's products timed alone (docs/sparse.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <utility>

#include "cli_common.h"
#include "commands.h"
#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/nm_gemm.h"
#include "frugal/nn/builder.h"
#include "frugal/sparse/nm_bench.h"
#include "frugal/sparse/nm_layers.h"
#include "frugal/train/config.h"
#include "frugal/train/optimizer.h"

namespace frugal::cli {

namespace {

template <typename... Args>
std::string fmt(const char* format, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, static_cast<double>(args)...);
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

using Clock = std::chrono::steady_clock;

// One model under training for the step bench.
struct Runner {
  nn::ModulePtr model;
  std::unique_ptr<train::Optimizer> opt;
  bool sparse = false;
  // Per phase (forward with loss, backward, optimizer, prepare, whole step): wall and CPU ms.
  std::vector<double> wall[5], cpu[5];

  void step(const Tensor& x, const std::vector<int>& labels, double lr, bool record) {
    Clock::time_point w[5];
    double c[5];
    auto mark = [&](int i) {
      w[i] = Clock::now();
      c[i] = sparse::process_cpu_ms();
    };
    mark(0);
    opt->zero_grad();
    autograd::Var loss = autograd::softmax_cross_entropy(model->forward(autograd::Var(x)), labels);
    mark(1);
    autograd::backward(loss);
    mark(2);
    opt->step(lr);
    mark(3);
    // The trainer's post-optimizer hook: both copies of every sparse layer for the next step.
    if (sparse) sparse::prepare_all(*model);
    mark(4);
    if (!record) return;
    for (int i = 0; i < 5; ++i) {
      int a = i < 4 ? i : 0, b = i < 4 ? i + 1 : 4;
      wall[i].push_back(std::chrono::duration<double, std::milli>(w[b] - w[a]).count());
      cpu[i].push_back(c[b] - c[a]);
    }
  }

  Json phases() const {
    const char* names[5] = {"forward", "backward", "optimizer", "prepare", "step"};
    Json j;
    for (int i = 0; i < 5; ++i) {
      j[std::string(names[i]) + "_ms"] = median(wall[i]);
      j[std::string(names[i]) + "_cpu_ms"] = median(cpu[i]);
    }
    return j;
  }
};

// (in, out) of every N:M linear layer, in forward order.
std::vector<std::pair<int64_t, int64_t>> sparse_linear_sizes(nn::Module& m) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (auto* seq = dynamic_cast<nn::Sequential*>(&m)) {
    for (auto& layer : seq->layers)
      for (const auto& p : sparse_linear_sizes(*layer)) out.push_back(p);
  } else if (auto* lin = dynamic_cast<sparse::NmLinear*>(&m)) {
    out.push_back({lin->in_features, lin->out_features});
  }
  return out;
}

// The model's input [batch, in] from its first layer with an `in` (MLPs), unless --input gives
// the per-sample shape (CNNs: 1,28,28).
Shape input_shape(const Json& layers, int64_t batch, const std::vector<int64_t>& per_sample,
                  const std::string& where) {
  Shape s{batch};
  if (!per_sample.empty()) {
    for (int64_t d : per_sample) {
      require(d >= 1 && d <= 65536, "--input: sizes must be in [1, 65536]");
      s.push_back(d);
    }
    return s;
  }
  require(layers.is_array(), where + ": layers: expected a [[layers]] list");
  for (const Json& l : layers) {
    if (l.value("type", "") == "flatten") continue;
    require(l.value("type", "") == "linear" && l.contains("in") && l["in"].is_number_integer(),
            where + ": the first layer is not linear; give the per-sample input shape with --input (e.g. 1,28,28)");
    s.push_back(l["in"].get<int64_t>());
    return s;
  }
  throw Error(where + ": layers: no layer to take the input size from");
}

void add_nm_gemm(CLI::App* group) {
  struct Options {
    CommonOptions common;
    std::string shapes = "bench/shapes/nm.txt";
    std::vector<std::string> patterns{"2:4", "1:4", "2:8", "1:8"};
    int reps = 7;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = group->add_subcommand("nm-gemm", "N:M sparse GEMM against the dense oneDNN GEMM, per shape and pattern");
  cmd->add_option("--shapes", opt->shapes, "shape list, one 'm n k' per line (default bench/shapes/nm.txt)");
  cmd->add_option("--patterns", opt->patterns, "N:M patterns (default 2:4,1:4,2:8,1:8)")->delimiter(',');
  cmd->add_option("--reps", opt->reps, "alternating dense/sparse runs per case, medians compared (default 7)")
      ->check(CLI::Range(1, 1000));
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    std::vector<sparse::NMGemmShape> shapes = sparse::read_nm_shapes(opt->shapes);
    std::vector<sparse::NMPattern> patterns;
    for (const std::string& p : opt->patterns) patterns.push_back(sparse::parse_nm(p, "--patterns"));
    log("nm_gemm variant " + std::string(kernels::nm_gemm_variant()) + ", " + std::to_string(num_threads()) +
        " threads; C[m,n] = A[m,k] * B[n,k]^T, B N:M along k; medians of " + std::to_string(opt->reps) +
        " alternating runs");
    log("    m     n     k  pattern  dense ms  sparse ms  speedup | CPU ms: dense  sparse  speedup | bound  select ms");
    Json rows = Json::array();
    for (const sparse::NMGemmShape& s : shapes)
      for (const sparse::NMPattern& p : patterns) {
        sparse::NMGemmTiming t = sparse::time_nm_gemm(s, p, opt->reps);
        double bound = static_cast<double>(p.m) / p.n;
        log(fmt("%5.0f %5.0f %5.0f", s.m, s.n, s.k) + "  " + p.str() + std::string(7 - p.str().size(), ' ') +
            fmt("%8.3f  %9.3f  %6.2fx |", t.dense.wall_ms, t.sparse.wall_ms, t.speedup()) +
            fmt("%14.3f %7.3f  %6.2fx | %4.1fx  %9.3f", t.dense.cpu_ms, t.sparse.cpu_ms, t.cpu_speedup(), bound,
                t.select.wall_ms));
        rows.push_back({{"m", s.m}, {"n", s.n}, {"k", s.k}, {"pattern", p.str()}, {"dense_ms", t.dense.wall_ms},
                        {"sparse_ms", t.sparse.wall_ms}, {"speedup", t.speedup()}, {"dense_cpu_ms", t.dense.cpu_ms},
                        {"sparse_cpu_ms", t.sparse.cpu_ms}, {"cpu_speedup", t.cpu_speedup()}, {"bound", bound},
                        {"select_ms", t.select.wall_ms}, {"select_cpu_ms", t.select.cpu_ms},
                        {"max_abs_error", t.max_abs_error}, {"reps", t.reps}, {"threads", t.threads},
                        {"variant", kernels::nm_gemm_variant()}});
      }
    emit_json(opt->common, rows);
  });
}

void add_nm_step(CLI::App* group) {
  struct Options {
    CommonOptions common;
    std::string config;
    std::vector<std::string> sets;
    std::vector<int64_t> input;
    int batch = 0, steps = 10;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = group->add_subcommand("nm-step", "one training step, dense against N:M sparse (BDWP), per phase");
  cmd->add_option("config", opt->config, "TOML config with `sparsity` (examples/fmnist_mlp_2to8.toml)")->required();
  cmd->add_option("--batch", opt->batch, "batch size (default: the config's)")->check(CLI::Range(1, 65536));
  cmd->add_option("--steps", opt->steps, "timed steps of each, alternating (default 10)")->check(CLI::Range(1, 10000));
  cmd->add_option("--input", opt->input, "per-sample input shape, e.g. 1,28,28 (default: the first linear's in)")
      ->delimiter(',');
  cmd->add_option("--set", opt->sets, "override a config key: --set sparsity=1:8");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    train::TrainConfig c = train::parse_train_config(train::load_config(opt->config, opt->sets), opt->config);
    require(!c.sparsity.empty(), opt->config + ": no `sparsity` key (e.g. sparsity = \"2:8\")");
    sparse::NMConfig nm;
    nm.pattern = sparse::parse_nm(c.sparsity, opt->config + ": sparsity");
    nm.mode = sparse::parse_nm_mode(c.sparsity_mode, opt->config + ": sparsity_mode");
    nm.sr_ste_decay = static_cast<float>(c.sr_ste_decay);
    require(nm.mode != sparse::NMMode::dense, opt->config + ": sparsity_mode \"dense\" has nothing to compare");
    int64_t batch = opt->batch > 0 ? opt->batch : c.batch_size;
    Shape shape = input_shape(c.layers, batch, opt->input, opt->config);

    Runner dense, sparse_run;
    Rng rng_dense(c.seed), rng_sparse(c.seed);
    dense.model = nn::build_sequential(c.layers, rng_dense);
    sparse_run.model = nn::build_sequential(c.layers, rng_sparse);
    sparse_run.sparse = true;
    for (const std::string& line : sparse::sparsify(*sparse_run.model, nm)) log(line);
    for (const std::string& line : sparse::schedule(*sparse_run.model, shape)) log(line);
    sparse::prepare_all(*sparse_run.model);
    dense.opt = std::make_unique<train::Optimizer>(dense.model->parameters(), c.optimizer);
    sparse_run.opt = std::make_unique<train::Optimizer>(sparse_run.model->parameters(), c.optimizer);

    Rng rng(1);
    Tensor x = Tensor::empty(shape);
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform(0.0f, 1.0f);
    int64_t classes = 0;
    {
      autograd::NoGradGuard no_grad;
      classes = dense.model->forward(autograd::Var(x)).value().dim(-1);
    }
    std::vector<int> labels(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) labels[static_cast<size_t>(i)] = static_cast<int>(i % classes);
    double lr = c.optimizer.lr;
    for (int r = 0; r < 2; ++r) {  // warm-up: oneDNN primitives, allocator, optimizer state
      dense.step(x, labels, lr, false);
      sparse_run.step(x, labels, lr, false);
    }
    // Alternate which goes first so neither always runs on the warmer cache.
    for (int r = 0; r < opt->steps; ++r) {
      Runner& first = r % 2 ? sparse_run : dense;
      Runner& second = r % 2 ? dense : sparse_run;
      first.step(x, labels, lr, true);
      second.step(x, labels, lr, true);
    }
    Json d = dense.phases(), s = sparse_run.phases();
    double speedup = d["step_ms"].get<double>() / s["step_ms"].get<double>();
    double cpu_speedup = d["step_cpu_ms"].get<double>() / s["step_cpu_ms"].get<double>();
    log("step, batch " + std::to_string(batch) + ", " + std::to_string(num_threads()) + " threads, medians of " +
        std::to_string(opt->steps) + " alternating steps, wall ms (process CPU ms):");
    log("              forward          backward         optimizer        prepare          step");
    for (int i = 0; i < 2; ++i) {
      const Json& j = i == 0 ? d : s;
      std::string line = i == 0 ? "dense     " : "N:M " + c.sparsity + std::string(6 - std::min<size_t>(6, c.sparsity.size()), ' ');
      for (const char* phase : {"forward", "backward", "optimizer", "prepare", "step"})
        line += fmt(" %8.2f (%6.2f)", j[std::string(phase) + "_ms"].get<double>(),
                    j[std::string(phase) + "_cpu_ms"].get<double>());
      log(line);
    }
    log("dense / " + std::string(sparse::nm_mode_name(nm.mode)) + " step: " + fmt("%.2fx wall, %.2fx CPU", speedup, cpu_speedup));
    Json layers = Json::array();
    log("per N:M linear layer, each product alone, wall ms (CPU ms): dense forward, backward-data, weight gradient "
        "| N:M forward, backward-data, select both copies");
    for (const auto& [in, out] : sparse_linear_sizes(*sparse_run.model)) {
      sparse::NMLinearTiming t = sparse::time_linear_products(batch, in, out, nm.pattern, opt->steps);
      const sparse::NMTime* all[6] = {&t.dense_forward, &t.dense_backward_data, &t.weight_grad,
                                      &t.nm_forward,    &t.nm_backward_data,    &t.select};
      const char* keys[6] = {"dense_forward", "dense_backward_data", "weight_grad", "nm_forward", "nm_backward_data", "select"};
      std::string line = fmt("%5.0f -> %5.0f:", in, out);
      Json row = {{"in", in}, {"out", out}};
      for (int i = 0; i < 6; ++i) {
        line += fmt(" %7.2f (%6.2f)", all[i]->wall_ms, all[i]->cpu_ms) + (i == 2 ? " |" : "");
        row[std::string(keys[i]) + "_ms"] = all[i]->wall_ms;
        row[std::string(keys[i]) + "_cpu_ms"] = all[i]->cpu_ms;
      }
      log(line);
      layers.push_back(row);
    }
    emit_json(opt->common, {{"batch", batch}, {"threads", num_threads()}, {"sparsity", c.sparsity},
                            {"sparsity_mode", sparse::nm_mode_name(nm.mode)}, {"steps", opt->steps},
                            {"dense", d}, {"sparse", s}, {"speedup", speedup}, {"cpu_speedup", cpu_speedup},
                            {"layers", layers}});
  });
}

}  // namespace

void add_bench_nm(CLI::App& app) {
  CLI::App* group = command_group(app, "bench", "measure speed and memory");
  add_nm_gemm(group);
  add_nm_step(group);
}

}  // namespace frugal::cli
