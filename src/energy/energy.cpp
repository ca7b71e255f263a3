#include "frugal/energy/energy.h"

#include <cstdio>

#include "frugal/autograd/tape.h"
#include "frugal/core/error.h"
#include "frugal/nn/layers.h"
#include "frugal/snn/layers.h"

namespace frugal::energy {

namespace {

// True when x holds only zeros and one other value (binary or graded spikes): a synaptic layer
// fed such input only needs to add the weights of the nonzero inputs.
bool is_spiking(const Tensor& x) {
  float spike = 0.0f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (x[i] == 0.0f) continue;
    if (spike == 0.0f) spike = x[i];
    if (x[i] != spike) return false;
  }
  return true;
}

// Per kernel axis: how many kernel taps place input coordinate i inside the output.
std::vector<int64_t> taps(int64_t size, int64_t kernel, int64_t stride, int64_t pad, int64_t out) {
  std::vector<int64_t> count(static_cast<size_t>(size), 0);
  for (int64_t i = 0; i < size; ++i)
    for (int64_t k = 0; k < kernel; ++k) {
      int64_t t = i + pad - k;
      if (t >= 0 && t % stride == 0 && t / stride < out) ++count[i];
    }
  return count;
}

void add_step(std::vector<double>& v, size_t t, double value) {
  if (v.size() <= t) v.resize(t + 1, 0.0);
  v[t] += value;
}

// Counts of one synaptic layer: `fanout(i)` is the number of outputs input element i (within one
// step's slice of `per_step` elements) reaches, `weights` the layer's parameter count.
template <typename Fanout>
void count_synaptic(LayerCount& c, const Tensor& x, const Tensor& y, bool seq, int64_t weights, int64_t slice,
                    Fanout fanout) {
  const bool spikes = is_spiking(x);
  c.spiking_input = spikes;
  const int64_t steps = seq ? x.dim(0) : 1, per_step = x.numel() / steps;
  double total = 0;
  for (int64_t t = 0; t < steps; ++t) {
    double ops = 0;
    for (int64_t i = 0; i < per_step; ++i)
      if (!spikes || x[t * per_step + i] != 0.0f) ops += static_cast<double>(fanout(i % slice));
    if (seq) add_step(c.ops_per_step, static_cast<size_t>(t), ops);
    total += ops;
  }
  const double rows = static_cast<double>(x.numel() / slice);  // samples times steps
  if (spikes) {
    c.sops += total;
    // One weight fetch per synaptic event, spikes read as bits, outputs written as floats.
    c.bytes += 4.0 * total + static_cast<double>(x.numel()) / 8.0 + 4.0 * static_cast<double>(y.numel());
  } else {
    c.macs += total;
    // Every weight read once per sample and step (no reuse across a batch: the streaming case).
    c.bytes += 4.0 * (static_cast<double>(weights) * rows + static_cast<double>(x.numel() + y.numel()));
  }
}

// rate_per_step collects spike totals here and `slots` the neuron-steps they are out of.
void count_neurons(LayerCount& c, std::vector<double>& slots, const Tensor& y, bool spikes_out) {
  c.bytes += 8.0 * static_cast<double>(y.numel());  // read and write the membrane state
  if (!spikes_out) return;
  const int64_t steps = y.dim(0), per_step = y.numel() / steps;
  for (int64_t t = 0; t < steps; ++t) {
    int64_t nz = 0;
    for (int64_t i = 0; i < per_step; ++i) nz += y[t * per_step + i] != 0.0f;
    add_step(c.rate_per_step, static_cast<size_t>(t), static_cast<double>(nz));
    add_step(slots, static_cast<size_t>(t), static_cast<double>(per_step));
  }
}

}  // namespace

EnergyCounter::EnergyCounter(nn::Module& model, const EnergyModel& em) : model_(model), em_(em) {
  auto* seq = dynamic_cast<nn::Sequential*>(&model_);
  const size_t n = seq ? seq->layers.size() : 1;
  sums_.resize(n);
  slots_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sums_[i].type = seq ? seq->layers[i]->type() : model_.type();
    sums_[i].name = std::to_string(i) + ":" + sums_[i].type;
  }
}

