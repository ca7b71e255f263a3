// `frugal hardwire`, `frugal eval --quantize` and `frugal hardwire cost` end to end on a tiny model
// trained in the test (4x4 average pool, 49-8-10 MLP): the simulated netlist matches the integer
// reference on every output code, eval reports the same reference accuracy, and bad model files,
// unsupported layers and unknown cost keys are errors naming the culprit, exit code 2. A tiny
// spiking MLP trained in the test is hardwired in all three styles and simulated bit-exact, and
// both nets are compiled as C++ with the weights as constants and run bit-exact.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "frugal/core/rng.h"
#include "frugal/nn/builder.h"
#include "frugal/nn/model_file.h"
#include "frugal/snn/layers.h"
#include "support/run_frugal.h"

namespace fs = std::filesystem;

namespace {

using Result = frugal::testing::RunResult;
Result run(const std::string& args) { return frugal::testing::run_frugal(args); }

// Paths carry the process id: ctest may run these tests in parallel processes.
std::string unique(const std::string& name) { return name + "_" + std::to_string(getpid()); }

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / unique(name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void expect_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr lacks '" << needle << "':\n" << r.err;
}

const char* kTinyLayers = R"(
[[layers]]
type = "avgpool2d"
kernel = 4
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
in = 49
out = 8
[[layers]]
type = "relu"
[[layers]]
type = "linear"
in = 8
out = 10
)";

// Trains `layers` for two epochs on 4096 samples; returns the model file. `top`: more top-level keys.
fs::path train_tiny(const std::string& name, const std::string& layers, const std::string& top = "") {
  fs::path dir = fresh_dir("frugal_hwcli_" + name);
  std::ofstream(dir / "config.toml") << "name = \"" << name << "\"\nepochs = 2\nbatch_size = 32\n" << top
                                     << "train_limit = 4096\ntest_limit = 200\n[optimizer]\ntype = \"adam\"\n"
                                     << "lr = 1e-2\n"
                                     << layers;
  Result t = run("train " + (dir / "config.toml").string() + " --out " + (dir / "run").string());
  EXPECT_EQ(t.code, 0) << t.err;
  return dir / "run" / "model.safetensors";
}

// An untrained model of `layers` (JSON specs), saved as frugal train would: for the refusals.
fs::path untrained(const std::string& name, const nlohmann::json& layers) {
  frugal::snn::register_layers();  // the builder then knows encoder, lif, readout
  frugal::Rng rng(1);
  frugal::nn::ModulePtr model = frugal::nn::build_sequential(layers, rng);
  fs::path path = fresh_dir("frugal_hwcli_" + name) / "model.safetensors";
  frugal::nn::save_model(path.string(), *model, {{"dataset", "fashion-mnist"}, {"test_limit", 50}});
  return path;
}

const char* kTinySnnLayers = R"(
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
in = 784
out = 16
[[layers]]
type = "encoder"
code = "direct"
steps = 4
[[layers]]
type = "lif"
beta = 0.5
surrogate = "fast_sigmoid"
surrogate_param = 25.0
[[layers]]
type = "linear"
in = 16
out = 10
[[layers]]
type = "lif"
beta = 0.5
surrogate = "fast_sigmoid"
surrogate_param = 25.0
[[layers]]
type = "readout"
mode = "count"
)";

const fs::path& tiny_snn() {
  static const fs::path model = train_tiny("snn", kTinySnnLayers, "loss = \"ce_count\"\n");
  return model;
}

const fs::path& tiny_model() {
  static const fs::path model = train_tiny("mlp", kTinyLayers);
  return model;
}

}  // namespace

