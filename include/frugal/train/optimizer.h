// Optimizers over a model's parameters: SGD (momentum, Nesterov, L2 weight decay), Adam (L2
// weight decay added to the gradient) and AdamW (decoupled weight decay, Loshchilov & Hutter 2019).
// Their state is a list of named tensors so checkpoints can save and restore it exactly.
#pragma once
#include <string>
#include <vector>

#include "frugal/nn/module.h"

namespace frugal::train {

struct OptimizerConfig {
  std::string type = "adam";  // sgd | adam | adamw
  double lr = 1e-3;
  double momentum = 0.9;  // sgd
  bool nesterov = false;  // sgd
  double weight_decay = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
};

class Optimizer {
 public:
  Optimizer(std::vector<nn::Param> params, OptimizerConfig config);
  void zero_grad();
  void step(double lr);  // lr from the schedule
  // Named state tensors ("<param>.m", "<param>.v", "<param>.momentum") plus the step count.
  std::vector<nn::Buffer> state();
  int64_t steps = 0;
  const OptimizerConfig& config() const { return config_; }

 private:
  std::vector<nn::Param> params_;
  OptimizerConfig config_;
  std::vector<Tensor> m_, v_;
};

}  // namespace frugal::train
