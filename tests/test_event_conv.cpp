// The event-driven conv2d forward variants (AVX-512, AVX2, plain event loops), alone and fused
// with a 2x2 max-pool, against the dense reference convolution (and pooling): bit for bit on odd
// shapes (stride, padding, groups, channel counts that are not vector multiples, rows wider than
// one 64-bit mask word), at spike densities from none to all, for binary spikes and for arbitrary
// nonzero inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "frugal/autograd/ops.h"
#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/pool2d.h"

using namespace frugal;
using kernels::Conv2dShape;
using kernels::EventConvVariant;

namespace {

// density of nonzeros; binary: they are 1.0, else uniform in [-2, 2) (never exactly 0).
std::vector<float> inputs(int64_t count, float density, bool binary, Rng& rng) {
  std::vector<float> x(static_cast<size_t>(count));
  for (float& v : x) {
    const bool on = rng.uniform() < density;
    const float value = binary ? 1.0f : (rng.uniform() < 0.5f ? -1.0f : 1.0f) * (0.25f + rng.uniform());
    v = on ? value : 0.0f;
  }
  return x;
}

std::vector<float> random(int64_t count, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  return v;
}

const EventConvVariant kVariants[] = {EventConvVariant::avx512, EventConvVariant::avx2, EventConvVariant::ref};

const char* name(EventConvVariant v) {
  switch (v) {
    case EventConvVariant::avx512: return "avx512";
    case EventConvVariant::avx2: return "avx2";
    case EventConvVariant::ref: return "ref";
  }
  return "";
}

void expect_equal_to_reference(const Conv2dShape& s, bool bias) {
  Rng rng(static_cast<uint64_t>(s.c * 131 + s.o * 17 + s.w * 7 + s.stride + s.pad * 3 + s.groups * 5));
  std::vector<float> w = random(s.o * (s.c / s.groups) * s.kh * s.kw, rng), b = random(s.o, rng);
  const int64_t in = s.n * s.c * s.h * s.w, out = s.n * s.o * s.oh() * s.ow();
  for (float density : {0.0f, 0.01f, 0.1f, 0.5f, 1.0f})
    for (bool binary : {true, false}) {
      std::vector<float> x = inputs(in, density, binary, rng);
      std::vector<float> ref(static_cast<size_t>(out));
      kernels::ref::conv2d_forward(s, x.data(), w.data(), bias ? b.data() : nullptr, ref.data());
      kernels::Pool2dShape ps;
      ps.planes = s.n * s.o;
      ps.h = s.oh();
      ps.w = s.ow();
      const bool poolable = ps.h >= 2 && ps.w >= 2;
      std::vector<float> pooled(static_cast<size_t>(poolable ? ps.planes * ps.oh() * ps.ow() : 0));
      if (poolable) kernels::max_pool2d_forward(ps, ref.data(), pooled.data(), nullptr);
      for (EventConvVariant v : kVariants) {
        if (!kernels::event_conv2d_runs(v)) continue;
        std::vector<float> y(static_cast<size_t>(out), NAN);
        kernels::event_conv2d_forward(v, s, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
        for (int64_t i = 0; i < out; ++i)
          ASSERT_EQ(y[i], ref[i]) << name(v) << " c " << s.c << " o " << s.o << " " << s.h << "x" << s.w << " k "
                                  << s.kh << " stride " << s.stride << " pad " << s.pad << " groups " << s.groups
                                  << " density " << density << (binary ? " binary" : " valued") << " at " << i;
        if (!poolable) continue;
        std::vector<float> yp(pooled.size(), NAN);
        kernels::event_conv2d_max_pool2_forward(v, s, x.data(), w.data(), bias ? b.data() : nullptr, yp.data());
        for (size_t i = 0; i < yp.size(); ++i)
          ASSERT_EQ(yp[i], pooled[i]) << name(v) << " pooled, c " << s.c << " o " << s.o << " " << s.h << "x" << s.w
                                      << " stride " << s.stride << " pad " << s.pad << " groups " << s.groups
                                      << " density " << density << (binary ? " binary" : " valued") << " at " << i;
      }
    }
}

}  // namespace

TEST(EventConv, TheSpikingCnnLayer) {
  // conv 12 -> 64, 5x5 on 12x12, as in examples/fmnist_scnn.toml.
  expect_equal_to_reference(Conv2dShape{3, 12, 12, 12, 64, 5, 5, 1, 0, 1}, true);
}

TEST(EventConv, OddChannelsStridePaddingGroups) {
  expect_equal_to_reference(Conv2dShape{2, 3, 9, 11, 5, 3, 3, 1, 1, 1}, true);
  expect_equal_to_reference(Conv2dShape{2, 4, 9, 11, 6, 3, 3, 2, 1, 2}, true);
  expect_equal_to_reference(Conv2dShape{2, 6, 7, 8, 9, 3, 3, 1, 0, 3}, false);
  expect_equal_to_reference(Conv2dShape{1, 2, 10, 10, 70, 5, 5, 3, 2, 1}, true);
  expect_equal_to_reference(Conv2dShape{2, 1, 6, 6, 17, 1, 1, 1, 0, 1}, false);
  // More output channels than one 64-wide register block, and per group.
  expect_equal_to_reference(Conv2dShape{1, 4, 6, 7, 136, 3, 3, 1, 1, 2}, true);
}

TEST(EventConv, RowsWiderThanOneMaskWord) {
  expect_equal_to_reference(Conv2dShape{1, 2, 3, 75, 8, 3, 3, 1, 1, 1}, true);
  expect_equal_to_reference(Conv2dShape{1, 1, 4, 130, 16, 3, 3, 2, 2, 1}, false);
}

TEST(EventConv, LargeKernelsFallBackToTheLoops) {
  // 9x9 = 81 taps do not fit one 64-bit mask.
  expect_equal_to_reference(Conv2dShape{1, 2, 12, 12, 4, 9, 9, 1, 1, 1}, true);
}

TEST(EventConv, FusedInferenceOpEqualsConvThenPool) {
  kernels::EventModeGuard events(kernels::EventMode::events);
  Rng rng(5);
  const Conv2dShape s{6, 12, 12, 12, 64, 5, 5, 1, 0, 1};
  std::vector<float> xv = inputs(s.n * s.c * s.h * s.w, 0.1f, true, rng);
  Tensor x = Tensor::empty({2, 3, s.c, s.h, s.w}), w = Tensor::empty({s.o, s.c, s.kh, s.kw}), b = Tensor::empty({s.o});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = xv[static_cast<size_t>(i)];
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.uniform(-1.0f, 1.0f);
  for (int64_t i = 0; i < b.numel(); ++i) b[i] = rng.uniform(-1.0f, 1.0f);
  autograd::Var wv(w, true), bv(b, true);
  Tensor taped = autograd::max_pool2d(autograd::conv2d(autograd::Var(x), wv, bv, {}), 2, 2).value();
  autograd::NoGradGuard no_grad;
  Tensor fused = autograd::conv2d_maxpool2(autograd::Var(x), wv, bv, {}).value();
  EXPECT_EQ(fused.shape(), (Shape{2, 3, 64, 4, 4}));
  EXPECT_EQ(fused.to_vector(), taped.to_vector());
}
