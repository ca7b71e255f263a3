// Current-based LIF over a sequence (snnTorch 0.9 `Synaptic`, reset_delay=True): the op around
// kernels::cuba_lif_*. The synaptic currents are kept for backward only.
#include <cmath>

#include "frugal/core/error.h"
#include "neuron_op.h"

namespace frugal::snn {

using autograd::Var;

NeuronOutput cuba_lif(const Var& x, const Var& alpha, const Var& beta, const Var& threshold,
                      const NeuronOptions& opt) {
  const int64_t n = detail::check_sequence(x, "cuba_lif");
  require(std::isfinite(opt.amplitude) && std::isfinite(opt.init_frac),
          "cuba_lif: amplitude and init_frac must be finite");
  Tensor alpha_n = detail::expand_param(alpha, x, true, "cuba_lif alpha");
  Tensor beta_n = detail::expand_param(beta, x, true, "cuba_lif beta");
  Tensor thr_n = detail::expand_param(threshold, x, false, "cuba_lif threshold");
  kernels::LifArgs args;
  args.steps = x.shape()[0];
  args.n = n;
  args.init_frac = opt.init_frac;
  args.amplitude = opt.amplitude;
  args.reset = opt.reset;
  args.surrogate = opt.surrogate;
  args.alpha = alpha_n.data();
  args.beta = beta_n.data();
  args.threshold = thr_n.data();
  Tensor spikes = Tensor::empty(x.shape());
  Tensor syn = Tensor::empty(x.shape());
  Tensor mem = Tensor::empty(x.shape());
  kernels::cuba_lif_forward(args, x.value().data(), spikes.data(), syn.data(), mem.data());

  auto bptt = [x, alpha, beta, threshold, alpha_n, beta_n, thr_n, syn, mem, args](const Tensor* diff_spikes,
                                                                                  const Tensor* diff_mem) {
    kernels::LifArgs a = args;
    a.alpha = alpha_n.data();
    a.beta = beta_n.data();
    a.threshold = thr_n.data();
    Tensor diff_src = Tensor::empty(x.shape());
    Tensor diff_alpha = alpha.requires_grad() ? Tensor::empty({a.n}) : Tensor();
    Tensor diff_beta = beta.requires_grad() ? Tensor::empty({a.n}) : Tensor();
    Tensor diff_thr = threshold.requires_grad() ? Tensor::empty({a.n}) : Tensor();
    kernels::LifGrads g;
    g.diff_src = diff_src.data();
    g.diff_alpha = diff_alpha.defined() ? diff_alpha.data() : nullptr;
    g.diff_beta = diff_beta.defined() ? diff_beta.data() : nullptr;
    g.diff_threshold = diff_thr.defined() ? diff_thr.data() : nullptr;
    kernels::cuba_lif_backward(a, syn.data(), mem.data(), diff_spikes ? diff_spikes->data() : nullptr,
                               diff_mem ? diff_mem->data() : nullptr, g);
    if (x.requires_grad()) x.add_grad(diff_src);
    if (diff_alpha.defined()) detail::add_param_grad(alpha, diff_alpha, true);
    if (diff_beta.defined()) detail::add_param_grad(beta, diff_beta, true);
    if (diff_thr.defined()) detail::add_param_grad(threshold, diff_thr, false);
  };
  return detail::record_neuron(spikes, mem, opt.membranes, {x, alpha, beta, threshold}, bptt);
}

}  // namespace frugal::snn
