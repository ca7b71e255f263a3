// An in-memory labelled dataset and the batching every trainer uses: a seeded shuffle per epoch,
// gathering rows into a batch tensor, and a seeded train/validation split.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"

namespace frugal::data {

struct Dataset {
  Tensor inputs;            // [N, ...]
  std::vector<int> labels;  // N class indices in [0, num_classes)
  int num_classes = 0;
  std::string name;
  int64_t size() const { return inputs.defined() && inputs.rank() > 0 ? inputs.dim(0) : 0; }
};

struct Batch {
  Tensor x;  // [count, ...]
  std::vector<int> y;
};

// Rows order[start], ..., order[start + count - 1] of d.
Batch make_batch(const Dataset& d, const std::vector<int64_t>& order, int64_t start, int64_t count);

// A permutation of 0..n-1 drawn from rng.
std::vector<int64_t> shuffled_order(int64_t n, Rng& rng);

struct Split {
  Dataset train;
  Dataset val;
};

// round(N * val_fraction) samples, chosen by a shuffle seeded with `seed`, go to val; the rest to
// train. Both keep the original sample order, so the split is a pure function of (d, fraction, seed).
Split split_train_val(const Dataset& d, double val_fraction, uint64_t seed);

}  // namespace frugal::data
