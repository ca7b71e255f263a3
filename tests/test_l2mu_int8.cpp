// The deployable int8 L2MU (lmu/int8_model.h): the file round-trips (dense and sparse layouts),
// the integer-weight runtime equals frugal's float forward pass bit for bit when the float model
// holds the same int8-valued weights and every product and sum is exact (power-of-two scales,
// inputs on a 1/8 grid), for LIF and CuBa, subtract and zero reset, Ā and Āᵀ; malformed files
// are rejected with the path and the field; `frugal compress-l2mu --int8-out` writes such a file for
// a model trained on the committed HAR fixture and `frugal run-l2mu-int8` runs it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "frugal/autograd/tape.h"
#include "frugal/core/error.h"
#include "frugal/io/npy.h"
#include "frugal/lmu/compress.h"
#include "frugal/lmu/int8_model.h"
#include "support/run_frugal.h"

namespace {

using namespace frugal;

lmu::L2muConfig config(const std::string& neuron, const std::string& reset, bool transpose_a) {
  lmu::L2muConfig c;
  c.in = 5;
  c.memory_size = 4;
  c.order = 3;
  c.theta = 5;
  c.hidden = 12;
  c.out = 3;
  c.neuron = neuron;
  c.reset = reset;
  c.transpose_a = transpose_a;
  c.pop_u = {0.65f, 0.3f, 0.25f};
  c.pop_m = {0.35f, 0.3f, 0.4f};
  c.pop_h = {0.5f, 0.3f, 0.75f};
  c.pop_out = {0.15f, 0.3f, 0.125f};
  c.readout = "spike_count";
  return c;
}

// Every weight matrix gets integer levels in [-127, 127] (one 127 per row) times 2^-5, so its
// int8 quantization is exact and float products with 1/8-grid inputs and spikes are exact.
void set_dyadic_weights(lmu::L2mu& model, Rng& rng) {
  for (const lmu::WeightMatrix& m : lmu::weight_matrices(model)) {
    Tensor& w = m.var.value();
    const int64_t cols = w.numel() / m.rows;
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const float level = c == r % cols ? 127.0f : std::round(rng.uniform(-127.0f, 127.0f));
        w[r * cols + c] = level / 32.0f;
      }
  }
  for (int64_t i = 0; i < model.out_bias.value().numel(); ++i) model.out_bias.value()[i] = std::round(rng.uniform(-8.0f, 8.0f)) / 16.0f;
}

Tensor grid_input(int64_t N, int64_t T, int64_t F, Rng& rng) {
  Tensor x = Tensor::empty({N, T, F});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::round(rng.uniform(-16.0f, 16.0f)) / 8.0f;
  return x;
}

std::string temp_path(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

TEST(L2muInt8, RuntimeEqualsTheFloatForwardBitForBit) {
  struct Case {
    std::string neuron, reset;
    bool transpose_a;
  };
  for (const Case& k : {Case{"lif", "subtract", false}, Case{"lif", "zero", true}, Case{"cuba_lif", "subtract", true},
                        Case{"cuba_lif", "zero", false}, Case{"lif", "none", false}}) {
    SCOPED_TRACE(k.neuron + " " + k.reset + (k.transpose_a ? " transposed" : ""));
    Rng rng(11);
    lmu::L2mu model(config(k.neuron, k.reset, k.transpose_a), rng);
    set_dyadic_weights(model, rng);
    const Tensor x = grid_input(6, 30, 5, rng);

    const lmu::Int8L2mu q = lmu::export_int8(model);
    ASSERT_EQ(q.e_x.scale[0], 127.0f / 32.0f / 127.0f);
    const std::string path = temp_path("test_l2mu_int8_bitexact.l2mu8");
    lmu::write_int8_l2mu(path, q);
    const Tensor got = lmu::run_int8(lmu::read_int8_l2mu(path), x);

    model.set_training(false);
    autograd::NoGradGuard no_grad;
    const Tensor want = model.forward(autograd::Var(x)).value();
    ASSERT_EQ(got.shape(), want.shape());
    float total = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      EXPECT_EQ(got[i], want[i]) << "sample " << i / 3 << " class " << i % 3;
      total += want[i];
    }
    // Not a vacuous comparison: the output fires, but not on every step of every class.
    EXPECT_GT(total, 0.0f);
    EXPECT_LT(total, 6.0f * 30.0f * 3.0f);
  }
}

TEST(L2muInt8, QuantizedModelRoundTripsDenseAndSparse) {
  Rng rng(5);
  lmu::L2mu model(config("lif", "subtract", false), rng);
  for (int64_t i = 0; i < model.weights.e_m.value().numel(); ++i) model.weights.e_m.value()[i] = rng.uniform(-1.0f, 1.0f);
  lmu::magnitude_prune(model, 0.7);
  const lmu::Int8L2mu q = lmu::export_int8(model);
  EXPECT_TRUE(q.W_m.sparse);  // 70% zeros: bitmask + nonzeros beat one byte per weight
  const std::string path = temp_path("test_l2mu_int8_roundtrip.l2mu8");
  lmu::write_int8_l2mu(path, q);
  const lmu::Int8L2mu r = lmu::read_int8_l2mu(path);
  for (auto [a, b] : {std::pair{&q.e_x, &r.e_x}, {&q.e_h, &r.e_h}, {&q.e_m, &r.e_m}, {&q.W_x, &r.W_x},
                      {&q.W_h, &r.W_h}, {&q.W_m, &r.W_m}, {&q.W_o, &r.W_o}}) {
    EXPECT_EQ(a->level, b->level);
    EXPECT_EQ(a->scale, b->scale);
    EXPECT_EQ(a->sparse, b->sparse);
  }
  EXPECT_EQ(q.E, r.E);
  EXPECT_EQ(q.m.threshold, r.m.threshold);
  EXPECT_EQ(q.out_bias, r.out_bias);

  // The float model with the exported int8 weights written back is what compress.h's quantize_int8 gives.
  lmu::L2mu same(config("lif", "subtract", false), rng);
  lmu::load_int8_weights(same, q);
  lmu::quantize_int8(model);
  const std::vector<lmu::WeightMatrix> a = lmu::weight_matrices(model), b = lmu::weight_matrices(same);
  for (size_t k = 0; k < a.size(); ++k)
    for (int64_t i = 0; i < a[k].var.value().numel(); ++i) EXPECT_EQ(a[k].var.value()[i], b[k].var.value()[i]) << a[k].name;
}

