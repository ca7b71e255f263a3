#include "frugal/data/sequential_fmnist.h"

#include "frugal/core/rng.h"
#include "frugal/data/fashion_mnist.h"

namespace frugal::data {

Dataset load_fashion_mnist_rows(const std::string& dir, bool train, int64_t limit) {
  Dataset d = load_fashion_mnist(dir, train, limit);
  d.inputs = d.inputs.reshape({d.size(), 28, 28});
  d.name = "fashion-mnist-rows";
  return d;
}

Dataset load_fashion_mnist_pixels(const std::string& dir, bool train, int64_t limit) {
  Dataset d = load_fashion_mnist(dir, train, limit);
  const int64_t N = d.size(), P = 28 * 28;
  Rng rng(20190101);
  std::vector<int64_t> perm = shuffled_order(P, rng);
  Tensor out = Tensor::empty({N, P, 1});
  for (int64_t i = 0; i < N; ++i)
    for (int64_t t = 0; t < P; ++t) out[i * P + t] = d.inputs[i * P + perm[static_cast<size_t>(t)]];
  d.inputs = out;
  d.name = "fashion-mnist-pixels";
  return d;
}

}  // namespace frugal::data