TEST(HardwireCli, SimulatedNetlistMatchesTheIntegerReference) {
  if (system("command -v iverilog > /dev/null 2>&1") != 0) GTEST_SKIP() << "iverilog not on PATH";
  for (const char* style : {"hn", "ce"}) {
    fs::path out = fresh_dir(std::string("frugal_hwcli_design_") + style);
    Result r = run("hardwire " + tiny_model().string() + " --style " + style + " --format fp4 --out " +
                   out.string() + " --simulate 20 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["mismatches"].get<int64_t>(), 0) << style;
    EXPECT_EQ(j["simulated"].get<int>(), 20);
    EXPECT_EQ(j["inputs"].get<int>(), 784);
    EXPECT_EQ(j["outputs"].get<int>(), 10);
    EXPECT_EQ(j["reference_samples"].get<int>(), 200);  // the config's test_limit
    for (const char* key : {"accuracy", "reference_accuracy", "float_accuracy"}) {
      double a = j[key].get<double>();
      EXPECT_GT(a, 0.3) << key;  // ten classes: a trained net is far above chance
      EXPECT_LE(a, 1.0) << key;
    }
    EXPECT_NEAR(j["reference_accuracy"].get<double>(), j["float_accuracy"].get<double>(), 0.1);
    for (const char* f : {"hardwired.v", "tb.v", "inputs.hex", "README.md", "outputs.hex"})
      EXPECT_TRUE(fs::exists(out / f)) << f;
  }
}

// The done-when run (examples/fmnist_snn_hw.toml, 200 images) is in docs/hardwire.md; here a
// 784-16-10 net over 4 steps on 30 images keeps the mem style's simulation short.
TEST(HardwireCli, SpikingNetSimulatesBitExactInEveryStyle) {
  if (system("command -v iverilog > /dev/null 2>&1") != 0) GTEST_SKIP() << "iverilog not on PATH";
  for (const char* style : {"ce", "hn", "mem"}) {
    fs::path out = fresh_dir(std::string("frugal_hwcli_snn_") + style);
    Result r = run("hardwire " + tiny_snn().string() + " --style " + style + " --format fp4 --out " + out.string() +
                   " --simulate 30 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["mismatches"].get<int64_t>(), 0) << style;
    EXPECT_EQ(j["simulated"].get<int>(), 30);
    EXPECT_EQ(j["outputs"].get<int>(), 10);
    EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), j["simulated_reference_accuracy"].get<double>());
    EXPECT_GT(j["reference_accuracy"].get<double>(), 0.3) << style;
    EXPECT_NEAR(j["reference_accuracy"].get<double>(), j["float_accuracy"].get<double>(), 0.1);
  }
}

TEST(HardwireCli, CppTargetIsBitExactAndTimed) {
  if (system("command -v c++ > /dev/null 2>&1") != 0 && system("command -v g++ > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "no C++ compiler on PATH";
  for (const fs::path& model : {tiny_model(), tiny_snn()}) {
    fs::path out = fresh_dir("frugal_hwcli_cpp");
    Result r = run("hardwire " + model.string() + " --target cpp --format int8 --out " + out.string() + " --json");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["mismatches"].get<int64_t>(), 0) << model;
    EXPECT_EQ(j["samples"].get<int>(), 200);
    EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), j["reference_accuracy"].get<double>());
    EXPECT_GT(j["speedup_vs_int8_reference"].get<double>(), 0.0);
    EXPECT_NE(r.err.find("generic int8 reference"), std::string::npos) << r.err;  // the ratio is printed
    EXPECT_TRUE(fs::exists(out / "hardwired.cpp"));
  }
  fs::path out = fresh_dir("frugal_hwcli_cpp_nocxx");
  setenv("CXX", "/nonexistent/c++", 1);  // the child inherits it: a compiler that is not there
  Result r = run("hardwire " + tiny_model().string() + " --target cpp --out " + out.string());
  unsetenv("CXX");
  expect_error(r, "/nonexistent/c++");
}

TEST(HardwireCli, EvalQuantizeReportsTheReferenceAccuracy) {
  fs::path out = fresh_dir("frugal_hwcli_int8");
  Result h = run("hardwire " + tiny_model().string() + " --style mem --format int8 --out " + out.string() + " --json");
  ASSERT_EQ(h.code, 0) << h.err;
  auto hj = nlohmann::json::parse(h.out);
  EXPECT_FALSE(hj.contains("mismatches"));  // nothing simulated
  Result e = run("eval " + tiny_model().string() + " --quantize int8 --json");
  ASSERT_EQ(e.code, 0) << e.err;
  auto ej = nlohmann::json::parse(e.out);
  EXPECT_EQ(ej["format"], "int8");
  EXPECT_DOUBLE_EQ(ej["reference_accuracy"].get<double>(), hj["reference_accuracy"].get<double>());
  // The converter's float net is the model: same accuracy as frugal's own evaluation, up to a
  // tie flipped by summation order.
  EXPECT_NEAR(ej["test_accuracy"].get<double>(), hj["float_accuracy"].get<double>(), 0.011);
}

