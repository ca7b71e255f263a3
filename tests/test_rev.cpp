// Reversible coupling and RevMBConv3d: the reversible backward rebuilds each input from the
// output (to 1e-5), gives the gradients of ordinary backprop over the same blocks (to 1e-4),
// runs F and G twice each (not three times), replays dropout masks, moves batch-norm running
// statistics once, and keeps activation memory flat as blocks are added.
#include <gtest/gtest.h>

#include <cmath>

#include "frugal/autograd/ops3d.h"
#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/rev/mbconv3d.h"
#include "frugal/rev/reversible.h"

using namespace frugal;
using namespace frugal::autograd;
using namespace frugal::rev;

namespace {

Tensor random_tensor(const Shape& s, Rng& rng, float scale = 1.0f) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = scale * rng.uniform(-1.0f, 1.0f);
  return t;
}

// The projection starts at zero (identity blocks); tests give it values so every weight matters.
void randomize_projections(ReversibleSequence& seq, uint64_t seed) {
  Rng rng(seed);
  for (Coupling& b : seq.blocks)
    for (ResidualFn* fn : {b.f.get(), b.g.get()}) {
      auto* m = dynamic_cast<MBConv3d*>(fn);
      m->w_project.value() = random_tensor(m->w_project.shape(), rng, 0.3f);
      m->b_project.value() = random_tensor(m->b_project.shape(), rng, 0.1f);
    }
}

std::unique_ptr<ReversibleSequence> make_sequence(bool reversible, int blocks, MBConvConfig config, int channels = 8) {
  auto seq = std::make_unique<ReversibleSequence>(reversible);
  Rng rng(17);
  for (int i = 0; i < blocks; ++i) add_rev_mbconv3d(*seq, channels, config, rng);
  randomize_projections(*seq, 99);
  return seq;
}

struct StepResult {
  Tensor y, dx, x_after;
  std::vector<Tensor> param_grads;
};

// One forward and backward of sum(w * seq(x)).
StepResult step(ReversibleSequence& seq, const Tensor& x_value) {
  Var x(x_value.clone(), true);
  Var y = seq.forward(x);
  Rng rng(5);
  Tensor w = random_tensor(y.shape(), rng);
  Var loss = record(Tensor::full({1}, 0.0f), {y}, [y, w](const Tensor&) { y.add_grad(w); });
  StepResult r;
  r.y = y.value().clone();
  backward(loss);
  r.dx = x.grad();
  r.x_after = x.value();
  for (nn::Param& p : seq.parameters()) {
    r.param_grads.push_back(p.var.grad().defined() ? p.var.grad() : Tensor::zeros(p.var.shape()));
    p.var.zero_grad();
  }
  return r;
}

double max_abs(const Tensor& a) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i])));
  return m;
}

// max |a - b| over max(|a|, floor).
double max_rel_diff(const Tensor& a, const Tensor& b, double floor = 1e-12) {
  double diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
  return diff / std::max(floor, max_abs(a));
}

void expect_same_step(const StepResult& rev, const StepResult& plain) {
  EXPECT_LT(max_rel_diff(plain.y, rev.y), 1e-6);
  EXPECT_LT(max_rel_diff(plain.dx, rev.dx), 1e-4);
  ASSERT_EQ(rev.param_grads.size(), plain.param_grads.size());
  // A parameter whose gradient is a near-total cancellation (a norm's gamma can get 1e-6 where
  // others get 1e-1) is compared on the scale of the model's largest gradient, 1e-3 of it.
  double largest = 0;
  for (const Tensor& g : plain.param_grads) largest = std::max(largest, max_abs(g));
  for (size_t k = 0; k < rev.param_grads.size(); ++k)
    EXPECT_LT(max_rel_diff(plain.param_grads[k], rev.param_grads[k], 1e-3 * largest), 1e-4) << "parameter " << k;
}

MBConvConfig se_config() {
  MBConvConfig c;
  c.expansion = 2;
  c.squeeze_excitation = true;
  return c;
}

TEST(Reversible, GradientsMatchPlainBackpropAndInputIsRebuilt) {
  Rng rng(3);
  Tensor x = random_tensor({2, 8, 4, 3, 5}, rng);
  auto rev = make_sequence(true, 3, se_config());
  auto plain = make_sequence(false, 3, se_config());
  StepResult r = step(*rev, x), p = step(*plain, x);
  expect_same_step(r, p);
  // The reversible sequence released x and put back its reconstruction from y.
  EXPECT_LT(max_rel_diff(x, r.x_after), 1e-5);
  EXPECT_NE(r.x_after.data(), nullptr);
}

