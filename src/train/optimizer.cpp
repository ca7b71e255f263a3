#include "frugal/train/optimizer.h"

#include <cmath>

#include "frugal/core/error.h"

namespace frugal::train {

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
    float* v = v_[k].data();
    float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2), eps = static_cast<float>(c.eps);
    bool decoupled = c.type == "adamw";
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      float gi = decoupled ? g[i] : g[i] + wd * w[i];
      if (decoupled) w[i] -= flr * wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      w[i] -= flr * (m[i] / bias1) / (std::sqrt(v[i] / bias2) + eps);
    }
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
