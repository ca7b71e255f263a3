// Every op: backward against central finite differences, and the fast kernels (oneDNN) against
// the plain-loop references, values and gradients, over odd shapes. One table drives both.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "frugal/autograd/gradcheck.h"
#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/backend.h"

using namespace frugal;
using namespace frugal::autograd;
using frugal::kernels::Backend;
using frugal::kernels::BackendGuard;

namespace {

struct OpCase {
  std::string name;
  std::vector<Shape> inputs;
  std::function<Var(const std::vector<Var>&)> f;
  double tolerance = 2e-2;  // finite differences in float32
  // Max pooling is not differentiable at ties: give its inputs values at least 1e-2 apart so
  // no finite-difference step crosses one.
  bool distinct_inputs = false;
};

Tensor random_tensor(const Shape& s, Rng& rng) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

Var batchnorm_case(const std::vector<Var>& v, bool training) {
  int64_t c = v[0].shape()[1];
  Tensor mean = Tensor::zeros({c}), var = Tensor::full({c}, 1.0f);
  if (!training) {
    for (int64_t i = 0; i < c; ++i) {
      mean[i] = 0.1f * static_cast<float>(i);
      var[i] = 0.5f + 0.2f * static_cast<float>(i);
    }
  }
  return batchnorm2d(v[0], v[1], v[2], mean, var, training);
}

std::vector<OpCase> op_table() {
  return {
      {"linear", {{5, 7}, {3, 7}, {3}}, [](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); }},
      {"linear_3d_no_bias", {{2, 3, 4}, {5, 4}}, [](const std::vector<Var>& v) { return linear(v[0], v[1], Var()); }},
      {"matmul", {{4, 6}, {6, 3}}, [](const std::vector<Var>& v) { return matmul(v[0], v[1]); }},
      {"conv2d", {{2, 3, 7, 6}, {4, 3, 3, 3}, {4}},
       [](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], {1, 1, 1}); }},
      {"conv2d_stride2_nopad", {{2, 2, 9, 8}, {3, 2, 3, 2}, {3}},
       [](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], {2, 0, 1}); }},
      {"conv2d_groups", {{1, 4, 5, 5}, {6, 2, 3, 3}},
       [](const std::vector<Var>& v) { return conv2d(v[0], v[1], Var(), {1, 1, 2}); }},
      {"conv2d_time_folded", {{2, 2, 1, 5, 5}, {3, 1, 3, 3}, {3}},
       [](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], {1, 1, 1}); }},
      {"max_pool2d", {{2, 3, 6, 7}}, [](const std::vector<Var>& v) { return max_pool2d(v[0], 2, 2); }, 2e-2, true},
      // Odd height and width: the 2x2 kernel's last row and column lie in no window.
      {"max_pool2d_odd", {{1, 2, 5, 7}}, [](const std::vector<Var>& v) { return max_pool2d(v[0], 2, 2); }, 2e-2, true},
      {"max_pool2d_3x3_s2_p1", {{1, 2, 7, 7}},
       [](const std::vector<Var>& v) { return max_pool2d(v[0], 3, 2, 1); }, 2e-2, true},
      {"avg_pool2d", {{2, 3, 6, 6}}, [](const std::vector<Var>& v) { return avg_pool2d(v[0], 2, 2); }},
      {"avg_pool2d_3x3_s1_p1", {{1, 2, 5, 5}}, [](const std::vector<Var>& v) { return avg_pool2d(v[0], 3, 1, 1); }},
      {"relu", {{3, 11}}, [](const std::vector<Var>& v) { return relu(v[0]); }},
      {"reshape", {{2, 3, 4}}, [](const std::vector<Var>& v) { return scale(reshape(v[0], {4, -1}), 2.0f); }},
      {"flatten", {{2, 3, 2, 2}}, [](const std::vector<Var>& v) { return scale(flatten(v[0]), -1.5f); }},
      {"scale_shift", {{2, 3}}, [](const std::vector<Var>& v) { return scale(v[0], 0.5f, 3.0f); }},
      {"add", {{4, 5}, {4, 5}}, [](const std::vector<Var>& v) { return add(v[0], v[1]); }},
      {"mul", {{4, 5}, {4, 5}}, [](const std::vector<Var>& v) { return mul(v[0], v[1]); }},
      {"concat_axis1", {{2, 3, 2}, {2, 1, 2}, {2, 2, 2}},
       [](const std::vector<Var>& v) { return concat({v[0], v[1], v[2]}, 1); }},
      {"batchnorm2d_train", {{3, 2, 3, 3}, {2}, {2}},
       [](const std::vector<Var>& v) { return batchnorm_case(v, true); }},
      {"batchnorm2d_eval", {{3, 2, 3, 3}, {2}, {2}},
       [](const std::vector<Var>& v) { return batchnorm_case(v, false); }},
      {"dropout", {{6, 8}},
       [](const std::vector<Var>& v) {
         Rng rng(3);  // the same mask on every evaluation
         return dropout(v[0], 0.3f, true, rng);
       }},
      {"softmax_cross_entropy", {{4, 5}},
       [](const std::vector<Var>& v) { return softmax_cross_entropy(v[0], {0, 3, 4, 1}); }},
      {"mse", {{3, 4}},
       [](const std::vector<Var>& v) {
         Tensor target = Tensor::full(v[0].shape(), 0.25f);
         return mse(v[0], target);
       }},
  };
}

