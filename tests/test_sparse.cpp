// N:M sparsity: masks (exact counts, largest kept, ties, tails), the packed format's round trip,
// every N:M GEMM variant this CPU runs against the plain-loop reference on odd shapes, and the
// sparse linear / conv2d ops in every mode against dense products with the masks applied.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/kernels/nm_gemm.h"
#include "frugal/sparse/nm_mask.h"
#include "frugal/sparse/nm_ops.h"
#include "frugal/sparse/nm_packed.h"

using namespace frugal;
using namespace frugal::sparse;

namespace {

const NMPattern kPatterns[] = {{1, 4}, {2, 4}, {2, 8}, {1, 8}, {4, 8}, {3, 16}};

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.normal();
  return t;
}

// Checks every group of a mask laid out as [outer, axis, inner] with groups along axis.
void expect_groups(const Tensor& w, const Tensor& mask, int64_t outer, int64_t axis, int64_t inner,
                   const NMPattern& p) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      for (int64_t g0 = 0; g0 < axis; g0 += p.m) {
        int64_t len = std::min<int64_t>(p.m, axis - g0);
        int kept = 0;
        float min_kept = std::numeric_limits<float>::infinity(), max_dropped = 0;
        for (int64_t j = 0; j < len; ++j) {
          int64_t at = (o * axis + g0 + j) * inner + i;
          ASSERT_TRUE(mask[at] == 0.0f || mask[at] == 1.0f);
          if (mask[at] == 1.0f) {
            ++kept;
            min_kept = std::min(min_kept, std::fabs(w[at]));
          } else {
            max_dropped = std::max(max_dropped, std::fabs(w[at]));
          }
        }
        ASSERT_EQ(kept, std::min<int64_t>(p.n, len)) << p.str() << " group at " << o << "," << g0 << "," << i;
        ASSERT_GE(min_kept, max_dropped) << p.str();
      }
}

// out[b, r] = Σ_c src[b, c] · dense[r, c]
std::vector<float> dense_product(const std::vector<float>& dense, int64_t rows, int64_t cols, const Tensor& src,
                                 int64_t batch) {
  std::vector<float> out(static_cast<size_t>(batch * rows), 0.0f);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += double(src[b * cols + c]) * dense[r * cols + c];
      out[b * rows + r] = static_cast<float>(sum);
    }
  return out;
}

void expect_close(const std::vector<float>& want, const std::vector<float>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(want[i], got[i], 1e-4f * (1.0f + std::fabs(want[i]))) << what << " at " << i;
}

}  // namespace

TEST(NMPattern, ParsesAndRejects) {
  NMPattern p = parse_nm("2:8", "cfg.toml: sparsity");
  EXPECT_EQ(p.n, 2);
  EXPECT_EQ(p.m, 8);
  EXPECT_EQ(parse_nm("15:16", "x").m, 16);
  for (const char* bad : {"8:8", "0:4", "2:17", "5:4", "a:b", "2-8", "2:", ":8", "2:8:1", "", "-1:4", "1:100"})
    EXPECT_THROW(parse_nm(bad, "cfg.toml: sparsity"), Error) << bad;
  try {
    parse_nm("2:32", "cfg.toml: sparsity");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.toml: sparsity"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("M <= 16"), std::string::npos);
  }
}

TEST(NMMask, LinearForwardKeepsLargestPerInputGroup) {
  for (const NMPattern& p : kPatterns) {
    Tensor w = random_tensor({13, 37}, 1);  // 37 is no multiple of M: a tail group
    expect_groups(w, forward_mask(w, p), 13, 37, 1, p);
  }
}

TEST(NMMask, LinearBackwardKeepsLargestPerOutputGroup) {
  for (const NMPattern& p : kPatterns) {
    Tensor w = random_tensor({21, 10}, 2);
    expect_groups(w, backward_mask(w, p), 1, 21, 10, p);
  }
}

TEST(NMMask, ConvGroupsRunAlongChannels) {
  for (const NMPattern& p : kPatterns) {
    Tensor w = random_tensor({6, 19, 3, 3}, 3);
    expect_groups(w, forward_mask(w, p), 6, 19, 9, p);
    expect_groups(w, backward_mask(w, p), 1, 6, 19 * 9, p);
  }
}

