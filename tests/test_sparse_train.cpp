// N:M sparse training end to end: the per-step copies (select_down) against the masks, the conv
// im2col + N:M GEMM path and the masked-dense kernel choice against reference products, masks
// re-selected after every optimizer step, BDWP's backward-data gradient against forward-only
// mode, and a short sparse training run whose saved model keeps N of every M weights, evaluates
// to the trainer's accuracy and shows its sparsity in `frugal info`.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/nn/builder.h"
#include "frugal/nn/model_file.h"
#include "frugal/sparse/nm_layers.h"
#include "frugal/train/config.h"
#include "frugal/train/trainer.h"
#include "support/run_frugal.h"

using namespace frugal;
using namespace frugal::sparse;
using autograd::Var;
namespace fs = std::filesystem;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.normal();
  return t;
}

Tensor times(const Tensor& a, const Tensor& b) {
  Tensor out(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) out[i] = a[i] * b[i];
  return out;
}

void expect_near(const Tensor& want, const Tensor& got, const std::string& what) {
  ASSERT_EQ(want.shape(), got.shape()) << what;
  for (int64_t i = 0; i < want.numel(); ++i)
    ASSERT_NEAR(want[i], got[i], 1e-4f * (1.0f + std::fabs(want[i]))) << what << " at " << i;
}

// mask ? w : 0, so a dropped NaN reads as 0.
Tensor kept_values(const Tensor& w, const Tensor& mask) {
  Tensor out(w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) out[i] = mask[i] == 1.0f ? w[i] : 0.0f;
  return out;
}

// d(Σ y) / d(inputs): backward seeds ones, so dY is all ones.
Tensor ones_like(const Tensor& t) { return Tensor::full(t.shape(), 1.0f); }

// dx [rows, in] = dy [rows, out] · m [out, in]
Tensor times_matrix(const Tensor& dy, int64_t rows, int64_t out, const Tensor& m, int64_t in) {
  Tensor dx({rows, in});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < in; ++k) {
      double sum = 0;
      for (int64_t o = 0; o < out; ++o) sum += double(dy[r * out + o]) * m[o * in + k];
      dx[r * in + k] = static_cast<float>(sum);
    }
  return dx;
}

using frugal::testing::RunResult;
using frugal::testing::run_frugal;

nn::Json small_sparse_run(const std::string& mode) {
  return nn::Json::parse(R"({
    "name": "sparse_small", "dataset": "fashion-mnist", "epochs": 1, "batch_size": 64,
    "train_limit": 1024, "test_limit": 300, "seed": 7, "sparsity": "2:8", "sparsity_mode": ")" + mode + R"(",
    "optimizer": {"type": "adam", "lr": 0.002},
    "layers": [{"type": "conv2d", "in": 1, "out": 8, "kernel": 3, "pad": 1}, {"type": "relu"},
               {"type": "conv2d", "in": 8, "out": 8, "kernel": 3, "stride": 2, "pad": 1}, {"type": "relu"},
               {"type": "flatten"}, {"type": "linear", "in": 1568, "out": 64}, {"type": "relu"},
               {"type": "linear", "in": 64, "out": 10}]})");
}

}  // namespace

TEST(NMSelect, CopiesEqualMaskedWeightsForEveryPattern) {
  const NMPattern patterns[] = {{1, 4}, {2, 4}, {2, 8}, {1, 8}, {4, 8}, {3, 16}};
  for (const NMPattern& p : patterns) {
    int64_t out = 37, in = 29;  // tails in both directions, lanes not a multiple of 16
    Tensor w = random_tensor({out, in}, 1);
    w[3] = w[5];  // a tie inside a group
    w[9] = std::numeric_limits<float>::quiet_NaN();  // ranks below every number
    Tensor fwant = kept_values(w, forward_mask(w, p)), bwant = kept_values(w, backward_mask(w, p));
    NMRows fw = select_linear_forward(w, p), bw = select_linear_backward(w, p);
    Tensor fgot({out, in}), bgot({in, out});
    expand(fw, fgot.data());
    expand(bw, bgot.data());
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        ASSERT_EQ(fwant[o * in + i], fgot[o * in + i]) << p.str() << " forward at " << o << "," << i;
        ASSERT_EQ(bwant[o * in + i], bgot[i * out + o]) << p.str() << " backward at " << o << "," << i;
      }
    for (int64_t s = 0; s < fw.rows * fw.slots; ++s) {
      int64_t group = (s % fw.slots) / p.n;
      ASSERT_GE(fw.columns[s], group * p.m);
      ASSERT_LT(fw.columns[s], std::min<int64_t>(in, (group + 1) * p.m));
    }
  }
}

