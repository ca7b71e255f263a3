// The event-driven conv2d backward kernels (kernels/event_backward.h) against the dense reference
// loops and oneDNN, on shapes with stride, padding and groups, spike densities from 0 to 100 % and
// non-binary inputs; and the conv2d op's gradients with events forced on against forced off.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "frugal/autograd/ops.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/event_backward.h"
#include "frugal/kernels/lif.h"

using namespace frugal;
using kernels::Conv2dShape;

namespace {

// Spikes (1.0) at the given density, or standard normal values there when not binary.
std::vector<float> sparse(int64_t count, double density, bool binary, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(count), 0.0f);
  for (float& x : v)
    if (rng.uniform() < density) x = binary ? 1.0f : rng.normal();
  return v;
}

std::vector<float> absolute(const std::vector<float>& v) {
  std::vector<float> a(v.size());
  for (size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(v[i]);
  return a;
}

// Both sides sum the same products in different orders. Each float sum of m terms is within
// m·eps·Σ|term| of the exact one (Higham, Accuracy and Stability, §4.2), so two of them are
// within 2·m·eps·Σ|term|; Σ|term| is the reference run on absolute values.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& magnitude,
                  int64_t terms, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  const double eps = 5.96e-8;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = 2.0 * static_cast<double>(terms) * eps * magnitude[i] + 1e-30;
    ASSERT_NEAR(got[i], want[i], tol) << what << " element " << i;
  }
}

struct Case {
  Conv2dShape s;
  const char* name;
};

std::vector<Case> cases() {
  return {{Conv2dShape{3, 12, 12, 12, 64, 5, 5, 1, 0, 1}, "fmnist conv2 12->64 5x5"},
          {Conv2dShape{2, 3, 9, 7, 32, 3, 3, 1, 2, 1}, "pad 2, 32 outputs"},
          {Conv2dShape{2, 4, 9, 9, 6, 3, 3, 2, 1, 2}, "stride 2, pad 1, 2 groups"},
          {Conv2dShape{2, 3, 10, 10, 16, 7, 7, 1, 3, 1}, "7x7 kernel"},
          {Conv2dShape{2, 5, 8, 8, 20, 3, 3, 1, 1, 1}, "20 outputs"}};
}