TEST(NMMask, TiesGoToLowerIndexAndNaNCountsSmallest) {
  Tensor w = Tensor::full({1, 8}, 0.5f);
  w[3] = -0.5f;
  Tensor mask = forward_mask(w, {3, 8});
  EXPECT_EQ(mask.to_vector(), (std::vector<float>{1, 1, 1, 0, 0, 0, 0, 0}));
  w[1] = std::nanf("");
  w[6] = 2.0f;
  mask = forward_mask(w, {3, 8});
  EXPECT_EQ(mask.to_vector(), (std::vector<float>{1, 0, 1, 0, 0, 0, 1, 0}));
  Tensor all_nan = Tensor::full({1, 4}, std::nanf(""));
  EXPECT_EQ(forward_mask(all_nan, {2, 4}).to_vector(), (std::vector<float>{1, 1, 0, 0}));
}

TEST(NMMask, RejectsBadPatternAndRank) {
  Tensor w({4, 8});
  EXPECT_THROW(forward_mask(w, {4, 4}), Error);
  EXPECT_THROW(backward_mask(w, {1, 17}), Error);
  EXPECT_THROW(forward_mask(Tensor({8}), {2, 4}), Error);
}

TEST(NMMask, SrSteDecayPullsOnlyPrunedWeights) {
  Tensor w = random_tensor({4, 8}, 4);
  Tensor mask = forward_mask(w, {2, 8});
  Tensor grad = Tensor::full({4, 8}, 1.0f);
  add_sr_ste_decay(w, mask, 0.5f, grad);
  for (int64_t i = 0; i < w.numel(); ++i) EXPECT_FLOAT_EQ(grad[i], mask[i] == 1.0f ? 1.0f : 1.0f + 0.5f * w[i]);
  Tensor wrong({4, 4});
  EXPECT_THROW(add_sr_ste_decay(w, mask, 0.5f, wrong), Error);
}

TEST(NMPacked, IndexWidthAndSize) {
  struct Case {
    NMPattern p;
    int bits;
  };
  for (Case c : {Case{{1, 2}, 1}, Case{{2, 4}, 2}, Case{{1, 5}, 3}, Case{{2, 8}, 3}, Case{{4, 16}, 4}}) {
    Tensor w = random_tensor({3, 40}, 5);
    NMPacked packed = pack_nm(w.data(), 3, 40, 40, 1, c.p);
    EXPECT_EQ(packed.bits_per_index(), c.bits) << c.p.str();
    int64_t groups = (40 + c.p.m - 1) / c.p.m;
    int64_t slots = groups * c.p.n;
    EXPECT_EQ(packed.slots_per_row(), slots);
    EXPECT_EQ(packed.bytes(), 3 * slots * 4 + 3 * ((slots * c.bits + 7) / 8)) << c.p.str();
  }
  // 2:8 of a 1024 x 1024 weight: 2 floats and 6 bits per 8 weights.
  Tensor big({1024, 1024});
  NMPacked packed = pack_nm(big.data(), 1024, 1024, 1024, 1, {2, 8});
  EXPECT_EQ(packed.bytes(), 1024 * 256 * 4 + 1024 * 96);
}

TEST(NMPacked, RoundTripEqualsMaskedWeights) {
  for (const NMPattern& p : kPatterns) {
    Tensor w = random_tensor({9, 45}, 6);
    Tensor fw = forward_mask(w, p);
    NMPacked packed = pack_nm(w.data(), 9, 45, 45, 1, p);
    Tensor back({9, 45});
    unpack_nm(packed, back.data(), 45, 1);
    for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(back[i], w[i] * fw[i]) << p.str() << " at " << i;

    // The backward copy: rows are inputs, groups run along outputs.
    Tensor bw = backward_mask(w, p);
    NMPacked packed_bw = pack_nm(w.data(), 45, 9, 1, 45, p);
    Tensor back_bw = Tensor::full({9, 45}, 7.0f);
    unpack_nm(packed_bw, back_bw.data(), 1, 45);
    for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(back_bw[i], w[i] * bw[i]) << p.str() << " at " << i;

    // Packing weights that are already N:M sparse is lossless.
    NMPacked again = pack_nm(back.data(), 9, 45, 45, 1, p);
    EXPECT_EQ(again.values.to_vector(), packed.values.to_vector());
    EXPECT_EQ(again.index_bits, packed.index_bits);
  }
}

