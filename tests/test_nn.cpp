// Modules: Sequential's ReLU/max-pool reordering gives the same outputs and gradients as running
// the layers in the written order; the normalize layer standardizes and is built from its spec.
#include <gtest/gtest.h>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/nn/builder.h"
#include "frugal/nn/layers.h"

using namespace frugal;
using namespace frugal::autograd;

namespace {

Tensor random_tensor(const std::vector<int64_t>& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(rng.uniform() * 2.0 - 1.0);
  return t;
}

TEST(Sequential, ReluThenMaxPoolMatchesTheWrittenOrder) {
  for (int pad : {0, 1}) {
    Tensor x0 = random_tensor({2, 3, 6, 6}, 7);
    Tensor target = random_tensor({2, 3, 3 + pad, 3 + pad}, 8);

    nn::Sequential seq;
    seq.add(std::make_unique<nn::ReLU>());
    seq.add(std::make_unique<nn::MaxPool2d>(2, 2, pad));
    Var xa(x0, true);
    Var ya = seq.forward(xa);
    backward(mse(ya, target));

    Var xb(x0, true);
    Var yb = max_pool2d(relu(xb), 2, 2, pad);
    backward(mse(yb, target));

    ASSERT_EQ(ya.shape(), yb.shape());
    for (int64_t i = 0; i < ya.value().numel(); ++i) EXPECT_EQ(ya.value()[i], yb.value()[i]) << "pad " << pad;
    for (int64_t i = 0; i < x0.numel(); ++i) EXPECT_EQ(xa.grad()[i], xb.grad()[i]) << "pad " << pad << " at " << i;
  }
}

TEST(Normalize, StandardizesAndRoundTripsItsSpec) {
  Rng rng(1);
  nn::ModulePtr m = nn::build_module({{"type", "normalize"}, {"mean", 0.25}, {"std", 0.5}}, rng, "layers[0]");
  Var y = m->forward(Var(Tensor::full({2, 2}, 1.0f)));
  EXPECT_FLOAT_EQ(y.value()[0], 1.5f);
  nn::ModulePtr again = nn::build_module(m->spec(), rng, "layers[0]");
  EXPECT_FLOAT_EQ(again->forward(Var(Tensor::full({1}, 0.0f))).value()[0], -0.5f);
  EXPECT_THROW(nn::build_module({{"type", "normalize"}, {"std", 0.0}}, rng, "layers[0]"), Error);
}

}  // namespace
