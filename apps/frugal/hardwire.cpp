// `frugal hardwire MODEL --style ce|hn|mem --format fp4|int4|int8|mxfp4 --out DIR [--simulate N]
// [--synth] [--json]`: quantizes a saved model (activation scales calibrated on training samples of
// its dataset), writes the netlist, a testbench replaying test inputs and a README into DIR, and
// reports the float and integer-reference accuracies; --simulate runs Icarus Verilog on N test
// inputs and counts output codes that differ from the reference; --synth counts Yosys cells.
// --target cpp emits C++ with the weights as constants instead, compiles and loads it, checks it
// bit for bit against the reference on the test samples and times both (ratio printed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/core/error.h"
#include "frugal/hardwire/cpp_target.h"
#include "frugal/hardwire/netlist.h"
#include "frugal/hardwire/simulate.h"
#include "frugal/hardwire/synth.h"
#include "frugal/train/datasets.h"
#include "quantized_model.h"

namespace frugal::cli {

namespace {

// Above this many non-zero weights Yosys takes minutes on one core (docs/hardwire.md: a 256x8 hn
// block, 2048 weights, took 106 s).
constexpr int64_t kSlowSynthWeights = 2048;

std::string fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

// --target cpp: the generated C++ against the integer reference on every test sample.
void run_cpp_target(const QuantizedModel& q, const nn::SavedModel& saved, const std::string& model,
                    const std::string& out_dir, int64_t test_limit, const CommonOptions& common) {
  auto t0 = std::chrono::steady_clock::now();
  std::string lib = hardwire::compile_cpp(q.net, out_dir);
  double compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  hardwire::HardwiredCpp hw(lib);
  int64_t limit = test_limit >= 0 ? test_limit : saved.config.value("test_limit", int64_t{0});
  data::Dataset test = train::load_dataset(q.dataset, q.data_dir, false, limit);
  require(test.size() > 0, "hardwire: the test split of " + q.dataset + " is empty");
  std::vector<std::vector<int32_t>> inputs;
  for (int64_t i = 0; i < test.size(); ++i) inputs.push_back(hardwire::quantize_input(q.net, sample(test, i)));
  // The reference (frugal's generic integer path: weights as data) and the hardwired code, each
  // timed over the same inputs; the outputs are compared code by code.
  std::vector<std::vector<int32_t>> expected;
  auto r0 = std::chrono::steady_clock::now();
  for (const std::vector<int32_t>& x : inputs) expected.push_back(hardwire::quant_forward(q.net, x));
  double ref_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
  size_t outputs = expected.front().size();
  std::vector<int32_t> y(inputs.size() * outputs);
  auto c0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < inputs.size(); ++i) hw.forward(inputs[i].data(), y.data() + i * outputs);
  double cpp_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
  int64_t mismatches = 0, ok = 0, ref_ok = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int32_t> row(y.begin() + static_cast<int64_t>(i * outputs), y.begin() + static_cast<int64_t>((i + 1) * outputs));
    for (size_t o = 0; o < outputs; ++o) mismatches += row[o] != expected[i][o];
    ok += hardwire::argmax(row) == test.labels[i];
    ref_ok += hardwire::argmax(expected[i]) == test.labels[i];
  }
  double ratio = cpp_seconds > 0 ? ref_seconds / cpp_seconds : 0.0;
  double accuracy = static_cast<double>(ok) / static_cast<double>(inputs.size());
  log("wrote " + out_dir + "/hardwired.cpp, compiled in " + fixed(compile_seconds, 1) + " s; on " +
      std::to_string(inputs.size()) + " test samples " + std::to_string(mismatches) +
      " output codes differ from the integer reference, accuracy " + fixed(accuracy, 4));
  log("speed: hardwired C++ " + fixed(1e6 * cpp_seconds / inputs.size(), 2) + " us/sample, generic int8 reference " +
      fixed(1e6 * ref_seconds / inputs.size(), 2) + " us/sample: " + fixed(ratio, 1) + "x");
  Json out;
  out["model"] = model;
  out["target"] = "cpp";
  out["format"] = hardwire::format_name(q.net.format);
  out["out"] = out_dir;
  out["samples"] = static_cast<int64_t>(inputs.size());
  out["mismatches"] = mismatches;
  out["accuracy"] = accuracy;
  out["reference_accuracy"] = static_cast<double>(ref_ok) / static_cast<double>(inputs.size());
  out["compile_seconds"] = compile_seconds;
  out["cpp_seconds"] = cpp_seconds;
  out["reference_seconds"] = ref_seconds;
  out["speedup_vs_int8_reference"] = ratio;
  emit_json(common, out);
}

}  // namespace

