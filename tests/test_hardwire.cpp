// Hardwiring: the weight formats (FP4 code table, MXFP4 blocks, integer round trips), CSD recoding,
// the integer reference against float inference, refusals, and the generated netlists of every
// style simulated with Icarus Verilog against the integer reference, bit for bit, and the
// conversion of a frugal model tree into the FloatNet quantization reads. Spiking nets (direct
// encoder, LIF, spike counts) in the integer reference, in every netlist style and in the C++
// target; the C++ target with weights as constants, compiled and run bit-exact.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/hardwire/cost_model.h"
#include "frugal/hardwire/cpp_target.h"
#include "frugal/hardwire/csd.h"
#include "frugal/hardwire/from_module.h"
#include "frugal/hardwire/netlist.h"
#include "frugal/hardwire/quant.h"
#include "frugal/hardwire/simulate.h"
#include "frugal/hardwire/synth.h"
#include "frugal/nn/layers.h"
#include "frugal/snn/layers.h"

using namespace frugal::hardwire;
using frugal::Error;
using frugal::Rng;
namespace fs = std::filesystem;

namespace {

FloatLayer linear(int in, int out, Rng& rng) {
  FloatLayer l;
  l.kind = LayerKind::linear;
  l.in_features = in;
  l.out_features = out;
  float bound = 1.0f / std::sqrt(static_cast<float>(in));
  for (int i = 0; i < in * out; ++i) l.weight.push_back(rng.uniform(-bound, bound));
  for (int o = 0; o < out; ++o) l.bias.push_back(rng.uniform(-bound, bound));
  return l;
}

FloatLayer simple(LayerKind kind) {
  FloatLayer l;
  l.kind = kind;
  return l;
}

// in-h-out MLP with a ReLU between the layers.
FloatNet mlp(int in, int hidden, int out, uint64_t seed) {
  Rng rng(seed);
  FloatNet net;
  net.input_size = in;
  net.layers = {linear(in, hidden, rng), simple(LayerKind::relu), linear(hidden, out, rng)};
  return net;
}

std::vector<std::vector<float>> samples(int count, int size, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::vector<float>> xs(count, std::vector<float>(size));
  for (auto& x : xs)
    for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
  return xs;
}

// in-hidden-out spiking MLP: linear, direct encoder over `steps`, LIF, linear, LIF, spike counts.
FloatNet snn(int in, int hidden, int out, int steps, uint64_t seed) {
  Rng rng(seed);
  FloatNet net;
  net.input_size = in;
  FloatLayer enc = simple(LayerKind::encoder);
  enc.steps = steps;
  FloatLayer lif = simple(LayerKind::lif);
  lif.beta = 0.75f;  // not a power of two: the leak's constant multiplier has two CSD digits
  lif.threshold = 0.5f;
  FloatLayer l1 = linear(in, hidden, rng), l2 = linear(hidden, out, rng);
  for (float& w : l2.weight) w *= 3;  // enough current that the output layer spikes
  net.layers = {l1, enc, lif, l2, lif, simple(LayerKind::spike_count)};
  return net;
}

std::string temp_dir(const std::string& name) {
  std::string d = (std::filesystem::temp_directory_path() / ("frugal_hardwire_" + name)).string();
  std::filesystem::remove_all(d);
  return d;
}

}  // namespace

TEST(Fp4, CodeTableIsE2M1) {
  const float expected[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(fp4_decode(c), expected[c]) << "code " << c;
    if (c != 8) {
      EXPECT_EQ(fp4_encode(expected[c]), c) << "code " << c;
    }
  }
  EXPECT_THROW(fp4_decode(16), Error);
}

TEST(Fp4, RoundsToNearestTiesToEvenAndSaturates) {
  EXPECT_EQ(fp4_decode(fp4_encode(0.25f)), 0.0f);  // tie between 0 and 0.5: even code 0
  EXPECT_EQ(fp4_decode(fp4_encode(0.75f)), 1.0f);  // tie between 0.5 (code 1) and 1 (code 2)
  EXPECT_EQ(fp4_decode(fp4_encode(2.5f)), 2.0f);   // tie between 2 (code 4) and 3 (code 5)
  EXPECT_EQ(fp4_decode(fp4_encode(5.0f)), 4.0f);   // tie between 4 (code 6) and 6 (code 7)
  EXPECT_EQ(fp4_decode(fp4_encode(5.1f)), 6.0f);
  EXPECT_EQ(fp4_decode(fp4_encode(-100.0f)), -6.0f);
  EXPECT_EQ(fp4_decode(fp4_encode(-1.2f)), -1.0f);
}