void check_case(const Case& k, double density, bool binary, uint64_t seed) {
  const Conv2dShape& s = k.s;
  Rng rng(seed);
  const int64_t xn = s.n * s.c * s.h * s.w, yn = s.n * s.o * s.oh() * s.ow(), wn = s.o * (s.c / s.groups) * s.kh * s.kw;
  std::vector<float> x = sparse(xn, density, binary, rng);
  std::vector<float> dy = sparse(yn, density, false, rng);
  std::vector<float> w(static_cast<size_t>(wn));
  for (float& v : w) v = rng.normal();
  std::vector<float> ax = absolute(x), ady = absolute(dy), aw = absolute(w);
  std::vector<float> dw_ref(w.size()), db_ref(static_cast<size_t>(s.o)), dx_ref(x.size());
  std::vector<float> dw_mag(w.size()), db_mag(static_cast<size_t>(s.o)), dx_mag(x.size());
  kernels::ref::conv2d_backward_weights(s, x.data(), dy.data(), dw_ref.data(), db_ref.data());
  kernels::ref::conv2d_backward_data(s, dy.data(), w.data(), dx_ref.data());
  kernels::ref::conv2d_backward_weights(s, ax.data(), ady.data(), dw_mag.data(), db_mag.data());
  kernels::ref::conv2d_backward_data(s, ady.data(), aw.data(), dx_mag.data());
  const int64_t dw_terms = s.n * s.oh() * s.ow(), dx_terms = s.o * s.kh * s.kw;
  const std::string what = std::string(k.name) + " density " + std::to_string(density) +
                           (binary ? " spikes" : " real values");

  std::vector<float> dw(w.size(), -1.0f), db(static_cast<size_t>(s.o), -1.0f), dx(x.size(), -1.0f);
  kernels::event_conv2d_backward_weights_ref(s, x.data(), dy.data(), dw.data(), db.data());
  expect_close(dw, dw_ref, dw_mag, dw_terms, what + " dW ref");
  expect_close(db, db_ref, db_mag, dw_terms, what + " db ref");
  kernels::event_conv2d_backward_data_ref(s, dy.data(), w.data(), dx.data());
  expect_close(dx, dx_ref, dx_mag, dx_terms, what + " dX ref");

  if (kernels::cpu_has_avx2()) {
    std::fill(dw.begin(), dw.end(), -1.0f);
    std::fill(db.begin(), db.end(), -1.0f);
    std::fill(dx.begin(), dx.end(), -1.0f);
    kernels::event_conv2d_backward_weights_avx2(s, x.data(), dy.data(), dw.data(), db.data());
    expect_close(dw, dw_ref, dw_mag, dw_terms, what + " dW avx2");
    expect_close(db, db_ref, db_mag, dw_terms, what + " db avx2");
    kernels::event_conv2d_backward_data_avx2(s, dy.data(), w.data(), dx.data());
    expect_close(dx, dx_ref, dx_mag, dx_terms, what + " dX avx2");
  }

  // The dispatchers: AVX-512 where this CPU and shape allow, the plain loops otherwise.
  std::fill(dw.begin(), dw.end(), -1.0f);
  std::fill(db.begin(), db.end(), -1.0f);
  std::fill(dx.begin(), dx.end(), -1.0f);
  kernels::event_conv2d_backward_weights(s, x.data(), dy.data(), dw.data(), db.data());
  expect_close(dw, dw_ref, dw_mag, dw_terms, what + " dW");
  expect_close(db, db_ref, db_mag, dw_terms, what + " db");
  kernels::event_conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  expect_close(dx, dx_ref, dx_mag, dx_terms, what + " dX");

  // Both products in one pass.
  std::fill(dw.begin(), dw.end(), -1.0f);
  std::fill(db.begin(), db.end(), -1.0f);
  std::fill(dx.begin(), dx.end(), -1.0f);
  kernels::event_conv2d_backward(s, x.data(), dy.data(), w.data(), dx.data(), dw.data(), db.data());
  expect_close(dw, dw_ref, dw_mag, dw_terms, what + " dW both");
  expect_close(db, db_ref, db_mag, dw_terms, what + " db both");
  expect_close(dx, dx_ref, dx_mag, dx_terms, what + " dX both");

  // oneDNN sums in its own order (and in blocks): same bound, compared with the event result.
  std::vector<float> dw_dnn(w.size()), db_dnn(static_cast<size_t>(s.o)), dx_dnn(x.size());
  kernels::onednn::conv2d_backward(s, x.data(), dy.data(), w.data(), dx_dnn.data(), dw_dnn.data(), db_dnn.data());
  expect_close(dw, dw_dnn, dw_mag, dw_terms, what + " dW vs oneDNN");
  expect_close(db, db_dnn, db_mag, dw_terms, what + " db vs oneDNN");
  expect_close(dx, dx_dnn, dx_mag, dx_terms, what + " dX vs oneDNN");
}

}  // namespace

TEST(EventBackward, KernelsMatchReferenceAcrossShapesAndDensities) {
  uint64_t seed = 1;
  for (const Case& k : cases())
    for (double density : {0.0, 0.05, 0.5, 1.0}) {
      check_case(k, density, true, seed++);
      check_case(k, density, false, seed++);
    }
}