TEST(HardwireCli, RefusesBadModelsAndUnsupportedLayers) {
  fs::path dir = fresh_dir("frugal_hwcli_bad");
  std::ofstream(dir / "junk.safetensors") << "not a safetensors file";
  expect_error(run("hardwire " + (dir / "junk.safetensors").string() + " --out " + (dir / "o").string()),
               "junk.safetensors");
  expect_error(run("hardwire " + tiny_model().string() + " --format fp5 --out " + (dir / "o").string()), "fp5");
  fs::path bn = untrained("bn", nlohmann::json::parse(R"([
      {"type": "conv2d", "in": 1, "out": 2, "kernel": 3, "stride": 3}, {"type": "batchnorm2d", "channels": 2},
      {"type": "flatten"}, {"type": "linear", "in": 162, "out": 10}])"));
  expect_error(run("hardwire " + bn.string() + " --out " + (dir / "o").string()), "layer 1 (batchnorm2d)");
  expect_error(run("eval " + bn.string() + " --quantize fp4"), "batchnorm2d");
  fs::path pool = untrained("maxpool", nlohmann::json::parse(R"([
      {"type": "maxpool2d", "kernel": 4}, {"type": "flatten"}, {"type": "linear", "in": 49, "out": 10}])"));
  expect_error(run("hardwire " + pool.string() + " --out " + (dir / "o").string()), "layer 0 (maxpool2d)");
  // A format whose accumulator bound does not fit the requested width: the pool's 16 taps of
  // 127 x 127 need 19 bits.
  expect_error(run("hardwire " + tiny_model().string() + " --format int8 --accumulator-bits 16 --out " +
                   (dir / "o").string()),
               "layer 0 (conv2d): format int8 reaches |accumulator|");
  fs::path cuba = untrained("cuba", nlohmann::json::parse(R"([
      {"type": "flatten"}, {"type": "linear", "in": 784, "out": 10}, {"type": "encoder", "code": "direct", "steps": 2},
      {"type": "cuba_lif"}, {"type": "readout", "mode": "count"}])"));
  expect_error(run("hardwire " + cuba.string() + " --out " + (dir / "o").string()), "layer 3 (cuba_lif)");
}

TEST(HardwireCli, CostFromTheModelAndTechnologyFiles) {
  std::string root = FRUGAL_SOURCE_DIR;
  std::string model = root + "/examples/llm/gpt-oss-120b.toml", tech = root + "/examples/hnlpu/5nm.toml";
  Result r = run("hardwire cost " + model + " --tech " + tech + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  auto near = [&j](const char* key, double want) {
    EXPECT_NEAR(j[key].get<double>(), want, 0.02 * want) << key;
  };
  near("total_area_mm2", 13232);
  near("wafer_fraction", 0.29);
  near("cost_per_good_die_usd", 629);
  near("nre_usd_low", 59.46e6);
  near("nre_usd_high", 123.5e6);
  near("tokens_per_joule", 36);
  EXPECT_GE(j["naive_mask_cost_usd"].get<double>(), 6e9 * 0.98);
  EXPECT_NE(r.err.find("paper: HNLPU v2 system of 16 chips"), std::string::npos) << r.err;  // sources printed
  EXPECT_NE(r.err.find("input: paper's simulator result"), std::string::npos) << r.err;

  fs::path dir = fresh_dir("frugal_hwcli_cost");
  std::ofstream(dir / "bad.toml") << "chipz = { value = 20, source = \"typo\" }\n";
  Result bad = run("hardwire cost " + model + " --tech " + (dir / "bad.toml").string());
  expect_error(bad, "chipz");
  EXPECT_NE(bad.err.find("bad.toml"), std::string::npos) << bad.err;
  expect_error(run("hardwire cost " + model), "--tech");
}
