// The network an ANN-to-SNN conversion works on: an imported ONNX CNN rewritten so that it can
// run either as the ANN (for calibration) or as a spiking net (convert/simulate.h). Rewrites, after
// Bu et al., "Inference-scale complexity in ANN-SNN conversion for high-performance and low-power
// applications" (CVPR 2025) and Rueckauer et al., Front. Neurosci. 2017:
//  - BatchNormalization is folded into the Conv or Gemm before it (exact);
//  - every ReLU or Clip(0, hi) call site becomes its own neuron site with its own IF state;
//  - MaxPool after a neuron site moves before it (max and ReLU commute, so the ANN is unchanged
//    and the spiking net pools analog currents instead of spikes);
//  - the layer that produces the graph output stays analog (no neuron after it);
//  - the integer Shape/Gather/Unsqueeze/Concat chains PyTorch emits for x.view(x.size(0), -1) are
//    resolved once into a per-sample target shape.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "frugal/core/tensor.h"
#include "frugal/io/onnx.h"

namespace frugal::convert {

enum class LayerKind { Conv, Linear, Neuron, MaxPool, AvgPool, GlobalAvgPool, Reshape, Add, Concat, Pad };

const char* layer_kind_name(LayerKind k);

struct Layer {
  LayerKind kind = LayerKind::Conv;
  std::string name;         // the ONNX node it came from
  std::vector<int> inputs;  // value ids; value 0 is the network input
  int output = -1;
  Tensor weight, bias;  // Conv: OIHW and [O]; Linear: [out, in] and [out] (zeros when the file had none)
  int kernel = 0, stride = 1, pad = 0, groups = 1;         // Conv (kernel from the weight) and pooling
  int axis = 1;                                            // Concat, over [N, ...] tensors (never the batch axis)
  std::vector<int64_t> pads;                               // Pad: top, left, bottom, right
  Shape sample_shape;                                      // Reshape: the target shape of one sample
  float ceiling = std::numeric_limits<float>::infinity();  // Neuron: Clip's max (6 for ReLU6)
  int site = -1;                                           // Neuron: index of its threshold vector
};

struct SpikingNet {
  std::string path;
  Shape sample_shape;  // one input sample, e.g. [1, 28, 28]
  int num_values = 1;
  int output = 0;             // value id of the logits
  int num_sites = 0;          // neuron sites (ReLU / Clip call sites)
  std::vector<Layer> layers;  // topological order
};

// Rewrites a graph read by io::read_onnx. The graph's input must have a fixed shape after the
// batch axis. Errors name the file, the node and the op: an op outside the list in
// nn/onnx_graph.h, a Clip whose min is not 0, a BatchNormalization that follows neither a Conv
// nor a Gemm and is not 4-D, weights that are not initializers.
SpikingNet rewrite_onnx(const io::OnnxGraph& graph);

// Called at each neuron site in an ANN forward pass with its pre-activation x [N, C, ...]; may
// lower `ceiling` (one bound per channel, starting at the site's Clip max), at which the
// activation min(max(x, 0), ceiling_c) is then clipped.
using NeuronHook = std::function<void(int site, const Tensor& x, std::vector<float>& ceiling)>;

// Multiply-accumulates of one sample through the ANN (convolutions and fully connected layers).
struct AnnCount {
  double macs = 0;
};

// The rewritten net as an ANN on a batch [N, sample_shape...]: returns the logits.
Tensor forward_ann(const SpikingNet& net, const Tensor& x, const NeuronHook& hook = {}, AnnCount* count = nullptr);

// One layer other than a neuron, on the values it reads (indexed by value id).
Tensor apply_layer(const Layer& l, const std::vector<Tensor>& values);

}  // namespace frugal::convert
