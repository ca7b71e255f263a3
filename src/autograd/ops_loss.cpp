// Losses: softmax cross-entropy (mean over the batch) and mean squared error.
#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"

namespace frugal::autograd {

Var softmax_cross_entropy(const Var& logits, const std::vector<int>& labels) {
  const Shape& s = logits.shape();
  require(s.size() == 2, "softmax_cross_entropy: logits must be [N, classes], got " + shape_str(s));
  int64_t n = s[0], k = s[1];
  require(static_cast<int64_t>(labels.size()) == n,
          "softmax_cross_entropy: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " rows");
  Tensor prob = Tensor::empty(s);
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    require(labels[i] >= 0 && labels[i] < k, "softmax_cross_entropy: label " + std::to_string(labels[i]) +
                                                  " outside [0, " + std::to_string(k) + ")");
    const float* z = logits.value().data() + i * k;
    float mx = z[0];
    for (int64_t j = 1; j < k; ++j) mx = std::max(mx, z[j]);
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j] - mx));
    for (int64_t j = 0; j < k; ++j) prob[i * k + j] = static_cast<float>(std::exp(static_cast<double>(z[j] - mx)) / sum);
    loss += std::log(sum) - (z[labels[i]] - mx);
  }
  Tensor y = Tensor::full({1}, static_cast<float>(loss / n));
  return record(y, {logits}, [logits, labels, prob, n, k](const Tensor& dy) {
    Tensor dz = prob.clone();
    float g = dy[0] / static_cast<float>(n);
    for (int64_t i = 0; i < n; ++i) {
      dz[i * k + labels[i]] -= 1.0f;
      for (int64_t j = 0; j < k; ++j) dz[i * k + j] *= g;
    }
    logits.add_grad(dz);
  });
}

Var mse(const Var& a, const Tensor& target) {
  require(a.value().numel() == target.numel(),
          "mse: prediction " + shape_str(a.shape()) + " and target " + shape_str(target.shape()) + " differ in size");
  int64_t n = target.numel();
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = a.value()[i] - target[i];
    sum += d * d;
  }
  Tensor y = Tensor::full({1}, static_cast<float>(sum / n));
  return record(y, {a}, [a, target, n](const Tensor& dy) {
    Tensor da = Tensor::empty(a.shape());
    float g = 2.0f * dy[0] / static_cast<float>(n);
    for (int64_t i = 0; i < n; ++i) da[i] = g * (a.value()[i] - target[i]);
    a.add_grad(da);
  });
}

}  // namespace frugal::autograd