TEST(Mxfp4, BlocksShareAPowerOfTwoScale) {
  std::vector<float> v(40);
  for (int i = 0; i < 40; ++i) v[i] = (i < 32 ? 0.01f : 3.0f) * static_cast<float>((i % 7) - 3);
  std::vector<Mxfp4Block> blocks = mxfp4_encode(v.data(), 40);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].codes.size(), 32u);
  EXPECT_EQ(blocks[1].codes.size(), 8u);
  // Block 0: max 0.03, floor(log2 0.03) = -6, X = -8; block 1: max 9, X = 3 - 2 = 1.
  EXPECT_EQ(blocks[0].scale_e8m0, 127 - 8);
  EXPECT_EQ(blocks[1].scale_e8m0, 127 + 1);
  std::vector<float> back = mxfp4_decode(blocks, 40);
  for (int i = 0; i < 40; ++i) {
    // Rounding errs by at most one unit of 2^X; saturation (|v| < 8 * 2^X clamps to 6 * 2^X) by two.
    float step = i < 32 ? std::ldexp(1.0f, -7) : 4.0f;
    EXPECT_LE(std::fabs(back[i] - v[i]), step) << i;
  }
  // A value that is exactly representable comes back exactly.
  float exact[2] = {6 * std::ldexp(1.0f, -3), -1.5f * std::ldexp(1.0f, -3)};
  std::vector<float> round = mxfp4_decode(mxfp4_encode(exact, 2), 2);
  EXPECT_EQ(round[0], exact[0]);
  EXPECT_EQ(round[1], exact[1]);
}

TEST(Quant, RowsRoundTripWithinHalfAStep) {
  Rng rng(3);
  std::vector<float> w(64);
  for (float& v : w) v = rng.uniform(-0.7f, 0.7f);
  for (WeightFormat f : {WeightFormat::int8, WeightFormat::int4}) {
    QuantRow r = quantize_row(w.data(), 64, f);
    for (int i = 0; i < 64; ++i) EXPECT_LE(std::fabs(r.scale * r.level[i] - w[i]), r.scale / 2 + 1e-7f);
  }
  QuantRow f4 = quantize_row(w.data(), 64, WeightFormat::fp4);
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(f4.level[i] % 1, 0);
    float v = w[i] / (2 * f4.scale);  // in E2M1 units
    EXPECT_EQ(f4.level[i], static_cast<int32_t>(2 * fp4_decode(fp4_encode(v))));
  }
  QuantRow mx = quantize_row(w.data(), 64, WeightFormat::mxfp4);
  std::vector<float> dec = mxfp4_decode(mxfp4_encode(w.data(), 64), 64);
  for (int i = 0; i < 64; ++i) EXPECT_FLOAT_EQ(mx.scale * mx.level[i], dec[i]) << i;
  EXPECT_EQ(parse_weight_format("fp4"), WeightFormat::fp4);
  EXPECT_THROW(parse_weight_format("fp8"), Error);
}

TEST(Csd, ReconstructsNonAdjacentAndMinimal) {
  // Minimal non-zero digit count over every signed-binary form of 12 digits, by enumeration.
  const int digits = 12;
  std::vector<int> best(1 << 13, 99);
  int total = 1;
  for (int i = 0; i < digits; ++i) total *= 3;
  for (int code = 0; code < total; ++code) {
    int c = code, value = 0, weight = 0;
    for (int k = 0; k < digits; ++k, c /= 3) {
      int d = c % 3 - 1;
      value += d * (1 << k);
      weight += d != 0;
    }
    if (value >= 0 && value < (1 << 11)) best[value] = std::min(best[value], weight);
  }
  for (int64_t v = -3000; v <= 3000; ++v) {
    std::vector<int> d = csd_digits(v);
    int64_t back = 0;
    for (size_t k = 0; k < d.size(); ++k) {
      ASSERT_TRUE(d[k] >= -1 && d[k] <= 1);
      back += d[k] * (int64_t{1} << k);
      if (k > 0) {
        ASSERT_FALSE(d[k] != 0 && d[k - 1] != 0) << "adjacent digits in " << v;
      }
    }
    ASSERT_EQ(back, v);
    if (v >= 0 && v < (1 << 11)) {
      ASSERT_EQ(csd_weight(v), best[v]) << v;
    }
    ASSERT_EQ(csd_weight(v), csd_weight(-v));
  }
  EXPECT_TRUE(csd_digits(0).empty());
  EXPECT_EQ(csd_weight(7), 2);  // 8 - 1
}

