// `frugal convert MODEL.onnx --calib-data fmnist|DIR --method
// ltb,robust,maxnorm
//  --timesteps 8,16,32,64 [--delay auto|K] [--calib-batches 12] [--json]`:
//  converts a CNN from
// ONNX to a spiking net (convert/), and reports ANN accuracy, SNN accuracy per
// time budget and method, firing rates, SOPs, SNN/ANN energy, and the
// conversion's time in ANN forward passes over one calibration batch.
// Writes the table and metrics.json to --out.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "frugal/convert/simulate.h"
#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/data/fashion_mnist.h"
#include "frugal/io/atomic_file.h"
#include "frugal/nn/onnx_graph.h"

namespace frugal::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int> parse_budgets(const std::string& s) {
  std::vector<int> out;
  for (const std::string& item : split_list(s)) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == item.size() && v > 0 && v <= 100000, "--timesteps: '" + item + "' is not a positive integer");
    out.push_back(v);
  }
  require(!out.empty(), "--timesteps: give at least one budget, e.g. 8,16,32");
  return out;
}

std::string data_dir(const std::string& calib) {
  if (calib == "fmnist" || calib == "fashion-mnist") return data::default_fashion_mnist_dir();
  require(std::filesystem::is_directory(calib), "--calib-data: '" + calib +
                                                    "' is neither fmnist nor a directory in the Fashion-MNIST IDX "
                                                    "layout");
  return calib;
}

Tensor rows(const data::Dataset& d, int64_t start, int64_t count) {
  Shape s = d.inputs.shape();
  const int64_t per = d.inputs.numel() / s[0];
  s[0] = count;
  Tensor out = Tensor::empty(s);
  std::copy(d.inputs.data() + start * per, d.inputs.data() + (start + count) * per, out.data());
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Top-1 accuracy of `logits_of` over d, in batches.
double accuracy_of(const data::Dataset& d, int64_t batch, const std::function<Tensor(const Tensor&)>& logits_of) {
  int64_t correct = 0;
  for (int64_t s = 0; s < d.size(); s += batch) {
    const int64_t n = std::min<int64_t>(batch, d.size() - s);
    const Tensor logits = logits_of(rows(d, s, n));
    const int64_t classes = logits.dim(1);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (logits[i * classes + c] > logits[i * classes + best]) best = c;
      correct += best == d.labels[s + i];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, d.size()));
}

constexpr int kCostRounds = 3;

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct ConversionCost {
  double passes = 0;              // conversion / one ANN forward pass
  double pass_seconds = 0;        // one warm ANN forward pass over a calibration batch (CPU s)
  double conversion_seconds = 0;  // one conversion (CPU s)
};

// CPU time of the calling thread: with one OpenMP thread all of a pass (oneDNN's and frugal's
// kernels) runs on it, and time the scheduler gives to other jobs is not counted.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The conversion's cost in units of one ANN forward pass over a calibration batch: a count of
// work, so both run on one thread and are timed by its CPU time. With two OpenMP threads on a
// shared 2-core machine a pass's wall time depends on whether the other thread is descheduled at
// a barrier, and the ratio of two such times moved between 10 and 211 from one run to the next;
// one thread's wall time still moved between 9 and 27 as other jobs came and went. Even its CPU
// time per pass halves or doubles for a while as jobs come and go on the core, so the reference
// pass is interleaved with the conversion: one after each calibration batch and one after the
// delay estimate, and the conversion's time (without them) is divided by their mean, so both
// see the same load. The reported ratio is the median over kCostRounds such rounds; the
// conversion is deterministic, and the last round's thresholds and delay estimate are kept. All
// passes are warm (oneDNN creates its primitives and the allocator first touches its pages in an
// untimed pass first, as the calibration's own passes after its first one find them ready).
ConversionCost time_conversion(const convert::SpikingNet& net, const std::vector<Tensor>& batches,
                               convert::ThresholdMethod method, convert::Thresholds& th,
                               convert::DelayEstimate& est) {
  const int threads = num_threads();
  set_num_threads(1);
  convert::forward_ann(net, batches[0]);
  std::vector<double> ratios, passes, conversions;
  for (int r = 0; r < kCostRounds; ++r) {
    double reference_total = 0;
    int references = 0;
    auto reference = [&] {
      const double t = thread_seconds();
      convert::forward_ann(net, batches[0]);
      reference_total += thread_seconds() - t;
      ++references;
    };
    const double t = thread_seconds();
    th = convert::calibrate(net, batches, method, 99.9, reference);
    est = convert::estimate_delay(net, th, batches[0]);
    reference();
    conversions.push_back(thread_seconds() - t - reference_total);
    passes.push_back(reference_total / references);
    ratios.push_back(conversions.back() / passes.back());
  }
  set_num_threads(threads);
  return {median_of(ratios), median_of(passes), median_of(conversions)};
}

}  // namespace

