// ANN-to-SNN conversion (convert/): the rewrite on PyTorch exports (tests/data/onnx) and graphs
// built here, BatchNorm folding, local threshold balancing and the norm baselines on hand-computed
// examples, IF neuron dynamics step by step, the delay estimate, a converted CNN whose spiking
// readout approaches the clipped ANN as T grows, and `frugal convert` end to end and on bad files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "frugal/convert/simulate.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/io/npy.h"
#include "frugal/nn/onnx_graph.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string onnx_fixture(const std::string& name) {
  return std::string(FRUGAL_SOURCE_DIR) + "/tests/data/onnx/" + name;
}
std::string convert_fixture(const std::string& name) {
  return std::string(FRUGAL_SOURCE_DIR) + "/tests/data/convert/" + name;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float worst = 0;
  for (int64_t k = 0; k < std::min(a.numel(), b.numel()); ++k) worst = std::max(worst, std::fabs(a[k] - b[k]));
  return worst;
}

io::OnnxNode node(const std::string& op, std::vector<std::string> in, const std::string& out) {
  io::OnnxNode n;
  n.name = out + "_node";
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = {out};
  return n;
}

// A graph over input "x" of shape [-1, sample...] with output "y".
io::OnnxGraph graph(const Shape& sample, std::vector<io::OnnxNode> nodes, std::map<std::string, Tensor> inits) {
  io::OnnxGraph g;
  g.path = "test.onnx";
  g.opset = 13;
  Shape s = sample;
  s.insert(s.begin(), -1);
  g.inputs = {{"x", s}};
  g.outputs = {{"y", {}}};
  g.nodes = std::move(nodes);
  g.initializers = std::move(inits);
  return g;
}

Tensor random_tensor(const Shape& s, float lo, float hi, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t k = 0; k < t.numel(); ++k) t[k] = lo + (hi - lo) * rng.uniform();
  return t;
}

TEST(ConvertRewrite, PyTorchExportsGiveTheSameLogits) {
  const Tensor x = io::read_npy(onnx_fixture("cnn_input.npy"));
  const Tensor want = io::read_npy(onnx_fixture("cnn_logits.npy"));
  for (const char* f : {"cnn_opset9.onnx", "cnn_opset13.onnx", "cnn_opset17.onnx"}) {
    const convert::SpikingNet net = convert::rewrite_onnx(io::read_onnx(onnx_fixture(f)));
    EXPECT_LT(max_abs_diff(convert::forward_ann(net, x), want), 1e-4f) << f;
    // ReLU6, the residual ReLU, the ReLU after the Concat's BatchNorm, the last conv's ReLU.
    EXPECT_EQ(net.num_sites, 4) << f;
    int bn_convs = 0;
    for (size_t i = 0; i < net.layers.size(); ++i) {
      const convert::Layer& l = net.layers[i];
      if (l.kind == convert::LayerKind::Conv && l.groups == l.weight.dim(0) && l.kernel == 1) ++bn_convs;
      if (l.kind == convert::LayerKind::MaxPool) {  // moved before the ReLU6 neuron
        ASSERT_LT(i + 1, net.layers.size());
        EXPECT_EQ(net.layers[i + 1].kind, convert::LayerKind::Neuron);
        EXPECT_EQ(net.layers[i + 1].ceiling, 6.0f);
        EXPECT_EQ(net.layers[i + 1].inputs[0], l.output);
      }
    }
    EXPECT_EQ(bn_convs, 1) << f << ": only the BatchNorm after the Concat stays (as a depthwise 1x1 conv)";
  }
}