TEST(Reference, IntegerInferenceTracksFloat) {
  FloatNet net = mlp(32, 24, 6, 11);
  std::vector<std::vector<float>> xs = samples(64, 32, 12);
  for (WeightFormat f : {WeightFormat::int8, WeightFormat::int4, WeightFormat::fp4, WeightFormat::mxfp4}) {
    QuantNet q = quantize_net(net, f, xs);
    double worst = 0, range = 0;
    int agree = 0;
    for (const auto& x : xs) {
      std::vector<float> y = float_forward(net, x);
      std::vector<int32_t> c = quant_forward(q, quantize_input(q, x));
      for (size_t o = 0; o < y.size(); ++o) {
        worst = std::max(worst, std::fabs(static_cast<double>(c[o] * q.layers.back().out_scale - y[o])));
        range = std::max(range, std::fabs(static_cast<double>(y[o])));
      }
      agree += argmax(c) == argmax(y);
    }
    // int8 is within a few percent of the logit range; 4-bit formats within a quarter of it.
    double tol = f == WeightFormat::int8 ? 0.03 : 0.25;
    EXPECT_LT(worst, tol * range) << format_name(f);
    EXPECT_GE(agree, f == WeightFormat::int8 ? 60 : 40) << format_name(f);
  }
}

TEST(Reference, ConvAndMaxpoolMatchFloatAtInt8) {
  Rng rng(5);
  FloatNet net;
  net.input_size = 2 * 6 * 6;
  FloatLayer conv;
  conv.kind = LayerKind::conv2d;
  conv.in_channels = 2;
  conv.out_channels = 3;
  conv.kernel = 3;
  conv.pad = 1;
  conv.in_h = conv.in_w = 6;
  for (int i = 0; i < 3 * 2 * 9; ++i) conv.weight.push_back(rng.uniform(-0.4f, 0.4f));
  conv.bias = {0.1f, -0.05f, 0.0f};
  FloatLayer pool;
  pool.kind = LayerKind::maxpool2d;
  pool.in_channels = 3;
  pool.kernel = pool.stride = 2;
  pool.in_h = pool.in_w = 6;
  net.layers = {conv, simple(LayerKind::relu), pool, simple(LayerKind::flatten), linear(27, 4, rng)};
  std::vector<std::vector<float>> xs = samples(16, 72, 6);
  QuantNet q = quantize_net(net, WeightFormat::int8, xs);
  for (const auto& x : xs) {
    std::vector<float> y = float_forward(net, x);
    std::vector<int32_t> c = quant_forward(q, quantize_input(q, x));
    ASSERT_EQ(c.size(), 4u);
    for (size_t o = 0; o < 4; ++o) EXPECT_NEAR(c[o] * q.layers.back().out_scale, y[o], 0.05);
  }
  EXPECT_THROW(generate_netlist(q, NetStyle::hn), Error);  // maxpool2d is not hardwired
}

TEST(Simulated, ConvLowersToTheLinearLayerItEquals) {
  if (!tool_available("iverilog") || !tool_available("vvp")) GTEST_SKIP() << "iverilog/vvp not on PATH";
  Rng rng(7);
  FloatNet net;
  net.input_size = 2 * 6 * 6;
  FloatLayer conv;
  conv.kind = LayerKind::conv2d;
  conv.in_channels = 2;
  conv.out_channels = 3;
  conv.kernel = 3;
  conv.stride = 2;
  conv.pad = 1;  // padded edges and a stride: the lowering must skip exactly the reference's taps
  conv.in_h = conv.in_w = 6;
  for (int i = 0; i < 3 * 2 * 9; ++i) conv.weight.push_back(rng.uniform(-0.4f, 0.4f));
  conv.bias = {0.1f, -0.05f, 0.0f};
  net.layers = {conv, simple(LayerKind::relu), simple(LayerKind::flatten), linear(27, 4, rng)};
  std::vector<std::vector<float>> xs = samples(12, 72, 8);
  for (WeightFormat format : {WeightFormat::int8, WeightFormat::fp4}) {
    QuantNet q = quantize_net(net, format, xs);
    std::vector<std::vector<int32_t>> inputs, expected;
    for (const auto& x : xs) {
      inputs.push_back(quantize_input(q, x));
      expected.push_back(quant_forward(q, inputs.back()));
    }
    for (NetStyle style : {NetStyle::ce, NetStyle::hn, NetStyle::mem}) {
      Netlist nl = generate_netlist(q, style);
      EXPECT_EQ(nl.inputs, 72);
      EXPECT_LE(nl.nonzero_weights, 27 * 18 + 27 * 4);  // each conv output reads at most 2x3x3 inputs
      std::string dir = temp_dir("conv_" + style_name(style) + "_" + format_name(format));
      SimResult r = simulate(nl, dir, inputs, expected);
      EXPECT_EQ(r.mismatches, 0) << style_name(style) << " " << format_name(format);
      std::filesystem::remove_all(dir);
    }
  }
}

