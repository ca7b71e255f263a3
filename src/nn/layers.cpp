#include "frugal/nn/layers.h"

#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"

namespace frugal::nn {

namespace {
// PyTorch's default init (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Var uniform_param(Shape shape, int fan_in, Rng& rng) {
  Tensor t = Tensor::empty(std::move(shape));
  float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-bound, bound);
  return Var(t, true);
}

// Batch norm sees [N, C, H, W]; spiking nets pass [T, N, C, H, W], so time is folded into the batch.
template <typename F>
Var fold_time(const Var& x, F op) {
  if (x.value().rank() != 5) return op(x);
  Shape s = x.shape();
  Var y = op(autograd::reshape(x, {s[0] * s[1], s[2], s[3], s[4]}));
  Shape o = y.shape();
  return autograd::reshape(y, {s[0], s[1], o[1], o[2], o[3]});
}
}  // namespace

Linear::Linear(int in_features, int out_features, bool has_bias, Rng& rng)
    : in_features(in_features), out_features(out_features) {
  require(in_features > 0 && out_features > 0, "linear: in and out must be positive");
  weight = uniform_param({out_features, in_features}, in_features, rng);
  if (has_bias) bias = uniform_param({out_features}, in_features, rng);
}

Var Linear::forward(const Var& x) { return autograd::linear(x, weight, bias); }

Json Linear::spec() const {
  return {{"type", "linear"}, {"in", in_features}, {"out", out_features}, {"bias", bias.defined()}};
}

std::vector<Param> Linear::parameters() {
  std::vector<Param> p{{"weight", weight}};
  if (bias.defined()) p.push_back({"bias", bias});
  return p;
}

Conv2d::Conv2d(int in_channels, int out_channels, int kernel, int stride, int pad, int groups, bool has_bias,
               Rng& rng)
    : in_channels(in_channels), out_channels(out_channels), kernel(kernel), stride(stride), pad(pad), groups(groups) {
  require(in_channels > 0 && out_channels > 0 && kernel > 0 && stride > 0 && pad >= 0 && groups > 0,
          "conv2d: channels, kernel, stride and groups must be positive and pad non-negative");
  require(in_channels % groups == 0 && out_channels % groups == 0, "conv2d: channels must divide by groups");
  int fan_in = in_channels / groups * kernel * kernel;
  weight = uniform_param({out_channels, in_channels / groups, kernel, kernel}, fan_in, rng);
  if (has_bias) bias = uniform_param({out_channels}, fan_in, rng);
}

Var Conv2d::forward(const Var& x) {
  return autograd::conv2d(x, weight, bias, {stride, pad, groups});
}

Json Conv2d::spec() const {
  return {{"type", "conv2d"}, {"in", in_channels}, {"out", out_channels}, {"kernel", kernel},
          {"stride", stride}, {"pad", pad}, {"groups", groups}, {"bias", bias.defined()}};
}

std::vector<Param> Conv2d::parameters() {
  std::vector<Param> p{{"weight", weight}};
  if (bias.defined()) p.push_back({"bias", bias});
  return p;
}

Var ReLU::forward(const Var& x) { return autograd::relu(x); }

Var MaxPool2d::forward(const Var& x) {
  return autograd::max_pool2d(x, kernel, stride, pad);  // folds [T, N, C, H, W] itself
}

Json MaxPool2d::spec() const { return {{"type", "maxpool2d"}, {"kernel", kernel}, {"stride", stride}, {"pad", pad}}; }

Var AvgPool2d::forward(const Var& x) {
  return autograd::avg_pool2d(x, kernel, stride, pad);  // folds [T, N, C, H, W] itself
}

Json AvgPool2d::spec() const { return {{"type", "avgpool2d"}, {"kernel", kernel}, {"stride", stride}, {"pad", pad}}; }

Var Flatten::forward(const Var& x) { return autograd::flatten(x, start_axis); }

