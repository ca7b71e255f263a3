// Datasets: Fashion-MNIST from the installed files, limits, batches gathered in a given order,
// seeded shuffles, and the seeded train/validation split.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "frugal/core/error.h"
#include "frugal/data/dataset.h"
#include "frugal/data/fashion_mnist.h"

using namespace frugal;
namespace fs = std::filesystem;

namespace {

// A small dataset whose row i is filled with the value i and labelled i % 3.
data::Dataset counting_dataset(int64_t n) {
  data::Dataset d;
  d.name = "counting";
  d.num_classes = 3;
  d.inputs = Tensor({n, 2, 2});
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) d.inputs[i * 4 + k] = static_cast<float>(i);
    d.labels.push_back(static_cast<int>(i % 3));
  }
  return d;
}

}  // namespace

TEST(FashionMnist, LoadsTestSetScaledWithLabels) {
  data::Dataset d = data::load_fashion_mnist(data::default_fashion_mnist_dir(), false, 0);
  ASSERT_EQ(d.inputs.shape(), (Shape{10000, 1, 28, 28}));
  ASSERT_EQ(d.labels.size(), 10000u);
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.labels[0], 9);
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < d.inputs.numel(); ++i) {
    lo = std::min(lo, d.inputs[i]);
    hi = std::max(hi, d.inputs[i]);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  std::vector<int> per_class(10, 0);
  for (int y : d.labels) per_class.at(y)++;
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], 1000) << "class " << c;
}

TEST(FashionMnist, LimitKeepsTheFirstSamples) {
  data::Dataset all = data::load_fashion_mnist(data::default_fashion_mnist_dir(), false, 0);
  data::Dataset some = data::load_fashion_mnist(data::default_fashion_mnist_dir(), false, 100);
  ASSERT_EQ(some.size(), 100);
  EXPECT_EQ(some.inputs.shape(), (Shape{100, 1, 28, 28}));
  EXPECT_EQ(std::vector<int>(all.labels.begin(), all.labels.begin() + 100), some.labels);
  for (int64_t i = 0; i < some.inputs.numel(); ++i) ASSERT_EQ(some.inputs[i], all.inputs[i]);
  EXPECT_EQ(data::load_fashion_mnist(data::default_fashion_mnist_dir(), true, 50).size(), 50);
  EXPECT_EQ(data::load_fashion_mnist(data::default_fashion_mnist_dir(), false, 20000).size(), 10000);
}

TEST(FashionMnist, MissingDirectoryOrFileNamesThePath) {
  fs::path dir = fs::temp_directory_path() / "frugal_data_fmnist_missing";
  fs::remove_all(dir);
  try {
    data::load_fashion_mnist(dir.string(), true, 0);
    FAIL() << "missing directory accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string()), std::string::npos) << e.what();
  }
  fs::create_directories(dir);
  fs::copy_file(data::default_fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz", dir / "t10k-images-idx3-ubyte.gz");
  try {
    data::load_fashion_mnist(dir.string(), false, 0);
    FAIL() << "missing label file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t10k-labels-idx1-ubyte"), std::string::npos) << e.what();
  }
}

TEST(FashionMnist, LabelCountMustMatchImageCount) {
  fs::path dir = fs::temp_directory_path() / "frugal_data_fmnist_mismatch";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Plain (unzipped) IDX files: 2 images of 28x28 but 3 labels.
  std::ofstream img(dir / "t10k-images-idx3-ubyte", std::ios::binary);
  img << std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16) << std::string(2 * 28 * 28, '\x7f');
  img.close();
  std::ofstream lab(dir / "t10k-labels-idx1-ubyte", std::ios::binary);
  lab << std::string("\0\0\x08\x01\0\0\0\x03\x01\x02\x03", 11);
  lab.close();
  try {
    data::load_fashion_mnist(dir.string(), false, 0);
    FAIL() << "3 labels for 2 images accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 labels for 2 images"), std::string::npos) << e.what();
  }
}

TEST(Dataset, MakeBatchGathersRowsInOrder) {
  data::Dataset d = counting_dataset(10);
  std::vector<int64_t> order = {7, 2, 9, 0, 5};
  data::Batch b = data::make_batch(d, order, 1, 3);
  ASSERT_EQ(b.x.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(b.y, (std::vector<int>{2, 0, 0}));
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(b.x[0 * 4 + k], 2.0f);
    EXPECT_EQ(b.x[1 * 4 + k], 9.0f);
    EXPECT_EQ(b.x[2 * 4 + k], 0.0f);
  }
  EXPECT_THROW(data::make_batch(d, order, 3, 3), Error);
  std::vector<int64_t> bad = {10};
  EXPECT_THROW(data::make_batch(d, bad, 0, 1), Error);
}

TEST(Dataset, ShuffledOrderIsASeededPermutation) {
  Rng a(42), b(42), c(43);
  std::vector<int64_t> oa = data::shuffled_order(1000, a);
  std::vector<int64_t> ob = data::shuffled_order(1000, b);
  std::vector<int64_t> oc = data::shuffled_order(1000, c);
  EXPECT_EQ(oa, ob);
  EXPECT_NE(oa, oc);
  std::vector<int64_t> sorted = oa;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  int64_t fixed_points = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed_points += oa[i] == i;
  EXPECT_LT(fixed_points, 10);
  EXPECT_TRUE(data::shuffled_order(0, a).empty());
}

TEST(Dataset, SplitIsSeededDisjointAndComplete) {
  data::Dataset d = counting_dataset(101);
  data::Split s = data::split_train_val(d, 0.2, 7);
  ASSERT_EQ(s.val.size(), 20);
  ASSERT_EQ(s.train.size(), 81);
  EXPECT_EQ(s.train.inputs.shape(), (Shape{81, 2, 2}));
  EXPECT_EQ(s.val.num_classes, 3);
  std::set<int> seen;
  for (const data::Dataset* part : {&s.train, &s.val}) {
    ASSERT_EQ(part->labels.size(), static_cast<size_t>(part->size()));
    for (int64_t i = 0; i < part->size(); ++i) {
      int row = static_cast<int>(part->inputs[i * 4]);
      EXPECT_TRUE(seen.insert(row).second) << "sample " << row << " is in both parts";
      EXPECT_EQ(part->labels[i], row % 3);
    }
  }
  EXPECT_EQ(seen.size(), 101u);

  data::Split again = data::split_train_val(d, 0.2, 7);
  data::Split other = data::split_train_val(d, 0.2, 8);
  EXPECT_EQ(again.val.inputs.to_vector(), s.val.inputs.to_vector());
  EXPECT_NE(other.val.inputs.to_vector(), s.val.inputs.to_vector());

  data::Split none = data::split_train_val(d, 0.0, 7);
  EXPECT_EQ(none.train.size(), 101);
  EXPECT_EQ(none.val.size(), 0);
  EXPECT_THROW(data::split_train_val(d, 1.0, 7), Error);
}