TEST(FromModule, ConvertsAModelTreeThatComputesTheSame) {
  Rng rng(11);
  frugal::nn::Sequential model;
  auto inner = std::make_unique<frugal::nn::Sequential>();
  model.add(std::make_unique<frugal::nn::AvgPool2d>(2, 2, 0));
  model.add(std::make_unique<frugal::nn::Conv2d>(2, 4, 3, 1, 1, 2, true, rng));  // grouped: widened to dense
  model.add(std::make_unique<frugal::nn::ReLU>());
  model.add(std::make_unique<frugal::nn::MaxPool2d>(2, 2, 0));
  inner->add(std::make_unique<frugal::nn::Flatten>(1));
  inner->add(std::make_unique<frugal::nn::Dropout>(0.5f, 3));
  inner->add(std::make_unique<frugal::nn::Linear>(36, 5, true, rng));
  model.add(std::move(inner));
  model.set_training(false);
  FloatNet net = float_net_from_module(model, {2, 12, 12});
  ASSERT_EQ(net.layers.size(), 6u);  // dropout dropped
  EXPECT_EQ(net.layers[0].kind, LayerKind::conv2d);  // the average pool
  EXPECT_EQ(net.input_size, 288);
  std::vector<float> x = samples(1, 288, 12)[0];
  frugal::Tensor t({1, 2, 12, 12}, x);
  std::vector<float> want = model.forward(frugal::nn::Var(t)).value().to_vector();
  std::vector<float> got = float_forward(net, x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
  // Quantized, the average pool's row is one repeated level: exact in every format.
  QuantNet q = quantize_net(net, WeightFormat::fp4, samples(4, 288, 13));
  for (int32_t w : q.layers[0].weight) EXPECT_TRUE(w == 0 || w == 12) << w;
}

TEST(FromModule, ConvertsASpikingNetThatCountsTheSameSpikes) {
  Rng rng(14);
  frugal::nn::Sequential model;
  frugal::snn::NeuronLayerSpec lif;
  lif.beta = 0.5f;
  lif.threshold = 0.3f;
  model.add(std::make_unique<frugal::nn::Flatten>(1));
  model.add(std::make_unique<frugal::nn::Linear>(16, 8, true, rng));
  model.add(std::make_unique<frugal::snn::Encoder>(frugal::snn::Encoding::direct, 5, 1));
  model.add(std::make_unique<frugal::snn::NeuronLayer>("lif", lif));
  model.add(std::make_unique<frugal::nn::Linear>(8, 3, true, rng));
  model.add(std::make_unique<frugal::snn::NeuronLayer>("lif", lif));
  model.add(std::make_unique<frugal::snn::ReadoutLayer>(frugal::snn::Readout::spike_count));
  model.set_training(false);
  FloatNet net = float_net_from_module(model, {1, 4, 4});
  ASSERT_EQ(net.layers.size(), 7u);
  EXPECT_EQ(net.layers[2].kind, LayerKind::encoder);
  EXPECT_EQ(net.layers[3].kind, LayerKind::lif);
  int spikes = 0;
  for (const auto& x : samples(8, 16, 15)) {
    frugal::Tensor t({1, 1, 4, 4}, x);
    std::vector<float> want = model.forward(frugal::nn::Var(t)).value().to_vector();
    std::vector<float> got = float_forward(net, x);
    ASSERT_EQ(got.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i], want[i]) << i;
    for (float v : got) spikes += static_cast<int>(v);
  }
  EXPECT_GT(spikes, 0);
  frugal::nn::Sequential cuba;
  cuba.add(std::make_unique<frugal::nn::Flatten>(1));
  cuba.add(std::make_unique<frugal::nn::Linear>(16, 8, true, rng));
  cuba.add(std::make_unique<frugal::snn::Encoder>(frugal::snn::Encoding::direct, 5, 1));
  cuba.add(std::make_unique<frugal::snn::NeuronLayer>("cuba_lif", lif));
  try {
    float_net_from_module(cuba, {1, 4, 4});
    FAIL() << "expected an unsupported-neuron error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 3 (cuba_lif)"), std::string::npos) << e.what();
  }
}