TEST(Reversible, InstanceNormAndRelu6AndLeakyRelu) {
  Rng rng(4);
  Tensor x = random_tensor({2, 4, 3, 4, 3}, rng);
  for (const char* act : {"silu", "relu6", "leaky_relu"}) for (const char* nm : {"instance", "group"}) {
    MBConvConfig c;
    c.norm = nm;
    c.activation = act;
    SCOPED_TRACE(std::string(act) + nm);
    auto rev = make_sequence(true, 2, c, 4);
    auto plain = make_sequence(false, 2, c, 4);
    expect_same_step(step(*rev, x), step(*plain, x));
  }
}

// Counts evaluations of a wrapped residual function.
class Counting : public ResidualFn {
 public:
  Counting(ResidualFnPtr inner, int& count) : inner_(std::move(inner)), count_(count) {}
  Var forward(const Var& x) override {
    ++count_;
    return inner_->forward(x);
  }
  std::string type() const override { return "counting"; }
  nn::Json spec() const override { return inner_->spec(); }
  std::vector<nn::Param> parameters() override { return inner_->parameters(); }

 private:
  ResidualFnPtr inner_;
  int& count_;
};

TEST(Reversible, EvaluatesFAndGTwiceEach) {
  int f_count = 0, g_count = 0;
  ReversibleSequence seq(true);
  Rng rng(8);
  MBConvConfig c;
  c.channels = 2;
  for (int i = 0; i < 3; ++i)
    seq.add(std::make_unique<Counting>(std::make_unique<MBConv3d>(c, rng), f_count),
            std::make_unique<Counting>(std::make_unique<MBConv3d>(c, rng), g_count));
  Rng xr(1);
  step(seq, random_tensor({1, 4, 2, 2, 2}, xr));
  EXPECT_EQ(f_count, 6);  // 3 blocks x (forward + recompute)
  EXPECT_EQ(g_count, 6);
}

TEST(Reversible, DropoutMasksAreReplayed) {
  MBConvConfig c;
  c.expansion = 2;
  c.dropout = 0.3;
  Rng rng(6);
  Tensor x = random_tensor({1, 4, 3, 3, 3}, rng);
  auto rev = make_sequence(true, 2, c, 4);
  auto plain = make_sequence(false, 2, c, 4);
  StepResult r = step(*rev, x), p = step(*plain, x);
  expect_same_step(r, p);
  EXPECT_LT(max_rel_diff(x, r.x_after), 1e-5);
}

TEST(Reversible, BatchNormRunningStatisticsMoveOnce) {
  MBConvConfig c;
  c.norm = "batch";
  Rng rng(7);
  Tensor x = random_tensor({2, 4, 3, 3, 3}, rng);
  auto rev = make_sequence(true, 2, c, 4);
  auto plain = make_sequence(false, 2, c, 4);
  expect_same_step(step(*rev, x), step(*plain, x));
  std::vector<nn::Buffer> rb = rev->buffers(), pb = plain->buffers();
  ASSERT_EQ(rb.size(), 16u);
  for (size_t k = 0; k < rb.size(); ++k) {
    EXPECT_LT(max_rel_diff(*pb[k].tensor, *rb[k].tensor), 1e-6) << rb[k].name;
    // And they did move (from 0 mean / 1 variance) in this step.
    EXPECT_GT(max_rel_diff(*rb[k].tensor, Tensor::full(rb[k].tensor->shape(), k % 2 ? 1.0f : 0.0f)), 1e-4);
  }
}

// Peak bytes of one step above what is live before it (input, parameters).
int64_t step_peak(ReversibleSequence& seq, const Tensor& x) {
  int64_t before = live_bytes();
  reset_peak_bytes();
  step(seq, x);
  return peak_bytes() - before;
}

TEST(Reversible, ActivationMemoryStaysFlatAsBlocksGrow) {
  Rng rng(9);
  Tensor x = random_tensor({1, 8, 8, 8, 8}, rng);
  MBConvConfig c;
  auto rev1 = make_sequence(true, 1, c), rev4 = make_sequence(true, 4, c);
  auto plain1 = make_sequence(false, 1, c), plain4 = make_sequence(false, 4, c);
  int64_t r1 = step_peak(*rev1, x), r4 = step_peak(*rev4, x);
  int64_t p1 = step_peak(*plain1, x), p4 = step_peak(*plain4, x);
  // Parameter gradients grow with blocks; they are tiny next to the activations here.
  EXPECT_LT(static_cast<double>(r4), 1.1 * static_cast<double>(r1)) << r1 << " -> " << r4;
  EXPECT_GT(static_cast<double>(p4), 3.0 * static_cast<double>(p1)) << p1 << " -> " << p4;
  EXPECT_LT(3 * r4, p4);
}

TEST(Reversible, OddChannelsAreAnError) {
  ReversibleSequence seq(true);
  Rng rng(1);
  EXPECT_THROW(add_rev_mbconv3d(seq, 5, MBConvConfig(), rng), Error);
  MBConvConfig c;
  c.norm = "layer";
  EXPECT_THROW(add_rev_mbconv3d(seq, 4, c, rng), Error);
}

}  // namespace