TEST(NMPacked, SlotColumnsPointIntoTheirGroups) {
  Tensor w = random_tensor({5, 22}, 7);
  NMPacked packed = pack_nm(w.data(), 5, 22, 22, 1, {2, 8});
  std::vector<int32_t> cols = slot_columns(packed);
  ASSERT_EQ(cols.size(), size_t(5 * 6));
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t s = 0; s < 6; ++s) {
      int32_t c = cols[r * 6 + s];
      EXPECT_GE(c, (s / 2) * 8);
      EXPECT_LT(c, std::min<int64_t>(22, (s / 2 + 1) * 8));
      EXPECT_EQ(packed.values[r * 6 + s], w[r * 22 + c]);
    }
}

TEST(NMGemm, EveryVariantMatchesReferenceOnOddShapes) {
  using kernels::NMSparseRows;
  using Kernel = void (*)(const NMSparseRows&, const float*, int64_t, float*, float*);
  std::vector<std::pair<const char*, Kernel>> variants;
  if (__builtin_cpu_supports("avx512f")) {
    variants.push_back({"avx512", kernels::nm_gemm_avx512});
    variants.push_back({"permute_avx512", [](const NMSparseRows& a, const float* src, int64_t batch, float* dst,
                                             float*) { kernels::nm_gemm_permute_avx512(a, src, batch, dst); }});
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    variants.push_back({"avx2", kernels::nm_gemm_avx2});
  // The last shape spans several column chunks (at 1:8, 2:8, 3:16), batch tiles and groups of
  // row blocks (on one thread and on two) of the permute kernel, and ends in a partial batch
  // tile, row block and group.
  const int64_t shapes[][3] = {{1, 1, 9}, {7, 5, 37}, {33, 13, 64}, {70, 6, 45}, {129, 17, 100}, {37, 566, 2100}};
  for (const NMPattern& p : kPatterns)
    for (const auto& s : shapes) {
      int64_t batch = s[0], rows = s[1], cols = s[2];
      Tensor w = random_tensor({rows, cols}, 8);
      Tensor x = random_tensor({batch, cols}, 9);
      NMPacked packed = pack_nm(w.data(), rows, cols, cols, 1, p);
      std::vector<int32_t> columns = slot_columns(packed);
      NMSparseRows a{rows, cols, p.n, p.m, packed.slots_per_row(), packed.values.data(), columns.data()};
      std::vector<float> dense(static_cast<size_t>(rows * cols));
      unpack_nm(packed, dense.data(), cols, 1);
      std::vector<float> want = dense_product(dense, rows, cols, x, batch);
      std::vector<float> ref(static_cast<size_t>(batch * rows));
      kernels::nm_gemm_ref(a, x.data(), batch, ref.data());
      std::string tag = p.str() + " " + std::to_string(batch) + "x" + std::to_string(rows) + "x" + std::to_string(cols);
      expect_close(want, ref, "ref " + tag);
      std::vector<float> got(static_cast<size_t>(batch * rows), -1.0f);
      kernels::nm_gemm(a, x.data(), batch, got.data());
      expect_close(ref, got, "dispatch " + tag);
      for (const auto& [name, fn] : variants) {
        std::fill(got.begin(), got.end(), -1.0f);
        Tensor workspace = Tensor::empty({kernels::nm_gemm_workspace_floats(a, batch)});
        fn(a, x.data(), batch, got.data(), workspace.data());
        expect_close(ref, got, std::string(name) + " " + tag);
      }
    }
}

TEST(NMGemm, BackwardDataUsesTheBackwardCopy) {
  // dX = dY · (W ⊙ backward_mask) through the backward copy packed as [in, out].
  for (const NMPattern& p : kPatterns) {
    int64_t batch = 19, out = 27, in = 14;
    Tensor w = random_tensor({out, in}, 10);
    Tensor dy = random_tensor({batch, out}, 11);
    Tensor bw = backward_mask(w, p);
    NMPacked packed = pack_nm(w.data(), in, out, 1, in, p);
    std::vector<int32_t> columns = slot_columns(packed);
    kernels::NMSparseRows a{in, out, p.n, p.m, packed.slots_per_row(), packed.values.data(), columns.data()};
    std::vector<float> dx(static_cast<size_t>(batch * in));
    kernels::nm_gemm(a, dy.data(), batch, dx.data());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < in; ++k) {
        double sum = 0;
        for (int64_t o = 0; o < out; ++o) sum += double(dy[b * out + o]) * w[o * in + k] * bw[o * in + k];
        ASSERT_NEAR(dx[b * in + k], sum, 1e-4 * (1 + std::fabs(sum))) << p.str();
      }
  }
}