void add_convert(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model, calib = "fmnist", methods = "ltb", timesteps = "8,16,32,64", delay = "auto", out;
    int calib_batches = 12, calib_batch_size = 100, batch_size = 100;
    int64_t test_limit = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("convert", "convert an ONNX CNN to a spiking net and report accuracy and energy");
  cmd->add_option("model", opt->model, "the ANN (.onnx)")->required();
  cmd->add_option("--calib-data,--data", opt->calib, "fmnist, or a directory in the Fashion-MNIST IDX layout");
  cmd->add_option("--method", opt->methods, "threshold methods, comma-separated: ltb, robust, maxnorm (max)");
  cmd->add_option("--timesteps", opt->timesteps, "time budgets T, comma-separated");
  cmd->add_option("--delay", opt->delay, "readout steps to discard: auto (estimated) or a number");
  cmd->add_option("--calib-batches", opt->calib_batches, "calibration batches")->check(CLI::PositiveNumber);
  cmd->add_option("--calib-batch-size", opt->calib_batch_size, "samples per calibration batch")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--test-limit", opt->test_limit, "score the first N test samples (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", opt->batch_size, "test samples simulated at once")->check(CLI::PositiveNumber);
  cmd->add_option("--out", opt->out,
                  "directory for table.txt and metrics.json (default "
                  "runs/convert-<model>)");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    const std::vector<int> budgets = parse_budgets(opt->timesteps);
    std::vector<convert::ThresholdMethod> methods;
    for (const std::string& m : split_list(opt->methods)) methods.push_back(convert::parse_threshold_method(m));
    require(!methods.empty(), "--method: give at least one of ltb, robust, maxnorm");
    int fixed_delay = -1;
    if (opt->delay != "auto") {
      size_t used = 0;
      try {
        fixed_delay = std::stoi(opt->delay, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      require(used == opt->delay.size() && fixed_delay >= 0,
              "--delay: expected auto or a number >= 0, got '" + opt->delay + "'");
    }
    const int t_max = *std::max_element(budgets.begin(), budgets.end());

    io::OnnxGraph graph = io::read_onnx(opt->model);
    const convert::SpikingNet net = convert::rewrite_onnx(graph);
    const nn::OnnxGraphRunner ann(std::move(graph));
    const std::string dir = data_dir(opt->calib);
    const data::Dataset calib =
        data::load_fashion_mnist(dir, true, int64_t{opt->calib_batches} * opt->calib_batch_size);
    const data::Dataset test = data::load_fashion_mnist(dir, false, opt->test_limit);
    require(calib.size() == int64_t{opt->calib_batches} * opt->calib_batch_size,
            dir + ": the training set has fewer than " + std::to_string(calib.size()) + " samples for calibration");
    std::vector<Tensor> batches;
    for (int b = 0; b < opt->calib_batches; ++b)
      batches.push_back(rows(calib, int64_t{b} * opt->calib_batch_size, opt->calib_batch_size));
    reset_peak_bytes();

    // The exporting framework's ANN, through the ONNX runner; and one forward
    // pass as the time unit.
    const double ann_accuracy = accuracy_of(test, opt->batch_size, [&](const Tensor& x) { return ann.run(x); });
    convert::AnnCount count;
    convert::forward_ann(net, batches[0], {}, &count);
    const convert::EnergyCosts costs;
    const double ann_pj = count.macs * costs.pj_per_mac;

    std::ostringstream table;
    table << opt->model << ": ANN accuracy " << fmt("%.4f", ann_accuracy) << " on " << test.size()
          << " test samples; ANN " << fmt("%.3g", count.macs) << " MACs, " << fmt("%.2f", ann_pj / 1e6)
          << " uJ per sample; " << net.num_sites << " neuron sites\n";
    table << "method   cost(passes)  clipped  delay     T  kept  accuracy  "
             "ann-snn  firing  SOPs/sample  uJ/sample  SNN/ANN\n";
    Json out;
    out["model"] = opt->model;
    out["ann_accuracy"] = ann_accuracy;
    out["test_samples"] = test.size();
    out["ann_macs"] = count.macs;
    out["timesteps"] = budgets;
    Json per_method = Json::object();
    double sim_seconds = 0;
    for (convert::ThresholdMethod method : methods) {
      convert::Thresholds th;
      convert::DelayEstimate est;
      const ConversionCost timed = time_conversion(net, batches, method, th, est);
      const double cost = timed.passes;
      const int delay = fixed_delay >= 0 ? fixed_delay : est.steps;
      convert::SpikingEval eval(budgets, delay);
      const auto t_sim = Clock::now();
      for (int64_t s = 0; s < test.size(); s += opt->batch_size) {
        const int64_t n = std::min<int64_t>(opt->batch_size, test.size() - s);
        const convert::SpikingRun run = convert::run_spiking(net, th, rows(test, s, n), t_max);
        eval.add(run, std::vector<int>(test.labels.begin() + s, test.labels.begin() + s + n));
      }
      sim_seconds += seconds_since(t_sim);
      const std::string name = convert::threshold_method_name(method);
      // The function the spiking net converges to as T grows: the ANN clipped
      // at the thresholds.
      const double clipped =
          accuracy_of(test, opt->batch_size, [&](const Tensor& x) { return convert::forward_clipped(net, th, x); });
      Json m;
      m["ann_accuracy"] = ann_accuracy;
      m["clipped_ann_accuracy"] = clipped;
      m["delay_steps"] = delay;
      m["estimated_delay_steps"] = est.steps;
      m["estimated_delay_per_site"] = est.per_site;
      m["conversion_forward_passes"] = cost;
      m["calibration_forward_passes"] = th.forward_passes + 1;
      m["conversion_seconds"] = timed.conversion_seconds;
      m["ann_forward_pass_seconds"] = timed.pass_seconds;
      Json acc = Json::object(), rate = Json::object(), ratio = Json::object(), sops = Json::object(),
           snn_pj = Json::object();
      for (size_t b = 0; b < budgets.size(); ++b) {
        const std::string key = std::to_string(budgets[b]);
        acc[key] = eval.accuracy(b);
        rate[key] = eval.firing_rate(b);
        sops[key] = eval.sops_per_sample(b);
        snn_pj[key] = eval.energy_pj(b, costs);
        ratio[key] = eval.energy_pj(b, costs) / ann_pj;
        table << name << std::string(name.size() < 9 ? 9 - name.size() : 1, ' ') << fmt("%12.1f", cost)
              << fmt("%9.4f", clipped) << fmt("%7.0f", delay) << fmt("%6.0f", budgets[b])
              << fmt("%6.0f", budgets[b] - convert::discarded_steps(budgets[b], delay))
              << fmt("%10.4f", eval.accuracy(b)) << fmt("%9.4f", ann_accuracy - eval.accuracy(b))
              << fmt("%8.4f", eval.firing_rate(b)) << fmt("%13.4g", eval.sops_per_sample(b))
              << fmt("%11.3f", eval.energy_pj(b, costs) / 1e6) << fmt("%9.3f", eval.energy_pj(b, costs) / ann_pj)
              << "\n";
      }
      m["snn_accuracy"] = acc;
      m["firing_rate"] = rate;
      m["energy_ratio"] = ratio;
      m["energy"] = {{"ann_pj", ann_pj},
                     {"snn_pj", snn_pj},
                     {"sops", sops},
                     {"pj_per_mac", costs.pj_per_mac},
                     {"pj_per_sop", costs.pj_per_sop}};
      per_method[name] = m;
      if (method == methods.front())
        for (const auto& [k, v] : m.items()) out[k] = v;
    }
    out["methods"] = per_method;
    out["test_accuracy"] = out["snn_accuracy"][std::to_string(budgets.back())];
    out["samples_per_s"] = sim_seconds > 0 ? static_cast<double>(test.size() * methods.size()) / sim_seconds : 0.0;
    out["peak_bytes"] = peak_bytes();
    table << "clipped: accuracy of the ANN clipped at the thresholds, the "
             "SNN's limit as T grows\n";
    table << "cost: conversion time / one warm ANN forward pass over a calibration batch of " << opt->calib_batch_size
          << " (" << fmt("%.4f", out["ann_forward_pass_seconds"].get<double>())
          << " s), CPU time of one thread, median of " << kCostRounds << " rounds\n";
    std::fputs(table.str().c_str(), stderr);

    const std::string out_dir =
        !opt->out.empty() ? opt->out : "runs/convert-" + std::filesystem::path(opt->model).stem().string();
    std::filesystem::create_directories(out_dir);
    io::write_file_atomic(out_dir + "/table.txt", table.str());
    io::write_file_atomic(out_dir + "/metrics.json", out.dump(1) + "\n");
    emit_json(opt->common, out);
  });
}

}  // namespace frugal::cli
