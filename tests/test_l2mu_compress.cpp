// L2MU compression (lmu/compress.h): magnitude pruning drops exactly the smallest weights and its
// masks survive fine-tuning; int8 quantization keeps each weight within half a step of its row's
// scale and keeps zeros; the deployable size counts int8 values, row scales and float32 rest;
// `frugal compress-l2mu` runs the whole chain on a model trained on the committed HAR fixture.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "frugal/core/error.h"
#include "frugal/lmu/compress.h"
#include "support/run_frugal.h"

namespace {

using namespace frugal;

lmu::L2muConfig small_config(const std::string& encoder) {
  lmu::L2muConfig c;
  c.in = 3;
  c.memory_size = 4;
  c.order = 3;
  c.theta = 6;
  c.hidden = 8;
  c.out = 3;
  c.encoder = encoder;
  c.encoder_population = 2;
  c.pop_u.threshold = c.pop_m.threshold = c.pop_h.threshold = c.pop_out.threshold = c.pop_enc.threshold = 0.3f;
  c.readout = "spike_count";
  return c;
}

// A few separable samples: the class sets which channel carries a constant drive.
data::Dataset toy_data(int64_t n, int64_t T) {
  data::Dataset d;
  d.inputs = Tensor::zeros({n, T, 3});
  d.num_classes = 3;
  for (int64_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % 3);
    d.labels.push_back(label);
    for (int64_t t = 0; t < T; ++t) d.inputs[(i * T + t) * 3 + label] = 1.5f;
  }
  return d;
}

TEST(L2muCompress, PruneDropsTheSmallestAndMasksSurviveFineTuning) {
  Rng rng(3);
  lmu::L2mu model(small_config("single"), rng);
  std::vector<lmu::WeightMatrix> mats = lmu::weight_matrices(model);
  ASSERT_EQ(mats.size(), 8u);  // enc.weight, e_x, e_h, e_m, W_x, W_h, W_m, out.weight
  // e_m starts at zero; give it values so every matrix has a magnitude order to prune by.
  for (int64_t i = 0; i < model.weights.e_m.value().numel(); ++i) model.weights.e_m.value()[i] = rng.uniform(-1.0f, 1.0f);
  std::vector<Tensor> before;
  for (const lmu::WeightMatrix& m : mats) before.push_back(m.var.value().clone());

  std::vector<lmu::PruneMask> masks = lmu::magnitude_prune(model, 0.5);
  ASSERT_EQ(masks.size(), mats.size());
  for (size_t k = 0; k < mats.size(); ++k) {
    const Tensor& w = mats[k].var.value();
    int64_t zeros = 0;
    float max_dropped = 0, min_kept = INFINITY;
    for (int64_t i = 0; i < w.numel(); ++i) {
      if (masks[k].keep[i]) {
        EXPECT_EQ(w[i], before[k][i]);
        min_kept = std::fmin(min_kept, std::fabs(before[k][i]));
      } else {
        EXPECT_EQ(w[i], 0.0f);
        ++zeros;
        max_dropped = std::fmax(max_dropped, std::fabs(before[k][i]));
      }
    }
    EXPECT_EQ(zeros, std::llround(0.5 * static_cast<double>(w.numel()))) << mats[k].name;
    EXPECT_LE(max_dropped, min_kept) << mats[k].name;
  }

  lmu::FineTuneOptions ft;
  ft.epochs = 3;
  ft.batch_size = 4;
  ft.lr = 1e-2;
  lmu::fine_tune(model, toy_data(12, 8), masks, ft);
  int64_t changed = 0;
  for (size_t k = 0; k < mats.size(); ++k) {
    const Tensor& w = mats[k].var.value();
    for (int64_t i = 0; i < w.numel(); ++i) {
      if (!masks[k].keep[i]) {
        EXPECT_EQ(w[i], 0.0f) << mats[k].name << " " << i;
      }
      changed += masks[k].keep[i] && w[i] != before[k][i];
    }
  }
  EXPECT_GT(changed, 0);  // fine-tuning did move the kept weights
  EXPECT_THROW(lmu::magnitude_prune(model, 1.0), Error);
}

