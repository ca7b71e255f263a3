#include "frugal/train/metrics.h"

#include "frugal/core/error.h"

namespace frugal::train {

std::vector<int> argmax_rows(const Tensor& logits) {
  require(logits.rank() == 2, "argmax_rows: expected [N, C] logits, got " + shape_str(logits.shape()));
  int64_t n = logits.dim(0), c = logits.dim(1);
  std::vector<int> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    int best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (row[j] > row[best]) best = static_cast<int>(j);
    out[static_cast<size_t>(i)] = best;
  }
  return out;
}

void Confusion::add(const std::vector<int>& truth, const std::vector<int>& predicted) {
  require(truth.size() == predicted.size(), "confusion: truth and prediction counts differ");
  for (size_t i = 0; i < truth.size(); ++i) {
    require(truth[i] >= 0 && truth[i] < classes && predicted[i] >= 0 && predicted[i] < classes,
            "confusion: label out of range");
    ++counts[static_cast<size_t>(truth[i]) * classes + predicted[i]];
  }
}

int64_t Confusion::total() const {
  int64_t t = 0;
  for (int64_t c : counts) t += c;
  return t;
}

double Confusion::accuracy() const {
  int64_t correct = 0;
  for (int k = 0; k < classes; ++k) correct += counts[static_cast<size_t>(k) * classes + k];
  int64_t t = total();
  return t ? static_cast<double>(correct) / static_cast<double>(t) : 0.0;
}

}  // namespace frugal::train