TEST(ConvertRewrite, FoldsBatchNormIntoTheConvExactly) {
  const Tensor w = random_tensor({2, 1, 3, 3}, -1, 1, 1), b = Tensor({2}, {0.5f, -0.25f});
  io::OnnxNode conv = node("Conv", {"x", "w", "b"}, "c");
  conv.ints["pads"] = {1, 1, 1, 1};
  io::OnnxNode bn = node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, "y");
  bn.floats["epsilon"] = {0.5f};
  const io::OnnxGraph g = graph({1, 4, 4}, {conv, bn},
                                {{"w", w},
                                 {"b", b},
                                 {"gamma", Tensor({2}, {2.0f, -1.0f})},
                                 {"beta", Tensor({2}, {1.0f, 0.0f})},
                                 {"mean", Tensor({2}, {0.5f, 1.0f})},
                                 {"var", Tensor({2}, {3.5f, 0.5f})}});
  const convert::SpikingNet net = convert::rewrite_onnx(g);
  ASSERT_EQ(net.layers.size(), 1u);
  const convert::Layer& l = net.layers[0];
  // scale = gamma / sqrt(var + eps): 2 / 2 = 1 and -1 / 1 = -1 (exact in float).
  for (int k = 0; k < 9; ++k) {
    EXPECT_EQ(l.weight[k], w[k]);
    EXPECT_EQ(l.weight[9 + k], -w[9 + k]);
  }
  EXPECT_EQ(l.bias[0], (0.5f - 0.5f) * 1.0f + 1.0f);
  EXPECT_EQ(l.bias[1], (-0.25f - 1.0f) * -1.0f);
  const Tensor x = random_tensor({3, 1, 4, 4}, 0, 1, 2);
  EXPECT_LT(max_abs_diff(convert::forward_ann(net, x), nn::OnnxGraphRunner(g).run(x)), 1e-5f);
}

// x [N, 2] -> identity Gemm -> Relu (site 0) -> Gemm summing both -> Relu (site 1) -> Gemm -> y.
io::OnnxGraph two_site_mlp() {
  io::OnnxNode g1 = node("Gemm", {"x", "eye"}, "h"), g2 = node("Gemm", {"a", "sum"}, "s"),
               g3 = node("Gemm", {"r", "one"}, "y");
  return graph({2}, {g1, node("Relu", {"h"}, "a"), g2, node("Relu", {"s"}, "r"), g3},
               {{"eye", Tensor({2, 2}, {1, 0, 0, 1})}, {"sum", Tensor({2, 1}, {1, 1})}, {"one", Tensor({1, 1}, {1})}});
}

TEST(ConvertThresholds, LocalThresholdBalancingByHand) {
  const convert::SpikingNet net = convert::rewrite_onnx(two_site_mlp());
  ASSERT_EQ(net.num_sites, 2);
  // Batch 1: channel 0 sees {1, 3}, channel 1 {4, 0}: θ = 0 + 2·mean(x⁺) = 4 and 4. Site 1 sees
  // 1+4 = 5 and 3+0 = 3 (nothing clipped): θ = 2·4 = 8.
  // Batch 2: channel 0 sees {12, 0, 0, 0}: θ = 4 + 2·(8/4) = 8; channel 1 only zeros: stays 4.
  // Site 1 sees the clipped 8 (not 12): (8 − 8)⁺ = 0, θ stays 8 (unclipped it would be 10).
  const std::vector<Tensor> batches = {Tensor({2, 2}, {1, 4, 3, 0}), Tensor({4, 2}, {12, 0, 0, 0, 0, 0, 0, 0})};
  int after_batch = 0;
  const convert::Thresholds ltb =
      convert::calibrate(net, batches, convert::ThresholdMethod::ltb, 99.9, [&] { ++after_batch; });
  EXPECT_EQ(ltb.forward_passes, 2);
  EXPECT_EQ(after_batch, 2);
  EXPECT_THAT(ltb.per_site[0], ::testing::ElementsAre(8.0f, 4.0f));
  EXPECT_THAT(ltb.per_site[1], ::testing::ElementsAre(8.0f));
  // Max-norm: one θ per site, the largest (unclipped) activation: 12 and 12.
  const convert::Thresholds mx = convert::calibrate(net, batches, convert::ThresholdMethod::maxnorm);
  EXPECT_THAT(mx.per_site[0], ::testing::ElementsAre(12.0f, 12.0f));
  EXPECT_THAT(mx.per_site[1], ::testing::ElementsAre(12.0f));
  // Robust-norm at the 50th percentile of the nonzero activations, averaged over the batches:
  // site 0: median{1, 4, 3} = 3 and median{12} = 12 -> 7.5; site 1: median{5, 3} = 4 and 12 -> 8.
  const convert::Thresholds rb = convert::calibrate(net, batches, convert::ThresholdMethod::robust, 50.0);
  EXPECT_THAT(rb.per_site[0], ::testing::ElementsAre(7.5f, 7.5f));
  EXPECT_THAT(rb.per_site[1], ::testing::ElementsAre(8.0f));
  EXPECT_THAT(error_of([&] { convert::parse_threshold_method("minmax"); }), HasSubstr("ltb, maxnorm or robust"));
}