void add_hardwire(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string model, style = "hn", format = "fp4", out, data_dir, dataset, target = "verilog";
    int64_t simulate = 0, testbench = 100, test_limit = -1, calibrate = 1000;
    int accumulator_bits = 32;
    bool synth = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("hardwire", "compile a saved model into a weight-specialized Verilog netlist");
  // Not ->required(): `frugal hardwire cost` takes neither; the callback checks them.
  cmd->add_option("model", opt->model, "model.safetensors written by frugal");
  cmd->add_option("--target", opt->target, "verilog (a netlist) or cpp (C++ with the weights as constants)")
      ->check(CLI::IsMember({"verilog", "cpp"}))->capture_default_str();
  cmd->add_option("--style", opt->style, "netlist style: ce, hn or mem")->capture_default_str();
  cmd->add_option("--accumulator-bits", opt->accumulator_bits,
                  "accumulator width: a layer whose accumulator bound does not fit is refused")
      ->capture_default_str();
  cmd->add_option("--format", opt->format, "weight format: fp4, int4, int8 or mxfp4")->capture_default_str();
  cmd->add_option("--out", opt->out, "design folder (hardwired.v, tb.v, inputs.hex, README.md)");
  cmd->add_option("--simulate", opt->simulate, "co-simulate the first N test inputs with iverilog")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--testbench", opt->testbench, "test inputs the testbench replays when not simulating")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--synth", opt->synth, "count cells and transistors with yosys (minutes for large nets)");
  cmd->add_option("--test-limit", opt->test_limit, "reference accuracy on the first N test samples (0: all)");
  cmd->add_option("--calibrate", opt->calibrate, "training samples that calibrate activation scales")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--data-dir", opt->data_dir, "where the dataset is read from");
  cmd->add_option("--data", opt->dataset, "dataset name (default: the one in the model's config)");
  add_common_options(cmd, opt->common);
  CLI::App* cost = add_hardwire_cost(*cmd);
  cmd->callback([opt, cost] {
    if (cost->parsed()) return;
    require(!opt->model.empty() && !opt->out.empty(), "hardwire: MODEL and --out DIR are required");
    apply_common_options(opt->common);
    hardwire::NetStyle style = hardwire::parse_style(opt->style);
    hardwire::WeightFormat format = hardwire::parse_weight_format(opt->format);
    require(!opt->synth || hardwire::tool_available("yosys"),
            "hardwire: --synth needs yosys on PATH (Debian package yosys, scripts/setup.sh)");
    bool cpp = opt->target == "cpp";
    require(!cpp || (opt->simulate == 0 && !opt->synth), "hardwire: --simulate and --synth need --target verilog");
    nn::SavedModel saved = nn::load_model(opt->model);
    QuantizedModel q = quantize_saved_model(saved, format, opt->dataset, opt->data_dir, opt->calibrate);
    hardwire::check_accumulator_bits(q.net, opt->accumulator_bits);
    if (cpp) {
      run_cpp_target(q, saved, opt->model, opt->out, opt->test_limit, opt->common);
      return;
    }
    hardwire::Netlist nl = hardwire::generate_netlist(q.net, style);

    int64_t limit = opt->test_limit >= 0 ? opt->test_limit : saved.config.value("test_limit", int64_t{0});
    data::Dataset test = train::load_dataset(q.dataset, q.data_dir, false, limit);
    QuantizedAccuracy acc = quantized_accuracy(q, test);
    log(opt->model + ": float accuracy " + fixed(acc.float_accuracy, 4) + ", " + opt->format +
        " integer reference " + fixed(acc.reference_accuracy, 4) + " on " + std::to_string(acc.samples) +
        " test samples");

    // The testbench replays the first test inputs; --simulate needs N of them.
    int64_t bench = opt->simulate > 0 ? opt->simulate : opt->testbench;
    data::Dataset bench_set = test.size() >= bench ? test : train::load_dataset(q.dataset, q.data_dir, false, bench);
    require(opt->simulate == 0 || bench_set.size() >= bench,
            "hardwire: --simulate " + std::to_string(opt->simulate) + " but the test split has only " +
                std::to_string(bench_set.size()) + " samples");
    bench = std::min(bench, bench_set.size());
    require(bench > 0, "hardwire: the test split of " + q.dataset + " is empty");
    std::vector<std::vector<int32_t>> inputs, expected;
    for (int64_t i = 0; i < bench; ++i) {
      inputs.push_back(hardwire::quantize_input(q.net, sample(bench_set, i)));
      expected.push_back(hardwire::quant_forward(q.net, inputs.back()));
    }
    hardwire::write_design(nl, opt->out, inputs);
    log("wrote " + opt->out + "/hardwired.v (" + hardwire::style_name(style) + ", " + std::to_string(nl.inputs) +
        " inputs, " + std::to_string(nl.outputs) + " outputs, " + std::to_string(nl.nonzero_weights) +
        " non-zero weights, " + std::to_string(nl.cycles_per_sample) + " cycles per sample)");

    Json out;
    out["model"] = opt->model;
    out["style"] = hardwire::style_name(style);
    out["format"] = hardwire::format_name(format);
    out["out"] = opt->out;
    out["inputs"] = nl.inputs;
    out["outputs"] = nl.outputs;
    out["weights"] = nl.weights;
    out["nonzero_weights"] = nl.nonzero_weights;
    out["cycles_per_sample"] = nl.cycles_per_sample;
    out["memory_bits"] = nl.memory_bits;
    out["float_accuracy"] = acc.float_accuracy;
    out["reference_accuracy"] = acc.reference_accuracy;
    out["reference_samples"] = acc.samples;
    if (opt->simulate > 0) {
      auto t0 = std::chrono::steady_clock::now();
      hardwire::SimResult sim = hardwire::simulate(nl, opt->out, inputs, expected);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      int64_t ok = 0, ref_ok = 0;
      for (int64_t i = 0; i < bench; ++i) {
        ok += hardwire::argmax(sim.outputs[i]) == bench_set.labels[i];
        ref_ok += hardwire::argmax(expected[i]) == bench_set.labels[i];
      }
      double accuracy = static_cast<double>(ok) / static_cast<double>(bench);
      log("simulated " + std::to_string(sim.samples) + " test inputs in " + fixed(seconds, 1) + " s: " +
          std::to_string(sim.mismatches) + " output codes differ from the integer reference, hardware accuracy " +
          fixed(accuracy, 4));
      out["simulated"] = sim.samples;
      out["mismatches"] = sim.mismatches;
      out["accuracy"] = accuracy;
      out["simulated_reference_accuracy"] = static_cast<double>(ref_ok) / static_cast<double>(bench);
      out["simulate_seconds"] = seconds;
    }
    if (opt->synth) {
      if (nl.nonzero_weights > kSlowSynthWeights)
        log("warning: synthesizing " + std::to_string(nl.nonzero_weights) +
            " non-zero weights with yosys may take many minutes");
      auto t0 = std::chrono::steady_clock::now();
      hardwire::SynthStats s = hardwire::synthesize(nl, opt->out);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double per_weight = nl.nonzero_weights > 0 ? static_cast<double>(s.transistors) / nl.nonzero_weights : 0.0;
      log("yosys: " + std::to_string(s.cells) + " cells, " + std::to_string(s.transistors) + " transistors (" +
          fixed(per_weight, 1) + " per non-zero weight) in " + fixed(seconds, 1) + " s");
      out["cells"] = s.cells;
      out["transistors"] = s.transistors;
      out["transistors_per_weight"] = per_weight;
      out["synth_seconds"] = seconds;
    }
    emit_json(opt->common, out);
  });
}

}  // namespace frugal::cli
