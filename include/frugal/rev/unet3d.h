// A 3-D U-Net whose levels are reversible MBConv sequences (Pendse et al., "Memory efficient 3D
// U-Net with reversible mobile inverted bottlenecks", BrainLes 2020). Per level: a sequence of
// blocks; between levels: 2x max-pool then a 1x1x1 conv (down), a 1x1x1 conv then 2x upsampling
// (up); skips join by addition or by concatenation and a 1x1x1 conv. With reversible = false the
// same blocks train by ordinary backprop: the baseline the memory benchmark compares against.
#pragma once
#include <string>
#include <vector>

#include "frugal/rev/mbconv3d.h"

namespace frugal::rev {

struct UNet3dConfig {
  int in_channels = 4;  // MRI modalities
  int classes = 4;      // background, necrotic core, edema, enhancing tumour
  std::vector<int> channels{16, 32, 64};  // per level, even
  std::vector<int> blocks{1, 1, 2};       // per level (encoder and decoder alike)
  bool reversible = true;
  std::string skip = "add";           // add | concat
  std::string upsample = "trilinear";  // trilinear | nearest
  MBConvConfig block;                  // expansion, norm, activation, SE, dropout
};

// Reads the [model] table of a U-Net config (TOML as JSON); unknown keys are errors naming `where`.
UNet3dConfig parse_unet3d_config(const nn::Json& model, const std::string& where);

class UNet3d : public nn::Module {
 public:
  UNet3d(const UNet3dConfig& config, Rng& rng);
  // x [N, in_channels, D, H, W] with D, H, W divisible by 2^(levels-1); returns logits
  // [N, classes, D, H, W].
  Var forward(const Var& x) override;
  std::string type() const override { return "unet3d"; }
  nn::Json spec() const override;
  std::vector<nn::Param> parameters() override;
  std::vector<nn::Buffer> buffers() override;
  void set_training(bool on) override;

  UNet3dConfig config;
  Var stem_w, stem_b, head_w, head_b;
  std::vector<Var> down_w, up_w, merge_w;  // per level transition (levels - 1)
  std::vector<std::unique_ptr<ReversibleSequence>> encoder, decoder;  // decoder: levels - 1
};

}  // namespace frugal::rev