// Robust-norm's percentile keeps only the largest values (those at or above the keep-th largest
// plane peak when there are enough planes); it must equal the percentile of all positive values.
TEST(ConvertThresholds, RobustPercentileEqualsTheSortedPercentile) {
  const convert::SpikingNet net = convert::rewrite_onnx(
      graph({2, 8, 8}, {node("Relu", {"x"}, "a"), node("Conv", {"a", "w"}, "y")},
            {{"w", Tensor({1, 2, 1, 1}, {1, 1})}}));
  const Tensor x = random_tensor({30, 2, 8, 8}, -1, 2, 21);
  std::vector<float> positive;
  for (int64_t k = 0; k < x.numel(); ++k)
    if (x[k] > 0) positive.push_back(x[k]);
  std::sort(positive.begin(), positive.end());
  // 99.9: the top 3 of ~2600 values, fewer than the 60 planes; 90: the top ~260, more than 60.
  for (double q : {99.9, 90.0}) {
    const double pos = q / 100.0 * static_cast<double>(positive.size() - 1);
    const auto lo = static_cast<size_t>(pos);
    const float want =
        positive[lo] + static_cast<float>(pos - static_cast<double>(lo)) * (positive[lo + 1] - positive[lo]);
    const convert::Thresholds rb = convert::calibrate(net, {x}, convert::ThresholdMethod::robust, q);
    EXPECT_FLOAT_EQ(rb.per_site[0][0], want) << q;
    EXPECT_FLOAT_EQ(rb.per_site[0][1], want) << q;
  }
}

TEST(ConvertThresholds, Relu6CapsTheThreshold) {
  io::OnnxNode clip = node("Clip", {"x", "zero", "six"}, "a");
  io::OnnxGraph g = graph({1}, {clip, node("Gemm", {"a", "one"}, "y")},
                          {{"zero", Tensor({}, {0.0f})}, {"six", Tensor({}, {6.0f})}, {"one", Tensor({1, 1}, {1})}});
  const convert::SpikingNet net = convert::rewrite_onnx(g);
  const convert::Thresholds th = convert::calibrate(net, {Tensor({1, 1}, {20.0f})}, convert::ThresholdMethod::ltb);
  EXPECT_EQ(th.per_site[0][0], 6.0f);  // 2·20 = 40, capped at the Clip's max
  g.initializers["zero"] = Tensor({}, {-1.0f});
  EXPECT_THAT(error_of([&] { convert::rewrite_onnx(g); }), HasSubstr("cannot become an IF neuron"));
}

// x [N, 1] -> Relu (site 0) -> Gemm (weight 1) -> y: the readout shows the neuron's spikes.
convert::SpikingNet one_neuron() {
  return convert::rewrite_onnx(
      graph({1}, {node("Relu", {"x"}, "a"), node("Gemm", {"a", "one"}, "y")}, {{"one", Tensor({1, 1}, {1})}}));
}

TEST(ConvertSimulate, IfNeuronStepByStep) {
  const convert::SpikingNet net = one_neuron();
  convert::Thresholds th;
  th.per_site = {{2.0f}};
  // Membrane 0.5θ = 1; input 0.5 per step: 1.5, 2.0 (not > θ), 2.5 -> spike of amplitude 2 and
  // 0.5 left, 1.0, 1.5, 2.0, 2.5 -> spike, ...
  const convert::SpikingRun run = convert::run_spiking(net, th, Tensor({1, 1}, {0.5f}), 10);
  const std::vector<float> want = {0, 0, 2, 0, 0, 0, 2, 0, 0, 0};
  for (int t = 0; t < 10; ++t) EXPECT_EQ(run.logits[t], want[t]) << "step " << t;
  EXPECT_EQ(run.spikes[2], 1.0);
  EXPECT_EQ(run.spikes[3], 0.0);
  EXPECT_EQ(run.sops[2], 1.0);  // one spike reaching one output
  EXPECT_EQ(run.neurons, 1.0);
  // Saturation: input 5 > θ still gives one spike of θ per step; a negative input never fires.
  const convert::SpikingRun hot = convert::run_spiking(net, th, Tensor({2, 1}, {5.0f, -1.0f}), 3);
  for (int t = 0; t < 3; ++t) {
    EXPECT_EQ(hot.logits[t * 2], 2.0f);
    EXPECT_EQ(hot.logits[t * 2 + 1], 0.0f);
  }
}

