// Model tree to FloatNet (see from_module.h).
#include "frugal/hardwire/from_module.h"

#include <algorithm>

#include "frugal/core/error.h"
#include "frugal/nn/layers.h"
#include "frugal/snn/layers.h"

namespace frugal::hardwire {

namespace {

void collect_layers(nn::Module& m, std::vector<nn::Module*>& out) {
  if (auto* seq = dynamic_cast<nn::Sequential*>(&m)) {
    for (nn::ModulePtr& child : seq->layers) collect_layers(*child, out);
    return;
  }
  out.push_back(&m);
}

std::vector<float> values(const nn::Var& v) {
  const Tensor& t = v.value();
  return std::vector<float>(t.data(), t.data() + t.numel());
}

int pooled(int size, int kernel, int stride, int pad) { return (size + 2 * pad - kernel) / stride + 1; }

}  // namespace

FloatNet float_net_from_module(nn::Module& model, const std::vector<int64_t>& sample_shape) {
  require(!sample_shape.empty(), "hardwire: the model's sample shape is empty");
  int64_t numel = 1;
  for (int64_t d : sample_shape) {
    require(d > 0 && d < (int64_t{1} << 24), "hardwire: sample shape has a dimension outside [1, 2^24)");
    numel *= d;
  }
  require(numel < (int64_t{1} << 31), "hardwire: sample has more than 2^31 values");
  std::vector<nn::Module*> layers;
  collect_layers(model, layers);

  FloatNet net;
  net.input_size = static_cast<int>(numel);
  // The running per-sample shape: {features} after a flatten or linear, {C, H, W} before.
  std::vector<int> shape(sample_shape.begin(), sample_shape.end());
  bool timed = false;  // after a direct encoder the tensors carry a leading time axis
  for (size_t i = 0; i < layers.size(); ++i) {
    nn::Module* m = layers[i];
    std::string at = "hardwire: model layer " + std::to_string(i) + " (" + m->type() + ")";
    auto chw = [&] {
      require(shape.size() == 3, at + ": expected a [C, H, W] input, got " + std::to_string(shape.size()) +
                                     " axes (does a flatten come too early?)");
    };
    FloatLayer f;
    if (auto* lin = dynamic_cast<nn::Linear*>(m)) {
      require(shape.size() == 1, at + ": expected a flat input; put a flatten before it");
      require(lin->in_features == shape[0], at + ": in_features " + std::to_string(lin->in_features) +
                                                ", but the previous layer gives " + std::to_string(shape[0]));
      f.kind = LayerKind::linear;
      f.in_features = lin->in_features;
      f.out_features = lin->out_features;
      f.weight = values(lin->weight);
      if (lin->bias.defined()) f.bias = values(lin->bias);
      shape = {lin->out_features};
    } else if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      chw();
      require(conv->in_channels == shape[0], at + ": in_channels " + std::to_string(conv->in_channels) +
                                                 ", but the previous layer gives " + std::to_string(shape[0]));
      f.kind = LayerKind::conv2d;
      f.in_channels = conv->in_channels;
      f.out_channels = conv->out_channels;
      f.kernel = conv->kernel;
      f.stride = conv->stride;
      f.pad = conv->pad;
      f.in_h = shape[1];
      f.in_w = shape[2];
      // Grouped weights [O, I/g, K, K] widen to dense [O, I, K, K] with zeros across groups.
      int g = conv->groups, ig = conv->in_channels / g, og = conv->out_channels / g, kk = conv->kernel * conv->kernel;
      std::vector<float> w = values(conv->weight);
      f.weight.assign(static_cast<size_t>(f.out_channels) * f.in_channels * kk, 0.0f);
      for (int o = 0; o < f.out_channels; ++o)
        for (int c = 0; c < ig; ++c)
          for (int k = 0; k < kk; ++k)
            f.weight[(static_cast<size_t>(o) * f.in_channels + (o / og) * ig + c) * kk + k] =
                w[(static_cast<size_t>(o) * ig + c) * kk + k];
      if (conv->bias.defined()) f.bias = values(conv->bias);
      shape = {f.out_channels, pooled(f.in_h, f.kernel, f.stride, f.pad), pooled(f.in_w, f.kernel, f.stride, f.pad)};
    } else if (dynamic_cast<nn::AvgPool2d*>(m) || dynamic_cast<nn::MaxPool2d*>(m)) {
      chw();
      auto* avg = dynamic_cast<nn::AvgPool2d*>(m);
      auto* max = dynamic_cast<nn::MaxPool2d*>(m);
      f.kernel = avg ? avg->kernel : max->kernel;
      f.stride = avg ? avg->stride : max->stride;
      f.pad = avg ? avg->pad : max->pad;
      f.in_channels = f.out_channels = shape[0];
      f.in_h = shape[1];
      f.in_w = shape[2];
      f.kind = max ? LayerKind::maxpool2d : LayerKind::conv2d;
      if (avg) {  // divides by k^2 whatever the padding, as the avg_pool2d kernel does
        int kk = f.kernel * f.kernel;
        f.weight.assign(static_cast<size_t>(f.in_channels) * f.in_channels * kk, 0.0f);
        for (int c = 0; c < f.in_channels; ++c)
          for (int k = 0; k < kk; ++k)
            f.weight[(static_cast<size_t>(c) * f.in_channels + c) * kk + k] = 1.0f / static_cast<float>(kk);
      }
      shape = {shape[0], pooled(f.in_h, f.kernel, f.stride, f.pad), pooled(f.in_w, f.kernel, f.stride, f.pad)};
    } else if (auto* flat = dynamic_cast<nn::Flatten*>(m)) {
      require(flat->start_axis == (timed ? 2 : 1),
              at + ": only flatten of all of a sample's axes (start_axis 1, or 2 after an encoder) is supported");
      f.kind = LayerKind::flatten;
      int n = 1;
      for (int d : shape) n *= d;
      shape = {n};
    } else if (dynamic_cast<nn::ReLU*>(m)) {
      f.kind = LayerKind::relu;
    } else if (dynamic_cast<nn::Dropout*>(m)) {
      continue;
    } else if (auto* enc = dynamic_cast<snn::Encoder*>(m)) {
      require(enc->code == snn::Encoding::direct, at + ": only the direct encoder can be hardwired");
      f.kind = LayerKind::encoder;
      f.steps = enc->steps;
      timed = true;
    } else if (auto* neuron = dynamic_cast<snn::NeuronLayer*>(m)) {
      const snn::NeuronLayerSpec& s = neuron->settings();
      require(neuron->type() == "lif" && s.reset == snn::Reset::subtract && !s.output_membrane,
              at + " cannot be hardwired: spiking layers must be LIF with reset by subtraction emitting spikes");
      require(neuron->beta.value().numel() == 1 && neuron->threshold.value().numel() == 1,
              at + ": per-neuron beta or threshold cannot be hardwired, only shared ones");
      f.kind = LayerKind::lif;
      f.beta = std::min(1.0f, std::max(0.0f, neuron->beta.value()[0]));  // the neuron clamps beta to [0, 1]
      f.threshold = neuron->threshold.value()[0];
    } else if (auto* readout = dynamic_cast<snn::ReadoutLayer*>(m)) {
      require(readout->how == snn::Readout::spike_count, at + ": only the spike-count readout can be hardwired");
      f.kind = LayerKind::spike_count;
    } else {
      throw Error(at + " cannot be hardwired: supported layers are linear, conv2d, relu, flatten, maxpool2d, "
                       "avgpool2d, dropout, and for spiking nets a direct encoder, lif and a count readout");
    }
    if (f.kind == LayerKind::conv2d || f.kind == LayerKind::maxpool2d)
      require(shape[1] > 0 && shape[2] > 0, at + ": kernel larger than its padded input");
    net.layers.push_back(std::move(f));
  }
  require(!net.layers.empty(), "hardwire: the model has no layers");
  return net;
}

}  // namespace frugal::hardwire
