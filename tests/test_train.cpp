// Training machinery: optimizers against hand-computed steps, schedules, config errors, model
// files round-tripping, and a resumed run ending with the same weights as an uninterrupted one.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "frugal/core/error.h"
#include "frugal/io/safetensors.h"
#include "frugal/nn/builder.h"
#include "frugal/nn/model_file.h"
#include "frugal/train/config.h"
#include "frugal/train/optimizer.h"
#include "frugal/train/schedule.h"
#include "frugal/train/trainer.h"

using namespace frugal;
using namespace frugal::train;
namespace fs = std::filesystem;

namespace {

std::vector<nn::Param> one_param(float value, float grad) {
  autograd::Var v(Tensor::full({1}, value), true);
  v.add_grad(Tensor::full({1}, grad));
  return {{"w", v}};
}

TEST(Optimizer, SgdMomentumAndWeightDecay) {
  OptimizerConfig c;
  c.type = "sgd";
  c.momentum = 0.9;
  c.weight_decay = 0.1;
  auto p = one_param(1.0f, 0.5f);
  Optimizer opt(p, c);
  opt.step(0.1);  // g = 0.5 + 0.1*1 = 0.6; buf = 0.6; w = 1 - 0.06
  EXPECT_NEAR(p[0].var.value()[0], 0.94f, 1e-6);
  p[0].var.zero_grad();
  p[0].var.add_grad(Tensor::full({1}, 0.5f));
  opt.step(0.1);  // g = 0.5 + 0.094 = 0.594; buf = 0.54 + 0.594 = 1.134; w = 0.94 - 0.1134
  EXPECT_NEAR(p[0].var.value()[0], 0.8266f, 1e-5);
}

TEST(Optimizer, AdamFirstStepIsLrTimesSign) {
  OptimizerConfig c;
  c.type = "adam";
  auto p = one_param(1.0f, -3.0f);
  Optimizer opt(p, c);
  opt.step(0.01);
  EXPECT_NEAR(p[0].var.value()[0], 1.01f, 1e-5);
}

TEST(Optimizer, AdamWDecouplesWeightDecay) {
  OptimizerConfig c;
  c.type = "adamw";
  c.weight_decay = 0.5;
  auto p = one_param(2.0f, 1.0f);
  Optimizer opt(p, c);
  opt.step(0.1);  // w = 2 - 0.1*0.5*2 - 0.1*1 = 1.8
  EXPECT_NEAR(p[0].var.value()[0], 1.8f, 1e-5);
}

TEST(Schedule, StepAndCosine) {
  ScheduleConfig s;
  s.type = "step";
  s.step_epochs = 2;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(learning_rate(s, 1.0, 0, 10, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 1.0, 25, 10, 100), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(s, 1.0, 45, 10, 100), 0.25);
  s.type = "cosine";
  s.min_lr = 0.1;
  EXPECT_NEAR(learning_rate(s, 1.0, 0, 10, 100), 1.0, 1e-9);
  EXPECT_NEAR(learning_rate(s, 1.0, 50, 10, 100), 0.55, 1e-9);
  EXPECT_NEAR(learning_rate(s, 1.0, 100, 10, 100), 0.1, 1e-9);
}

std::string example(const std::string& name) { return std::string(FRUGAL_SOURCE_DIR) + "/examples/" + name; }

TEST(Config, UnknownAndMistypedKeysNameTheKey) {
  nn::Json raw = load_config(example("fmnist_cnn.toml"), {"epochs=2", "optimizer.lr=3e-4"});
  TrainConfig c = parse_train_config(raw, "fmnist_cnn.toml");
  EXPECT_EQ(c.epochs, 2);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);
  try {
    parse_train_config(load_config(example("fmnist_cnn.toml"), {"epohcs=2"}), "fmnist_cnn.toml");
    FAIL() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("epohcs"), std::string::npos) << e.what();
  }
  try {
    parse_train_config(load_config(example("fmnist_cnn.toml"), {"epochs=\"three\""}), "fmnist_cnn.toml");
    FAIL() << "mistyped key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("epochs"), std::string::npos) << e.what();
  }
}

// The first half of the resumed run is a run with epochs = 1, so the schedule must not depend on
// the run's length (a cosine schedule spans all epochs); the example's cosine is switched off.
nn::Json small_run(const std::string& epochs) {
  return load_config(example("fmnist_cnn.toml"),
                     {"epochs=" + epochs, "train_limit=384", "test_limit=200", "batch_size=64",
                      "checkpoint_every=2", "schedule.type=\"none\""});
}

TEST(ModelFile, SaveLoadRoundTripsWeightsAndSpec) {
  nn::Json raw = load_config(example("fmnist_cnn.toml"), {});
  Rng rng(1);
  nn::ModulePtr model = nn::build_sequential(raw["layers"], rng);
  std::string path = (fs::temp_directory_path() / "frugal_test_model.safetensors").string();
  nn::save_model(path, *model, raw, {{"note", "hello"}});
  nn::SavedModel loaded = nn::load_model(path);
  auto a = model->parameters(), b = loaded.model->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].var.value().to_vector(), b[i].var.value().to_vector());
  }
  EXPECT_EQ(loaded.extra.at("note"), "hello");
  EXPECT_EQ(loaded.config["name"], "fmnist_cnn");
}

std::vector<float> weights_of(const std::string& model_path) {
  std::vector<float> all;
  for (auto& [name, t] : io::read_safetensors(model_path).tensors) {
    std::vector<float> v = t.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

TEST(Trainer, ResumeEndsWithTheSameWeights) {
  fs::path base = fs::temp_directory_path() / "frugal_test_resume";
  fs::remove_all(base);
  TrainConfig straight = parse_train_config(small_run("2"), "test");
  run_training(straight, {(base / "straight").string(), false});

  // Train one epoch, then resume the same run with epochs = 2.
  TrainConfig first = parse_train_config(small_run("1"), "test");
  run_training(first, {(base / "resumed").string(), false});
  run_training(straight, {(base / "resumed").string(), true});

  std::vector<float> a = weights_of((base / "straight/model.safetensors").string());
  std::vector<float> b = weights_of((base / "resumed/model.safetensors").string());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a, b);
  EXPECT_TRUE(fs::exists(base / "straight/metrics.json"));
  EXPECT_TRUE(fs::exists(base / "straight/train.log"));
}

TEST(Trainer, LearnsFashionMnistSlice) {
  nn::Json raw = load_config(example("fmnist_cnn.toml"),
                             {"epochs=1", "train_limit=3000", "test_limit=500"});
  nn::Json m = run_training(parse_train_config(raw, "test"),
                            {(fs::temp_directory_path() / "frugal_test_learns").string(), false});
  // Chance is 0.1; one short epoch of the reference CNN reaches well above it.
  EXPECT_GT(m["test_accuracy"].get<double>(), 0.6);
  EXPECT_GT(m["peak_bytes"].get<int64_t>(), 0);
}

}  // namespace