TEST(FromModule, RefusesUnsupportedLayersByName) {
  frugal::nn::Sequential model;
  model.add(std::make_unique<frugal::nn::Flatten>(1));
  model.add(std::make_unique<frugal::nn::BatchNorm2d>(3, 0.1f, 1e-5f));
  try {
    float_net_from_module(model, {3, 4, 4});
    FAIL() << "expected an unsupported-layer error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 (batchnorm2d)"), std::string::npos) << e.what();
  }
  Rng rng(1);
  frugal::nn::Sequential unflat;
  unflat.add(std::make_unique<frugal::nn::Linear>(16, 2, true, rng));
  EXPECT_THROW(float_net_from_module(unflat, {1, 4, 4}), Error);  // linear needs a flatten first
}

TEST(Reference, RefusesAccumulatorOverflow) {
  FloatNet net = mlp(4, 3, 2, 1);
  net.layers[0].bias[0] = 1e9f;  // a bias no 32-bit accumulator holds at this scale
  std::vector<std::vector<float>> xs = samples(4, 4, 2);
  try {
    quantize_net(net, WeightFormat::int8, xs);
    FAIL() << "expected an overflow error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 0 (linear)"), std::string::npos) << e.what();
  }
}

TEST(Netlist, OutputsHexRoundTrip) {
  std::vector<std::vector<int32_t>> rows = {{1, -1, 127, -127}};
  EXPECT_EQ(inputs_hex(rows), "817fff01\n");  // code 0 in the lowest byte
  std::vector<std::vector<int32_t>> back = parse_outputs_hex("817fff01\n", 4, 8);
  EXPECT_EQ(back, rows);
  EXPECT_THROW(parse_outputs_hex("81x7ff01\n", 4, 8), Error);
  EXPECT_THROW(parse_outputs_hex("817f\n", 4, 8), Error);
}

class Simulated : public ::testing::TestWithParam<std::tuple<NetStyle, WeightFormat>> {};

TEST_P(Simulated, MatchesIntegerReferenceBitExactly) {
  if (!tool_available("iverilog") || !tool_available("vvp")) GTEST_SKIP() << "iverilog/vvp not on PATH";
  auto [style, format] = GetParam();
  FloatNet net = mlp(12, 6, 4, 21);
  std::vector<std::vector<float>> xs = samples(24, 12, 22);
  QuantNet q = quantize_net(net, format, xs);
  std::vector<std::vector<int32_t>> inputs, expected;
  for (const auto& x : xs) {
    inputs.push_back(quantize_input(q, x));
    expected.push_back(quant_forward(q, inputs.back()));
  }
  // Extreme codes exercise the sign-bit cycle and the clamps.
  inputs.push_back(std::vector<int32_t>(12, -127));
  expected.push_back(quant_forward(q, inputs.back()));
  inputs.push_back(std::vector<int32_t>(12, 127));
  expected.push_back(quant_forward(q, inputs.back()));
  Netlist nl = generate_netlist(q, style);
  std::string dir = temp_dir(style_name(style) + "_" + format_name(format));
  SimResult r = simulate(nl, dir, inputs, expected);
  EXPECT_EQ(r.samples, 26);
  EXPECT_EQ(r.mismatches, 0);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(AllStyles, Simulated,
                         ::testing::Combine(::testing::Values(NetStyle::ce, NetStyle::hn, NetStyle::mem),
                                            ::testing::Values(WeightFormat::int8, WeightFormat::int4,
                                                              WeightFormat::fp4, WeightFormat::mxfp4)),
                         [](const auto& info) {
                           return style_name(std::get<0>(info.param)) + "_" + format_name(std::get<1>(info.param));
                         });

TEST(Synth, CountsCellsOfASmallLayer) {
  if (!tool_available("yosys")) GTEST_SKIP() << "yosys not on PATH";
  FloatNet net = mlp(4, 2, 2, 31);  // tiny: the requantizers dominate, synthesis stays quick
  QuantNet q = quantize_net(net, WeightFormat::int4, samples(8, 4, 32));
  for (NetStyle style : {NetStyle::ce, NetStyle::hn, NetStyle::mem}) {
    Netlist nl = generate_netlist(q, style);
    std::string dir = temp_dir("synth_" + style_name(style));
    write_design(nl, dir, {std::vector<int32_t>(4, 0)});
    SynthStats s = synthesize(nl, dir);
    EXPECT_GT(s.cells, 0) << style_name(style);
    EXPECT_GT(s.by_type["$_DFF_P_"], 0) << style_name(style);
    EXPECT_EQ(s.memory_bits > 0, style == NetStyle::mem);
    EXPECT_GE(s.transistors, s.cells * 2);
    std::filesystem::remove_all(dir);
  }
}

TEST(Synth, ParsesStatReport) {
  std::string report =
      "   Number of wires:                 10\n   Number of cells:                  7\n"
      "     $_AND_                          3\n     $_DFF_P_                        4\n\n   Chip area: 0\n";
  std::map<std::string, int64_t> cells = parse_stat_cells(report);
  EXPECT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells["$_AND_"], 3);
  EXPECT_EQ(cells["$_DFF_P_"], 4);
  EXPECT_EQ(transistors_per_cell("$_NAND_"), 4);
  EXPECT_THROW(transistors_per_cell("$_FOO_"), Error);
}

