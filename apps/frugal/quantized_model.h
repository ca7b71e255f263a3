// What `frugal hardwire` and `frugal eval --quantize` share: a saved model turned into the
// hardwire FloatNet, quantized post-training with activation scales calibrated on the first
// training samples of the model's dataset, and the accuracies of its float and integer-exact
// reference inference on a test set.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/data/dataset.h"
#include "frugal/hardwire/quant.h"
#include "frugal/nn/model_file.h"

namespace frugal::cli {

struct QuantizedModel {
  hardwire::FloatNet float_net;
  hardwire::QuantNet net;
  std::string dataset, data_dir;  // from the model's config unless overridden
};

// Throws Error naming the layer for a model the hardwire flow cannot take.
QuantizedModel quantize_saved_model(const nn::SavedModel& saved, hardwire::WeightFormat format,
                                    const std::string& dataset, const std::string& data_dir,
                                    int64_t calibration_samples);

// Sample i of a dataset as a flat vector.
std::vector<float> sample(const data::Dataset& d, int64_t i);

struct QuantizedAccuracy {
  double float_accuracy = 0, reference_accuracy = 0;
  int64_t samples = 0;
  double seconds = 0;  // the integer reference's inference time
};
QuantizedAccuracy quantized_accuracy(const QuantizedModel& q, const data::Dataset& test);

}  // namespace frugal::cli
