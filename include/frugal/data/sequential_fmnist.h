// Fashion-MNIST as sequences, the LMU's longer tasks (Voelker et al. 2019 used psMNIST):
// row-sequential, 28 steps x 28 channels (one image row per step), and permuted pixel-sequential,
// 784 steps x 1 channel in a fixed seeded pixel order. Inputs [N, T, F] in [0, 1].
#pragma once
#include <cstdint>
#include <string>

#include "frugal/data/dataset.h"

namespace frugal::data {

Dataset load_fashion_mnist_rows(const std::string& dir, bool train, int64_t limit);
// The permutation is drawn from a fixed seed, so train and test (and every run) share it.
Dataset load_fashion_mnist_pixels(const std::string& dir, bool train, int64_t limit);

}  // namespace frugal::data