BatchNorm2d::BatchNorm2d(int channels, float momentum, float eps) : channels(channels), momentum(momentum), eps(eps) {
  require(channels > 0, "batchnorm2d: channels must be positive");
  gamma = Var(Tensor::full({channels}, 1.0f), true);
  beta = Var(Tensor::zeros({channels}), true);
  running_mean = Tensor::zeros({channels});
  running_var = Tensor::full({channels}, 1.0f);
}

Var BatchNorm2d::forward(const Var& x) {
  return fold_time(x, [this](const Var& v) {
    return autograd::batchnorm2d(v, gamma, beta, running_mean, running_var, training_, momentum, eps);
  });
}

Json BatchNorm2d::spec() const {
  return {{"type", "batchnorm2d"}, {"channels", channels}, {"momentum", momentum}, {"eps", eps}};
}

std::vector<Param> BatchNorm2d::parameters() { return {{"weight", gamma}, {"bias", beta}}; }

std::vector<Buffer> BatchNorm2d::buffers() {
  return {{"running_mean", &running_mean}, {"running_var", &running_var}};
}

Var Normalize::forward(const Var& x) { return autograd::scale(x, 1.0f / std, -mean / std); }

Var Dropout::forward(const Var& x) { return autograd::dropout(x, p, training_, rng); }

namespace {
bool is_pool_2x2(const Module& m) {
  const auto* pool = dynamic_cast<const MaxPool2d*>(&m);
  return pool && pool->kernel == 2 && pool->stride == 2 && pool->pad == 0;
}
}  // namespace

Var Sequential::forward(const Var& x) { return forward_layers(x, layers.size()); }

Var Sequential::forward_layers(const Var& x, size_t end) {
  require(end <= layers.size(), "sequential: " + std::to_string(end) + " layers asked of " +
                                    std::to_string(layers.size()));
  Var h = x;
  for (size_t i = 0; i < end; ++i) {
    // A convolution whose output is max-pooled 2x2 (through a ReLU or not: they commute, see
    // below) runs as one fused op that keeps the full-size output in oneDNN's blocked layout,
    // or, for sparse input in inference, pools inside the event-driven kernel.
    if (const auto* conv = dynamic_cast<const Conv2d*>(layers[i].get())) {
      const bool relu = i + 2 < end && layers[i + 1]->type() == "relu" && is_pool_2x2(*layers[i + 2]);
      if (relu || (i + 1 < end && is_pool_2x2(*layers[i + 1]))) {
        h = autograd::conv2d_maxpool2(h, conv->weight, conv->bias, {conv->stride, conv->pad, conv->groups});
        if (relu) h = layers[i + 1]->forward(h);
        i += relu ? 2 : 1;
        continue;
      }
    }
    // ReLU is monotonic, so it commutes with max-pooling: pooling first applies the ReLU (and
    // its backward pass) to a quarter of the values. Same outputs, same gradients.
    if (i + 1 < end && layers[i]->type() == "relu" && layers[i + 1]->type() == "maxpool2d") {
      h = layers[i]->forward(layers[i + 1]->forward(h));
      ++i;
      continue;
    }
    h = layers[i]->forward(h);
  }
  return h;
}

Json Sequential::spec() const {
  Json list = Json::array();
  for (const auto& layer : layers) list.push_back(layer->spec());
  return {{"type", "sequential"}, {"layers", list}};
}

std::vector<Param> Sequential::parameters() {
  std::vector<Param> all;
  for (size_t i = 0; i < layers.size(); ++i)
    for (Param& p : layers[i]->parameters()) all.push_back({std::to_string(i) + "." + p.name, p.var});
  return all;
}

std::vector<Buffer> Sequential::buffers() {
  std::vector<Buffer> all;
  for (size_t i = 0; i < layers.size(); ++i)
    for (Buffer& b : layers[i]->buffers()) all.push_back({std::to_string(i) + "." + b.name, b.tensor});
  return all;
}

void Sequential::reset_state() {
  for (auto& layer : layers) layer->reset_state();
}

void Sequential::set_training(bool on) {
  training_ = on;
  for (auto& layer : layers) layer->set_training(on);
}

}  // namespace frugal::nn
