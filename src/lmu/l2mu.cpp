#include "frugal/lmu/l2mu.h"

#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/lmu/lmu_cell.h"
#include "frugal/snn/neurons.h"
#include "frugal/snn/readouts.h"

namespace frugal::lmu {

using autograd::Var;

namespace {

Population make_population(Unit unit, const PopulationConfig& pc, int64_t size, bool learn_beta, bool learn_thr,
                           const std::string& where) {
  snn::check_neuron_params(pc.beta, pc.threshold, where);
  require(std::isfinite(pc.alpha) && pc.alpha >= 0.0f && pc.alpha <= 1.0f,
          where + ": alpha must be in [0, 1], got " + std::to_string(pc.alpha));
  Population p;
  p.unit = unit;
  const int64_t nb = learn_beta ? size : 1, nt = learn_thr ? size : 1;
  p.beta = Var(Tensor::full({nb}, pc.beta), learn_beta);
  p.threshold = Var(Tensor::full({nt}, pc.threshold), learn_thr);
  if (unit == Unit::cuba_lif) p.alpha = Var(Tensor::full({nb}, pc.alpha), learn_beta);
  return p;
}

// PyTorch's nn.Linear init, as the authors' output and encoder layers use.
Var torch_uniform(Shape shape, int64_t fan_in, Rng& rng) {
  Tensor t = Tensor::empty(std::move(shape));
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-bound, bound);
  return Var(t, true);
}

void add_population(std::vector<nn::Param>& out, const std::string& prefix, const Population& p) {
  if (p.beta.defined() && p.beta.requires_grad()) out.push_back({prefix + ".beta", p.beta});
  if (p.alpha.defined() && p.alpha.requires_grad()) out.push_back({prefix + ".alpha", p.alpha});
  if (p.threshold.defined() && p.threshold.requires_grad()) out.push_back({prefix + ".threshold", p.threshold});
}

}  // namespace

Var channel_expand(const Var& x, const Var& w, const Var& b, int population) {
  require(x.defined() && x.value().rank() == 3, "l2mu encoder: input must be [T, N, channels]");
  const int64_t rows = x.shape()[0] * x.shape()[1], C = x.shape()[2], P = population, CP = C * P;
  require(w.value().numel() == CP && b.value().numel() == CP,
          "l2mu encoder: weight and bias must hold channels x population = " + std::to_string(CP) + " values");
  Tensor y = Tensor::empty({x.shape()[0], x.shape()[1], CP});
  const float* xv = x.value().data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; ++p) y[r * CP + c * P + p] = xv[r * C + c] * w.value()[c * P + p] + b.value()[c * P + p];
  return autograd::record(y, {x, w, b}, [x, w, b, rows, C, P, CP](const Tensor& dy) {
    Tensor dx({rows, C}), dw({CP}), db({CP});
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < P; ++p) {
          const float g = dy[r * CP + c * P + p];
          dx[r * C + c] += g * w.value()[c * P + p];
          dw[c * P + p] += g * x.value()[r * C + c];
          db[c * P + p] += g;
        }
    if (x.requires_grad()) x.add_grad(dx.reshape(x.shape()));
    if (w.requires_grad()) w.add_grad(dw.reshape(w.shape()));
    if (b.requires_grad()) b.add_grad(db.reshape(b.shape()));
  });
}

L2mu::L2mu(const L2muConfig& c, Rng& rng) : config(c) {
  require(c.in > 0 && c.memory_size > 0 && c.order > 0 && c.hidden > 0 && c.out > 0,
          "l2mu: in, memory_size, order, hidden and out must be positive");
  require(c.order <= 1024, "l2mu: order must be at most 1024");
  require(std::isfinite(c.theta) && c.theta > 0, "l2mu: theta must be positive");
  require(c.neuron == "lif" || c.neuron == "cuba_lif", "l2mu: neuron must be lif or cuba_lif, got '" + c.neuron + "'");
  const Unit unit = parse_unit(c.neuron);
  parse_discretizer(c.discretizer);
  snn::parse_reset(c.reset);
  snn::make_surrogate(c.surrogate, c.surrogate_param);
  snn::parse_readout(c.readout);

  const int64_t F = c.in, P = c.encoder_population;
  if (c.encoder == "plain") {
    core_in = c.in;
  } else if (c.encoder == "single" || c.encoder == "stacked") {
    require(P > 0, "l2mu: encoder_population must be positive");
    enc_weight = torch_uniform({F * P}, 1, rng);
    enc_bias = torch_uniform({F * P}, 1, rng);
    enc_pop = make_population(unit, c.pop_enc, F * P, c.learn_beta, c.learn_threshold, "l2mu encoder");
    core_in = static_cast<int>(F * P);
    if (c.encoder == "stacked") {
      const int64_t S = c.encoder_hidden > 0 ? c.encoder_hidden : F * P;
      enc1_weight = torch_uniform({S, F * P}, F * P, rng);
      enc1_bias = torch_uniform({S}, F * P, rng);
      enc2_weight = torch_uniform({S, S}, S, rng);
      enc2_bias = torch_uniform({S}, S, rng);
      enc1_pop = make_population(unit, c.pop_enc, S, c.learn_beta, c.learn_threshold, "l2mu encoder");
      enc2_pop = make_population(unit, c.pop_enc, S, c.learn_beta, c.learn_threshold, "l2mu encoder");
      core_in = static_cast<int>(S);
    }
  } else {
    throw Error("l2mu: unknown encoder '" + c.encoder + "', expected plain, single or stacked");
  }

  const int64_t M = c.memory_size, H = c.hidden, Md = M * c.order;
  weights.e_x = lecun_uniform({M, core_in}, rng);
  weights.e_h = lecun_uniform({M, H}, rng);
  weights.e_m = Var(Tensor({M, Md}), true);
  weights.W_x = xavier_normal({H, core_in}, rng);
  weights.W_h = xavier_normal({H, H}, rng);
  weights.W_m = xavier_normal({H, Md}, rng);
  weights.theta_inv = Var(Tensor({1}, {static_cast<float>(1.0 / c.theta)}), c.trainable_theta);
  u = make_population(unit, c.pop_u, M, c.learn_beta, c.learn_threshold, "l2mu u");
  m = make_population(unit, c.pop_m, Md, c.learn_beta, c.learn_threshold, "l2mu m");
  h = make_population(unit, c.pop_h, H, c.learn_beta, c.learn_threshold, "l2mu h");
  out_weight = torch_uniform({c.out, H}, H, rng);
  out_bias = torch_uniform({c.out}, H, rng);
  out_pop = make_population(unit, c.pop_out, c.out, c.learn_beta, c.learn_threshold, "l2mu out");
}

