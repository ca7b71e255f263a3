#include "frugal/snn/spike_record.h"

#include "frugal/autograd/tape.h"
#include "frugal/core/error.h"
#include "frugal/nn/layers.h"
#include "frugal/snn/layers.h"

namespace frugal::snn {

namespace {

// Step-major values of sample 0 from a [T, N, ...] sequence.
std::vector<float> first_sample(const Tensor& seq) {
  const int64_t steps = seq.dim(0), batch = seq.dim(1), per = seq.numel() / (steps * batch);
  std::vector<float> out(static_cast<size_t>(steps * per));
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t i = 0; i < per; ++i) out[static_cast<size_t>(t * per + i)] = seq[t * batch * per + i];
  return out;
}

LayerTrace make_trace(const std::string& name, const Tensor& spikes, const Tensor& threshold) {
  require(spikes.rank() >= 3, name + ": a spiking layer's output must be [T, N, ...], got " + shape_str(spikes.shape()));
  LayerTrace tr;
  tr.name = name;
  tr.steps = spikes.dim(0);
  tr.neurons = spikes.numel() / (spikes.dim(0) * spikes.dim(1));
  tr.spikes = first_sample(spikes);
  tr.threshold.assign(threshold.data(), threshold.data() + threshold.numel());
  return tr;
}

}  // namespace

std::vector<LayerTrace> record_traces(nn::Module& model, const Tensor& x) {
  auto* seq = dynamic_cast<nn::Sequential*>(&model);
  require(seq != nullptr, "spike traces: the model is a '" + model.type() + "', expected a sequential net");
  require(x.rank() >= 1 && x.dim(0) >= 1, "spike traces: empty batch");
  autograd::NoGradGuard no_grad;
  model.set_training(false);
  model.reset_state();
  std::vector<LayerTrace> traces;
  autograd::Var h(x);
  for (size_t li = 0; li < seq->layers.size(); ++li) {
    nn::Module* layer = seq->layers[li].get();
    const std::string name = std::to_string(li) + ":" + layer->type();
    if (auto* neurons = dynamic_cast<NeuronLayer*>(layer)) {
      NeuronOutput out = neurons->run(h, true);
      LayerTrace tr = make_trace(name, out.spikes.value(), neurons->threshold.value());
      tr.membranes = first_sample(out.membranes.value());
      traces.push_back(std::move(tr));
      h = neurons->settings().output_membrane ? out.membranes : out.spikes;
      continue;
    }
    h = layer->forward(h);
    auto* rec = dynamic_cast<RecurrentLif*>(layer);
    if (rec && rec->spec()["output"] == "spikes") traces.push_back(make_trace(name, h.value(), rec->threshold.value()));
  }
  model.set_training(true);
  return traces;
}

}  // namespace frugal::snn