namespace {

// dL/dy of mse(y, target): 2 (y − target) / numel.
Tensor mse_grad(const Tensor& y, const Tensor& target) {
  Tensor g(y.shape());
  for (int64_t i = 0; i < y.numel(); ++i) g[i] = 2.0f * (y[i] - target[i]) / static_cast<float>(y.numel());
  return g;
}

void expect_tensor_near(const Tensor& want, const Tensor& got, const std::string& what) {
  ASSERT_EQ(want.shape(), got.shape()) << what;
  expect_close(want.to_vector(), got.to_vector(), what);
}

}  // namespace

TEST(NMOps, ParsesModes) {
  EXPECT_EQ(parse_nm_mode("bdwp", "x"), NMMode::bdwp);
  EXPECT_EQ(parse_nm_mode("forward", "x"), NMMode::forward);
  EXPECT_EQ(parse_nm_mode("dense", "x"), NMMode::dense);
  EXPECT_THROW(parse_nm_mode("sparse", "cfg.toml: sparsity_mode"), Error);
}

TEST(NMOps, LinearMasksBothPassesAndKeepsWeightGradientDense) {
  using namespace frugal::autograd;
  for (NMMode mode : {NMMode::bdwp, NMMode::forward})
    for (kernels::Backend backend : {kernels::Backend::fast, kernels::Backend::reference}) {
      kernels::BackendGuard guard(backend);
      NMConfig nm{{2, 8}, mode, 0.25f};
      int64_t batch = 2, steps = 3, in = 20, out = 11;  // leading axes [2, 3]; 11 outputs: a tail group
      Tensor wt = random_tensor({out, in}, 20), xt = random_tensor({batch, steps, in}, 21);
      Tensor bt = random_tensor({out}, 22), target = random_tensor({batch, steps, out}, 23);
      Var x(xt, true), w(wt, true), b(bt, true);
      Var y = nm_linear(x, w, b, nm);
      backward(mse(y, target));

      Tensor fmask = forward_mask(wt, nm.pattern), bmask = backward_mask(wt, nm.pattern);
      int64_t rows = batch * steps;
      Tensor want_y({batch, steps, out});
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) {
          double sum = bt[o];
          for (int64_t k = 0; k < in; ++k) sum += double(xt[r * in + k]) * wt[o * in + k] * fmask[o * in + k];
          want_y[r * out + o] = static_cast<float>(sum);
        }
      std::string tag = std::string(nm_mode_name(mode)) + (backend == kernels::Backend::fast ? " fast" : " ref");
      expect_tensor_near(want_y, y.value(), "y " + tag);

      Tensor dy = mse_grad(y.value(), target);
      const Tensor& dmask = mode == NMMode::bdwp ? bmask : fmask;
      Tensor want_dx({batch, steps, in}), want_dw({out, in}), want_db({out});
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < in; ++k) {
          double sum = 0;
          for (int64_t o = 0; o < out; ++o) sum += double(dy[r * out + o]) * wt[o * in + k] * dmask[o * in + k];
          want_dx[r * in + k] = static_cast<float>(sum);
        }
      for (int64_t o = 0; o < out; ++o) {
        for (int64_t k = 0; k < in; ++k) {
          double sum = 0;
          for (int64_t r = 0; r < rows; ++r) sum += double(dy[r * out + o]) * xt[r * in + k];
          want_dw[o * in + k] = static_cast<float>(sum + nm.sr_ste_decay * (1 - fmask[o * in + k]) * wt[o * in + k]);
        }
        double sum = 0;
        for (int64_t r = 0; r < rows; ++r) sum += dy[r * out + o];
        want_db[o] = static_cast<float>(sum);
      }
      expect_tensor_near(want_dx, x.grad(), "dx " + tag);
      expect_tensor_near(want_dw, w.grad(), "dw " + tag);
      expect_tensor_near(want_db, b.grad(), "db " + tag);
    }
}

