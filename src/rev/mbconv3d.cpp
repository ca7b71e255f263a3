// MBConv residual function for reversible couplings (see mbconv3d.h).
#include "frugal/rev/mbconv3d.h"

#include <algorithm>
#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/autograd/ops3d.h"
#include "frugal/core/error.h"

namespace frugal::rev {

using namespace frugal::autograd;

namespace {
// PyTorch's default conv init (Kaiming-uniform, a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Var conv_weight(Shape shape, Rng& rng) {
  int64_t fan_in = shape[1] * shape[2] * shape[3] * shape[4];
  float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  Tensor w = Tensor::empty(std::move(shape));
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.uniform(-bound, bound);
  return Var(w, true);
}
}  // namespace

MBConv3d::MBConv3d(const MBConvConfig& c, Rng& rng) : config(c), dropout_rng(rng.next_u64()) {
  require(c.channels > 0 && c.expansion > 0, "mbconv3d: channels and expansion must be positive");
  require(c.norm == "group" || c.norm == "instance" || c.norm == "batch",
          "mbconv3d: norm must be group, instance or batch, got '" + c.norm + "'");
  require(c.activation == "silu" || c.activation == "relu6" || c.activation == "leaky_relu",
          "mbconv3d: activation must be silu, relu6 or leaky_relu, got '" + c.activation + "'");
  require(c.dropout >= 0 && c.dropout < 1, "mbconv3d: dropout must be in [0, 1)");
  expanded = c.channels * c.expansion;
  if (c.norm == "group")
    require(expanded % std::min(c.norm_groups, expanded) == 0,
            "mbconv3d: norm_groups " + std::to_string(c.norm_groups) + " must divide " + std::to_string(expanded) +
                " expanded channels");
  int64_t e = expanded, ch = c.channels;
  w_expand = conv_weight({e, ch, 1, 1, 1}, rng);
  w_depthwise = conv_weight({e, 1, 3, 3, 3}, rng);
  w_project = Var(Tensor::zeros({ch, e, 1, 1, 1}), true);
  b_project = Var(Tensor::zeros({ch}), true);
  gamma1 = Var(Tensor::full({e}, 1.0f), true);
  beta1 = Var(Tensor::zeros({e}), true);
  gamma2 = Var(Tensor::full({e}, 1.0f), true);
  beta2 = Var(Tensor::zeros({e}), true);
  running_mean1 = Tensor::zeros({e});
  running_var1 = Tensor::full({e}, 1.0f);
  running_mean2 = Tensor::zeros({e});
  running_var2 = Tensor::full({e}, 1.0f);
  if (c.squeeze_excitation) {
    int64_t squeezed = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(e) * c.se_ratio));
    w_se_reduce = conv_weight({squeezed, e, 1, 1, 1}, rng);
    b_se_reduce = Var(Tensor::zeros({squeezed}), true);
    w_se_expand = conv_weight({e, squeezed, 1, 1, 1}, rng);
    b_se_expand = Var(Tensor::zeros({e}), true);
  }
}

Var MBConv3d::norm(const Var& x, const Var& gamma, const Var& beta, Tensor& running_mean, Tensor& running_var) {
  if (config.norm == "instance") return instance_norm(x, gamma, beta);
  if (config.norm == "group") return group_norm(x, std::min(config.norm_groups, expanded), gamma, beta);
  // Batch statistics are recomputed identically in backward; the running ones must move once,
  // so the recompute updates throwaway copies.
  Tensor scratch_mean, scratch_var;
  Tensor* mean = &running_mean;
  Tensor* var = &running_var;
  if (recomputing_) {
    scratch_mean = running_mean.clone();
    scratch_var = running_var.clone();
    mean = &scratch_mean;
    var = &scratch_var;
  }
  const Shape& s = x.shape();
  Var folded = reshape(x, {s[0], s[1], s[2] * s[3], s[4]});
  return reshape(batchnorm2d(folded, gamma, beta, *mean, *var, training_), s);
}

Var MBConv3d::activate(const Var& x) const {
  if (config.activation == "relu6") return relu6(x);
  if (config.activation == "leaky_relu") return leaky_relu(x, 0.01f);
  return silu(x);
}

Var MBConv3d::forward(const Var& x) {
  require(x.defined() && x.shape().size() == 5 && x.shape()[1] == config.channels,
          "mbconv3d: input must be [N, " + std::to_string(config.channels) + ", D, H, W]");
  Var h = conv3d(x, w_expand, Var(), {1, 0, 1});
  h = activate(norm(h, gamma1, beta1, running_mean1, running_var1));
  h = conv3d(h, w_depthwise, Var(), {1, 1, expanded});
  h = activate(norm(h, gamma2, beta2, running_mean2, running_var2));
  if (config.squeeze_excitation) {
    Var s = activate(conv3d(global_avg_pool3d(h), w_se_reduce, b_se_reduce, {1, 0, 1}));
    h = channel_mul(h, sigmoid(conv3d(s, w_se_expand, b_se_expand, {1, 0, 1})));
  }
  if (config.dropout > 0) h = dropout(h, static_cast<float>(config.dropout), training_, dropout_rng);
  return conv3d(h, w_project, b_project, {1, 0, 1});
}

nn::Json MBConv3d::spec() const {
  return {{"type", type()},
          {"channels", config.channels},
          {"expansion", config.expansion},
          {"norm", config.norm},
          {"norm_groups", config.norm_groups},
          {"activation", config.activation},
          {"squeeze_excitation", config.squeeze_excitation},
          {"se_ratio", config.se_ratio},
          {"dropout", config.dropout}};
}

std::vector<nn::Param> MBConv3d::parameters() {
  std::vector<nn::Param> out{{"expand.weight", w_expand},   {"norm1.weight", gamma1}, {"norm1.bias", beta1},
                             {"depthwise.weight", w_depthwise}, {"norm2.weight", gamma2}, {"norm2.bias", beta2}};
  if (config.squeeze_excitation) {
    out.push_back({"se.reduce.weight", w_se_reduce});
    out.push_back({"se.reduce.bias", b_se_reduce});
    out.push_back({"se.expand.weight", w_se_expand});
    out.push_back({"se.expand.bias", b_se_expand});
  }
  out.push_back({"project.weight", w_project});
  out.push_back({"project.bias", b_project});
  return out;
}

std::vector<nn::Buffer> MBConv3d::buffers() {
  if (config.norm != "batch") return {};
  return {{"norm1.running_mean", &running_mean1},
          {"norm1.running_var", &running_var1},
          {"norm2.running_mean", &running_mean2},
          {"norm2.running_var", &running_var2}};
}

void add_rev_mbconv3d(ReversibleSequence& sequence, int channels, MBConvConfig config, Rng& rng) {
  require(channels > 0 && channels % 2 == 0,
          "rev_mbconv3d: channels must be even (the coupling splits them), got " + std::to_string(channels));
  config.channels = channels / 2;
  sequence.add(std::make_unique<MBConv3d>(config, rng), std::make_unique<MBConv3d>(config, rng));
}

}  // namespace frugal::rev
