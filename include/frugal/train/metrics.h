// Classification metrics: argmax predictions, accuracy as a fraction, confusion matrix
// (rows: true class, columns: predicted class).
#pragma once
#include <vector>

#include "frugal/core/tensor.h"

namespace frugal::train {

std::vector<int> argmax_rows(const Tensor& logits);  // [N, C] -> N labels

struct Confusion {
  int classes = 0;
  std::vector<int64_t> counts;  // classes * classes, row = truth
  explicit Confusion(int classes) : classes(classes), counts(static_cast<size_t>(classes) * classes, 0) {}
  void add(const std::vector<int>& truth, const std::vector<int>& predicted);
  int64_t total() const;
  double accuracy() const;
};

}  // namespace frugal::train
