#include "frugal/snn/readouts.h"

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"

namespace frugal::snn {

using autograd::Var;

Readout parse_readout(const std::string& name) {
  if (name == "spike_count") return Readout::spike_count;
  if (name == "membrane_mean") return Readout::membrane_mean;
  if (name == "membrane_max") return Readout::membrane_max;
  if (name == "membrane_last") return Readout::membrane_last;
  throw Error("readout: unknown '" + name + "', expected spike_count, membrane_mean, membrane_max or membrane_last");
}

Var readout(const Var& seq, Readout how) {
  require(seq.defined() && seq.value().rank() >= 2 && seq.shape()[0] >= 1,
          "readout: input must be [T, batch, ...] with T >= 1, got " +
              (seq.defined() ? shape_str(seq.shape()) : std::string("undefined")));
  const int64_t steps = seq.shape()[0], n = seq.value().numel() / steps;
  const Shape out_shape(seq.shape().begin() + 1, seq.shape().end());
  const float* src = seq.value().data();
  Tensor out = Tensor::empty(out_shape);
  switch (how) {
    case Readout::spike_count:
    case Readout::membrane_mean: {
      const float scale = how == Readout::membrane_mean ? 1.0f / static_cast<float>(steps) : 1.0f;
      for (int64_t i = 0; i < n; ++i) {
        float s = 0.0f;
        for (int64_t t = 0; t < steps; ++t) s += src[t * n + i];
        out[i] = s * scale;
      }
      return autograd::record(out, {seq}, [seq, steps, n, scale](const Tensor& diff_dst) {
        Tensor diff_src = Tensor::empty(seq.shape());
        for (int64_t t = 0; t < steps; ++t)
          for (int64_t i = 0; i < n; ++i) diff_src[t * n + i] = diff_dst[i] * scale;
        seq.add_grad(diff_src);
      });
    }
    case Readout::membrane_max: {
      std::vector<int64_t> arg(n, 0);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t t = 1; t < steps; ++t)
          if (src[t * n + i] > src[arg[i] * n + i]) arg[i] = t;
        out[i] = src[arg[i] * n + i];
      }
      return autograd::record(out, {seq}, [seq, arg, n](const Tensor& diff_dst) {
        Tensor diff_src(seq.shape());
        for (int64_t i = 0; i < n; ++i) diff_src[arg[i] * n + i] = diff_dst[i];
        seq.add_grad(diff_src);
      });
    }
    case Readout::membrane_last: {
      for (int64_t i = 0; i < n; ++i) out[i] = src[(steps - 1) * n + i];
      return autograd::record(out, {seq}, [seq, steps, n](const Tensor& diff_dst) {
        Tensor diff_src(seq.shape());
        for (int64_t i = 0; i < n; ++i) diff_src[(steps - 1) * n + i] = diff_dst[i];
        seq.add_grad(diff_src);
      });
    }
  }
  throw Error("readout: unknown readout");
}

namespace {
void check_logits_seq(const Var& seq, const char* loss) {
  require(seq.defined() && seq.value().rank() == 3,
          std::string(loss) + ": expected [T, batch, classes], got " +
              (seq.defined() ? shape_str(seq.shape()) : std::string("undefined")));
}
}  // namespace

Var ce_count_loss(const Var& spikes, const std::vector<int>& labels) {
  check_logits_seq(spikes, "ce_count_loss");
  return autograd::softmax_cross_entropy(readout(spikes, Readout::spike_count), labels);
}

Var ce_membrane_loss(const Var& membranes, const std::vector<int>& labels, Readout how) {
  check_logits_seq(membranes, "ce_membrane_loss");
  return autograd::softmax_cross_entropy(readout(membranes, how), labels);
}

Var mse_count_loss(const Var& spikes, const std::vector<int>& labels, float correct_rate, float incorrect_rate) {
  check_logits_seq(spikes, "mse_count_loss");
  const int64_t steps = spikes.shape()[0], batch = spikes.shape()[1], classes = spikes.shape()[2];
  require(static_cast<int64_t>(labels.size()) == batch,
          "mse_count_loss: " + std::to_string(labels.size()) + " labels for batch " + std::to_string(batch));
  // int() truncation, as snnTorch computes the target counts.
  const float on = static_cast<float>(static_cast<int64_t>(static_cast<float>(steps) * correct_rate));
  const float off = static_cast<float>(static_cast<int64_t>(static_cast<float>(steps) * incorrect_rate));
  Tensor target = Tensor::full({batch, classes}, off);
  for (int64_t b = 0; b < batch; ++b) {
    require(labels[b] >= 0 && labels[b] < classes,
            "mse_count_loss: label " + std::to_string(labels[b]) + " outside [0, " + std::to_string(classes) + ")");
    target[b * classes + labels[b]] = on;
  }
  // snnTorch divides the MSE by T.
  return autograd::scale(autograd::mse(readout(spikes, Readout::spike_count), target), 1.0f / static_cast<float>(steps));
}

}  // namespace frugal::snn
