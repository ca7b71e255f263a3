// Reversible MBConv 3-D U-Net (see unet3d.h).
#include "frugal/rev/unet3d.h"

#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/autograd/ops3d.h"
#include "frugal/core/error.h"
#include "frugal/nn/builder.h"

namespace frugal::rev {

using namespace frugal::autograd;

namespace {
Var uniform_weight(Shape shape, Rng& rng) {
  int64_t fan_in = shape[1] * shape[2] * shape[3] * shape[4];
  float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  Tensor w = Tensor::empty(std::move(shape));
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.uniform(-bound, bound);
  return Var(w, true);
}

std::vector<int> int_list(const nn::Json& v, const std::string& where) {
  require(v.is_array() && !v.empty(), where + ": expected a non-empty list of integers");
  std::vector<int> out;
  for (const nn::Json& e : v) {
    require(e.is_number_integer(), where + ": expected integers, got " + e.dump());
    out.push_back(e.get<int>());
  }
  return out;
}
}  // namespace

UNet3dConfig parse_unet3d_config(const nn::Json& model, const std::string& where) {
  require(model.is_object(), where + ": [model] must be a table");
  nn::SpecReader r(model, where);
  UNet3dConfig c;
  c.in_channels = r.get_int("in_channels", c.in_channels);
  c.classes = r.get_int("classes", c.classes);
  if (r.has("channels")) c.channels = int_list(r.get_json("channels"), where + ".channels");
  if (r.has("blocks")) c.blocks = int_list(r.get_json("blocks"), where + ".blocks");
  c.reversible = r.get_bool("reversible", c.reversible);
  c.skip = r.get_string("skip", c.skip);
  c.upsample = r.get_string("upsample", c.upsample);
  c.block.expansion = r.get_int("expansion", c.block.expansion);
  c.block.norm = r.get_string("norm", c.block.norm);
  c.block.norm_groups = r.get_int("norm_groups", c.block.norm_groups);
  c.block.activation = r.get_string("activation", c.block.activation);
  c.block.squeeze_excitation = r.get_bool("squeeze_excitation", c.block.squeeze_excitation);
  c.block.se_ratio = r.get_double("se_ratio", c.block.se_ratio);
  c.block.dropout = r.get_double("dropout", c.block.dropout);
  r.finish();
  require(c.channels.size() == c.blocks.size(),
          where + ": channels and blocks must list the same number of levels");
  for (size_t l = 0; l < c.channels.size(); ++l)
    require(c.channels[l] > 0 && c.channels[l] % 2 == 0 && c.blocks[l] >= 0,
            where + ": level " + std::to_string(l) + " needs an even channel count and blocks >= 0");
  require(c.skip == "add" || c.skip == "concat", where + ".skip: expected add or concat, got '" + c.skip + "'");
  require(c.upsample == "trilinear" || c.upsample == "nearest",
          where + ".upsample: expected trilinear or nearest, got '" + c.upsample + "'");
  require(c.in_channels > 0 && c.classes > 1, where + ": in_channels must be positive and classes at least 2");
  return c;
}

UNet3d::UNet3d(const UNet3dConfig& c, Rng& rng) : config(c) {
  int64_t levels = static_cast<int64_t>(c.channels.size());
  require(levels > 0 && c.blocks.size() == c.channels.size(), "unet3d: channels and blocks per level must match");
  stem_w = uniform_weight({c.channels[0], c.in_channels, 3, 3, 3}, rng);
  stem_b = Var(Tensor::zeros({c.channels[0]}), true);
  for (int64_t l = 0; l < levels; ++l) {
    encoder.push_back(std::make_unique<ReversibleSequence>(c.reversible));
    for (int b = 0; b < c.blocks[l]; ++b) add_rev_mbconv3d(*encoder.back(), c.channels[l], c.block, rng);
  }
  for (int64_t l = 0; l + 1 < levels; ++l) {
    down_w.push_back(uniform_weight({c.channels[l + 1], c.channels[l], 1, 1, 1}, rng));
    up_w.push_back(uniform_weight({c.channels[l], c.channels[l + 1], 1, 1, 1}, rng));
    if (c.skip == "concat") merge_w.push_back(uniform_weight({c.channels[l], 2 * c.channels[l], 1, 1, 1}, rng));
    decoder.push_back(std::make_unique<ReversibleSequence>(c.reversible));
    for (int b = 0; b < c.blocks[l]; ++b) add_rev_mbconv3d(*decoder.back(), c.channels[l], c.block, rng);
  }
  head_w = uniform_weight({c.classes, c.channels[0], 1, 1, 1}, rng);
  head_b = Var(Tensor::zeros({c.classes}), true);
}

Var UNet3d::forward(const Var& x) {
  int64_t levels = static_cast<int64_t>(config.channels.size());
  int64_t factor = int64_t{1} << (levels - 1);
  const Shape& s = x.shape();
  require(s.size() == 5 && s[1] == config.in_channels && s[2] % factor == 0 && s[3] % factor == 0 &&
              s[4] % factor == 0,
          "unet3d: input must be [N, " + std::to_string(config.in_channels) + ", D, H, W] with D, H, W divisible by " +
              std::to_string(factor) + ", got " + shape_str(s));
  Var h = conv3d(x, stem_w, stem_b, {1, 1, 1});
  std::vector<Var> skips;
  for (int64_t l = 0; l < levels; ++l) {
    h = encoder[l]->forward(h);
    if (l + 1 == levels) break;
    skips.push_back(h);
    h = conv3d(max_pool3d(h, 2), down_w[l], Var(), {1, 0, 1});
  }
  for (int64_t l = levels - 2; l >= 0; --l) {
    // Changing channels before upsampling runs the 1x1x1 conv on 8x fewer voxels.
    h = conv3d(h, up_w[l], Var(), {1, 0, 1});
    h = config.upsample == "nearest" ? upsample_nearest3d(h, 2) : upsample_trilinear3d(h, 2);
    if (config.skip == "add")
      h = autograd::add(h, skips[l]);
    else
      h = conv3d(concat({h, skips[l]}, 1), merge_w[l], Var(), {1, 0, 1});
    h = decoder[l]->forward(h);
  }
  return conv3d(h, head_w, head_b, {1, 0, 1});
}

nn::Json UNet3d::spec() const {
  const UNet3dConfig& c = config;
  return {{"type", type()},
          {"in_channels", c.in_channels},
          {"classes", c.classes},
          {"channels", c.channels},
          {"blocks", c.blocks},
          {"reversible", c.reversible},
          {"skip", c.skip},
          {"upsample", c.upsample},
          {"expansion", c.block.expansion},
          {"norm", c.block.norm},
          {"norm_groups", c.block.norm_groups},
          {"activation", c.block.activation},
          {"squeeze_excitation", c.block.squeeze_excitation},
          {"se_ratio", c.block.se_ratio},
          {"dropout", c.block.dropout}};
}

std::vector<nn::Param> UNet3d::parameters() {
  std::vector<nn::Param> out{{"stem.weight", stem_w}, {"stem.bias", stem_b}};
  for (size_t l = 0; l < encoder.size(); ++l)
    for (nn::Param& p : encoder[l]->parameters()) out.push_back({"encoder." + std::to_string(l) + "." + p.name, p.var});
  for (size_t l = 0; l < decoder.size(); ++l) {
    std::string level = std::to_string(l);
    out.push_back({"down." + level + ".weight", down_w[l]});
    out.push_back({"up." + level + ".weight", up_w[l]});
    if (config.skip == "concat") out.push_back({"merge." + level + ".weight", merge_w[l]});
    for (nn::Param& p : decoder[l]->parameters()) out.push_back({"decoder." + level + "." + p.name, p.var});
  }
  out.push_back({"head.weight", head_w});
  out.push_back({"head.bias", head_b});
  return out;
}

std::vector<nn::Buffer> UNet3d::buffers() {
  std::vector<nn::Buffer> out;
  for (size_t l = 0; l < encoder.size(); ++l)
    for (nn::Buffer& b : encoder[l]->buffers()) out.push_back({"encoder." + std::to_string(l) + "." + b.name, b.tensor});
  for (size_t l = 0; l < decoder.size(); ++l)
    for (nn::Buffer& b : decoder[l]->buffers()) out.push_back({"decoder." + std::to_string(l) + "." + b.name, b.tensor});
  return out;
}

void UNet3d::set_training(bool on) {
  training_ = on;
  for (auto& e : encoder) e->set_training(on);
  for (auto& d : decoder) d->set_training(on);
}

}  // namespace frugal::rev
