// Encoders, readouts and spiking losses: golden values from snnTorch 0.9 spikegen / functional
// (tests/data/snn/encoders_snntorch.json), seeded rate coding, and readout gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "frugal/autograd/gradcheck.h"
#include "frugal/core/error.h"
#include "frugal/snn/encoders.h"
#include "frugal/snn/readouts.h"

using namespace frugal;
using autograd::Var;

namespace {
nlohmann::json load_fixture() {
  std::ifstream in(std::string(FRUGAL_SOURCE_DIR) + "/tests/data/snn/encoders_snntorch.json");
  EXPECT_TRUE(in.good());
  return nlohmann::json::parse(in);
}
Tensor tensor_of(const nlohmann::json& values, const nlohmann::json& shape) {
  return Tensor(shape.get<Shape>(), values.get<std::vector<float>>());
}
void expect_values(const Tensor& got, const nlohmann::json& want, double tol, const std::string& what) {
  auto w = want.get<std::vector<float>>();
  ASSERT_EQ(got.numel(), static_cast<int64_t>(w.size())) << what;
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(got[i], w[i], tol) << what << "[" << i << "]";
}
}  // namespace

TEST(Encoders, DirectRepeatsTheInput) {
  Tensor x({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor e = snn::encode_direct(x, 4);
  EXPECT_EQ(e.shape(), (Shape{4, 2, 3}));
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(e[t * 6 + i], x[i]);
  EXPECT_THROW(snn::encode_direct(x, 0), Error);
}

TEST(Encoders, RateIsSeededAndHasTheRightMean) {
  Tensor x({4}, {0.0f, 0.25f, 0.8f, 1.5f});
  Rng a(9), b(9), c(10);
  Tensor ea = snn::encode_rate(x, 4000, a), eb = snn::encode_rate(x, 4000, b), ec = snn::encode_rate(x, 4000, c);
  double mean[4] = {0, 0, 0, 0};
  bool differs = false;
  for (int64_t k = 0; k < ea.numel(); ++k) {
    EXPECT_EQ(ea[k], eb[k]);
    differs = differs || ea[k] != ec[k];
    mean[k % 4] += ea[k] / 4000.0;
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(mean[0], 0.0);
  EXPECT_NEAR(mean[1], 0.25, 0.03);
  EXPECT_NEAR(mean[2], 0.8, 0.03);
  EXPECT_NEAR(mean[3], 1.0, 1e-9);  // probabilities are clamped to [0, 1]
  Rng d(9);
  Tensor half = snn::encode_rate(x, 4000, d, 0.5f);
  double m2 = 0;
  for (int64_t t = 0; t < 4000; ++t) m2 += half[t * 4 + 2] / 4000.0;
  EXPECT_NEAR(m2, 0.4, 0.03);
}

TEST(Encoders, LatencyMatchesSnnTorch) {
  auto doc = load_fixture();
  Tensor x = tensor_of(doc["data"], doc["shape"]);
  ASSERT_EQ(doc["latency"].size(), 8u);
  for (const auto& c : doc["latency"]) {
    snn::LatencyOptions o;
    o.linear = c["linear"];
    o.normalize = c["normalize"];
    o.clip = c["clip"];
    o.tau = c["tau"];
    expect_values(snn::encode_latency(x, c["steps"].get<int64_t>(), o), c["spikes"], 0,
                  "latency linear=" + c["linear"].dump() + " normalize=" + c["normalize"].dump() +
                      " clip=" + c["clip"].dump());
  }
  snn::LatencyOptions slow;
  slow.tau = 5.0f;
  EXPECT_THROW(snn::encode_latency(x, 25, slow), Error);  // times past T-1
  EXPECT_THROW(snn::encode_latency(Tensor({1}, {1.5f}), 25), Error);
}

TEST(Encoders, DeltaMatchesSnnTorch) {
  auto doc = load_fixture();
  Tensor seq = tensor_of(doc["delta_input"], doc["delta_shape"]);
  ASSERT_EQ(doc["delta"].size(), 4u);
  for (const auto& c : doc["delta"])
    expect_values(snn::encode_delta(seq, c["threshold"], c["padding"], c["off"]), c["spikes"], 0,
                  "delta padding=" + c["padding"].dump() + " off=" + c["off"].dump());
}

TEST(Readouts, ValuesAndGradients) {
  Tensor seq({3, 1, 2}, {1, -1, 4, 2, 2, 0});
  Var s(seq, true);
  EXPECT_EQ(snn::readout(s, snn::Readout::spike_count).value().to_vector(), (std::vector<float>{7, 1}));
  EXPECT_EQ(snn::readout(s, snn::Readout::membrane_max).value().to_vector(), (std::vector<float>{4, 2}));
  EXPECT_EQ(snn::readout(s, snn::Readout::membrane_last).value().to_vector(), (std::vector<float>{2, 0}));
  auto mean = snn::readout(s, snn::Readout::membrane_mean).value();
  EXPECT_FLOAT_EQ(mean[0], 7.0f / 3);
  autograd::clear_tape();
  for (auto how : {snn::Readout::spike_count, snn::Readout::membrane_mean, snn::Readout::membrane_max,
                   snn::Readout::membrane_last}) {
    auto r = autograd::gradcheck([how](const std::vector<Var>& in) { return snn::readout(in[0], how); },
                                 {Tensor({4, 2, 3}, {0.1f, 0.5f, -0.3f, 0.9f, 0.2f, 0.7f, 0.4f, -0.8f, 0.6f, 0.0f, 0.3f, -0.1f,
                                                     1.1f, -0.6f, 0.25f, 0.45f, 0.15f, 0.8f, -0.2f, 0.35f, 0.55f, 0.05f,
                                                     0.65f, 0.95f})});
    EXPECT_LT(r.max_abs_error, 1e-2);
  }
  EXPECT_THROW(snn::parse_readout("sum"), Error);
}

TEST(Losses, MatchSnnTorch) {
  auto doc = load_fixture();
  const auto labels = doc["labels"].get<std::vector<int>>();
  struct Case {
    const char* name;
    const char* input;
  };
  for (Case c : {Case{"ce_count", "loss_spikes"}, Case{"ce_max_membrane", "loss_membranes"},
                 Case{"mse_count", "loss_spikes"}}) {
    Var x(tensor_of(doc[c.input], doc["loss_shape"]), true);
    const std::string name = c.name;
    Var loss = name == "ce_count"          ? snn::ce_count_loss(x, labels)
               : name == "ce_max_membrane" ? snn::ce_membrane_loss(x, labels, snn::Readout::membrane_max)
                                           : snn::mse_count_loss(x, labels, 0.8f, 0.2f);
    EXPECT_NEAR(loss.value()[0], doc["losses"][name]["loss"].get<float>(), 1e-5) << name;
    autograd::backward(loss);
    expect_values(x.grad(), doc["losses"][name]["grad"], 1e-6, name);
  }
  Var bad(Tensor({2, 3}), true);
  EXPECT_THROW(snn::ce_count_loss(bad, {0, 1}), Error);
}
