#include "frugal/train/datasets.h"

#include "frugal/core/error.h"
#include "frugal/data/fashion_mnist.h"

namespace frugal::train {

data::Dataset load_dataset(const std::string& name, const std::string& dir, bool train, int64_t limit) {
  if (name == "fashion-mnist") return data::load_fashion_mnist(dir.empty() ? data::default_fashion_mnist_dir() : dir, train, limit);
  throw Error("dataset: unknown dataset '" + name + "' (known: fashion-mnist)");
}

}  // namespace frugal::train