TEST(NMOpsPrepared, ConvGemmAndMaskedDenseMatchReference) {
  using namespace frugal::autograd;
  for (NMMode mode : {NMMode::bdwp, NMMode::forward})
    for (int stride : {1, 2})
      for (NMKernel kernel : {NMKernel::nm_gemm, NMKernel::masked_dense}) {
        NMConfig nm{{2, 8}, mode, 0};
        Tensor wt = random_tensor({12, 16, 3, 3}, 40), xt = random_tensor({3, 16, 9, 9}, 41);
        Tensor bt = random_tensor({12}, 42);
        Conv2dParams p;
        p.pad = 1, p.stride = stride;
        Var x(xt, true), w(wt, true), b(bt, true);
        Var y = nm_conv2d(x, w, b, p, nm, prepare_conv2d(wt, nm, kernel));
        backward(y);
        Tensor w_fw = times(wt, forward_mask(wt, nm.pattern));
        Tensor w_bw = mode == NMMode::bdwp ? times(wt, backward_mask(wt, nm.pattern)) : w_fw;
        kernels::Conv2dShape s;
        s.n = 3, s.c = 16, s.h = 9, s.w = 9, s.o = 12, s.kh = 3, s.kw = 3, s.pad = 1, s.stride = stride;
        Tensor want_y(y.shape()), want_dx(xt.shape()), want_dw(wt.shape()), want_db({12});
        kernels::ref::conv2d_forward(s, xt.data(), w_fw.data(), bt.data(), want_y.data());
        Tensor dy = ones_like(want_y);
        kernels::ref::conv2d_backward_data(s, dy.data(), w_bw.data(), want_dx.data());
        kernels::ref::conv2d_backward_weights(s, xt.data(), dy.data(), want_dw.data(), want_db.data());
        std::string tag = std::string(nm_mode_name(mode)) + " " + nm_kernel_name(kernel) + " stride " +
                          std::to_string(stride);
        expect_near(want_y, y.value(), "y " + tag);
        expect_near(want_dx, x.grad(), "dx " + tag);
        expect_near(want_dw, w.grad(), "dw " + tag);
        expect_near(want_db, b.grad(), "db " + tag);
      }
  EXPECT_THROW(prepare_conv2d(random_tensor({4, 6, 3, 3}, 1), {{2, 8}, NMMode::bdwp, 0}, NMKernel::nm_gemm), Error);
}

TEST(NMOpsPrepared, LinearKernelsAgree) {
  NMConfig nm{{2, 8}, NMMode::bdwp, 0.1f};
  Tensor wt = random_tensor({24, 40}, 5), xt = random_tensor({7, 40}, 6);
  NMLinearWeights prepared = prepare_linear(wt, nm);
  Tensor ys[2], dxs[2], dws[2];
  for (int k = 0; k < 2; ++k) {
    Var x(xt, true), w(wt, true);
    Var y = nm_linear(x, w, Var(), nm, prepared, k == 0 ? NMKernel::nm_gemm : NMKernel::masked_dense);
    autograd::backward(y);
    ys[k] = y.value(), dxs[k] = x.grad(), dws[k] = w.grad();
  }
  expect_near(ys[0], ys[1], "y");
  expect_near(dxs[0], dxs[1], "dx");
  expect_near(dws[0], dws[1], "dw");
}