TEST(L2muCompress, Int8KeepsHalfAStepPerRowAndZeros) {
  Rng rng(5);
  lmu::L2mu model(small_config("stacked"), rng);
  lmu::magnitude_prune(model, 0.25);
  std::vector<lmu::WeightMatrix> mats = lmu::weight_matrices(model);
  std::vector<Tensor> before;
  for (const lmu::WeightMatrix& m : mats) before.push_back(m.var.value().clone());
  lmu::quantize_int8(model);
  for (size_t k = 0; k < mats.size(); ++k) {
    const Tensor& w = mats[k].var.value();
    const int64_t cols = w.numel() / mats[k].rows;
    for (int64_t r = 0; r < mats[k].rows; ++r) {
      float amax = 0;
      for (int64_t c = 0; c < cols; ++c) amax = std::fmax(amax, std::fabs(before[k][r * cols + c]));
      const float scale = amax / 127.0f;
      for (int64_t c = 0; c < cols; ++c) {
        const float orig = before[k][r * cols + c], q = w[r * cols + c];
        if (orig == 0.0f) {
          EXPECT_EQ(q, 0.0f);
        }
        EXPECT_LE(std::fabs(q - orig), 0.5f * scale * 1.0001f) << mats[k].name;
        const float level = scale > 0 ? q / scale : 0.0f;
        EXPECT_NEAR(level, std::round(level), 1e-3) << mats[k].name;
        EXPECT_LE(std::fabs(level), 127.0f + 1e-3f);
      }
    }
  }
}

TEST(L2muCompress, DeployableBytes) {
  Rng rng(7);
  lmu::L2muConfig c = small_config("plain");
  lmu::L2mu model(c, rng);
  // Matrices: e_x 4x3, e_h 4x8, e_m 4x12, W_x 8x3, W_h 8x8, W_m 8x12, out 3x8; out.bias 3 floats.
  const int64_t elements = 12 + 32 + 48 + 24 + 64 + 96 + 24, rows = 4 * 3 + 8 * 3 + 3;
  EXPECT_EQ(lmu::int8_model_bytes(model, false), elements + 4 * rows + 4 * 3);
  // e_m is all zeros at init: the sparse layout stores only its bitmask.
  int64_t nonzero = 0, bitmask = 0;
  for (const lmu::WeightMatrix& m : lmu::weight_matrices(model)) {
    bitmask += (m.var.value().numel() + 7) / 8;
    for (int64_t i = 0; i < m.var.value().numel(); ++i) nonzero += m.var.value()[i] != 0.0f;
  }
  EXPECT_EQ(nonzero, elements - 48);
  EXPECT_EQ(lmu::int8_model_bytes(model, true), bitmask + nonzero + 4 * rows + 4 * 3);
}

// Trains a small L2MU on tests/data/har (3 channels, 30 steps) for a few epochs, then compresses it.
TEST(L2muCompress, CommandLineReportsAccuracySizeAndLatency) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "frugal_l2mu_compress_cli";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string tiny_config = std::string(FRUGAL_SOURCE_DIR) + "/tests/data/har/tiny_l2mu.toml";
  const std::string data = std::string(FRUGAL_SOURCE_DIR) + "/tests/data/har";
  const std::string model = (dir / "run" / "model.safetensors").string();
  frugal::testing::RunResult t = frugal::testing::run_frugal("train '" + tiny_config + "' --data-dir '" + data +
                                                             "' --out '" + (dir / "run").string() + "'");
  ASSERT_EQ(t.code, 0) << t.err;
  frugal::testing::RunResult c = frugal::testing::run_frugal("compress-l2mu '" + model + "' --data-dir '" + data +
                                                             "' --prune 0.5 --finetune-epochs 1 --window 20 --json --out '" +
                                                             (dir / "small.safetensors").string() + "'");
  ASSERT_EQ(c.code, 0) << c.err;
  const nlohmann::json r = nlohmann::json::parse(c.out);
  for (const char* key : {"fp32_accuracy", "pruned_accuracy", "finetuned_accuracy", "test_accuracy"}) {
    EXPECT_GE(r[key].get<double>(), 0.0) << key;
    EXPECT_LE(r[key].get<double>(), 1.0) << key;
  }
  // Matrices e_x 4x3, e_h 4x8, e_m 4x12, W_x 8x3, W_h 8x8, W_m 8x12, out 4x8 as int8 with a scale
  // per row (4*3 + 8*3 + 4 rows), plus the 4 output biases as float32.
  EXPECT_EQ(r["model_bytes"].get<int64_t>(), (12 + 32 + 48 + 24 + 64 + 96 + 32) + 4 * (12 + 24 + 4) + 4 * 4);
  EXPECT_LT(r["model_bytes_sparse"].get<int64_t>(), r["model_bytes"].get<int64_t>());
  EXPECT_GT(r["latency_us_p50"].get<double>(), 0.0);
  EXPECT_TRUE(fs::exists(dir / "small.safetensors"));
  // The compressed model evaluates to the accuracy the command reported.
  frugal::testing::RunResult e = frugal::testing::run_frugal("eval '" + (dir / "small.safetensors").string() + "' --data-dir '" +
                                                             data + "' --json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(e.out)["test_accuracy"].get<double>(), r["test_accuracy"].get<double>());
}

}  // namespace
