// Spiking layers as modules: built from TOML, rejected when misconfigured, saved and loaded, trained
// on a Fashion-MNIST slice; the event-driven kernels against the dense ones; energy counts of tiny
// nets against hand-computed SOPs and MACs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/energy/energy.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/event.h"
#include "frugal/nn/builder.h"
#include "frugal/nn/layers.h"
#include "frugal/nn/model_file.h"
#include "frugal/snn/layers.h"
#include "frugal/train/config.h"
#include "frugal/train/layer_families.h"
#include "frugal/train/trainer.h"

using namespace frugal;
namespace fs = std::filesystem;
using autograd::Var;

namespace {

// Specs name spiking layer types, which the snn family registers with the nn builder.
const bool kRegistered = [] {
  train::register_layer_families();
  return true;
}();

nn::ModulePtr build(const std::string& toml, uint64_t seed = 1) {
  Rng rng(seed);
  return nn::build_sequential(train::toml_to_json(toml, "test.toml")["layers"], rng);
}

const char* kMlp = R"(
[[layers]]
type = "encoder"
code = "direct"
steps = 4
[[layers]]
type = "flatten"
start_axis = 2
[[layers]]
type = "linear"
in = 12
out = 6
[[layers]]
type = "cuba_lif"
alpha = 0.7
beta = 0.6
neurons = 6
learn_beta = true
learn_threshold = true
surrogate = "fast_sigmoid"
surrogate_param = 25.0
[[layers]]
type = "rlif"
features = 6
beta = 0.8
reset = "zero"
[[layers]]
type = "linear"
in = 6
out = 3
[[layers]]
type = "if"
init_frac = 0.5
[[layers]]
type = "lif"
beta = 0.5
output = "membrane"
[[layers]]
type = "readout"
mode = "mem_max"
)";

Tensor random_input(Shape shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(0.0f, 1.5f);
  return t;
}

TEST(SnnLayers, BuildFromTomlAndRun) {
  nn::ModulePtr m = build(kMlp);
  auto* seq = dynamic_cast<nn::Sequential*>(m.get());
  ASSERT_NE(seq, nullptr);
  ASSERT_EQ(seq->layers.size(), 9u);
  EXPECT_EQ(seq->layers[3]->type(), "cuba_lif");
  EXPECT_EQ(seq->layers[4]->type(), "rlif");
  Var y = m->forward(Var(random_input({5, 3, 2, 2}, 7)));
  EXPECT_EQ(y.shape(), (Shape{5, 3}));
  // Learned per-neuron beta and threshold of the CuBa layer, the recurrent weights, two linears.
  std::vector<std::string> names;
  for (nn::Param& p : m->parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"2.weight", "2.bias", "3.beta", "3.threshold", "4.weight", "4.bias",
                                             "5.weight", "5.bias"}));
  // Every parameter gets a gradient through time.
  autograd::backward(autograd::softmax_cross_entropy(y, {0, 1, 2, 0, 1}));
  for (nn::Param& p : m->parameters()) {
    ASSERT_TRUE(p.var.grad().defined()) << p.name;
    double sum = 0;
    for (int64_t i = 0; i < p.var.grad().numel(); ++i) sum += std::fabs(p.var.grad()[i]);
    EXPECT_GT(sum, 0.0) << p.name;
  }
}

