// Magnitude pruning with masked fine-tuning and int8 weight quantization of a trained L2MU.
#include "frugal/lmu/compress.h"

#include <algorithm>
#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/hardwire/quant.h"
#include "frugal/train/metrics.h"
#include "frugal/train/optimizer.h"

namespace frugal::lmu {

using autograd::Var;

std::vector<WeightMatrix> weight_matrices(L2mu& model) {
  std::vector<WeightMatrix> out;
  auto add = [&out](const std::string& name, const Var& v, int64_t rows) {
    if (v.defined()) out.push_back({name, v, rows});
  };
  add("enc.weight", model.enc_weight, model.config.in);
  add("enc1.weight", model.enc1_weight, model.enc1_weight.defined() ? model.enc1_weight.shape()[0] : 0);
  add("enc2.weight", model.enc2_weight, model.enc2_weight.defined() ? model.enc2_weight.shape()[0] : 0);
  const LmuWeights& w = model.weights;
  for (const auto& [name, v] : {std::pair<std::string, Var>{"e_x", w.e_x}, {"e_h", w.e_h}, {"e_m", w.e_m},
                                {"W_x", w.W_x}, {"W_h", w.W_h}, {"W_m", w.W_m}, {"out.weight", model.out_weight}})
    add(name, v, v.defined() ? v.shape()[0] : 0);
  return out;
}

std::vector<PruneMask> magnitude_prune(L2mu& model, double fraction) {
  require(std::isfinite(fraction) && fraction >= 0.0 && fraction < 1.0,
          "l2mu prune: fraction must be in [0, 1), got " + std::to_string(fraction));
  std::vector<PruneMask> masks;
  for (const WeightMatrix& m : weight_matrices(model)) {
    Tensor& w = m.var.value();
    const int64_t n = w.numel(), drop = static_cast<int64_t>(std::llround(fraction * static_cast<double>(n)));
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&w](int64_t a, int64_t b) { return std::fabs(w[a]) < std::fabs(w[b]); });
    PruneMask mask{m.var, std::vector<uint8_t>(static_cast<size_t>(n), 1)};
    for (int64_t k = 0; k < drop; ++k) mask.keep[order[k]] = 0;
    masks.push_back(std::move(mask));
  }
  apply_masks(masks);
  return masks;
}

void apply_masks(const std::vector<PruneMask>& masks) {
  for (const PruneMask& m : masks) {
    Tensor& w = m.var.value();
    require(static_cast<int64_t>(m.keep.size()) == w.numel(), "l2mu prune: mask does not match its weight");
    for (int64_t i = 0; i < w.numel(); ++i)
      if (!m.keep[i]) w[i] = 0.0f;
  }
}

void quantize_int8(L2mu& model) {
  for (const WeightMatrix& m : weight_matrices(model)) {
    Tensor& w = m.var.value();
    const int64_t cols = w.numel() / m.rows;
    for (int64_t r = 0; r < m.rows; ++r) {
      float* row = w.data() + r * cols;
      hardwire::QuantRow q = hardwire::quantize_row(row, static_cast<int>(cols), hardwire::WeightFormat::int8);
      for (int64_t c = 0; c < cols; ++c) row[c] = q.scale * static_cast<float>(q.level[c]);
    }
  }
}

int64_t int8_model_bytes(L2mu& model, bool sparse) {
  int64_t bytes = 0, matrix_elements = 0;
  for (const WeightMatrix& m : weight_matrices(model)) {
    const Tensor& w = m.var.value();
    matrix_elements += w.numel();
    bytes += 4 * m.rows;  // float32 scale per row
    if (!sparse) {
      bytes += w.numel();
      continue;
    }
    int64_t nonzero = 0;
    for (int64_t i = 0; i < w.numel(); ++i) nonzero += w[i] != 0.0f;
    bytes += (w.numel() + 7) / 8 + nonzero;
  }
  int64_t all_elements = 0;
  for (const nn::Param& p : model.parameters()) all_elements += p.var.value().numel();
  return bytes + 4 * (all_elements - matrix_elements);
}

void fine_tune(L2mu& model, const data::Dataset& train, const std::vector<PruneMask>& masks, const FineTuneOptions& opt) {
  require(opt.epochs >= 0 && opt.batch_size > 0 && opt.lr > 0, "l2mu fine_tune: epochs, batch_size and lr must be positive");
  require(train.size() > 0, "l2mu fine_tune: empty training set");
  train::OptimizerConfig oc;
  oc.type = "adam";
  oc.lr = opt.lr;
  train::Optimizer optimizer(model.parameters(), oc);
  Rng rng(opt.seed);
  model.set_training(true);
  for (int e = 0; e < opt.epochs; ++e) {
    const std::vector<int64_t> order = data::shuffled_order(train.size(), rng);
    for (int64_t start = 0; start < train.size(); start += opt.batch_size) {
      const data::Batch b = data::make_batch(train, order, start, std::min<int64_t>(opt.batch_size, train.size() - start));
      optimizer.zero_grad();
      autograd::backward(autograd::softmax_cross_entropy(model.forward(Var(b.x)), b.y));
      optimizer.step(opt.lr);
      apply_masks(masks);
    }
  }
  model.set_training(false);
}

double accuracy(L2mu& model, const data::Dataset& data, int batch_size) {
  require(batch_size > 0 && data.size() > 0, "l2mu accuracy: need a positive batch size and some samples");
  autograd::NoGradGuard no_grad;
  std::vector<int64_t> order(static_cast<size_t>(data.size()));
  for (int64_t i = 0; i < data.size(); ++i) order[i] = i;
  int64_t correct = 0;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const data::Batch b = data::make_batch(data, order, start, std::min<int64_t>(batch_size, data.size() - start));
    const std::vector<int> pred = train::argmax_rows(model.forward(Var(b.x)).value());
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == b.y[i];
  }
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

}  // namespace frugal::lmu