TEST(EventBackward, Avx512KernelsMatchPlainLoops) {
  if (!kernels::cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  int fitted = 0;
  for (const Case& k : cases()) {
    const Conv2dShape& s = k.s;
    Rng rng(7);
    const int64_t xn = s.n * s.c * s.h * s.w, yn = s.n * s.o * s.oh() * s.ow();
    std::vector<float> x = sparse(xn, 0.1, true, rng), dy = sparse(yn, 0.25, false, rng);
    std::vector<float> w(static_cast<size_t>(s.o * (s.c / s.groups) * s.kh * s.kw));
    for (float& v : w) v = rng.normal();
    std::vector<float> ax = absolute(x), ady = absolute(dy), aw = absolute(w);
    if (kernels::event_conv2d_backward_weights_avx512_fits(s)) {
      ++fitted;
      std::vector<float> dw(w.size()), db(static_cast<size_t>(s.o)), dw_plain(w.size()), db_plain(db.size());
      std::vector<float> dw_mag(w.size()), db_mag(db.size());
      kernels::event_conv2d_backward_weights_avx512(s, x.data(), dy.data(), dw.data(), db.data());
      kernels::event_conv2d_backward_weights_ref(s, x.data(), dy.data(), dw_plain.data(), db_plain.data());
      kernels::ref::conv2d_backward_weights(s, ax.data(), ady.data(), dw_mag.data(), db_mag.data());
      expect_close(dw, dw_plain, dw_mag, s.n * s.oh() * s.ow(), std::string(k.name) + " dW avx512");
      expect_close(db, db_plain, db_mag, s.n * s.oh() * s.ow(), std::string(k.name) + " db avx512");
    }
    if (kernels::event_conv2d_backward_data_avx512_fits(s)) {
      ++fitted;
      std::vector<float> dx(x.size()), dx_plain(x.size()), dx_mag(x.size());
      kernels::event_conv2d_backward_data_avx512(s, dy.data(), w.data(), dx.data());
      kernels::event_conv2d_backward_data_ref(s, dy.data(), w.data(), dx_plain.data());
      kernels::ref::conv2d_backward_data(s, ady.data(), aw.data(), dx_mag.data());
      expect_close(dx, dx_plain, dx_mag, s.o * s.kh * s.kw, std::string(k.name) + " dX avx512");
    }
  }
  EXPECT_GE(fitted, 6);  // the table must exercise both AVX-512 kernels on several shapes
}

TEST(EventBackward, Conv2dOpGradientsWithEventsMatchDense) {
  // A spiking layer's input: T = 2 steps of 2 samples, folded into 4 maps by the op.
  Conv2dShape s{4, 12, 12, 12, 64, 5, 5, 1, 0, 1};
  Rng rng(3);
  std::vector<float> xs = sparse(s.n * s.c * s.h * s.w, 0.1, true, rng);
  std::vector<float> dys = sparse(s.n * s.o * s.oh() * s.ow(), 0.25, false, rng);
  Tensor dy = Tensor::empty({2, 2, s.o, s.oh(), s.ow()});
  for (int64_t i = 0; i < dy.numel(); ++i) dy[i] = dys[static_cast<size_t>(i)];
  Tensor w0 = Tensor::empty({s.o, s.c, s.kh, s.kw}), b0 = Tensor::empty({s.o});
  for (int64_t i = 0; i < w0.numel(); ++i) w0[i] = 0.1f * rng.normal();
  for (int64_t i = 0; i < b0.numel(); ++i) b0[i] = rng.normal();
  std::vector<std::vector<float>> grads[2];
  const kernels::EventMode modes[2] = {kernels::EventMode::dense, kernels::EventMode::events};
  for (int m = 0; m < 2; ++m) {
    kernels::EventModeGuard guard(modes[m]);
    Tensor xt = Tensor::empty({2, 2, s.c, s.h, s.w});
    for (int64_t i = 0; i < xt.numel(); ++i) xt[i] = xs[static_cast<size_t>(i)];
    autograd::Var x(xt, true), w(w0.clone(), true), b(b0.clone(), true);
    autograd::Var y = autograd::conv2d(x, w, b, {1, 0, 1});
    // Seeds the backward with dy instead of ones.
    autograd::Var out = autograd::record(y.value(), {y}, [y, dy](const Tensor&) { y.add_grad(dy.clone()); });
    autograd::backward(out);
    grads[m] = {x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector()};
  }
  const char* names[3] = {"dx", "dw", "db"};
  for (int g = 0; g < 3; ++g) {
    ASSERT_EQ(grads[0][g].size(), grads[1][g].size());
    double scale = 0;
    for (float v : grads[0][g]) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    ASSERT_GT(scale, 0.0) << names[g];
    // Sums of up to N·OH·OW = 256 terms in float, in different orders.
    for (size_t i = 0; i < grads[0][g].size(); ++i)
      ASSERT_NEAR(grads[1][g][i], grads[0][g][i], 1e-4 * scale) << names[g];
  }
}

TEST(EventBackward, AutomaticChoiceFollowsDensity) {
  const Conv2dShape s{1, 12, 12, 12, 64, 5, 5, 1, 0, 1};
  std::vector<float> empty(1000, 0.0f), full(1000, 1.0f);
  EXPECT_TRUE(kernels::use_backward_events(empty.data(), 1000, kernels::event_backward_weights_threshold(s)));
  EXPECT_FALSE(kernels::use_backward_events(full.data(), 1000, kernels::event_backward_weights_threshold(s)));
  EXPECT_FALSE(kernels::use_backward_events(full.data(), 1000, kernels::event_backward_data_threshold(s)));
  // Large inputs are judged on a sample: 20 % nonzeros is below 25 % and above 15 %.
  Rng rng(9);
  std::vector<float> fifth = sparse(100000, 0.2, false, rng);
  EXPECT_TRUE(kernels::use_backward_events(fifth.data(), 100000, 0.25));
  EXPECT_FALSE(kernels::use_backward_events(fifth.data(), 100000, 0.15));
  // Only the AVX-512 kernels beat oneDNN at the 25 % of dy behind a 2x2 max-pool.
  const bool avx512 = kernels::cpu_has_avx512();
  EXPECT_EQ(kernels::event_backward_data_threshold(s) >= 0.25, avx512);
  kernels::EventModeGuard guard(kernels::EventMode::dense);
  EXPECT_FALSE(kernels::use_backward_events(empty.data(), 1000, kernels::event_backward_data_threshold(s)));
}
