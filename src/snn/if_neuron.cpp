// Integrate-and-fire over a sequence: LIF with beta = 1 and reset by subtraction, as used by
// ANN-to-SNN conversion (threshold balancing; the membrane often starts at half the threshold).
// Because the reset is delayed one step (snnTorch), the spike train equals that of the
// immediate-reset IF of the conversion papers; the reported membrane is the pre-reset one.
#include "frugal/snn/neurons.h"

namespace frugal::snn {

NeuronOutput if_neuron(const autograd::Var& x, const autograd::Var& threshold, const IfOptions& opt) {
  NeuronOptions o;
  o.reset = Reset::subtract;
  o.surrogate = opt.surrogate;
  o.amplitude = opt.amplitude;
  o.init_frac = opt.init_frac;
  o.membranes = opt.membranes;
  return lif(x, autograd::Var(Tensor::full({1}, 1.0f)), threshold, o);
}

}  // namespace frugal::snn
