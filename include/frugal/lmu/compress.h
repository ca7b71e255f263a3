// Compression of a trained L2MU for edge CPUs (issue 6, "int8 + pruned L2MU"): magnitude pruning
// of its weight matrices with masked fine-tuning (Han et al., "Learning both Weights and
// Connections", 2015: drop the smallest |w| of each matrix, retrain the rest with the dropped ones
// held at zero) and post-training int8 weight quantization (symmetric, one scale per output row,
// the int8 format of hardwire/quant.h). Quantization is applied in place as the dequantized values
// scale * level, so the float forward pass computes exactly what an int8-weight runtime computes
// before its accumulator rounding; neuron states and activations (spikes) stay as they are.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/data/dataset.h"
#include "frugal/lmu/l2mu.h"

namespace frugal::lmu {

// The weight matrices compression acts on: e_x, e_h, e_m, W_x, W_h, W_m, the output layer's weight
// and the encoder's weights, each with its number of output rows (the single encoder's
// per-channel weight [F*P] has F rows of P). Biases and neuron parameters are not matrices.
struct WeightMatrix {
  std::string name;
  autograd::Var var;
  int64_t rows = 0;
};
std::vector<WeightMatrix> weight_matrices(L2mu& model);

// Which elements of each matrix survive pruning (1) or are held at zero (0).
struct PruneMask {
  autograd::Var var;
  std::vector<uint8_t> keep;
};

// Zeroes the round(fraction * size) smallest-magnitude elements of every weight matrix (ties
// broken by index) and returns the masks; fraction in [0, 1).
std::vector<PruneMask> magnitude_prune(L2mu& model, double fraction);
// Sets the masked-out elements back to zero (after each optimizer step of fine-tuning).
void apply_masks(const std::vector<PruneMask>& masks);

// Replaces every weight matrix by its per-row symmetric int8 quantization (levels in [-127, 127],
// scale = max |w| / 127), dequantized. Zeros stay zero, so pruning survives.
void quantize_int8(L2mu& model);

// Bytes of the model in a deployable layout: per weight matrix int8 values and one float32 scale
// per row, or, when `sparse`, a bit per element marking the nonzeros plus the nonzero int8 values;
// every other parameter (biases, learned neuron parameters) as float32.
int64_t int8_model_bytes(L2mu& model, bool sparse);

// Masked fine-tuning after pruning: Adam on cross-entropy over the model's output, `epochs` passes
// over `train` in shuffled batches, masks re-applied after every step.
struct FineTuneOptions {
  int epochs = 10;
  int batch_size = 8;
  double lr = 1e-3;
  uint64_t seed = 42;
};
void fine_tune(L2mu& model, const data::Dataset& train, const std::vector<PruneMask>& masks, const FineTuneOptions& opt);

// Fraction of `data` the model classifies correctly (argmax of its output).
double accuracy(L2mu& model, const data::Dataset& data, int batch_size);

}  // namespace frugal::lmu
