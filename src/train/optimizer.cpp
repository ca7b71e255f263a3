#include "frugal/train/optimizer.h"

#include <cmath>

#include "frugal/core/error.h"

namespace frugal::train {

namespace {
// One Adam/AdamW update over a parameter as a single branch-free loop: weight decay enters
// either as an L2 term of the gradient (l2) or as a decoupled shrink of the weight
// (shrink = 1 - lr * wd), and the bias corrections are folded into step and inv_sqrt_bias2, so
// each element costs one sqrt and one division.
void adam_update(float* w, const float* g, float* m, float* v, int64_t n, float b1, float b2, float eps, float l2,
                 float shrink, float step, float inv_sqrt_bias2) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] + l2 * w[i];
    float mi = b1 * m[i] + (1 - b1) * gi;
    float vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = shrink * w[i] - step * mi / (std::sqrt(vi) * inv_sqrt_bias2 + eps);
  }
}
}  // namespace

Optimizer::Optimizer(std::vector<nn::Param> params, OptimizerConfig config)
    : params_(std::move(params)), config_(std::move(config)) {
  const std::string& t = config_.type;
  require(t == "sgd" || t == "adam" || t == "adamw", "optimizer.type: expected sgd, adam or adamw, got '" + t + "'");
  require(config_.lr > 0, "optimizer.lr: must be positive");
  require(config_.weight_decay >= 0, "optimizer.weight_decay: must be non-negative");
  for (const nn::Param& p : params_) {
    m_.emplace_back(p.var.shape());
    if (t != "sgd") v_.emplace_back(p.var.shape());
  }
}

void Optimizer::zero_grad() {
  for (nn::Param& p : params_) p.var.zero_grad();
}

void Optimizer::step(double lr) {
  ++steps;
  const OptimizerConfig& c = config_;
  float bias1 = static_cast<float>(1 - std::pow(c.beta1, static_cast<double>(steps)));
  float bias2 = static_cast<float>(1 - std::pow(c.beta2, static_cast<double>(steps)));
  for (size_t k = 0; k < params_.size(); ++k) {
    const Tensor& grad = params_[k].var.grad();
    if (!grad.defined()) continue;
    float* w = params_[k].var.value().data();
    const float* g = grad.data();
    float* m = m_[k].data();
    int64_t n = grad.numel();
    float wd = static_cast<float>(c.weight_decay), flr = static_cast<float>(lr);
    if (c.type == "sgd") {
      float mu = static_cast<float>(c.momentum);
      for (int64_t i = 0; i < n; ++i) {
        float gi = g[i] + wd * w[i];
        m[i] = mu * m[i] + gi;
        w[i] -= flr * (c.nesterov ? gi + mu * m[i] : m[i]);
      }
      continue;
    }
    bool decoupled = c.type == "adamw";
    adam_update(w, g, m, v_[k].data(), n, static_cast<float>(c.beta1), static_cast<float>(c.beta2),
                static_cast<float>(c.eps), decoupled ? 0.0f : wd, decoupled ? 1 - flr * wd : 1.0f, flr / bias1,
                1 / std::sqrt(bias2));
  }
}

std::vector<nn::Buffer> Optimizer::state() {
  std::vector<nn::Buffer> s;
  for (size_t k = 0; k < params_.size(); ++k) {
    s.push_back({params_[k].name + (config_.type == "sgd" ? ".momentum" : ".m"), &m_[k]});
    if (!v_.empty()) s.push_back({params_[k].name + ".v", &v_[k]});
  }
  return s;
}

}  // namespace frugal::train