TEST(NMLayers, MasksFollowTheWeightsAfterEveryStep) {
  Rng rng(3);
  NMConfig nm{{2, 8}, NMMode::bdwp, 0};
  NmLinear layer(32, 16, true, rng, nm, NMKernel::nm_gemm);
  Tensor xt = random_tensor({5, 32}, 4);
  Tensor first_mask = forward_mask(layer.weight.value(), nm.pattern);
  int changed = 0;
  for (int step = 0; step < 3; ++step) {
    Var y = layer.forward(Var(xt));
    // The output is always X · (W ⊙ mask(W))ᵀ + b of the current weights.
    Tensor masked = times(layer.weight.value(), forward_mask(layer.weight.value(), nm.pattern));
    Tensor want({5, 16});
    for (int64_t r = 0; r < 5; ++r)
      for (int64_t o = 0; o < 16; ++o) {
        double sum = layer.bias.value()[o];
        for (int64_t i = 0; i < 32; ++i) sum += double(xt[r * 32 + i]) * masked[o * 32 + i];
        want[r * 16 + o] = static_cast<float>(sum);
      }
    expect_near(want, y.value(), "step " + std::to_string(step));
    autograd::backward(y);
    // A large plain SGD step reshuffles magnitudes, then the copies are re-selected.
    Tensor& w = layer.weight.value();
    for (int64_t i = 0; i < w.numel(); ++i) w[i] -= 0.5f * layer.weight.grad()[i];
    layer.weight.zero_grad();
    layer.bias.zero_grad();
    layer.prepare();
    Tensor now = forward_mask(w, nm.pattern);
    for (int64_t i = 0; i < now.numel(); ++i) changed += now[i] != first_mask[i];
  }
  EXPECT_GT(changed, 0) << "the steps should have moved some weights across the mask";
}

TEST(NMLayers, BackwardCopyFollowsWhetherTheInputNeedsAGradient) {
  // A first layer's input needs no gradient, so its bdwp backward copy is skipped after that
  // forward; an input that needs one later gets dX = dY · (W ⊙ mask_bw) all the same.
  Rng rng(5);
  NMConfig nm{{2, 8}, NMMode::bdwp, 0};
  NmLinear layer(32, 16, false, rng, nm, NMKernel::nm_gemm);
  Tensor xt = random_tensor({3, 32}, 6);
  for (int step = 0; step < 2; ++step) {
    Var y = layer.forward(Var(xt));
    autograd::backward(y);
    layer.weight.zero_grad();
    layer.prepare();
  }
  Var x(xt, true);
  autograd::backward(layer.forward(x));
  Tensor w_bw = times(layer.weight.value(), backward_mask(layer.weight.value(), nm.pattern));
  expect_near(times_matrix(ones_like(Tensor({3, 16})), 3, 16, w_bw, 32), x.grad(), "dx after skipped copies");
}

TEST(NMLayers, BdwpBackwardDiffersFromForwardMode) {
  Tensor wt = random_tensor({16, 24}, 8), xt = random_tensor({6, 24}, 9);
  Tensor grads[2], dws[2];
  NMMode modes[2] = {NMMode::bdwp, NMMode::forward};
  for (int k = 0; k < 2; ++k) {
    NMConfig nm{{2, 8}, modes[k], 0};
    Var x(xt, true), w(wt, true);
    Var y = nm_linear(x, w, Var(), nm);
    autograd::backward(y);
    grads[k] = x.grad();
    dws[k] = w.grad();
  }
  Tensor dy = Tensor::full({6, 16}, 1.0f);
  expect_near(times_matrix(dy, 6, 16, times(wt, backward_mask(wt, {2, 8})), 24), grads[0], "bdwp dx");
  expect_near(times_matrix(dy, 6, 16, times(wt, forward_mask(wt, {2, 8})), 24), grads[1], "forward dx");
  double diff = 0;
  for (int64_t i = 0; i < grads[0].numel(); ++i) diff += std::fabs(grads[0][i] - grads[1][i]);
  EXPECT_GT(diff, 1e-3) << "the two modes mask the backward pass along different axes";
  expect_near(dws[0], dws[1], "the weight gradient is dense in both modes");
}

