#include "frugal/snn/layers.h"

#include <cmath>
#include <cstring>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/nn/builder.h"

namespace frugal::snn {

namespace {

Var param(float value, int neurons, bool learn) {
  return Var(Tensor::full({neurons > 0 ? neurons : 1}, value), learn);
}

// x[t] of a sequence [T, N, ...] as [N, ...]; backward writes into step t of a zero gradient.
Var time_step(const Var& x, int64_t t) {
  const Shape& s = x.shape();
  Shape step(s.begin() + 1, s.end());
  const int64_t n = shape_numel(step);
  Tensor y = Tensor::empty(step);
  std::memcpy(y.data(), x.value().data() + t * n, static_cast<size_t>(n) * sizeof(float));
  return autograd::record(y, {x}, [x, t, n](const Tensor& dy) {
    Tensor dx(x.shape());
    std::memcpy(dx.data() + t * n, dy.data(), static_cast<size_t>(n) * sizeof(float));
    x.add_grad(dx);
  });
}

// [N, ...] -> [T, N, ...] by repetition; the gradient sums over T.
Var repeat_steps(const Var& x, int64_t steps) {
  Tensor y = encode_direct(x.value(), steps);
  const int64_t n = x.value().numel();
  return autograd::record(y, {x}, [x, steps, n](const Tensor& dy) {
    Tensor dx(x.shape());
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t i = 0; i < n; ++i) dx[i] += dy[t * n + i];
    x.add_grad(dx);
  });
}

Json neuron_json(const std::string& kind, const NeuronLayerSpec& s) {
  Json j = {{"type", kind},
            {"threshold", s.threshold},
            {"surrogate", surrogate_name(s.surrogate.kind)},
            {"surrogate_param", s.surrogate.param},
            {"learn_threshold", s.learn_threshold},
            {"neurons", s.neurons},
            {"output", s.output_membrane ? "membrane" : "spikes"}};
  if (kind == "if") {
    j["init_frac"] = s.init_frac;
  } else {
    j["beta"] = s.beta;
    j["learn_beta"] = s.learn_beta;
    j["reset"] = reset_name(s.reset);
  }
  if (kind == "cuba_lif") {
    j["alpha"] = s.alpha;
    j["learn_alpha"] = s.learn_alpha;
  }
  return j;
}

// Reads the keys of a neuron layer; `kind` decides which apply.
NeuronLayerSpec read_neuron_spec(nn::SpecReader& r, const std::string& kind) {
  NeuronLayerSpec s;
  const std::string& w = r.where();
  s.threshold = static_cast<float>(r.get_double("threshold", 1.0));
  if (kind != "if") {
    s.beta = static_cast<float>(r.get_double("beta", 0.9));
    s.learn_beta = r.get_bool("learn_beta", false);
    s.reset = parse_reset(r.get_string("reset", "subtract"));
  } else {
    s.beta = 1.0f;
    s.init_frac = static_cast<float>(r.get_double("init_frac", 0.0));
    require(std::isfinite(s.init_frac), w + ".init_frac: expected a finite number");
  }
  if (kind == "cuba_lif") {
    s.alpha = static_cast<float>(r.get_double("alpha", 0.8));
    s.learn_alpha = r.get_bool("learn_alpha", false);
    require(std::isfinite(s.alpha) && s.alpha >= 0.0f && s.alpha <= 1.0f,
            w + ".alpha: must be in [0, 1], got " + std::to_string(s.alpha));
  }
  check_neuron_params(s.beta, s.threshold, w);
  std::string sg = r.get_string("surrogate", "atan");
  double sp = r.get_double("surrogate_param", NAN);
  s.surrogate = make_surrogate(sg, static_cast<float>(sp));
  s.learn_threshold = r.get_bool("learn_threshold", false);
  s.neurons = r.get_int("neurons", 0);
  require(s.neurons >= 0, w + ".neurons: expected 0 (shared parameters) or the neuron count per sample");
  std::string out = r.get_string("output", "spikes");
  require(out == "spikes" || out == "membrane", w + ".output: expected \"spikes\" or \"membrane\", got \"" + out + "\"");
  s.output_membrane = out == "membrane";
  return s;
}

Encoding parse_encoding(const std::string& name, const std::string& where) {
  if (name == "direct") return Encoding::direct;
  if (name == "rate") return Encoding::rate;
  if (name == "latency") return Encoding::latency;
  if (name == "delta") return Encoding::delta;
  throw Error(where + ".code: unknown encoding '" + name + "', expected direct, rate, latency or delta");
}

const char* encoding_name(Encoding e) {
  switch (e) {
    case Encoding::direct: return "direct";
    case Encoding::rate: return "rate";
    case Encoding::latency: return "latency";
    case Encoding::delta: return "delta";
  }
  return "";
}

}  // namespace