namespace {
snn::NeuronOutput fire(const Var& x, const Population& p, const snn::NeuronOptions& opt) {
  if (p.unit == Unit::cuba_lif) return snn::cuba_lif(x, p.alpha, p.beta, p.threshold, opt);
  return snn::lif(x, p.beta, p.threshold, opt);
}
}  // namespace

Var L2mu::forward(const Var& x) {
  require(x.defined() && x.value().rank() == 3 && x.shape()[2] == config.in,
          "l2mu: input must be [N, T, " + std::to_string(config.in) + "] (or [T, N, ...] with batch_first = false), got " +
              (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  snn::NeuronOptions nopt;
  nopt.reset = snn::parse_reset(config.reset);
  nopt.surrogate = snn::make_surrogate(config.surrogate, config.surrogate_param);
  Var s_in = config.batch_first ? swap_leading_axes(x) : x;
  if (config.encoder != "plain") {
    s_in = fire(channel_expand(s_in, enc_weight, enc_bias, config.encoder_population), enc_pop, nopt).spikes;
    if (config.encoder == "stacked") {
      s_in = fire(autograd::linear(s_in, enc1_weight, enc1_bias), enc1_pop, nopt).spikes;
      s_in = fire(autograd::linear(s_in, enc2_weight, enc2_bias), enc2_pop, nopt).spikes;
    }
  }
  LmuCoreOptions opt;
  opt.memory_size = config.memory_size;
  opt.order = config.order;
  opt.hidden = config.hidden;
  opt.discretizer = parse_discretizer(config.discretizer);
  opt.transpose_a = config.transpose_a;
  opt.reset = nopt.reset;
  opt.surrogate = nopt.surrogate;
  Var s_h = lmu_sequence(s_in, weights, u, m, h, opt);

  const snn::Readout how = snn::parse_readout(config.readout);
  snn::NeuronOptions oopt = nopt;
  oopt.membranes = how != snn::Readout::spike_count;
  snn::NeuronOutput o = fire(autograd::linear(s_h, out_weight, out_bias), out_pop, oopt);
  last_output_spikes = o.spikes;
  return snn::readout(how == snn::Readout::spike_count ? o.spikes : o.membranes, how);
}

nn::Json L2mu::spec() const {
  const L2muConfig& c = config;
  auto pop = [](const PopulationConfig& p) { return nn::Json{{"beta", p.beta}, {"alpha", p.alpha}, {"threshold", p.threshold}}; };
  return {{"type", "l2mu"},
          {"in", c.in},
          {"memory_size", c.memory_size},
          {"order", c.order},
          {"theta", c.theta},
          {"hidden", c.hidden},
          {"out", c.out},
          {"neuron", c.neuron},
          {"encoder", c.encoder},
          {"encoder_population", c.encoder_population},
          {"encoder_hidden", c.encoder_hidden},
          {"u", pop(c.pop_u)},
          {"m", pop(c.pop_m)},
          {"h", pop(c.pop_h)},
          {"output", pop(c.pop_out)},
          {"enc", pop(c.pop_enc)},
          {"learn_beta", c.learn_beta},
          {"learn_threshold", c.learn_threshold},
          {"trainable_theta", c.trainable_theta},
          {"discretizer", c.discretizer},
          {"transpose_a", c.transpose_a},
          {"reset", c.reset},
          {"surrogate", c.surrogate},
          {"surrogate_param", c.surrogate_param},
          {"readout", c.readout},
          {"batch_first", c.batch_first}};
}

std::vector<nn::Param> L2mu::parameters() {
  std::vector<nn::Param> p;
  auto add = [&p](const std::string& name, const Var& v) {
    if (v.defined() && v.requires_grad()) p.push_back({name, v});
  };
  add("enc.weight", enc_weight);
  add("enc.bias", enc_bias);
  add("enc1.weight", enc1_weight);
  add("enc1.bias", enc1_bias);
  add("enc2.weight", enc2_weight);
  add("enc2.bias", enc2_bias);
  add("e_x", weights.e_x);
  add("e_h", weights.e_h);
  add("e_m", weights.e_m);
  add("W_x", weights.W_x);
  add("W_h", weights.W_h);
  add("W_m", weights.W_m);
  add("theta_inv", weights.theta_inv);
  add("out.weight", out_weight);
  add("out.bias", out_bias);
  if (config.encoder != "plain") add_population(p, "enc", enc_pop);
  if (config.encoder == "stacked") {
    add_population(p, "enc1", enc1_pop);
    add_population(p, "enc2", enc2_pop);
  }
  add_population(p, "u", u);
  add_population(p, "m", m);
  add_population(p, "h", h);
  add_population(p, "out", out_pop);
  return p;
}

}  // namespace frugal::lmu
