// UNet3d: reversible and plain versions of the same net give the same logits and gradients;
// the Dice + CE loss has the right gradient; Dice and HD95 on shapes with known answers; the
// example config loads and bad configs name the key.
#include <gtest/gtest.h>

#include <cmath>

#include "frugal/autograd/gradcheck.h"
#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/rev/segmentation.h"
#include "frugal/rev/unet3d.h"
#include "frugal/train/config.h"

using namespace frugal;
using namespace frugal::autograd;
using namespace frugal::rev;

namespace {

Tensor random_tensor(const Shape& s, Rng& rng, float scale = 1.0f) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = scale * rng.uniform(-1.0f, 1.0f);
  return t;
}

UNet3dConfig tiny_config(bool reversible, const std::string& skip) {
  UNet3dConfig c;
  c.channels = {4, 8};
  c.blocks = {1, 2};
  c.reversible = reversible;
  c.skip = skip;
  c.block.expansion = 2;
  c.block.squeeze_excitation = true;
  return c;
}

struct Step {
  float loss;
  std::vector<Tensor> grads;
};

Step train_step(UNet3d& net, const Tensor& x, const std::vector<uint8_t>& labels) {
  Var y = net.forward(Var(x.clone()));
  Var loss = dice_ce_loss(y, labels);
  backward(loss);
  Step s{loss.value()[0], {}};
  for (nn::Param& p : net.parameters()) {
    s.grads.push_back(p.var.grad().defined() ? p.var.grad() : Tensor::zeros(p.var.shape()));
    p.var.zero_grad();
  }
  return s;
}

std::vector<uint8_t> random_labels(int64_t n, Rng& rng) {
  std::vector<uint8_t> l(static_cast<size_t>(n));
  for (auto& v : l) v = static_cast<uint8_t>(rng.below(4));
  return l;
}

class UNetSkip : public ::testing::TestWithParam<std::string> {};

TEST_P(UNetSkip, ReversibleMatchesPlainBackprop) {
  Rng rng(2);
  Tensor x = random_tensor({1, 4, 4, 4, 4}, rng);
  std::vector<uint8_t> labels = random_labels(64, rng);
  Rng r1(7), r2(7);
  UNet3d rev(tiny_config(true, GetParam()), r1), plain(tiny_config(false, GetParam()), r2);
  // Non-zero projections so gradients pass through every block.
  Rng pr(11), pp(11);
  for (UNet3d* net : {&rev, &plain}) {
    Rng& r = net == &rev ? pr : pp;
    for (nn::Param& p : net->parameters())
      if (p.name.find("project") != std::string::npos) p.var.value() = random_tensor(p.var.shape(), r, 0.3f);
  }
  Step a = train_step(rev, x, labels), b = train_step(plain, x, labels);
  EXPECT_NEAR(a.loss, b.loss, 1e-5);
  double largest = 0;
  for (const Tensor& g : b.grads)
    for (int64_t i = 0; i < g.numel(); ++i) largest = std::max(largest, static_cast<double>(std::fabs(g[i])));
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t k = 0; k < a.grads.size(); ++k) {
    double scale = 1e-3 * largest, diff = 0;
    for (int64_t i = 0; i < b.grads[k].numel(); ++i) {
      scale = std::max(scale, static_cast<double>(std::fabs(b.grads[k][i])));
      diff = std::max(diff, static_cast<double>(std::fabs(a.grads[k][i] - b.grads[k][i])));
    }
    EXPECT_LT(diff / scale, 1e-4) << "parameter " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Skips, UNetSkip, ::testing::Values("add", "concat"));

TEST(UNet3d, NearestUpsamplingAndShapes) {
  UNet3dConfig c = tiny_config(true, "add");
  c.upsample = "nearest";
  Rng rng(1);
  UNet3d net(c, rng);
  Var y = net.forward(Var(random_tensor({2, 4, 4, 6, 2}, rng)));
  EXPECT_EQ(y.shape(), (Shape{2, 4, 4, 6, 2}));
  clear_tape();
  EXPECT_THROW(net.forward(Var(random_tensor({1, 4, 3, 4, 4}, rng))), Error);
}

