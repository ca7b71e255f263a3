// The direct depthwise 3-D convolution kernels against the reference loops: forward, backward
// data and backward weights (with and without bias) on odd shapes, kernels 1, 3 and 5, padding
// from none to "same", several samples; and the shapes they must leave to oneDNN.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "frugal/core/rng.h"
#include "frugal/kernels/conv3d.h"

using namespace frugal;
using kernels::Conv3dShape;

namespace {

std::vector<float> random(int64_t n, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  return v;
}

void expect_close(const std::vector<float>& fast, const std::vector<float>& ref, const char* what) {
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(fast[i], ref[i], 1e-4 * (1 + std::fabs(ref[i]))) << what << " at " << i;
}

Conv3dShape depthwise(int64_t n, int64_t c, int64_t d, int64_t h, int64_t w, int64_t k, int64_t pad) {
  Conv3dShape s;
  s.n = n, s.c = c, s.d = d, s.h = h, s.w = w, s.o = c, s.kd = k, s.kh = k, s.kw = k, s.pad = pad, s.groups = c;
  return s;
}

}  // namespace

TEST(DepthwiseConv3d, MatchesReference) {
  Rng rng(3);
  for (Conv3dShape s : {depthwise(2, 5, 7, 6, 9, 3, 1), depthwise(1, 3, 5, 8, 4, 3, 0), depthwise(2, 4, 6, 5, 7, 5, 2),
                        depthwise(1, 6, 4, 3, 5, 1, 0), depthwise(1, 2, 9, 3, 11, 5, 1),
                        depthwise(1, 2, 3, 4, 2, 3, 1), depthwise(1, 2, 6, 2, 3, 5, 2)}) {
    ASSERT_TRUE(kernels::depthwise_conv3d_supported(s));
    int64_t in = s.n * s.c * s.d * s.h * s.w, out = s.n * s.o * s.od() * s.oh() * s.ow(), taps = s.c * s.kd * s.kh * s.kw;
    std::vector<float> x = random(in, rng), w = random(taps, rng), b = random(s.c, rng), dy = random(out, rng);
    std::vector<float> y_fast(static_cast<size_t>(out)), y_ref(static_cast<size_t>(out));
    kernels::depthwise_conv3d_forward(s, x.data(), w.data(), b.data(), y_fast.data());
    kernels::ref::conv3d_forward(s, x.data(), w.data(), b.data(), y_ref.data());
    expect_close(y_fast, y_ref, "forward");
    kernels::depthwise_conv3d_forward(s, x.data(), w.data(), nullptr, y_fast.data());
    kernels::ref::conv3d_forward(s, x.data(), w.data(), nullptr, y_ref.data());
    expect_close(y_fast, y_ref, "forward without bias");

    std::vector<float> dx_fast(static_cast<size_t>(in)), dx_ref(static_cast<size_t>(in));
    kernels::depthwise_conv3d_backward_data(s, dy.data(), w.data(), dx_fast.data());
    kernels::ref::conv3d_backward_data(s, dy.data(), w.data(), dx_ref.data());
    expect_close(dx_fast, dx_ref, "backward data");

    std::vector<float> dw_fast(static_cast<size_t>(taps)), dw_ref(static_cast<size_t>(taps));
    std::vector<float> db_fast(static_cast<size_t>(s.c)), db_ref(static_cast<size_t>(s.c));
    kernels::depthwise_conv3d_backward_weights(s, x.data(), dy.data(), dw_fast.data(), db_fast.data());
    kernels::ref::conv3d_backward_weights(s, x.data(), dy.data(), dw_ref.data(), db_ref.data());
    expect_close(dw_fast, dw_ref, "backward weights");
    expect_close(db_fast, db_ref, "backward bias");
    kernels::depthwise_conv3d_backward_weights(s, x.data(), dy.data(), dw_fast.data(), nullptr);
    expect_close(dw_fast, dw_ref, "backward weights without bias");
  }
}

TEST(DepthwiseConv3d, LeavesOtherShapesToOnednn) {
  Conv3dShape grouped = depthwise(1, 4, 5, 5, 5, 3, 1);
  grouped.groups = 2;
  Conv3dShape multiplier = depthwise(1, 4, 5, 5, 5, 3, 1);
  multiplier.o = 8;
  Conv3dShape strided = depthwise(1, 4, 5, 5, 5, 3, 1);
  strided.stride = 2;
  for (const Conv3dShape& s : {grouped, multiplier, strided}) EXPECT_FALSE(kernels::depthwise_conv3d_supported(s));
}