Tensor EnergyCounter::add_batch(const Tensor& x) {
  require(x.rank() >= 1 && x.dim(0) > 0, "energy: empty batch");
  autograd::NoGradGuard no_grad;
  model_.set_training(false);
  model_.reset_state();
  const int64_t batch = x.dim(0);
  samples_ += batch;
  auto* seq_model = dynamic_cast<nn::Sequential*>(&model_);
  if (!seq_model) {
    Tensor y = model_.forward(autograd::Var(x)).value();
    sums_[0].bytes += 4.0 * static_cast<double>(x.numel() + y.numel());
    model_.set_training(true);
    return y;
  }
  autograd::Var h(x);
  bool seq = false;  // h is a [T, N, ...] sequence
  for (size_t li = 0; li < seq_model->layers.size(); ++li) {
    nn::Module* layer = seq_model->layers[li].get();
    LayerCount& c = sums_[li];
    autograd::Var out = layer->forward(h);
    const Tensor& xv = h.value();
    const Tensor& yv = out.value();
    if (auto* lin = dynamic_cast<nn::Linear*>(layer)) {
      const int64_t outs = lin->out_features, w = static_cast<int64_t>(lin->in_features) * outs + (lin->bias.defined() ? outs : 0);
      count_synaptic(c, xv, yv, seq, w, lin->in_features, [outs](int64_t) { return outs; });
    } else if (auto* conv = dynamic_cast<nn::Conv2d*>(layer)) {
      const int64_t ch = xv.dim(-3), hh = xv.dim(-2), ww = xv.dim(-1);
      const int64_t oh = yv.dim(-2), ow = yv.dim(-1), og = conv->out_channels / conv->groups;
      std::vector<int64_t> ty = taps(hh, conv->kernel, conv->stride, conv->pad, oh);
      std::vector<int64_t> tx = taps(ww, conv->kernel, conv->stride, conv->pad, ow);
      const int64_t w = conv->weight.value().numel() + (conv->bias.defined() ? conv->out_channels : 0);
      count_synaptic(c, xv, yv, seq, w, ch * hh * ww, [&](int64_t i) {
        return og * ty[static_cast<size_t>((i / ww) % hh)] * tx[static_cast<size_t>(i % ww)];
      });
    } else if (auto* neurons = dynamic_cast<snn::NeuronLayer*>(layer)) {
      count_neurons(c, slots_[li], yv, !neurons->settings().output_membrane);
    } else if (auto* rec = dynamic_cast<snn::RecurrentLif*>(layer)) {
      count_neurons(c, slots_[li], yv, rec->spec()["output"] == "spikes");
      // Spikes of step t reach every neuron at step t+1 through the recurrent weights.
      const int64_t steps = yv.dim(0), per_step = yv.numel() / steps;
      for (int64_t t = 0; t + 1 < steps; ++t) {
        int64_t nz = 0;
        for (int64_t i = 0; i < per_step; ++i) nz += yv[t * per_step + i] != 0.0f;
        c.sops += static_cast<double>(nz) * rec->features;
        add_step(c.ops_per_step, static_cast<size_t>(t + 1), static_cast<double>(nz) * rec->features);
      }
      c.spiking_input = true;
    } else {
      c.bytes += 4.0 * static_cast<double>(xv.numel() + yv.numel());
    }
    if (dynamic_cast<snn::Encoder*>(layer)) seq = true;
    if (dynamic_cast<snn::ReadoutLayer*>(layer)) seq = false;
    h = out;
  }
  model_.set_training(true);
  return h.value();
}

EnergyReport EnergyCounter::report() const {
  EnergyReport r;
  r.model = em_;
  r.samples = samples_;
  const double per = samples_ > 0 ? 1.0 / static_cast<double>(samples_) : 0.0;
  for (const LayerCount& s : sums_) {
    LayerCount c = s;
    c.macs *= per;
    c.sops *= per;
    c.bytes *= per;
    for (double& v : c.ops_per_step) v *= per;
    if (!c.rate_per_step.empty()) {
      const std::vector<double>& slots = slots_[&s - sums_.data()];
      double spikes = 0, total = 0;
      for (size_t t = 0; t < c.rate_per_step.size(); ++t) {
        spikes += c.rate_per_step[t];
        total += slots[t];
        c.rate_per_step[t] = slots[t] > 0 ? c.rate_per_step[t] / slots[t] : 0.0;
      }
      c.firing_rate = total > 0 ? spikes / total : 0.0;
    }
    c.energy_pj = c.macs * em_.pj_per_mac + c.sops * em_.pj_per_ac;
    r.macs += c.macs;
    r.sops += c.sops;
    r.bytes += c.bytes;
    r.energy_pj += c.energy_pj;
    r.layers.push_back(std::move(c));
  }
  return r;
}

nn::Json to_json(const EnergyReport& r) {
  nn::Json layers = nn::Json::array();
  for (const LayerCount& c : r.layers) {
    nn::Json l = {{"name", c.name}, {"type", c.type}, {"macs", c.macs}, {"sops", c.sops},
                  {"bytes", c.bytes}, {"energy_pj", c.energy_pj}};
    if (c.macs > 0 || c.sops > 0) l["spiking_input"] = c.spiking_input;
    if (c.firing_rate >= 0) {
      l["firing_rate"] = c.firing_rate;
      l["firing_rate_per_step"] = c.rate_per_step;
    }
    if (!c.ops_per_step.empty()) l["ops_per_step"] = c.ops_per_step;
    layers.push_back(l);
  }
  return {{"per_sample", true},
          {"samples", r.samples},
          {"pj_per_mac", r.model.pj_per_mac},
          {"pj_per_ac", r.model.pj_per_ac},
          {"macs", r.macs},
          {"sops", r.sops},
          {"bytes", r.bytes},
          {"energy_pj", r.energy_pj},
          {"energy_uj", r.energy_pj * 1e-6},
          {"layers", layers}};
}

std::string format_table(const EnergyReport& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %12s %12s %8s %12s %12s\n", "layer", "MACs", "SOPs", "rate", "bytes",
                "energy nJ");
  out += line;
  for (const LayerCount& c : r.layers) {
    char rate[16] = "-";
    if (c.firing_rate >= 0) std::snprintf(rate, sizeof rate, "%.4f", c.firing_rate);
    std::snprintf(line, sizeof line, "%-16s %12.0f %12.0f %8s %12.0f %12.3f\n", c.name.c_str(), c.macs, c.sops, rate,
                  c.bytes, c.energy_pj * 1e-3);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-16s %12.0f %12.0f %8s %12.0f %12.3f\n", "total/sample", r.macs, r.sops, "",
                r.bytes, r.energy_pj * 1e-3);
  out += line;
  std::snprintf(line, sizeof line, "(%lld samples; %.2f pJ/MAC, %.2f pJ/accumulate)", static_cast<long long>(r.samples),
                r.model.pj_per_mac, r.model.pj_per_ac);
  out += line;
  return out;
}

}  // namespace frugal::energy