TEST(ConvertSimulate, DelayEstimateAndDiscard) {
  const convert::SpikingNet net = one_neuron();
  convert::Thresholds th;
  th.per_site = {{2.0f}};
  // Active inputs 0.5 and 1.5 (mean 1), θ = 2: 0.5·2/1 = 1 step; a zero input does not count.
  const convert::DelayEstimate d = convert::estimate_delay(net, th, Tensor({3, 1}, {0.5f, 1.5f, 0.0f}));
  EXPECT_DOUBLE_EQ(d.per_site[0], 1.0);
  EXPECT_EQ(d.steps, 1);
  th.per_site = {{3.0f}};
  EXPECT_EQ(convert::estimate_delay(net, th, Tensor({1, 1}, {1.0f})).steps, 2);  // 1.5 rounds up
  EXPECT_EQ(convert::discarded_steps(64, 7), 7);
  EXPECT_EQ(convert::discarded_steps(8, 7), 3);  // keeps 5
  EXPECT_EQ(convert::discarded_steps(4, 7), 0);
  // Scoring: the discarded first steps do not vote.
  convert::SpikingRun run;
  run.timesteps = 6;
  run.logits = Tensor({6, 1, 2}, {9, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1});
  run.sops = run.macs = run.spikes = std::vector<double>(6, 0.0);
  convert::SpikingEval keep_all({6}, 0), delayed({6}, 1);
  keep_all.add(run, {1});
  delayed.add(run, {1});
  EXPECT_EQ(keep_all.accuracy(0), 0.0);  // 9 > 5
  EXPECT_EQ(delayed.accuracy(0), 1.0);
}

// Residual Add and Concat of neuron outputs, a BN after a conv, max-pool after a ReLU, average
// pooling, Flatten, Gemm: a small random CNN.
io::OnnxGraph random_cnn() {
  io::OnnxNode c1 = node("Conv", {"x", "w1", "b1"}, "c1");
  c1.ints["pads"] = {1, 1, 1, 1};
  io::OnnxNode c2 = node("Conv", {"p1", "w2"}, "c2");
  c2.ints["pads"] = {1, 1, 1, 1};
  io::OnnxNode pool = node("MaxPool", {"r1"}, "p1");
  pool.ints["kernel_shape"] = {2, 2};
  pool.ints["strides"] = {2, 2};
  io::OnnxNode cat = node("Concat", {"p1", "r2"}, "cat");
  cat.ints["axis"] = {1};
  io::OnnxNode avg = node("AveragePool", {"cat"}, "ap");
  avg.ints["kernel_shape"] = {2, 2};
  avg.ints["strides"] = {2, 2};
  io::OnnxNode flat = node("Flatten", {"ap"}, "f");
  io::OnnxNode fc = node("Gemm", {"f", "wf", "bf"}, "y");
  fc.ints["transB"] = {1};
  return graph({1, 8, 8},
               {c1, node("BatchNormalization", {"c1", "g", "be", "m", "v"}, "n1"), node("Relu", {"n1"}, "r1"), pool, c2,
                node("Add", {"c2", "p1"}, "s2"), node("Relu", {"s2"}, "r2"), cat, avg, flat, fc},
               {{"w1", random_tensor({4, 1, 3, 3}, -0.6f, 0.8f, 11)},
                {"b1", random_tensor({4}, -0.1f, 0.2f, 12)},
                {"g", random_tensor({4}, 0.5f, 1.5f, 13)},
                {"be", random_tensor({4}, -0.2f, 0.2f, 14)},
                {"m", random_tensor({4}, -0.2f, 0.2f, 15)},
                {"v", random_tensor({4}, 0.5f, 1.5f, 16)},
                {"w2", random_tensor({4, 4, 3, 3}, -0.3f, 0.35f, 17)},
                {"wf", random_tensor({3, 8 * 2 * 2}, -0.5f, 0.5f, 18)},
                {"bf", random_tensor({3}, -0.1f, 0.1f, 19)}});
}