TEST(L2muInt8, MalformedFilesNameThePathAndField) {
  Rng rng(7);
  lmu::L2mu model(config("lif", "subtract", false), rng);
  const std::string path = temp_path("test_l2mu_int8_bad.l2mu8");
  lmu::write_int8_l2mu(path, lmu::export_int8(model));
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  auto expect_error = [&](const std::string& content, const std::string& needle) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << content;
    }
    try {
      lmu::read_int8_l2mu(path);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(bytes.substr(0, bytes.size() - 3), "out bias");  // truncated
  expect_error(bytes + "x", "trailing bytes");
  std::string bad = bytes;
  bad[0] = 'X';
  expect_error(bad, "magic");
  bad = bytes;
  bad[12] = '\x7f';  // in = 127 no longer matches e_x's columns
  expect_error(bad, "e_x");
  bad = bytes;
  bad[24] = '\x05';  // hidden = 5 no longer matches the h population's size
  expect_error(bad, "h beta");
}

TEST(L2muInt8, RejectsWhatTheRuntimeDoesNotRun) {
  Rng rng(9);
  lmu::L2muConfig c = config("lif", "subtract", false);
  c.encoder = "single";
  lmu::L2mu single(c, rng);
  EXPECT_THROW(lmu::export_int8(single), Error);
  c = config("lif", "subtract", false);
  c.readout = "membrane_mean";
  lmu::L2mu membrane(c, rng);
  EXPECT_THROW(lmu::export_int8(membrane), Error);
  lmu::L2mu ok(config("lif", "subtract", false), rng);
  EXPECT_THROW(lmu::run_int8(lmu::export_int8(ok), Tensor::zeros({2, 4, 3})), Error);
}

// Trains a small L2MU on tests/data/har (3 channels, 30 steps), compresses it to an int8 file, and
// runs the file: the integer runtime predicts what the float pass with the same weights predicts.
TEST(L2muInt8, CommandLineWritesAndRunsTheInt8File) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "frugal_l2mu_int8_cli";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string tiny_config = std::string(FRUGAL_SOURCE_DIR) + "/tests/data/har/tiny_l2mu.toml";
  const std::string data = std::string(FRUGAL_SOURCE_DIR) + "/tests/data/har";
  const std::string file = (dir / "tiny.l2mu8").string();
  frugal::testing::RunResult t = frugal::testing::run_frugal("train '" + tiny_config + "' --data-dir '" + data +
                                                             "' --out '" + (dir / "run").string() + "'");
  ASSERT_EQ(t.code, 0) << t.err;
  frugal::testing::RunResult c = frugal::testing::run_frugal("compress-l2mu '" + (dir / "run" / "model.safetensors").string() +
                                                             "' --data-dir '" + data + "' --prune 0.5 --finetune-epochs 1 --window 20 "
                                                             "--json --int8-out '" + file + "'");
  ASSERT_EQ(c.code, 0) << c.err;
  const nlohmann::json r = nlohmann::json::parse(c.out);
  EXPECT_EQ(r["int8_file_bytes"].get<uintmax_t>(), fs::file_size(file));
  EXPECT_EQ(r["int8_runtime_predictions_differing"].get<int64_t>(), 0);
  EXPECT_DOUBLE_EQ(r["int8_runtime_accuracy"].get<double>(), r["test_accuracy"].get<double>());
  EXPECT_GT(r["int8_runtime_latency_us_p50"].get<double>(), 0.0);

  Tensor x = Tensor::empty({2, 30, 3});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i % 7) * 0.5f - 1.0f;
  io::write_npy((dir / "x.npy").string(), x);
  frugal::testing::RunResult run = frugal::testing::run_frugal("run-l2mu-int8 '" + file + "' --input '" + (dir / "x.npy").string() +
                                                               "' --output '" + (dir / "y.npy").string() + "'");
  ASSERT_EQ(run.code, 0) << run.err;
  const Tensor y = io::read_npy((dir / "y.npy").string());
  const Tensor want = lmu::run_int8(lmu::read_int8_l2mu(file), x);
  ASSERT_EQ(y.shape(), (Shape{2, 4}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y[i], want[i]);
  // A file that is not an int8 L2MU exits 2 with its path in the message.
  frugal::testing::RunResult bad = frugal::testing::run_frugal("run-l2mu-int8 '" + (dir / "x.npy").string() + "' --input '" +
                                                               (dir / "x.npy").string() + "' --output '" + (dir / "z.npy").string() + "'");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("x.npy: not an int8 L2MU file"), std::string::npos) << bad.err;
}

}  // namespace