TEST(NMTrain, SavedModelKeepsNofMEvaluatesAndReports) {
  register_layers();
  fs::path dir = fs::temp_directory_path() / "frugal_test_sparse_train";
  fs::remove_all(dir);
  train::TrainConfig c = train::parse_train_config(small_sparse_run("bdwp"), "test");
  nn::Json m = train::run_training(c, {dir.string(), false});
  std::string model_path = (dir / "model.safetensors").string();
  nn::SavedModel saved = nn::load_model(model_path);

  // Every forward group of every sparse weight holds at most N nonzeros; random floats make it N.
  std::vector<SparseLayerInfo> layers = describe(*saved.model);
  ASSERT_EQ(layers.size(), 4u);
  for (nn::Param& p : saved.model->parameters()) {
    if (p.name.find("weight") == std::string::npos) continue;
    const Tensor& w = p.var.value();
    Tensor mask = forward_mask(w, {2, 8});
    int64_t nonzero = 0, kept = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      nonzero += w[i] != 0.0f;
      kept += mask[i] == 1.0f;
      if (mask[i] == 0.0f) {
        ASSERT_EQ(w[i], 0.0f) << p.name << " keeps a pruned weight at " << i;
      }
    }
    EXPECT_EQ(nonzero, kept) << p.name;
    int64_t groups_per_line = (w.dim(1) + 7) / 8, lines = w.numel() / w.dim(1);
    if (w.dim(1) % 8 == 0) {
      EXPECT_EQ(nonzero, lines * groups_per_line * 2) << p.name;
    }
  }
  EXPECT_EQ(layers[0].kernel, "masked_dense");  // 1 input channel: no N:M GEMM path
  EXPECT_NEAR(layers[2].zero_fraction, 0.75, 1e-9);

  std::ifstream log_in(dir / "train.log");
  std::stringstream log;
  log << log_in.rdbuf();
  EXPECT_NE(log.str().find("schedule layer 2 nm_conv2d 8->8"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("-> "), std::string::npos);

  RunResult eval = run_frugal("eval " + model_path + " --json");
  ASSERT_EQ(eval.code, 0) << eval.err;
  EXPECT_DOUBLE_EQ(nn::Json::parse(eval.out)["test_accuracy"].get<double>(), m["test_accuracy"].get<double>());
  EXPECT_GT(m["test_accuracy"].get<double>(), 0.3);

  RunResult info = run_frugal("info " + model_path + " --json");
  ASSERT_EQ(info.code, 0) << info.err;
  nn::Json j = nn::Json::parse(info.out);
  ASSERT_EQ(j["sparse_layers"].size(), 4u);
  EXPECT_EQ(j["sparse_layers"][3]["sparsity"], "2:8");
  EXPECT_LT(j["sparse_layers"][3]["packed_bytes"].get<int64_t>(), j["sparse_layers"][3]["dense_bytes"].get<int64_t>() / 3);
  EXPECT_NE(info.err.find("N:M 2:8 bdwp"), std::string::npos) << info.err;
}

TEST(NMTrain, BadPatternInConfigIsRejected) {
  nn::Json raw = small_sparse_run("bdwp");
  raw["sparsity"] = "8:8";
  try {
    train::parse_train_config(raw, "cfg.toml");
    FAIL() << "8:8 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.toml: sparsity"), std::string::npos) << e.what();
  }
  raw["sparsity"] = "2:8";
  raw["sparsity_mode"] = "both";
  EXPECT_THROW(train::parse_train_config(raw, "cfg.toml"), Error);
  // N >= M and M > 16 from the command line: a message naming the key, exit 2. (A width that is
  // not a multiple of M is not an error: the tail rule of nm_mask.h pads its last group.)
  fs::path cfg = fs::temp_directory_path() / "frugal_bad_sparsity.toml";
  for (const char* bad : {"2:32", "8:8", "9:8"}) {
    std::ofstream(cfg) << "sparsity = \"" << bad << "\"\n[[layers]]\ntype = \"linear\"\nin = 4\nout = 2\n";
    RunResult r = run_frugal("train " + cfg.string());
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("sparsity"), std::string::npos) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("1 <= N < M <= 16"), std::string::npos) << bad << ": " << r.err;
  }
}
