// LIF over a sequence (snnTorch 0.9 `Leaky`, reset_delay=True): the op around kernels::lif_*.
#include <cmath>

#include "frugal/autograd/tape.h"
#include "frugal/core/error.h"
#include "neuron_op.h"

namespace frugal::snn {

using autograd::Var;

Reset parse_reset(const std::string& name) {
  if (name == "subtract") return Reset::subtract;
  if (name == "zero") return Reset::zero;
  if (name == "none") return Reset::none;
  throw Error("reset: unknown mechanism '" + name + "', expected subtract, zero or none");
}

std::string reset_name(Reset reset) {
  switch (reset) {
    case Reset::subtract: return "subtract";
    case Reset::zero: return "zero";
    case Reset::none: return "none";
  }
  return "";
}

void check_neuron_params(float beta, float threshold, const std::string& where) {
  require(std::isfinite(beta) && beta >= 0.0f && beta <= 1.0f,
          where + ": beta must be in [0, 1], got " + std::to_string(beta));
  require(std::isfinite(threshold) && threshold > 0.0f,
          where + ": threshold must be positive, got " + std::to_string(threshold));
}

NeuronOutput lif(const Var& x, const Var& beta, const Var& threshold, const NeuronOptions& opt) {
  const int64_t n = detail::check_sequence(x, "lif");
  require(std::isfinite(opt.amplitude) && std::isfinite(opt.init_frac), "lif: amplitude and init_frac must be finite");
  Tensor beta_n = detail::expand_param(beta, x, true, "lif beta");
  Tensor thr_n = detail::expand_param(threshold, x, false, "lif threshold");
  kernels::LifArgs args;
  args.steps = x.shape()[0];
  args.n = n;
  args.init_frac = opt.init_frac;
  args.amplitude = opt.amplitude;
  args.reset = opt.reset;
  args.surrogate = opt.surrogate;
  args.beta = beta_n.data();
  args.threshold = thr_n.data();
  Tensor spikes = Tensor::empty(x.shape());
  // Backward is the only reader of the membranes: inference (no tape) stores them only when asked.
  const bool keep_mem = opt.membranes || (autograd::grad_enabled() && (x.requires_grad() || beta.requires_grad() ||
                                                                        threshold.requires_grad()));
  Tensor mem = keep_mem ? Tensor::empty(x.shape()) : Tensor();
  kernels::lif_forward(args, x.value().data(), spikes.data(), keep_mem ? mem.data() : nullptr);

  auto bptt = [x, beta, threshold, beta_n, thr_n, mem, args](const Tensor* diff_spikes, const Tensor* diff_mem) {
    kernels::LifArgs a = args;
    a.beta = beta_n.data();
    a.threshold = thr_n.data();
    Tensor diff_src = Tensor::empty(x.shape());
    Tensor diff_beta = beta.requires_grad() ? Tensor::empty({a.n}) : Tensor();
    Tensor diff_thr = threshold.requires_grad() ? Tensor::empty({a.n}) : Tensor();
    kernels::LifGrads g;
    g.diff_src = diff_src.data();
    g.diff_beta = diff_beta.defined() ? diff_beta.data() : nullptr;
    g.diff_threshold = diff_thr.defined() ? diff_thr.data() : nullptr;
    kernels::lif_backward(a, mem.data(), diff_spikes ? diff_spikes->data() : nullptr,
                          diff_mem ? diff_mem->data() : nullptr, g);
    if (x.requires_grad()) x.add_grad(diff_src);
    if (diff_beta.defined()) detail::add_param_grad(beta, diff_beta, true);
    if (diff_thr.defined()) detail::add_param_grad(threshold, diff_thr, false);
  };
  return detail::record_neuron(spikes, mem, opt.membranes, {x, beta, threshold}, bptt);
}

}  // namespace frugal::snn
