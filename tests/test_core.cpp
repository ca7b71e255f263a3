// Core: tensor storage counted by the tracking allocator, seeded RNG, and the autograd tape.
#include <gtest/gtest.h>

#include "frugal/autograd/gradcheck.h"
#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"

using namespace frugal;

TEST(Allocator, CountsLiveAndPeakBytes) {
  int64_t before = live_bytes();
  reset_peak_bytes();
  {
    Tensor a({1000});
    EXPECT_EQ(live_bytes() - before, 4000);
    Tensor b({500});
    EXPECT_EQ(peak_bytes() - before, 6000);
  }
  EXPECT_EQ(live_bytes(), before);
  EXPECT_EQ(peak_bytes() - before, 6000);
}

TEST(Allocator, HandsAFreedBigBlockOutAgainAndStillCountsIt) {
  const int64_t before = live_bytes();
  const size_t big = size_t{40} << 20;  // above glibc's largest mmap threshold
  void* a = tracked_alloc(big);
  EXPECT_EQ(live_bytes() - before, static_cast<int64_t>(big));
  tracked_free(a, big);
  EXPECT_EQ(live_bytes(), before);
  void* b = tracked_alloc(big);
  EXPECT_EQ(b, a);
  void* c = tracked_alloc(big);
  EXPECT_NE(c, b);
  EXPECT_EQ(live_bytes() - before, 2 * static_cast<int64_t>(big));
  tracked_free(b, big);
  tracked_free(c, big);
  EXPECT_EQ(live_bytes(), before);
  // A smaller request takes a kept block up to twice its size; live bytes count what was asked.
  const size_t smaller = size_t{25} << 20;
  void* d = tracked_alloc(smaller);
  EXPECT_TRUE(d == b || d == c);
  EXPECT_EQ(live_bytes() - before, static_cast<int64_t>(smaller));
  tracked_free(d, smaller);
  EXPECT_EQ(live_bytes(), before);
}

TEST(Tensor, ReshapeSharesStorageAndInfers) {
  Tensor a({2, 3, 4});
  Tensor b = a.reshape({6, -1});
  EXPECT_EQ(b.dim(1), 4);
  b[5] = 3.0f;
  EXPECT_EQ(a[5], 3.0f);
  EXPECT_THROW(a.reshape({5, -1}), Error);
}

TEST(Rng, SameSeedSameStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  float mean = 0;
  for (int i = 0; i < 10000; ++i) mean += a.uniform();
  EXPECT_NEAR(mean / 10000, 0.5f, 0.02f);
}

TEST(Tape, BackwardOfProductAccumulates) {
  using namespace autograd;
  Var x(Tensor({3}, {1, 2, 3}), true);
  auto square = [](const Var& v) {
    Tensor y = v.value().clone();
    for (int64_t i = 0; i < y.numel(); ++i) y[i] *= y[i];
    return record(y, {v}, [v](const Tensor& dy) mutable {
      Tensor dx = dy.clone();
      for (int64_t i = 0; i < dx.numel(); ++i) dx[i] *= 2 * v.value()[i];
      v.add_grad(dx);
    });
  };
  auto r = gradcheck([&](const std::vector<Var>& in) { return square(in[0]); }, {x.value()});
  EXPECT_LT(r.max_abs_error, 1e-2);
  EXPECT_EQ(tape_size(), 0u);
}
