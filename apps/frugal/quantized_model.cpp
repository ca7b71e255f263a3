#include "quantized_model.h"

#include <chrono>

#include "frugal/core/error.h"
#include "frugal/hardwire/from_module.h"
#include "frugal/train/datasets.h"

namespace frugal::cli {

std::vector<float> sample(const data::Dataset& d, int64_t i) {
  int64_t per = d.inputs.numel() / d.size();
  const float* p = d.inputs.data() + i * per;
  return std::vector<float>(p, p + per);
}

QuantizedModel quantize_saved_model(const nn::SavedModel& saved, hardwire::WeightFormat format,
                                    const std::string& dataset, const std::string& data_dir,
                                    int64_t calibration_samples) {
  QuantizedModel q;
  q.dataset = !dataset.empty() ? dataset : saved.config.value("dataset", std::string("fashion-mnist"));
  q.data_dir = !data_dir.empty() ? data_dir : saved.config.value("data_dir", std::string());
  require(calibration_samples > 0, "hardwire: --calibrate must be at least 1 sample");
  data::Dataset calib = train::load_dataset(q.dataset, q.data_dir, true, calibration_samples);
  require(calib.size() > 0, "hardwire: the training split of " + q.dataset + " is empty");
  Shape shape = calib.inputs.shape();
  q.float_net = hardwire::float_net_from_module(*saved.model, std::vector<int64_t>(shape.begin() + 1, shape.end()));
  std::vector<std::vector<float>> xs;
  for (int64_t i = 0; i < calib.size(); ++i) xs.push_back(sample(calib, i));
  q.net = hardwire::quantize_net(q.float_net, format, xs);
  return q;
}

QuantizedAccuracy quantized_accuracy(const QuantizedModel& q, const data::Dataset& test) {
  QuantizedAccuracy r;
  r.samples = test.size();
  int64_t float_ok = 0, ref_ok = 0;
  double seconds = 0;
  for (int64_t i = 0; i < test.size(); ++i) {
    std::vector<float> x = sample(test, i);
    float_ok += hardwire::argmax(hardwire::float_forward(q.float_net, x)) == test.labels[i];
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> y = hardwire::quant_forward(q.net, hardwire::quantize_input(q.net, x));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ref_ok += hardwire::argmax(y) == test.labels[i];
  }
  if (r.samples > 0) {
    r.float_accuracy = static_cast<double>(float_ok) / static_cast<double>(r.samples);
    r.reference_accuracy = static_cast<double>(ref_ok) / static_cast<double>(r.samples);
  }
  r.seconds = seconds;
  return r;
}

}  // namespace frugal::cli
