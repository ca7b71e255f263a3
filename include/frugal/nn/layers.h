// The standard layers: thin Modules over the ops in autograd/ops.h. Weight layouts follow
// PyTorch (Linear [out, in], Conv2d [O, I/groups, KH, KW]) and so does default init
// (Kaiming-uniform with a = sqrt(5)), so imported and exported weights need no conversion.
#pragma once
#include "frugal/core/rng.h"
#include "frugal/nn/module.h"

namespace frugal::nn {

class Linear : public Module {
 public:
  Linear(int in_features, int out_features, bool bias, Rng& rng);
  Var forward(const Var& x) override;  // over the last axis; any leading axes
  std::string type() const override { return "linear"; }
  Json spec() const override;
  std::vector<Param> parameters() override;
  int in_features, out_features;
  Var weight, bias;  // bias undefined when disabled
};

class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, int kernel, int stride, int pad, int groups, bool bias, Rng& rng);
  Var forward(const Var& x) override;  // [N, C, H, W] or [T, N, C, H, W]
  std::string type() const override { return "conv2d"; }
  Json spec() const override;
  std::vector<Param> parameters() override;
  int in_channels, out_channels, kernel, stride, pad, groups;
  Var weight, bias;
};

class ReLU : public Module {
 public:
  Var forward(const Var& x) override;
  std::string type() const override { return "relu"; }
  Json spec() const override { return {{"type", "relu"}}; }
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int kernel, int stride, int pad) : kernel(kernel), stride(stride), pad(pad) {}
  Var forward(const Var& x) override;  // [N, C, H, W] or [T, N, C, H, W]
  std::string type() const override { return "maxpool2d"; }
  Json spec() const override;
  int kernel, stride, pad;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(int kernel, int stride, int pad) : kernel(kernel), stride(stride), pad(pad) {}
  Var forward(const Var& x) override;
  std::string type() const override { return "avgpool2d"; }
  Json spec() const override;
  int kernel, stride, pad;
};

// Flattens every axis from start_axis on: [N, C, H, W] -> [N, C*H*W]; [T, N, C, H, W] with start_axis 2.
class Flatten : public Module {
 public:
  explicit Flatten(int start_axis = 1) : start_axis(start_axis) {}
  Var forward(const Var& x) override;
  std::string type() const override { return "flatten"; }
  Json spec() const override { return {{"type", "flatten"}, {"start_axis", start_axis}}; }
  int start_axis;
};

class BatchNorm2d : public Module {
 public:
  BatchNorm2d(int channels, float momentum, float eps);
  Var forward(const Var& x) override;
  std::string type() const override { return "batchnorm2d"; }
  Json spec() const override;
  std::vector<Param> parameters() override;
  std::vector<Buffer> buffers() override;
  int channels;
  float momentum, eps;
  Var gamma, beta;
  Tensor running_mean, running_var;
};

// (x - mean) / std with constants stored in the model, so evaluation and `frugal run` see the
// same inputs as training (torchvision's Normalize, as the first layer).
class Normalize : public Module {
 public:
  Normalize(float mean, float std) : mean(mean), std(std) {}
  Var forward(const Var& x) override;
  std::string type() const override { return "normalize"; }
  Json spec() const override { return {{"type", "normalize"}, {"mean", mean}, {"std", std}}; }
  float mean, std;
};

class Dropout : public Module {
 public:
  Dropout(float p, uint64_t seed) : p(p), rng(seed) {}
  Var forward(const Var& x) override;
  std::string type() const override { return "dropout"; }
  Json spec() const override { return {{"type", "dropout"}, {"p", p}}; }
  float p;
  Rng rng;
};

// Runs its layers in order. Parameter names are "<index>.<name>", like PyTorch's nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  void add(ModulePtr layer) { layers.push_back(std::move(layer)); }
  Var forward(const Var& x) override;
  // The first `end` layers only, with forward's fusions (a readout's input, for instance).
  Var forward_layers(const Var& x, size_t end);
  std::string type() const override { return "sequential"; }
  Json spec() const override;  // {"type": "sequential", "layers": [...]}
  std::vector<Param> parameters() override;
  std::vector<Buffer> buffers() override;
  void reset_state() override;
  void set_training(bool on) override;
  std::vector<ModulePtr> layers;
};

}  // namespace frugal::nn