NeuronLayer::NeuronLayer(std::string kind, const NeuronLayerSpec& spec) : kind_(std::move(kind)), s_(spec) {
  require(kind_ == "lif" || kind_ == "cuba_lif" || kind_ == "if", "neuron layer: unknown kind '" + kind_ + "'");
  threshold = param(s_.threshold, s_.neurons, s_.learn_threshold);
  if (kind_ != "if") beta = param(s_.beta, s_.neurons, s_.learn_beta);
  if (kind_ == "cuba_lif") alpha = param(s_.alpha, s_.neurons, s_.learn_alpha);
}

NeuronOutput NeuronLayer::run(const Var& x, bool membranes) const {
  if (kind_ == "if") {
    IfOptions o;
    o.surrogate = s_.surrogate;
    o.init_frac = s_.init_frac;
    o.membranes = membranes || s_.output_membrane;
    return if_neuron(x, threshold, o);
  }
  NeuronOptions o;
  o.reset = s_.reset;
  o.surrogate = s_.surrogate;
  o.membranes = membranes || s_.output_membrane;
  return kind_ == "lif" ? lif(x, beta, threshold, o) : cuba_lif(x, alpha, beta, threshold, o);
}

Var NeuronLayer::forward(const Var& x) {
  NeuronOutput out = run(x, false);
  return s_.output_membrane ? out.membranes : out.spikes;
}

Json NeuronLayer::spec() const { return neuron_json(kind_, s_); }

std::vector<nn::Param> NeuronLayer::parameters() {
  std::vector<nn::Param> p;
  if (beta.defined() && s_.learn_beta) p.push_back({"beta", beta});
  if (alpha.defined() && s_.learn_alpha) p.push_back({"alpha", alpha});
  if (s_.learn_threshold) p.push_back({"threshold", threshold});
  return p;
}

RecurrentLif::RecurrentLif(int features, const NeuronLayerSpec& spec, Rng& rng) : features(features), s_(spec) {
  require(features > 0, "rlif: features must be positive");
  // nn.Linear's default init, as snnTorch's RLeaky builds its recurrent layer.
  const float bound = 1.0f / std::sqrt(static_cast<float>(features));
  Tensor w = Tensor::empty({features, features}), b = Tensor::empty({features});
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.uniform(-bound, bound);
  for (int64_t i = 0; i < b.numel(); ++i) b[i] = rng.uniform(-bound, bound);
  weight = Var(w, true);
  bias = Var(b, true);
  beta = param(s_.beta, 0, false);
  threshold = param(s_.threshold, 0, false);
}

