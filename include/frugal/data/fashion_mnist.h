// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 60000 training and 10000 test 28x28 grey images of
// 10 clothing classes, in the MNIST IDX layout. Debian's dataset-fashion-mnist installs it.
#pragma once
#include <cstdint>
#include <string>

#include "frugal/data/dataset.h"

namespace frugal::data {

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped (.gz) or plain, from dir.
// inputs [N, 1, 28, 28] scaled to [0, 1]; labels 0..9. limit > 0 keeps the first `limit` samples.
Dataset load_fashion_mnist(const std::string& dir, bool train, int64_t limit);

// Where dataset-fashion-mnist puts the files.
std::string default_fashion_mnist_dir();

}  // namespace frugal::data
