// The 3-D ops: backward against central finite differences, and the fast kernels (oneDNN conv3d)
// against the plain-loop references, values and gradients, over small odd shapes. One table
// drives both, like tests/test_ops.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "frugal/autograd/gradcheck.h"
#include "frugal/autograd/ops.h"
#include "frugal/autograd/ops3d.h"
#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
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
  // Max pooling and ReLU6 have kinks: spread inputs at least 1e-2 apart so no step crosses one.
  bool distinct_inputs = false;
};

std::vector<OpCase> op_table() {
  return {
      {"conv3d", {{2, 3, 4, 5, 3}, {4, 3, 3, 3, 3}, {4}},
       [](const std::vector<Var>& v) { return conv3d(v[0], v[1], v[2], {1, 1, 1}); }},
      {"conv3d_stride2_nopad", {{1, 2, 5, 6, 5}, {3, 2, 3, 2, 3}, {3}},
       [](const std::vector<Var>& v) { return conv3d(v[0], v[1], v[2], {2, 0, 1}); }},
      {"conv3d_depthwise", {{1, 3, 3, 4, 3}, {3, 1, 3, 3, 3}},
       [](const std::vector<Var>& v) { return conv3d(v[0], v[1], Var(), {1, 1, 3}); }},
      {"conv3d_groups2", {{1, 4, 3, 3, 3}, {6, 2, 3, 3, 3}, {6}},
       [](const std::vector<Var>& v) { return conv3d(v[0], v[1], v[2], {1, 1, 2}); }},
      {"conv3d_1x1x1", {{2, 5, 3, 4, 2}, {3, 5, 1, 1, 1}, {3}},
       [](const std::vector<Var>& v) { return conv3d(v[0], v[1], v[2], {1, 0, 1}); }},
      {"group_norm", {{2, 6, 3, 2, 3}, {6}, {6}},
       [](const std::vector<Var>& v) { return group_norm(v[0], 3, v[1], v[2]); }},
      {"instance_norm", {{2, 3, 2, 2, 3}, {3}, {3}},
       [](const std::vector<Var>& v) { return instance_norm(v[0], v[1], v[2]); }},
      {"max_pool3d", {{2, 2, 4, 2, 4}}, [](const std::vector<Var>& v) { return max_pool3d(v[0], 2); }, 2e-2, true},
      {"upsample_nearest3d", {{1, 2, 2, 3, 2}}, [](const std::vector<Var>& v) { return upsample_nearest3d(v[0], 2); }},
      {"upsample_trilinear3d", {{2, 2, 3, 2, 3}},
       [](const std::vector<Var>& v) { return upsample_trilinear3d(v[0], 2); }},
      {"upsample_trilinear3d_x3", {{1, 1, 2, 3, 2}},
       [](const std::vector<Var>& v) { return upsample_trilinear3d(v[0], 3); }},
      {"silu", {{2, 3, 2, 2, 3}}, [](const std::vector<Var>& v) { return silu(v[0]); }},
      {"relu6", {{2, 3, 2, 2, 3}}, [](const std::vector<Var>& v) { return relu6(scale(v[0], 5.0f)); }, 2e-2, true},
      {"leaky_relu", {{3, 2, 2, 2, 2}}, [](const std::vector<Var>& v) { return leaky_relu(v[0], 0.1f); }, 2e-2,
       true},
      {"sigmoid", {{2, 7}}, [](const std::vector<Var>& v) { return sigmoid(v[0]); }},
      {"global_avg_pool3d", {{2, 3, 2, 3, 2}}, [](const std::vector<Var>& v) { return global_avg_pool3d(v[0]); }},
      {"channel_mul", {{2, 3, 2, 2, 3}, {2, 3, 1, 1, 1}},
       [](const std::vector<Var>& v) { return channel_mul(v[0], v[1]); }},
      {"squeeze_excitation", {{1, 4, 2, 3, 2}, {2, 4, 1, 1, 1}, {4, 2, 1, 1, 1}},
       [](const std::vector<Var>& v) {
         Var s = silu(conv3d(global_avg_pool3d(v[0]), v[1], Var(), {1, 0, 1}));
         return channel_mul(v[0], sigmoid(conv3d(s, v[2], Var(), {1, 0, 1})));
       }},
      {"slice_channels", {{2, 5, 2, 1, 2}}, [](const std::vector<Var>& v) { return slice_channels(v[0], 1, 3); }},
  };
}

