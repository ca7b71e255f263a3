// The fused convolution + 2x2 max-pool (kernels/conv2d_pool.h) against the two ops run one after
// the other on the same backend: equal outputs and gradients bit for bit, for shapes that take the
// fused path (whole and partial channel blocks, odd output sizes, stride, padding, with and without
// bias and input gradient), ties and NaNs in the pooling windows, and Sequential's use of it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "frugal/autograd/ops.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/conv2d_pool.h"
#include "frugal/nn/layers.h"

using namespace frugal;
using namespace frugal::autograd;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(rng.uniform() * 2.0 - 1.0);
  return t;
}

// oneDNN picks blocked layouts (and so the fused path) on AVX2 and AVX-512 CPUs.
bool blocked_layout_cpu() {
  const std::string isa = kernels::cpu_isa();
  return isa == "avx512" || isa == "avx2";
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct Case {
  int64_t n, c, h, w, o, k, stride, pad;
  bool bias, input_grad;
  int64_t groups = 1;
};

struct Result {
  Tensor y, dx, dw, db;
};

Result run(const Case& c, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& target, bool fused) {
  Var x(x0, c.input_grad), w(w0, true), b = c.bias ? Var(b0, true) : Var();
  Conv2dParams p{static_cast<int>(c.stride), static_cast<int>(c.pad), static_cast<int>(c.groups)};
  Var y = fused ? conv2d_maxpool2(x, w, b, p) : max_pool2d(conv2d(x, w, b, p), 2, 2, 0);
  backward(mse(y, target));
  return {y.value(), c.input_grad ? x.grad() : Tensor(), w.grad(), c.bias ? b.grad() : Tensor()};
}

void expect_same(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.defined(), b.defined()) << what;
  if (!a.defined()) return;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_TRUE(same_bits(a[i], b[i])) << what << " at " << i << ": " << a[i] << " vs " << b[i];
}

TEST(ConvMaxPool, FusedEqualsConvThenPoolBitForBit) {
  const Case cases[] = {
      {4, 1, 28, 28, 32, 3, 1, 1, true, false},   // the reference CNN's conv1
      {8, 32, 14, 14, 64, 3, 1, 1, true, true},   // its conv2 (Winograd)
      {3, 5, 9, 11, 20, 3, 1, 0, false, true},    // a partial channel block, odd output sizes
      {2, 16, 12, 12, 24, 5, 2, 2, true, true},   // stride and padding
  };
  bool fused_somewhere = false;
  for (const Case& c : cases) {
    const Tensor x0 = random_tensor({c.n, c.c, c.h, c.w}, 1);
    const Tensor w0 = random_tensor({c.o, c.c, c.k, c.k}, 2);
    const Tensor b0 = random_tensor({c.o}, 3);
    kernels::Conv2dShape s{c.n, c.c, c.h, c.w, c.o, c.k, c.k, c.stride, c.pad, 1};
    fused_somewhere = fused_somewhere || kernels::conv2d_maxpool2_fusable(s);
    const Tensor target = random_tensor({c.n, c.o, s.oh() / 2, s.ow() / 2}, 4);
    Result a = run(c, x0, w0, b0, target, true);
    Result b = run(c, x0, w0, b0, target, false);
    SCOPED_TRACE("case c=" + std::to_string(c.c) + " o=" + std::to_string(c.o));
    expect_same(a.y, b.y, "y");
    expect_same(a.dx, b.dx, "dx");
    expect_same(a.dw, b.dw, "dw");
    expect_same(a.db, b.db, "db");
  }
  // On CPUs where oneDNN picks a blocked output layout (AVX2 and AVX-512) the fused path ran.
  if (blocked_layout_cpu()) {
    EXPECT_TRUE(fused_somewhere);
  }
}

TEST(ConvMaxPool, TiesAndNaNsPickTheSameWindowElement) {
  // A depthwise 1x1 identity convolution passes each channel through, so the pool sees chosen values:
  // ties (all equal), a NaN at each window position in turn, and -0 against +0. A NaN that
  // wins is beaten again by the next value (!(v <= NaN)), so which element takes the gradient
  // shows in dx even where the pooled values agree.
  const Case c{2, 16, 4, 4, 16, 1, 1, 0, false, true, 16};
  Tensor x0 = Tensor::zeros({c.n, c.c, c.h, c.w});
  for (int64_t i = 0; i < x0.numel(); ++i) {
    const int64_t ch = (i / 16) % 16, row = (i / 4) % 4, col = i % 4;
    const int64_t at = (row % 2) * 2 + col % 2;  // position in its 2x2 window
    x0[i] = ch < 4 ? 1.0f : (ch < 8 && at == ch - 4 ? std::nanf("") : (ch == 8 ? -0.0f : 0.5f));
  }
  const Tensor w0 = Tensor::full({16, 1, 1, 1}, 1.0f);
  if (blocked_layout_cpu()) {
    EXPECT_TRUE(kernels::conv2d_maxpool2_fusable({c.n, c.c, c.h, c.w, c.o, 1, 1, 1, 0, c.groups}));
  }
  const Tensor target = random_tensor({c.n, c.o, 2, 2}, 5);
  Result a = run(c, x0, w0, Tensor(), target, true);
  Result b = run(c, x0, w0, Tensor(), target, false);
  expect_same(a.y, b.y, "y");
  expect_same(a.dx, b.dx, "dx");
}

TEST(ConvMaxPool, SequentialFusesConvReluPoolWithTheSameGradients) {
  Rng rng(9);
  nn::Sequential seq;
  seq.add(std::make_unique<nn::Conv2d>(3, 16, 3, 1, 1, 1, true, rng));
  seq.add(std::make_unique<nn::ReLU>());
  seq.add(std::make_unique<nn::MaxPool2d>(2, 2, 0));
  auto* conv = dynamic_cast<nn::Conv2d*>(seq.layers[0].get());
  const Tensor x0 = random_tensor({4, 3, 10, 10}, 6);
  const Tensor target = random_tensor({4, 16, 5, 5}, 7);
  Var xa(x0, true);
  backward(mse(seq.forward(xa), target));
  const Tensor dw_seq = conv->weight.grad();
  conv->weight.zero_grad();
  conv->bias.zero_grad();
  Var xb(x0, true);
  backward(mse(relu(max_pool2d(conv2d(xb, conv->weight, conv->bias, {1, 1, 1}), 2, 2, 0)), target));
  expect_same(xa.grad(), xb.grad(), "dx");
  expect_same(dw_seq, conv->weight.grad(), "dw");
}

}  // namespace