// The files of the issue's command; their numbers are the only copy of the paper's assumptions.
CostInputs paper_inputs() {
  std::string root = FRUGAL_SOURCE_DIR;
  CostInputs in = read_cost_tech(root + "/examples/hnlpu/5nm.toml");
  in.model = read_llm_architecture(root + "/examples/llm/gpt-oss-120b.toml");
  return in;
}

TEST(CostModel, ReproducesThePapersDerivedFiguresFromTheExampleFiles) {
  CostInputs in = paper_inputs();
  CostReport r = llm_cost(in);
  auto near = [](double got, double want) { return std::fabs(got - want) <= 0.02 * std::fabs(want); };
  EXPECT_TRUE(near(r.parameters, 116.8e9)) << r.parameters;
  EXPECT_TRUE(near(r.active_parameters, 5.1e9)) << r.active_parameters;
  EXPECT_TRUE(near(r.total_area_mm2, 13232)) << r.total_area_mm2;
  EXPECT_TRUE(near(r.wafer_fraction, 0.29)) << r.wafer_fraction;
  EXPECT_EQ(r.dies_per_wafer, 62);
  EXPECT_TRUE(near(r.yield, 0.43)) << r.yield;
  EXPECT_TRUE(near(r.cost_per_good_die_usd, 629)) << r.cost_per_good_die_usd;
  EXPECT_GE(r.naive_mask_cost_usd, 6e9 * 0.98) << r.naive_mask_cost_usd;
  EXPECT_TRUE(near(r.nre_usd_low, 59.46e6)) << r.nre_usd_low;
  EXPECT_TRUE(near(r.nre_usd_high, 123.5e6)) << r.nre_usd_high;
  EXPECT_TRUE(near(r.mask_saving, 112)) << r.mask_saving;
  EXPECT_TRUE(near(r.shared_mask_saving, 7.4)) << r.shared_mask_saving;
  EXPECT_TRUE(near(r.tokens_per_joule, 36)) << r.tokens_per_joule;
  // Every input of the file is printed with the file's source text, every line has a source.
  for (const auto& [key, source] : in.source) {
    bool printed = false;
    for (const CostLine& l : r.lines) printed = printed || (l.key == key && l.source == source);
    EXPECT_TRUE(printed) << key;
  }
  for (const CostLine& l : r.lines) EXPECT_FALSE(l.source.empty()) << l.key;
  in.measured_transistors_per_weight = 20;
  CostReport m = llm_cost(in);
  EXPECT_NEAR(m.measured_area_mm2, m.parameters * 20 / in.transistors_per_mm2, 1.0);
  in.chips = 0;
  EXPECT_THROW(llm_cost(in), Error);
}

