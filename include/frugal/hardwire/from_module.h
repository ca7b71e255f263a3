// Converts a trained frugal model (an nn::Sequential of Linear, Conv2d, ReLU, Flatten, MaxPool2d,
// AvgPool2d and Dropout, possibly nested) into the plain FloatNet that post-training quantization
// reads (quant.h). AvgPool2d becomes a conv2d whose weights are 1/k^2 on its own channel: every
// weight of a row is equal, so it quantizes exactly in every format and the netlist generator
// needs no pooling unit. Dropout is the identity at inference and is dropped. A spiking net
// (direct encoder, LIF with shared beta and threshold and subtract reset, spike-count readout)
// keeps its spiking layers.
#pragma once
#include <cstdint>
#include <vector>

#include "frugal/hardwire/quant.h"
#include "frugal/nn/module.h"

namespace frugal::hardwire {

// sample_shape: one input sample without the batch axis, e.g. {1, 28, 28}. Throws Error naming
// the layer (its index in the flattened layer list and its type) when a layer is not supported or
// its shapes do not follow from the previous layer's output.
FloatNet float_net_from_module(nn::Module& model, const std::vector<int64_t>& sample_shape);

}  // namespace frugal::hardwire