TEST(NMOps, DenseModeIsPlainLinear) {
  using namespace frugal::autograd;
  Tensor wt = random_tensor({5, 9}, 30), xt = random_tensor({4, 9}, 31);
  Var y = nm_linear(Var(xt), Var(wt), Var(), {{2, 4}, NMMode::dense, 0});
  Var want = linear(Var(xt), Var(wt), Var());
  expect_tensor_near(want.value(), y.value(), "dense");
  EXPECT_THROW(nm_linear(Var(xt), Var(wt), Var(), {{4, 4}, NMMode::bdwp, 0}), Error);
}

TEST(NMOps, Conv2dMasksAlongChannelsInBothPasses) {
  using namespace frugal::autograd;
  NMConfig nm{{1, 4}, NMMode::bdwp, 0};
  Tensor wt = random_tensor({6, 8, 3, 3}, 40), xt = random_tensor({2, 8, 7, 7}, 41), bt = random_tensor({6}, 42);
  Conv2dParams p;
  p.pad = 1;
  Var x(xt, true), w(wt, true), b(bt, true);
  Var y = nm_conv2d(x, w, b, p, nm);
  Tensor target = random_tensor(y.shape(), 43);
  backward(mse(y, target));

  Tensor fmask = forward_mask(wt, nm.pattern), bmask = backward_mask(wt, nm.pattern);
  Tensor w_fw(wt.shape()), w_bw(wt.shape());
  for (int64_t i = 0; i < wt.numel(); ++i) {
    w_fw[i] = wt[i] * fmask[i];
    w_bw[i] = wt[i] * bmask[i];
  }
  kernels::Conv2dShape s;
  s.n = 2, s.c = 8, s.h = 7, s.w = 7, s.o = 6, s.kh = 3, s.kw = 3, s.pad = 1;
  Tensor want_y(y.shape()), want_dx(xt.shape()), want_dw(wt.shape()), want_db({6});
  kernels::ref::conv2d_forward(s, xt.data(), w_fw.data(), bt.data(), want_y.data());
  expect_tensor_near(want_y, y.value(), "conv y");
  Tensor dy = mse_grad(y.value(), target);
  kernels::ref::conv2d_backward_data(s, dy.data(), w_bw.data(), want_dx.data());
  kernels::ref::conv2d_backward_weights(s, xt.data(), dy.data(), want_dw.data(), want_db.data());
  expect_tensor_near(want_dx, x.grad(), "conv dx");
  expect_tensor_near(want_dw, w.grad(), "conv dw");
  expect_tensor_near(want_db, b.grad(), "conv db");
  p.groups = 2;
  EXPECT_THROW(nm_conv2d(Var(xt), Var(random_tensor({6, 4, 3, 3}, 44)), Var(), p, nm), Error);
}

TEST(NMOps, PackForwardOfConvGroupsAlongChannels) {
  Tensor wt = random_tensor({3, 16, 2, 2}, 50);
  NMPacked packed = pack_forward(wt, {2, 8});
  EXPECT_EQ(packed.rows, 3 * 4);
  EXPECT_EQ(packed.cols, 16);
  Tensor mask = forward_mask(wt, {2, 8});
  double kept_sum = 0, want_sum = 0;
  for (int64_t i = 0; i < packed.values.numel(); ++i) kept_sum += packed.values[i];
  for (int64_t i = 0; i < wt.numel(); ++i) want_sum += wt[i] * mask[i];
  EXPECT_NEAR(kept_sum, want_sum, 1e-4);
  EXPECT_EQ(packed.bytes(), 12 * 4 * 4 + 12 * 2);
}
