#include "frugal/train/datasets.h"

#include "frugal/core/error.h"
#include "frugal/data/fashion_mnist.h"
#include "frugal/data/har_windows.h"
#include "frugal/data/sequential_fmnist.h"

namespace frugal::train {

data::Dataset load_dataset(const std::string& name, const std::string& dir, bool train, int64_t limit) {
  if (name == "fashion-mnist") return data::load_fashion_mnist(dir.empty() ? data::default_fashion_mnist_dir() : dir, train, limit);
  if (name == "fashion-mnist-rows")
    return data::load_fashion_mnist_rows(dir.empty() ? data::default_fashion_mnist_dir() : dir, train, limit);
  if (name == "fashion-mnist-pixels")
    return data::load_fashion_mnist_pixels(dir.empty() ? data::default_fashion_mnist_dir() : dir, train, limit);
  if (name == "basicmotions" || name == "uci-har" || name == "wisdm" || name == "har-ts")
    return data::load_har(name, dir, train, limit);
  throw Error("dataset: unknown dataset '" + name + "' (known: fashion-mnist, fashion-mnist-rows, fashion-mnist-pixels, basicmotions, uci-har, wisdm, har-ts)");
}

}  // namespace frugal::train