class OpTable : public ::testing::TestWithParam<OpCase> {};

std::vector<Tensor> inputs_for(const OpCase& c, uint64_t seed) {
  Rng rng(seed);
  std::vector<Tensor> xs;
  for (const Shape& s : c.inputs) {
    Tensor t = random_tensor(s, rng);
    if (c.distinct_inputs) {
      std::vector<int64_t> order(static_cast<size_t>(t.numel()));
      for (int64_t i = 0; i < t.numel(); ++i) order[static_cast<size_t>(i)] = i;
      rng.shuffle(order);
      for (int64_t i = 0; i < t.numel(); ++i) t[order[static_cast<size_t>(i)]] = -1.0f + 0.01f * static_cast<float>(i);
    }
    xs.push_back(t);
  }
  return xs;
}

TEST_P(OpTable, BackwardMatchesFiniteDifferences) {
  const OpCase& c = GetParam();
  for (Backend b : {Backend::reference, Backend::fast}) {
    BackendGuard guard(b);
    GradcheckResult r = gradcheck(c.f, inputs_for(c, 11));
    EXPECT_LT(r.max_rel_error, c.tolerance) << c.name << (b == Backend::fast ? " (fast)" : " (reference)");
  }
}

// Runs f forward and backward with the upstream gradient w; returns output and input gradients.
std::vector<Tensor> run_once(const OpCase& c, const std::vector<Tensor>& xs, Backend b) {
  BackendGuard guard(b);
  std::vector<Var> vars;
  for (const Tensor& t : xs) vars.emplace_back(t.clone(), true);
  Var y = c.f(vars);
  Rng rng(5);
  Tensor w = random_tensor(y.shape(), rng);
  Var loss = record(Tensor::full({1}, 0.0f), {y}, [y, w](const Tensor&) { y.add_grad(w); });
  backward(loss);
  std::vector<Tensor> out{y.value()};
  for (const Var& v : vars) out.push_back(v.grad().defined() ? v.grad() : Tensor::zeros(v.shape()));
  return out;
}

TEST_P(OpTable, FastKernelsMatchReference) {
  const OpCase& c = GetParam();
  std::vector<Tensor> xs = inputs_for(c, 23);
  std::vector<Tensor> ref = run_once(c, xs, Backend::reference);
  std::vector<Tensor> fast = run_once(c, xs, Backend::fast);
  ASSERT_EQ(ref.size(), fast.size());
  for (size_t k = 0; k < ref.size(); ++k) {
    ASSERT_EQ(ref[k].shape(), fast[k].shape()) << c.name << " tensor " << k;
    for (int64_t i = 0; i < ref[k].numel(); ++i)
      ASSERT_NEAR(ref[k][i], fast[k][i], 1e-4 * (1 + std::fabs(ref[k][i]))) << c.name << " tensor " << k << " at " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTable, ::testing::ValuesIn(op_table()),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; });

// Larger, realistic shapes exercise oneDNN's blocked layouts, which tiny cases may not select;
// 8 images of 14 x 14 are enough pixels for the Winograd path (conv2d_onednn.cpp) where the CPU has it.
TEST(FastKernels, ConvMatchesReferenceOnNetworkShapes) {
  Rng rng(1);
  Tensor x = random_tensor({8, 32, 14, 14}, rng), w = random_tensor({64, 32, 3, 3}, rng),
         b = random_tensor({64}, rng);
  OpCase c{"conv_net", {}, [&](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], {1, 1, 1}); }};
  std::vector<Tensor> ref = run_once(c, {x, w, b}, Backend::reference);
  std::vector<Tensor> fast = run_once(c, {x, w, b}, Backend::fast);
  for (size_t k = 0; k < ref.size(); ++k)
    for (int64_t i = 0; i < ref[k].numel(); ++i)
      ASSERT_NEAR(ref[k][i], fast[k][i], 1e-3 * (1 + std::fabs(ref[k][i]))) << "tensor " << k << " at " << i;
}

TEST(Ops, ShapeErrorsAreFrugalErrors) {
  Var x(Tensor::zeros({2, 3}), true), w(Tensor::zeros({4, 5}), true);
  EXPECT_THROW(linear(x, w, Var()), Error);
  EXPECT_THROW(conv2d(x, w, Var(), {}), Error);
  EXPECT_THROW(add(x, w), Error);
  EXPECT_THROW(softmax_cross_entropy(x, {0, 7}), Error);
}

TEST(Ops, InputWithoutGradientGetsNone) {
  Rng rng(2);
  Var x(random_tensor({2, 1, 5, 5}, rng), false), w(random_tensor({2, 1, 3, 3}, rng), true);
  Var y = conv2d(x, w, Var(), {1, 1, 1});
  Var loss = mse(flatten(y), Tensor::zeros({2, 50}));
  backward(loss);
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());
}

}  // namespace
