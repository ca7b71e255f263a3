#include "frugal/data/fashion_mnist.h"

#include <algorithm>
#include <filesystem>

#include "frugal/core/error.h"
#include "frugal/io/idx.h"

namespace frugal::data {

namespace {

constexpr int kClasses = 10;
constexpr int64_t kSide = 28;

// The distribution ships .gz; an unpacked copy works the same.
std::string find_file(const std::string& dir, const std::string& stem) {
  std::error_code ec;
  for (const std::string& name : {stem + ".gz", stem}) {
    std::string p = (std::filesystem::path(dir) / name).string();
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  throw Error((std::filesystem::path(dir) / (stem + ".gz")).string() + ": Fashion-MNIST file not found (nor " + stem +
              " unpacked); install the Debian package dataset-fashion-mnist or pass the data directory");
}

}  // namespace

std::string default_fashion_mnist_dir() { return "/usr/share/datasets/fashion-mnist"; }

Dataset load_fashion_mnist(const std::string& dir, bool train, int64_t limit) {
  require(limit >= 0, "fashion-mnist: limit must be >= 0 (0 means all), got " + std::to_string(limit));
  std::error_code ec;
  require(std::filesystem::is_directory(dir, ec), dir + ": Fashion-MNIST directory not found");
  std::string prefix = train ? "train" : "t10k";
  std::string image_path = find_file(dir, prefix + "-images-idx3-ubyte");
  std::string label_path = find_file(dir, prefix + "-labels-idx1-ubyte");

  io::IdxArray images = io::read_idx(image_path);
  io::IdxArray labels = io::read_idx(label_path);
  require(images.shape.size() == 3 && images.shape[1] == kSide && images.shape[2] == kSide,
          image_path + ": images have shape " + shape_str(images.shape) + ", expected [N, 28, 28]");
  require(labels.shape.size() == 1, label_path + ": labels have shape " + shape_str(labels.shape) + ", expected [N]");
  require(labels.shape[0] == images.shape[0], label_path + ": " + std::to_string(labels.shape[0]) + " labels for " +
                                                  std::to_string(images.shape[0]) + " images in " + image_path);

  int64_t n = limit > 0 ? std::min(limit, images.shape[0]) : images.shape[0];
  Dataset d;
  d.name = std::string("fashion-mnist/") + (train ? "train" : "test");
  d.num_classes = kClasses;
  d.inputs = Tensor::empty({n, 1, kSide, kSide});
  float* x = d.inputs.data();
  int64_t count = n * kSide * kSide;
  for (int64_t i = 0; i < count; ++i) x[i] = static_cast<float>(images.data[i]) / 255.0f;
  d.labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int label = labels.data[i];
    require(label < kClasses, label_path + ": label " + std::to_string(i) + " is " + std::to_string(label) +
                                  ", expected 0..9");
    d.labels[i] = label;
  }
  return d;
}

}  // namespace frugal::data