TEST(ConvertSimulate, SpikingReadoutApproachesTheClippedAnn) {
  const io::OnnxGraph g = random_cnn();
  const convert::SpikingNet net = convert::rewrite_onnx(g);
  const Tensor x = random_tensor({16, 1, 8, 8}, 0, 1, 21);
  EXPECT_LT(max_abs_diff(convert::forward_ann(net, x), nn::OnnxGraphRunner(g).run(x)), 1e-5f);
  std::vector<Tensor> calib;
  for (uint64_t s = 0; s < 4; ++s) calib.push_back(random_tensor({16, 1, 8, 8}, 0, 1, 30 + s));
  const convert::Thresholds th = convert::calibrate(net, calib, convert::ThresholdMethod::ltb);
  const Tensor target = convert::forward_clipped(net, th, x);
  const convert::SpikingRun run = convert::run_spiking(net, th, x, 256);
  auto error_at = [&](int steps) {
    double err = 0, scale = 0;
    for (int64_t k = 0; k < target.numel(); ++k) {
      double sum = 0;
      for (int t = 0; t < steps; ++t) sum += run.logits[t * target.numel() + k];
      err += std::fabs(sum / steps - target[k]);
      scale += std::fabs(target[k]);
    }
    return err / scale;
  };
  const double e16 = error_at(16), e64 = error_at(64), e256 = error_at(256);
  EXPECT_LT(e64, e16);
  EXPECT_LT(e256, e64);
  EXPECT_LT(e256, 0.05) << "relative error at T=256";
  EXPECT_GT(run.sops[10], 0.0);     // the second conv is fed spikes
  EXPECT_GT(run.macs[10], 0.0);     // the classifier is fed averaged spikes
  EXPECT_GT(run.static_macs, 0.0);  // the first conv sees the constant image once
}

TEST(ConvertSimulate, MaxPoolOfSpikeFedCurrentsMatchesTheAnnPool) {
  // Relu (site 0) -> 1x1 conv (time-varying currents) -> Relu + MaxPool (moved: pool, site 1) -> Gemm.
  io::OnnxNode conv = node("Conv", {"a", "w"}, "c");
  io::OnnxNode pool = node("MaxPool", {"r"}, "p");
  pool.ints["kernel_shape"] = {2, 2};
  pool.ints["strides"] = {2, 2};
  io::OnnxNode fc = node("Gemm", {"f", "wf"}, "y");
  fc.ints["transB"] = {1};
  const io::OnnxGraph g = graph(
      {2, 4, 4}, {node("Relu", {"x"}, "a"), conv, node("Relu", {"c"}, "r"), pool, node("Flatten", {"p"}, "f"), fc},
      {{"w", random_tensor({2, 2, 1, 1}, -0.5f, 1.0f, 41)}, {"wf", random_tensor({2, 8}, -1, 1, 42)}});
  const convert::SpikingNet net = convert::rewrite_onnx(g);
  const Tensor x = random_tensor({8, 2, 4, 4}, -0.5f, 1, 43);
  convert::Thresholds th;
  th.per_site = {{1.0f, 1.0f}, {2.0f, 2.0f}};
  const Tensor target = convert::forward_clipped(net, th, x);
  const convert::SpikingRun run = convert::run_spiking(net, th, x, 400);
  double err = 0, scale = 0;
  for (int64_t k = 0; k < target.numel(); ++k) {
    double sum = 0;
    for (int t = 0; t < 400; ++t) sum += run.logits[t * target.numel() + k];
    err += std::fabs(sum / 400 - target[k]);
    scale += std::fabs(target[k]);
  }
  EXPECT_LT(err / scale, 0.03);
}

