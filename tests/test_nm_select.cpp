// The fused one-pass selection of both N:M copies of a linear weight (sparse::select_linear,
// kernels/nm_select.h) against the two-pass reference (select_linear_forward / _backward, itself
// tested against the masks in test_sparse_train.cpp): equal values and columns for every pattern
// the fused kernel takes, with ties, NaN and widths that end in a partial vector; storage reused
// across steps; and a copy that a recorded step still reads is never overwritten.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "frugal/autograd/ops.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/backend.h"
#include "frugal/sparse/nm_ops.h"
#include "frugal/sparse/nm_select.h"

using namespace frugal;
using namespace frugal::sparse;
using autograd::Var;

namespace {

// Values on a coarse grid so groups hold ties, plus NaNs and signed zeros.
Tensor tied_weights(int64_t out, int64_t in, uint64_t seed) {
  Rng rng(seed);
  Tensor w({out, in});
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = std::round(rng.normal() * 3.0f) / 4.0f;
  for (int64_t i = 0; i < w.numel(); i += 37) w[i] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 5; i < w.numel(); i += 41) w[i] = -0.0f;
  return w;
}

// Bitwise equal (NaN kept as NaN), columns equal.
void expect_same(const NMRows& want, const NMRows& got, const std::string& what) {
  ASSERT_EQ(want.rows, got.rows) << what;
  ASSERT_EQ(want.cols, got.cols) << what;
  ASSERT_EQ(want.slots, got.slots) << what;
  for (int64_t i = 0; i < want.rows * want.slots; ++i) {
    ASSERT_EQ(want.columns[i], got.columns[i]) << what << " slot " << i;
    float a = want.values.data()[i], b = got.values.data()[i];
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << what << " slot " << i << ": " << a << " vs " << b;
  }
}

bool fused_available() { return select_linear_fused(16, 16, {2, 8}); }

}  // namespace

TEST(NMSelectFused, MatchesTwoPassReference) {
  if (!fused_available()) GTEST_SKIP() << "no AVX-512: select_linear runs the reference path";
  const NMPattern patterns[] = {{1, 2}, {1, 4}, {2, 4}, {3, 4}, {2, 8}, {1, 8}, {4, 8}, {7, 8}, {1, 16}, {8, 16}, {15, 16}};
  // in: whole vectors, a partial last vector and a partial 64-column panel; out: 1 .. many groups.
  const int64_t shapes[][2] = {{16, 16}, {32, 48}, {48, 80}, {64, 784 / 7}, {16, 208}, {80, 144}, {128, 16}};
  for (const NMPattern& p : patterns)
    for (const auto& s : shapes) {
      int64_t out = s[0], in = s[1];
      if (out % p.m != 0 || in % p.m != 0) continue;
      ASSERT_TRUE(select_linear_fused(out, in, p)) << p.str();
      Tensor w = tied_weights(out, in, static_cast<uint64_t>(out * 1000 + in + p.m));
      NMRows fw, bw;
      select_linear(w, p, fw, &bw);
      std::string tag = p.str() + " " + std::to_string(out) + "x" + std::to_string(in);
      expect_same(select_linear_forward(w, p), fw, "forward " + tag);
      expect_same(select_linear_backward(w, p), bw, "backward " + tag);
    }
}

TEST(NMSelectFused, ReusesStorageAndSkipsBackward) {
  NMPattern p{2, 8};
  Tensor w1 = tied_weights(64, 96, 1), w2 = tied_weights(64, 96, 2);
  NMRows fw, bw;
  select_linear(w1, p, fw, &bw);
  const float* fv = fw.values.data();
  const int32_t* bc = bw.columns.data();
  select_linear(w2, p, fw, &bw);
  if (fused_available()) {
    EXPECT_EQ(fv, fw.values.data());
    EXPECT_EQ(bc, bw.columns.data());
  }
  expect_same(select_linear_forward(w2, p), fw, "forward after reuse");
  expect_same(select_linear_backward(w2, p), bw, "backward after reuse");
  NMRows only;
  select_linear(w1, p, only, nullptr);
  expect_same(select_linear_forward(w1, p), only, "forward only");
}

TEST(NMSelectFused, FallsBackWhereTheKernelDoesNotFit) {
  // Tails (10 outputs at M = 8), M not dividing 16, and the reference backend take the two-pass path.
  EXPECT_FALSE(select_linear_fused(10, 2048, {2, 8}));
  EXPECT_FALSE(select_linear_fused(30, 30, {2, 6}));
  {
    kernels::BackendGuard ref(kernels::Backend::reference);
    EXPECT_FALSE(select_linear_fused(64, 64, {2, 8}));
  }
  for (NMPattern p : {NMPattern{2, 8}, NMPattern{2, 6}}) {
    Tensor w = tied_weights(10, 36, 3);
    NMRows fw, bw;
    select_linear(w, p, fw, &bw);
    expect_same(select_linear_forward(w, p), fw, "forward fallback " + p.str());
    expect_same(select_linear_backward(w, p), bw, "backward fallback " + p.str());
  }
}

TEST(NMSelectFused, RecordedStepKeepsItsCopies) {
  // prepare_linear overwrites copies in place only when no recorded backward holds them.
  NMConfig nm{{2, 8}, NMMode::bdwp, 0};
  Rng rng(9);
  Tensor wt({16, 32}), xt({4, 32});
  for (int64_t i = 0; i < wt.numel(); ++i) wt[i] = rng.normal();
  for (int64_t i = 0; i < xt.numel(); ++i) xt[i] = rng.normal();
  NMLinearWeights prepared = prepare_linear(wt, nm);
  Var x(xt, true), w(wt, true);
  Var y = nm_linear(x, w, Var(), nm, prepared);
  const NMRows* old_bw = prepared.bw.get();
  Tensor bw_before = Tensor::empty({32, 16});
  expand(*prepared.bw, bw_before.data());
  Tensor moved = wt.clone();
  for (int64_t i = 0; i < moved.numel(); ++i) moved[i] = -moved[i] * static_cast<float>(i % 7);
  prepare_linear(moved, nm, prepared);
  EXPECT_NE(old_bw, prepared.bw.get()) << "a copy held by the recorded step was overwritten in place";
  autograd::backward(y);
  // dX = dY · (W ⊙ mask_bw) of the weights the forward saw, dY = ones.
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t i = 0; i < 32; ++i) {
      float sum = 0;
      for (int64_t o = 0; o < 16; ++o) sum += bw_before[i * 16 + o];
      ASSERT_NEAR(x.grad()[r * 32 + i], sum, 1e-4f) << r << "," << i;
    }
  const NMRows* now = prepared.fw.get();
  prepare_linear(wt, nm, prepared);
  EXPECT_EQ(now, prepared.fw.get()) << "an unshared copy should be refilled in place";
}