Tensor random_tensor(const Shape& s, Rng& rng) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

std::vector<Tensor> inputs_for(const OpCase& c, uint64_t seed) {
  Rng rng(seed);
  std::vector<Tensor> xs;
  for (const Shape& s : c.inputs) {
    Tensor t = random_tensor(s, rng);
    if (c.distinct_inputs) {
      std::vector<int64_t> order(static_cast<size_t>(t.numel()));
      for (int64_t i = 0; i < t.numel(); ++i) order[static_cast<size_t>(i)] = i;
      rng.shuffle(order);
      float step = 2.0f / static_cast<float>(t.numel());
      for (int64_t i = 0; i < t.numel(); ++i)
        t[order[static_cast<size_t>(i)]] = -1.0f + step * (static_cast<float>(i) + 0.5f);
    }
    xs.push_back(t);
  }
  return xs;
}

class Ops3dTable : public ::testing::TestWithParam<OpCase> {};

// Finite differences call each op thousands of times on tiny shapes: one thread avoids paying an
// OpenMP barrier per call on a shared, busy machine.
TEST_P(Ops3dTable, BackwardMatchesFiniteDifferences) {
  const OpCase& c = GetParam();
  int threads = num_threads();
  set_num_threads(1);
  for (Backend b : {Backend::reference, Backend::fast}) {
    BackendGuard guard(b);
    GradcheckResult r = gradcheck(c.f, inputs_for(c, 11));
    EXPECT_LT(r.max_rel_error, c.tolerance) << c.name << (b == Backend::fast ? " (fast)" : " (reference)");
  }
  set_num_threads(threads);
}

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

TEST_P(Ops3dTable, FastKernelsMatchReference) {
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

INSTANTIATE_TEST_SUITE_P(AllOps3d, Ops3dTable, ::testing::ValuesIn(op_table()),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; });

// Values that finite differences cannot see: PyTorch's align_corners=false trilinear taps and
// oneDNN's conv3d on a larger, blocked-layout-sized volume.
TEST(Ops3d, TrilinearMatchesPyTorchOnARamp) {
  Var x(Tensor({1, 1, 1, 1, 2}, {0.0f, 1.0f}));
  Var y = upsample_trilinear3d(x, 2);
  // torch.nn.functional.interpolate([0, 1], scale_factor=2, mode="linear") = [0, 0.25, 0.75, 1]
  std::vector<float> want{0.0f, 0.25f, 0.75f, 1.0f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y.value()[i], want[static_cast<size_t>(i)], 1e-6);
}

TEST(Ops3d, OnednnConv3dMatchesReferenceOnAWiderVolume) {
  Rng rng(1);
  Tensor x = random_tensor({1, 16, 6, 7, 5}, rng), w = random_tensor({16, 16, 3, 3, 3}, rng);
  Tensor ref_y, fast_y;
  {
    BackendGuard g(Backend::reference);
    ref_y = conv3d(Var(x), Var(w), Var(), {1, 1, 1}).value();
  }
  fast_y = conv3d(Var(x), Var(w), Var(), {1, 1, 1}).value();
  for (int64_t i = 0; i < ref_y.numel(); ++i) ASSERT_NEAR(ref_y[i], fast_y[i], 1e-4 * (1 + std::fabs(ref_y[i])));
}

TEST(Ops3d, ShapeErrorsNameTheOp) {
  Var x(Tensor({1, 2, 3, 3}));
  EXPECT_THROW(conv3d(x, Var(Tensor({1, 2, 1, 1, 1})), Var(), {}), Error);
  Var v(Tensor({1, 2, 3, 4, 4}));
  EXPECT_THROW(max_pool3d(v, 2), Error);
  EXPECT_THROW(group_norm(v, 3, Var(Tensor({2})), Var(Tensor({2}))), Error);
  try {
    slice_channels(v, 1, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("slice_channels"), std::string::npos);
  }
}

}  // namespace