TEST(CostModel, FilesAreReadStrictly) {
  fs::path dir = fs::temp_directory_path() / ("frugal_costfiles_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string root = FRUGAL_SOURCE_DIR;
  std::ifstream tech_file(root + "/examples/hnlpu/5nm.toml");
  std::stringstream tech_text;
  tech_text << tech_file.rdbuf();
  auto expect_refused = [&](const std::string& name, const std::string& text, bool tech, const std::string& needle) {
    fs::path p = dir / name;
    std::ofstream(p) << text;
    try {
      if (tech)
        read_cost_tech(p.string());
      else
        read_llm_architecture(p.string());
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  std::string all = tech_text.str();
  expect_refused("unknown.toml", all + "chipz = { value = 20, source = \"typo\" }\n", true, "chipz");
  std::string typed = all;
  typed.replace(typed.find("value = 16,"), 11, "value = \"16\",");
  expect_refused("mistyped.toml", typed, true, "chips");
  std::string bare = all;
  bare.replace(bare.find("pue = { value = 1.4, source"), 27, "pue = 1.4 #");
  expect_refused("bare.toml", bare, true, "pue");
  std::string missing = all;
  missing.erase(missing.find("years = {"), missing.find("\n", missing.find("years = {")) - missing.find("years = {"));
  expect_refused("missing.toml", missing, true, "years");
  expect_refused("arch.toml", "name = \"x\"\nsource = \"y\"\nlayers = 2\nhiden = 64\n", false, "hiden");
  expect_refused("arch2.toml", "name = \"x\"\nsource = \"y\"\nlayers = 2\n", false, "hidden");
  fs::remove_all(dir);
}

TEST(Spiking, IntegerReferenceTracksFloat) {
  FloatNet net = snn(16, 12, 4, 6, 41);
  std::vector<std::vector<float>> xs = samples(64, 16, 42);
  QuantNet q = quantize_net(net, WeightFormat::int8, xs);
  ASSERT_EQ(q.layers.size(), 6u);
  EXPECT_TRUE(q.layers[0].raw);
  EXPECT_EQ(q.layers[3].in_max, 1);  // spikes in
  EXPECT_EQ(q.layers[2].beta_q, 192);
  int agree = 0, total_spikes = 0, worst = 0;
  for (const auto& x : xs) {
    std::vector<float> y = float_forward(net, x);
    std::vector<int32_t> c = quant_forward(q, quantize_input(q, x));
    ASSERT_EQ(c.size(), 4u);
    for (size_t o = 0; o < 4; ++o) {
      EXPECT_GE(c[o], 0);
      EXPECT_LE(c[o], 6);
      total_spikes += c[o];
      worst = std::max(worst, std::abs(c[o] - static_cast<int>(y[o])));
    }
    agree += argmax(c) == argmax(y);
  }
  EXPECT_GT(total_spikes, 64);  // the net is not silent
  EXPECT_LE(worst, 2);          // rounding moves a spike by a step or two, never the whole train
  EXPECT_GE(agree, 52);
}

TEST(Spiking, RefusesMisplacedLayersAndNarrowAccumulators) {
  FloatNet net = snn(8, 6, 3, 4, 43);
  std::vector<std::vector<float>> xs = samples(4, 8, 44);
  FloatNet no_encoder = net;
  no_encoder.layers.erase(no_encoder.layers.begin() + 1);
  try {
    quantize_net(no_encoder, WeightFormat::fp4, xs);
    FAIL() << "expected a missing-encoder error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 (lif)"), std::string::npos) << e.what();
  }
  FloatNet no_readout = net;
  no_readout.layers.pop_back();
  EXPECT_THROW(quantize_net(no_readout, WeightFormat::fp4, xs), Error);
  QuantNet q = quantize_net(net, WeightFormat::int8, xs);
  check_accumulator_bits(q, 32);
  try {
    check_accumulator_bits(q, 12);  // 8 int8 inputs of 127 * 127 need 15 bits
    FAIL() << "expected an accumulator overflow";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 0 (linear)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("12-bit accumulator"), std::string::npos) << e.what();
  }
}

class SimulatedSpiking : public ::testing::TestWithParam<std::tuple<NetStyle, WeightFormat>> {};