TEST(ConvertRewrite, ErrorsNameTheNodeAndOp) {
  io::OnnxGraph g = random_cnn();
  g.nodes[2].op_type = "LeakyRelu";
  EXPECT_THAT(error_of([&] { convert::rewrite_onnx(g); }), HasSubstr("unsupported op LeakyRelu"));
  g = random_cnn();
  g.initializers.erase("w2");
  EXPECT_THAT(error_of([&] { convert::rewrite_onnx(g); }), HasSubstr("weight 'w2' must be an initializer"));
  const convert::SpikingNet net = convert::rewrite_onnx(random_cnn());
  EXPECT_THAT(error_of([&] { convert::forward_ann(net, Tensor({2, 64})); }), HasSubstr("input must be [N, 1, 8, 8]"));
}

struct Result {
  int code = -1;
  std::string out, err;
};

Result run_cli(const std::string& args) {
  const fs::path err_file = fs::temp_directory_path() / "frugal_test_convert_stderr.txt";
  const std::string cmd = std::string(FRUGAL_BINARY) + " " + args + " 2>" + err_file.string();
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

TEST(ConvertCli, ReportsAccuracyPerBudgetAndEnergy) {
  const fs::path out = fs::temp_directory_path() / "frugal_test_convert_run";
  fs::remove_all(out);
  const Result r =
      run_cli("convert " + convert_fixture("fmnist_vgg.onnx") +
              " --calib-data fmnist --calib-batches 2 --calib-batch-size 50 --test-limit 50 --timesteps 8,16"
              " --method ltb,robust"
              " --json --out " +
              out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"ann_accuracy", "snn_accuracy", "delay_steps", "firing_rate", "energy_ratio",
                          "conversion_forward_passes", "energy", "methods", "test_accuracy"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_GT(j["ann_accuracy"].get<double>(), 0.8);
  // Two calibration batches leave LTB's thresholds low; robust-norm needs none to be usable.
  EXPECT_GT(j["methods"]["robust"]["snn_accuracy"]["16"].get<double>(), 0.7);
  EXPECT_GT(j["snn_accuracy"]["16"].get<double>(), j["clipped_ann_accuracy"].get<double>() - 0.1);
  EXPECT_TRUE(j["methods"].contains("robust"));
  EXPECT_EQ(j["methods"]["ltb"]["calibration_forward_passes"].get<int>(), 3);
  EXPECT_GT(j["energy_ratio"]["8"].get<double>(), 0.0);
  EXPECT_LT(j["energy_ratio"]["8"].get<double>(), j["energy_ratio"]["16"].get<double>());
  EXPECT_TRUE(fs::exists(out / "table.txt"));
  EXPECT_TRUE(fs::exists(out / "metrics.json"));
}

TEST(ConvertCli, BadModelsExitTwo) {
  const fs::path bad = fs::temp_directory_path() / "frugal_test_convert_garbage.onnx";
  std::ofstream(bad, std::ios::binary) << "\x08\x07garbage that is not a protobuf";
  const std::string tail = " --calib-data fmnist --calib-batches 1 --test-limit 10 --timesteps 8 --out " +
                           (fs::temp_directory_path() / "frugal_test_convert_bad").string();
  struct Case {
    std::string model, needle;
  };
  for (const Case& c : {Case{bad.string(), "frugal_test_convert_garbage.onnx"},
                        Case{onnx_fixture("bad_truncated.onnx"), "bad_truncated.onnx"},
                        Case{onnx_fixture("bad_unsupported_op.onnx"), "unsupported op"},
                        Case{onnx_fixture("bad_missing_initializer.onnx"), "bad_missing_initializer.onnx"},
                        Case{onnx_fixture("cnn_opset13.onnx"), "[-1, 1, 12, 12]"}}) {
    const Result r = run_cli("convert " + c.model + tail);
    EXPECT_EQ(r.code, 2) << c.model << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("error")) << c.model;
    EXPECT_THAT(r.err, HasSubstr(c.needle)) << c.model;
  }
  const Result r = run_cli("convert " + convert_fixture("fmnist_vgg.onnx") + " --method minmax" + tail);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("ltb, maxnorm or robust"));
}

}  // namespace
}  // namespace frugal