TEST(SnnLayers, BadConfigsNameTheLayerAndKey) {
  auto error_of = [](const std::string& layer) {
    try {
      build("[[layers]]\n" + layer);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("type = \"lif\"\nbeta = -0.5").find("layers[0]: beta must be in [0, 1]"), std::string::npos);
  EXPECT_NE(error_of("type = \"lif\"\nthreshold = 0.0").find("threshold must be positive"), std::string::npos);
  EXPECT_NE(error_of("type = \"cuba_lif\"\nalpha = 1.5").find("layers[0].alpha"), std::string::npos);
  EXPECT_NE(error_of("type = \"encoder\"\ncode = \"rate\"\nsteps = 0").find("layers[0].steps: T must be at least 1"),
            std::string::npos);
  EXPECT_NE(error_of("type = \"lif\"\nsurrogate = \"relu\"").find("relu"), std::string::npos);
  EXPECT_NE(error_of("type = \"lif\"\nbetta = 0.5").find("unknown key 'betta'"), std::string::npos);
  EXPECT_NE(error_of("type = \"readout\"\nmode = \"sum\"").find("unknown mode 'sum'"), std::string::npos);
  EXPECT_NE(error_of("type = \"rlif\"\nfeatures = 4\nlearn_beta = true").find("rlif supports only"),
            std::string::npos);
}

TEST(SnnLayers, SaveLoadRoundTrip) {
  nn::ModulePtr m = build(kMlp, 3);
  // Move the learned neuron parameters off their initial values, so loading must restore them.
  for (nn::Param& p : m->parameters())
    for (int64_t i = 0; i < p.var.value().numel(); ++i) p.var.value()[i] += 0.01f * static_cast<float>(i % 5);
  Tensor x = random_input({4, 3, 2, 2}, 11);
  Tensor before = m->forward(Var(x)).value();
  std::string path = (fs::temp_directory_path() / "frugal_test_snn_model.safetensors").string();
  nn::save_model(path, *m, nn::Json::object());
  nn::SavedModel loaded = nn::load_model(path);
  EXPECT_EQ(loaded.model->spec(), m->spec());
  Tensor after = loaded.model->forward(Var(x)).value();
  EXPECT_EQ(before.to_vector(), after.to_vector());
}

TEST(SnnLayers, SpikingLossesFollowTheReadout) {
  nn::ModulePtr m = build(R"(
[[layers]]
type = "encoder"
code = "direct"
steps = 5
[[layers]]
type = "linear"
in = 4
out = 3
[[layers]]
type = "lif"
threshold = 0.2
[[layers]]
type = "readout"
mode = "count"
)");
  Var x(random_input({6, 4}, 5));
  train::ModelOutput out = train::run_model(*m, x);
  ASSERT_TRUE(out.sequence.defined());
  EXPECT_EQ(out.sequence.shape(), (Shape{5, 6, 3}));
  std::vector<int> labels{0, 1, 2, 0, 1, 2};
  EXPECT_EQ(train::compute_loss("mse_count", out.logits, labels, out.sequence).value()[0],
            snn::mse_count_loss(out.sequence, labels).value()[0]);
  EXPECT_EQ(train::compute_loss("ce_count", out.logits, labels, out.sequence).value()[0],
            snn::ce_count_loss(out.sequence, labels).value()[0]);
  train::check_loss_fits("mse_count", *m);
  EXPECT_THROW(train::check_loss_fits("ce_mem", *m), Error);
  EXPECT_THROW(train::check_loss_fits("hinge", *m), Error);
}

TEST(SnnLayers, LearnsFashionMnistSlice) {
  nn::Json raw = train::toml_to_json(R"(
name = "snn_slice"
epochs = 1
batch_size = 50
train_limit = 2000
test_limit = 500
loss = "ce_count"
[optimizer]
type = "adam"
lr = 5e-3
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
in = 784
out = 64
[[layers]]
type = "encoder"
code = "direct"
steps = 5
[[layers]]
type = "lif"
beta = 0.5
surrogate = "fast_sigmoid"
[[layers]]
type = "linear"
in = 64
out = 10
[[layers]]
type = "lif"
beta = 0.5
surrogate = "fast_sigmoid"
[[layers]]
type = "readout"
mode = "count"
)",
                                     "test.toml");
  nn::Json m = train::run_training(train::parse_train_config(raw, "test"),
                                   {(fs::temp_directory_path() / "frugal_test_snn_learns").string(), false});
  // Chance is 0.1.
  EXPECT_GT(m["test_accuracy"].get<double>(), 0.4);
}

Tensor sparse_spikes(Shape shape, float density, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform() < density ? 1.0f : 0.0f;
  return t;
}

Tensor dense_forward(bool conv, const Tensor& x, const Var& w, const Var& b, kernels::Backend backend) {
  kernels::BackendGuard bg(backend);
  kernels::EventModeGuard eg(kernels::EventMode::dense);
  return conv ? autograd::conv2d(Var(x), w, b, {2, 1, 2}).value() : autograd::linear(Var(x), w, b).value();
}

