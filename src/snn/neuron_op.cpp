#include "neuron_op.h"

#include <cmath>
#include <memory>
#include <vector>

#include "frugal/core/error.h"

namespace frugal::snn::detail {

using autograd::Var;

int64_t check_sequence(const Var& x, const std::string& op) {
  require(x.defined() && x.value().rank() >= 2,
          op + ": input must be [T, batch, ...], got " + (x.defined() ? shape_str(x.shape()) : "undefined"));
  require(x.shape()[0] >= 1, op + ": T = 0 time steps in input " + shape_str(x.shape()));
  return x.value().numel() / x.shape()[0];
}

Tensor expand_param(const Var& p, const Var& x, bool clamp01, const std::string& what) {
  require(p.defined(), what + ": parameter is undefined");
  const int64_t n = x.value().numel() / x.shape()[0];
  const int64_t count = p.value().numel();
  bool fits = count == 1;
  int64_t trailing = 1;
  for (int axis = x.value().rank() - 1; axis >= 1 && !fits; --axis) {
    trailing *= x.shape()[axis];
    fits = trailing == count;
  }
  require(fits, what + ": " + std::to_string(count) + " values do not broadcast over input " + shape_str(x.shape()) +
                    " (expected 1 or the product of trailing dimensions)");
  // Checked and clamped once per parameter value, not per neuron: the expansion runs on every forward.
  std::vector<float> values(static_cast<size_t>(count));
  const float* src = p.value().data();
  for (int64_t j = 0; j < count; ++j) {
    float v = src[j];
    if (!std::isfinite(v)) throw Error(what + ": value " + std::to_string(v) + " is not finite");
    if (clamp01) v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    values[static_cast<size_t>(j)] = v;
  }
  Tensor out = Tensor::empty({n});
  float* dst = out.data();
  for (int64_t i = 0; i < n; i += count)
    for (int64_t j = 0; j < count; ++j) dst[i + j] = values[static_cast<size_t>(j)];
  return out;
}

void add_param_grad(const Var& p, const Tensor& elem, bool clamp01) {
  const int64_t count = p.value().numel();
  // Double sums in a fixed order: the result does not depend on the thread count.
  std::vector<double> sum(count, 0.0);
  for (int64_t i = 0; i < elem.numel(); ++i) sum[i % count] += elem[i];
  Tensor diff = Tensor::empty(p.shape());
  for (int64_t j = 0; j < count; ++j) {
    const float v = p.value()[j];
    const bool passes = !clamp01 || (v >= 0.0f && v <= 1.0f);
    diff[j] = passes ? static_cast<float>(sum[j]) : 0.0f;
  }
  p.add_grad(diff);
}

NeuronOutput record_neuron(Tensor spikes, Tensor mem, bool want_mem, const std::vector<Var>& inputs, Bptt bptt) {
  struct Pending {
    Bptt bptt;
    bool done = false;
  };
  auto pending = std::make_shared<Pending>();
  pending->bptt = std::move(bptt);
  NeuronOutput out;
  out.spikes = autograd::record(std::move(spikes), inputs, [pending](const Tensor& diff_spikes) {
    if (pending->done) return;
    pending->done = true;
    pending->bptt(&diff_spikes, nullptr);
  });
  if (want_mem) {
    Var spikes_var = out.spikes;
    out.membranes = autograd::record(std::move(mem), inputs, [pending, spikes_var](const Tensor& diff_mem) {
      pending->done = true;
      const Tensor& diff_spikes = spikes_var.grad();
      pending->bptt(diff_spikes.defined() ? &diff_spikes : nullptr, &diff_mem);
    });
  }
  return out;
}

}  // namespace frugal::snn::detail
