#include "frugal/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "frugal/core/error.h"

namespace frugal::data {

namespace {

// The rows `indices` of d, in that order, as a new dataset.
Dataset gather(const Dataset& d, const std::vector<int64_t>& indices, const std::string& name) {
  require(d.inputs.defined() && d.inputs.rank() >= 1, "dataset '" + d.name + "': no input tensor of shape [N, ...]");
  Shape shape = d.inputs.shape();
  int64_t row = d.size() > 0 ? d.inputs.numel() / d.size() : 0;
  shape[0] = static_cast<int64_t>(indices.size());
  Dataset out;
  out.inputs = Tensor::empty(shape);
  out.num_classes = d.num_classes;
  out.name = name;
  bool labelled = !d.labels.empty();
  for (size_t i = 0; i < indices.size(); ++i) {
    int64_t r = indices[i];
    if (row > 0) std::memcpy(out.inputs.data() + static_cast<int64_t>(i) * row, d.inputs.data() + r * row, row * sizeof(float));
    if (labelled) out.labels.push_back(d.labels[r]);
  }
  return out;
}

}  // namespace

Batch make_batch(const Dataset& d, const std::vector<int64_t>& order, int64_t start, int64_t count) {
  int64_t n = d.size();
  require(d.labels.empty() || static_cast<int64_t>(d.labels.size()) == n,
          "dataset '" + d.name + "': " + std::to_string(d.labels.size()) + " labels for " + std::to_string(n) + " samples");
  require(start >= 0 && count >= 0 && start + count <= static_cast<int64_t>(order.size()),
          "dataset '" + d.name + "': batch [" + std::to_string(start) + ", " + std::to_string(start + count) +
              ") is outside the order of " + std::to_string(order.size()) + " samples");
  std::vector<int64_t> rows(order.begin() + start, order.begin() + start + count);
  for (int64_t r : rows)
    require(r >= 0 && r < n, "dataset '" + d.name + "': sample index " + std::to_string(r) + " is outside [0, " +
                                 std::to_string(n) + ")");
  Dataset g = gather(d, rows, d.name);
  return Batch{g.inputs, std::move(g.labels)};
}

std::vector<int64_t> shuffled_order(int64_t n, Rng& rng) {
  require(n >= 0, "shuffled_order: negative sample count " + std::to_string(n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  rng.shuffle(order);
  return order;
}

Split split_train_val(const Dataset& d, double val_fraction, uint64_t seed) {
  require(val_fraction >= 0 && val_fraction < 1, "dataset '" + d.name + "': val_fraction must be in [0, 1), got " +
                                                     std::to_string(val_fraction));
  int64_t n = d.size();
  require(d.labels.empty() || static_cast<int64_t>(d.labels.size()) == n,
          "dataset '" + d.name + "': " + std::to_string(d.labels.size()) + " labels for " + std::to_string(n) + " samples");
  int64_t n_val = static_cast<int64_t>(std::llround(static_cast<double>(n) * val_fraction));
  Rng rng(seed);
  std::vector<int64_t> order = shuffled_order(n, rng);
  std::vector<int64_t> val(order.begin(), order.begin() + n_val);
  std::vector<int64_t> train(order.begin() + n_val, order.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return Split{gather(d, train, d.name), gather(d, val, d.name + " (validation)")};
}

}  // namespace frugal::data