TEST(EventDriven, EqualsTheReferenceBitForBitAndTheFastPathClosely) {
  Rng rng(9);
  auto param = [&rng](Shape s) {
    Tensor t = Tensor::empty(std::move(s));
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
    return Var(t);
  };
  for (bool conv : {false, true}) {
    // Odd sizes; the conv has stride 2, pad 1 and two groups.
    Var w = conv ? param({6, 3, 3, 3}) : param({7, 37});
    Var b = param({conv ? 6 : 7});
    for (float density : {0.02f, 0.2f, 0.7f}) {
      Tensor x = conv ? sparse_spikes({3, 2, 6, 9, 11}, density, 4) : sparse_spikes({3, 5, 37}, density, 4);
      Tensor events;
      {
        kernels::EventModeGuard eg(kernels::EventMode::events);
        events = conv ? autograd::conv2d(Var(x), w, b, {2, 1, 2}).value() : autograd::linear(Var(x), w, b).value();
      }
      Tensor ref = dense_forward(conv, x, w, b, kernels::Backend::reference);
      Tensor fast = dense_forward(conv, x, w, b, kernels::Backend::fast);
      EXPECT_EQ(events.to_vector(), ref.to_vector()) << (conv ? "conv" : "linear") << " density " << density;
      for (int64_t i = 0; i < fast.numel(); ++i) ASSERT_NEAR(events[i], fast[i], 1e-4);
    }
  }
  // Automatic mode picks events below the measured threshold only.
  Tensor sparse = sparse_spikes({1000}, 0.01f, 1), dense = sparse_spikes({1000}, 0.9f, 1);
  // Sparse but real-valued (a ReLU's output): not spikes, so the dense kernels.
  Tensor relu_like = sparse_spikes({1000}, 0.01f, 1);
  for (int64_t i = 0, k = 0; i < relu_like.numel(); ++i)
    if (relu_like[i] != 0.0f) relu_like[i] = 0.5f + 0.1f * static_cast<float>(k++);
  for (kernels::EventOp op : {kernels::EventOp::linear, kernels::EventOp::conv2d}) {
    EXPECT_TRUE(kernels::use_events(op, sparse.data(), sparse.numel()));
    EXPECT_FALSE(kernels::use_events(op, dense.data(), dense.numel()));
    EXPECT_FALSE(kernels::use_events(op, relu_like.data(), relu_like.numel()));
  }
}

TEST(Energy, CountsOfATinyNetByHand) {
  nn::ModulePtr m = build(R"(
[[layers]]
type = "linear"
in = 2
out = 4
bias = false
[[layers]]
type = "encoder"
code = "direct"
steps = 2
[[layers]]
type = "lif"
beta = 0.0
threshold = 0.5
[[layers]]
type = "linear"
in = 4
out = 3
[[layers]]
type = "lif"
[[layers]]
type = "readout"
mode = "count"
)");
  auto* seq = dynamic_cast<nn::Sequential*>(m.get());
  // The first layer maps the analog input (2, 1) to currents (1, 0, 0.7, 0.2): with beta 0 and
  // threshold 0.5, step 0 fires neurons 0 and 2; at step 1 their membranes are 1 - 0.5 and
  // 0.7 - 0.5, no spike.
  Tensor& w = dynamic_cast<nn::Linear&>(*seq->layers[0]).weight.value();
  std::vector<float> wv{0.5f, 0, 0, 0, 0.35f, 0, 0.1f, 0};
  for (int i = 0; i < 8; ++i) w[i] = wv[static_cast<size_t>(i)];
  energy::EnergyCounter counter(*m, {});
  counter.add_batch(Tensor({2, 2}, {2, 1, 2, 1}));
  energy::EnergyReport r = counter.report();
  ASSERT_EQ(r.layers.size(), 6u);
  EXPECT_EQ(r.samples, 2);
  EXPECT_DOUBLE_EQ(r.layers[0].macs, 8.0);  // 2 inputs x 4 outputs, analog
  EXPECT_DOUBLE_EQ(r.layers[0].sops, 0.0);
  EXPECT_DOUBLE_EQ(r.layers[2].firing_rate, 0.25);  // 2 spikes of 4 neurons x 2 steps
  EXPECT_EQ(r.layers[2].rate_per_step, (std::vector<double>{0.5, 0.0}));
  EXPECT_TRUE(r.layers[3].spiking_input);
  EXPECT_DOUBLE_EQ(r.layers[3].sops, 6.0);  // 2 spikes x fan-out 3
  EXPECT_EQ(r.layers[3].ops_per_step, (std::vector<double>{6.0, 0.0}));
  EXPECT_DOUBLE_EQ(r.macs, 8.0);
  EXPECT_DOUBLE_EQ(r.sops, 6.0);
  EXPECT_NEAR(r.energy_pj, 8 * 4.6 + 6 * 0.9, 1e-9);
  EXPECT_EQ(energy::to_json(r)["layers"][3]["sops"].get<double>(), 6.0);
}

TEST(Energy, ConvFanOutCountsOnlyInBoundsTaps) {
  nn::ModulePtr m = build(R"(
[[layers]]
type = "conv2d"
in = 1
out = 2
kernel = 3
pad = 1
)");
  energy::EnergyCounter counter(*m, {});
  Tensor x({2, 1, 4, 4});
  x[0] = 1;       // sample 0: a spike in the corner reaches 2 x 2 taps of 2 channels
  x[16 + 5] = 1;  // sample 1: at (1, 1) it reaches all 3 x 3 taps
  counter.add_batch(x);
  energy::EnergyReport r = counter.report();
  EXPECT_TRUE(r.layers[0].spiking_input);
  EXPECT_DOUBLE_EQ(r.layers[0].sops, (8.0 + 18.0) / 2.0);
  EXPECT_DOUBLE_EQ(r.layers[0].macs, 0.0);
}

}  // namespace