TEST(DiceCeLoss, BackwardMatchesFiniteDifferences) {
  set_num_threads(1);
  Rng rng(4);
  std::vector<uint8_t> labels = random_labels(2 * 2 * 3 * 2, rng);
  GradcheckResult r = gradcheck([&](const std::vector<Var>& v) { return dice_ce_loss(v[0], labels); },
                                {random_tensor({2, 4, 2, 3, 2}, rng, 2.0f)});
  EXPECT_LT(r.max_rel_error, 1e-2);
}

TEST(DiceCeLoss, PerfectPredictionHasLowLoss) {
  std::vector<uint8_t> labels{0, 1, 2, 3, 3, 0, 0, 2};
  Tensor logits = Tensor::full({1, 4, 2, 2, 2}, -20.0f);
  for (int v = 0; v < 8; ++v) logits[labels[static_cast<size_t>(v)] * 8 + v] = 20.0f;
  EXPECT_LT(dice_ce_loss(Var(logits), labels).value()[0], 1e-4);
  EXPECT_THROW(dice_ce_loss(Var(logits), {0, 1}), Error);
}

TEST(RegionScores, CubesWithKnownDiceAndHd95) {
  int64_t n = 12;
  std::vector<uint8_t> truth(static_cast<size_t>(n * n * n), 0), pred = truth;
  // Truth: a 4^3 enhancing cube at 2..5; prediction: the same cube shifted by 2 along x.
  for (int64_t z = 2; z < 6; ++z)
    for (int64_t y = 2; y < 6; ++y)
      for (int64_t x = 2; x < 6; ++x) {
        truth[static_cast<size_t>((z * n + y) * n + x)] = 3;
        pred[static_cast<size_t>((z * n + y) * n + x + 2)] = 3;
      }
  RegionScores s = score_volume(pred, truth, n, n, n);
  for (int r = 0; r < kRegions; ++r) {
    EXPECT_NEAR(s.dice[r], 0.5, 1e-12) << region_name(r);  // 32 of 64 voxels overlap
    EXPECT_NEAR(s.hd95[r], 2.0, 1e-12) << region_name(r);
  }
  RegionScores same = score_volume(truth, truth, n, n, n);
  EXPECT_EQ(same.dice[2], 1.0);
  EXPECT_EQ(same.hd95[2], 0.0);
  std::vector<uint8_t> empty(truth.size(), 0);
  RegionScores miss = score_volume(empty, truth, n, n, n);
  EXPECT_EQ(miss.dice[0], 0.0);
  EXPECT_NEAR(miss.hd95[0], std::sqrt(3.0 * 144), 1e-9);
}

TEST(UNet3dConfig, ExampleLoadsAndBadKeysAreNamed) {
  nn::Json cfg = train::load_config(std::string(FRUGAL_SOURCE_DIR) + "/examples/unet3d_rev.toml", {});
  UNet3dConfig c = parse_unet3d_config(cfg["model"], "unet3d_rev.toml [model]");
  EXPECT_TRUE(c.reversible);
  EXPECT_EQ(c.channels, (std::vector<int>{16, 32, 64}));
  nn::Json plain = train::load_config(std::string(FRUGAL_SOURCE_DIR) + "/examples/unet3d_rev.toml",
                                      {"model.reversible=false"});
  EXPECT_FALSE(parse_unet3d_config(plain["model"], "x").reversible);
  nn::Json bad = cfg["model"];
  bad["chanels"] = 3;
  try {
    parse_unet3d_config(bad, "cfg [model]");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chanels"), std::string::npos) << e.what();
  }
  nn::Json odd = cfg["model"];
  odd["channels"] = {16, 33, 64};
  EXPECT_THROW(parse_unet3d_config(odd, "cfg"), Error);
}

}  // namespace