TEST_P(SimulatedSpiking, MatchesIntegerReferenceBitExactly) {
  if (!tool_available("iverilog") || !tool_available("vvp")) GTEST_SKIP() << "iverilog/vvp not on PATH";
  auto [style, format] = GetParam();
  FloatNet net = snn(12, 8, 4, 5, 45);
  std::vector<std::vector<float>> xs = samples(24, 12, 46);
  QuantNet q = quantize_net(net, format, xs);
  std::vector<std::vector<int32_t>> inputs, expected;
  for (const auto& x : xs) inputs.push_back(quantize_input(q, x));
  inputs.push_back(std::vector<int32_t>(12, -127));
  inputs.push_back(std::vector<int32_t>(12, 127));
  for (const auto& x : inputs) expected.push_back(quant_forward(q, x));
  Netlist nl = generate_netlist(q, style);
  EXPECT_EQ(nl.outputs, 4);
  EXPECT_EQ(nl.out_bits, 8);
  // The layer after the first LIF takes spikes: its module has no multiplier.
  size_t begin = nl.verilog.find("module layer_2("), end = nl.verilog.find("endmodule", begin);
  ASSERT_NE(begin, std::string::npos);
  EXPECT_EQ(nl.verilog.substr(begin, end - begin).find('*'), std::string::npos) << style_name(style);
  std::string dir = temp_dir("snn_" + style_name(style) + "_" + format_name(format));
  SimResult r = simulate(nl, dir, inputs, expected);
  EXPECT_EQ(r.samples, 26);
  EXPECT_EQ(r.mismatches, 0);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(AllStyles, SimulatedSpiking,
                         ::testing::Combine(::testing::Values(NetStyle::ce, NetStyle::hn, NetStyle::mem),
                                            ::testing::Values(WeightFormat::int8, WeightFormat::fp4)),
                         [](const auto& info) {
                           return style_name(std::get<0>(info.param)) + "_" + format_name(std::get<1>(info.param));
                         });

TEST(CppTarget, BitExactForMlpConvAndSpikingNets) {
  if (!tool_available("c++") && !tool_available("g++") && !tool_available("clang++"))
    GTEST_SKIP() << "no C++ compiler on PATH";
  Rng rng(51);
  FloatNet conv_net;
  conv_net.input_size = 2 * 6 * 6;
  FloatLayer conv;
  conv.kind = LayerKind::conv2d;
  conv.in_channels = 2;
  conv.out_channels = 3;
  conv.kernel = 3;
  conv.pad = 1;
  conv.in_h = conv.in_w = 6;
  for (int i = 0; i < 3 * 2 * 9; ++i) conv.weight.push_back(rng.uniform(-0.4f, 0.4f));
  conv.bias = {0.1f, -0.05f, 0.0f};
  FloatLayer pool = simple(LayerKind::maxpool2d);
  pool.in_channels = 3;
  pool.kernel = pool.stride = 2;
  pool.in_h = pool.in_w = 6;
  conv_net.layers = {conv, simple(LayerKind::relu), pool, simple(LayerKind::flatten), linear(27, 4, rng)};
  struct Case {
    std::string name;
    FloatNet net;
  };
  std::vector<Case> cases = {{"mlp", mlp(20, 9, 5, 52)}, {"conv", conv_net}, {"snn", snn(20, 9, 5, 7, 53)}};
  for (const Case& c : cases)
    for (WeightFormat f : {WeightFormat::int8, WeightFormat::int4, WeightFormat::fp4, WeightFormat::mxfp4}) {
      std::vector<std::vector<float>> xs = samples(40, c.net.input_size, 54);
      QuantNet q = quantize_net(c.net, f, xs);
      std::string src = cpp_source(q);
      // Constants in the code: no weight array, and FP4's power-of-two levels become shifts.
      if (f == WeightFormat::fp4 && c.name != "snn") {
        EXPECT_NE(src.find(" << "), std::string::npos);
      }
      std::string dir = temp_dir("cpp_" + c.name + "_" + format_name(f));
      HardwiredCpp hw(compile_cpp(q, dir));
      int64_t mismatches = 0;
      xs.push_back(std::vector<float>(c.net.input_size, 1.0f));
      xs.push_back(std::vector<float>(c.net.input_size, -1.0f));
      for (const auto& x : xs) {
        std::vector<int32_t> codes = quantize_input(q, x), want = quant_forward(q, codes), got(want.size(), -999);
        hw.forward(codes.data(), got.data());
        for (size_t o = 0; o < want.size(); ++o) mismatches += got[o] != want[o];
      }
      EXPECT_EQ(mismatches, 0) << c.name << " " << format_name(f);
      std::filesystem::remove_all(dir);
    }
}