Var RecurrentLif::forward(const Var& x) {
  require(x.defined() && x.value().rank() == 3 && x.shape()[2] == features,
          "rlif: input must be [T, N, " + std::to_string(features) + "], got " +
              (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  const int64_t steps = x.shape()[0], batch = x.shape()[1];
  const float b = std::clamp(s_.beta, 0.0f, 1.0f), thr = s_.threshold;
  NeuronOptions spike_opt;
  spike_opt.surrogate = s_.surrogate;
  spike_opt.membranes = s_.output_membrane;
  Var spikes(Tensor::zeros({batch, features}));
  Var mem(Tensor::zeros({batch, features}));
  std::vector<Var> outs;
  for (int64_t t = 0; t < steps; ++t) {
    // The reset flag is the previous step's spike, detached (snnTorch mem_reset).
    const Tensor reset_flag = spikes.value();
    Var leak;
    if (s_.reset == Reset::zero) {
      Tensor keep = Tensor::empty(reset_flag.shape());
      for (int64_t i = 0; i < keep.numel(); ++i) keep[i] = reset_flag[i] > 0.0f ? 0.0f : b;
      leak = autograd::mul(mem, Var(keep));
    } else {
      leak = autograd::scale(mem, b);
    }
    Var u = autograd::add(autograd::add(leak, time_step(x, t)), autograd::linear(spikes, weight, bias));
    if (s_.reset == Reset::subtract) {
      Tensor sub = Tensor::empty(reset_flag.shape());
      for (int64_t i = 0; i < sub.numel(); ++i) sub[i] = reset_flag[i] > 0.0f ? -thr : 0.0f;
      u = autograd::add(u, Var(sub));
    }
    // A one-step LIF from rest fires H(u - thr) with the layer's surrogate: the spike function.
    NeuronOutput o = lif(autograd::reshape(u, {1, batch, features}), beta, threshold, spike_opt);
    spikes = autograd::reshape(o.spikes, {batch, features});
    mem = u;
    outs.push_back(s_.output_membrane ? o.membranes : o.spikes);
  }
  return autograd::concat(outs, 0);
}

Json RecurrentLif::spec() const {
  return {{"type", "rlif"},          {"features", features},
          {"beta", s_.beta},         {"threshold", s_.threshold},
          {"reset", reset_name(s_.reset)}, {"surrogate", surrogate_name(s_.surrogate.kind)},
          {"surrogate_param", s_.surrogate.param}, {"output", s_.output_membrane ? "membrane" : "spikes"}};
}

std::vector<nn::Param> RecurrentLif::parameters() { return {{"weight", weight}, {"bias", bias}}; }

Encoder::Encoder(Encoding code, int steps, uint64_t seed) : code(code), steps(steps), rng_(seed) {
  require(steps >= 1, "encoder: steps (T) must be at least 1, got " + std::to_string(steps));
}

Var Encoder::forward(const Var& x) {
  switch (code) {
    case Encoding::direct:
      return repeat_steps(x, steps);
    case Encoding::rate:
      return Var(encode_rate(x.value(), steps, rng_, gain));
    case Encoding::latency:
      return Var(encode_latency(x.value(), steps, latency));
    case Encoding::delta: {
      const Tensor& v = x.value();
      require(v.rank() >= 3 && v.dim(1) == steps,
              "encoder delta: expected a batch of series [N, " + std::to_string(steps) + ", ...], got " +
                  shape_str(v.shape()));
      const int64_t n = v.dim(0), inner = v.numel() / (n * steps);
      Shape ts = v.shape();
      std::swap(ts[0], ts[1]);
      Tensor seq = Tensor::empty(ts);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t t = 0; t < steps; ++t)
          std::memcpy(seq.data() + (t * n + i) * inner, v.data() + (i * steps + t) * inner,
                      static_cast<size_t>(inner) * sizeof(float));
      return Var(encode_delta(seq, delta_threshold, false, off_spikes));
    }
  }
  throw Error("encoder: unknown encoding");
}

Json Encoder::spec() const {
  Json j = {{"type", "encoder"}, {"code", encoding_name(code)}, {"steps", steps}};
  if (code == Encoding::rate) j["gain"] = gain;
  if (code == Encoding::delta) {
    j["threshold"] = delta_threshold;
    j["off_spikes"] = off_spikes;
  }
  if (code == Encoding::latency) {
    j["tau"] = latency.tau;
    j["threshold"] = latency.threshold;
    j["linear"] = latency.linear;
    j["normalize"] = latency.normalize;
    j["clip"] = latency.clip;
  }
  return j;
}

Readout parse_readout_mode(const std::string& name) {
  if (name == "count") return Readout::spike_count;
  if (name == "mem_mean") return Readout::membrane_mean;
  if (name == "mem_max") return Readout::membrane_max;
  if (name == "mem_last") return Readout::membrane_last;
  throw Error("readout: unknown mode '" + name + "', expected count, mem_mean, mem_max or mem_last");
}

std::string readout_mode_name(Readout how) {
  switch (how) {
    case Readout::spike_count: return "count";
    case Readout::membrane_mean: return "mem_mean";
    case Readout::membrane_max: return "mem_max";
    case Readout::membrane_last: return "mem_last";
  }
  return "";
}

Json ReadoutLayer::spec() const { return {{"type", "readout"}, {"mode", readout_mode_name(how)}}; }

nn::ModulePtr try_build_snn(const Json& spec, Rng& rng, const std::string& where) {
  nn::SpecReader r(spec, where);
  const std::string type = r.get_string("type");
  nn::ModulePtr m;
  if (type == "lif" || type == "cuba_lif" || type == "if") {
    m = std::make_unique<NeuronLayer>(type, read_neuron_spec(r, type));
  } else if (type == "rlif") {
    int features = r.get_int("features");
    require(features > 0, where + ".features: expected a positive count");
    NeuronLayerSpec s = read_neuron_spec(r, "rlif");
    // Recurrent neurons keep shared, fixed beta and threshold: reject what would be ignored.
    require(!s.learn_beta && !s.learn_threshold && s.neurons == 0,
            where + ": rlif supports only shared, fixed beta and threshold (learn_beta, learn_threshold, neurons)");
    m = std::make_unique<RecurrentLif>(features, s, rng);
  } else if (type == "encoder") {
    Encoding code = parse_encoding(r.get_string("code"), where);
    int steps = r.get_int("steps");
    require(steps >= 1, where + ".steps: T must be at least 1, got " + std::to_string(steps));
    auto e = std::make_unique<Encoder>(code, steps, rng.next_u64());
    if (code == Encoding::rate) {
      e->gain = static_cast<float>(r.get_double("gain", 1.0));
      require(std::isfinite(e->gain), where + ".gain: expected a finite number");
    } else if (code == Encoding::delta) {
      e->delta_threshold = static_cast<float>(r.get_double("threshold", 0.1));
      e->off_spikes = r.get_bool("off_spikes", false);
    } else if (code == Encoding::latency) {
      e->latency.tau = static_cast<float>(r.get_double("tau", 1.0));
      e->latency.threshold = static_cast<float>(r.get_double("threshold", 0.01));
      e->latency.linear = r.get_bool("linear", false);
      e->latency.normalize = r.get_bool("normalize", false);
      e->latency.clip = r.get_bool("clip", false);
    }
    m = std::move(e);
  } else if (type == "readout") {
    m = std::make_unique<ReadoutLayer>(parse_readout_mode(r.get_string("mode", "count")));
  } else {
    return nullptr;
  }
  r.finish();
  return m;
}

void register_layers() { nn::add_module_builder(try_build_snn); }

}  // namespace frugal::snn
