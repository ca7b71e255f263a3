#include "frugal/lmu/lmu_cell.h"

#include <cmath>

#include "frugal/core/error.h"

namespace frugal::lmu {

using autograd::Var;

Var lecun_uniform(Shape shape, Rng& rng) {
  Tensor t = Tensor::empty(shape);
  const float bound = std::sqrt(3.0f / static_cast<float>(shape[1]));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-bound, bound);
  return Var(t, true);
}

Var xavier_normal(Shape shape, Rng& rng) {
  Tensor t = Tensor::empty(shape);
  const float sd = std::sqrt(2.0f / static_cast<float>(shape[0] + shape[1]));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = sd * rng.normal();
  return Var(t, true);
}

LmuCell::LmuCell(const LmuCellConfig& c, Rng& rng) : config(c) {
  require(c.in > 0 && c.memory_d > 0 && c.order > 0 && c.hidden > 0,
          "lmu: in, memory_d, order and hidden must be positive");
  require(c.order <= 1024, "lmu: order must be at most 1024");
  require(std::isfinite(c.theta) && c.theta > 0, "lmu: theta must be positive");
  parse_discretizer(c.discretizer);
  const int64_t M = c.memory_d, H = c.hidden, Md = M * c.order;
  weights.e_x = lecun_uniform({M, c.in}, rng);
  if (c.hidden_to_memory) weights.e_h = lecun_uniform({M, H}, rng);
  if (c.memory_to_memory) weights.e_m = Var(Tensor({M, Md}), true);
  if (c.input_to_hidden) weights.W_x = xavier_normal({H, c.in}, rng);
  if (c.hidden_recurrent) weights.W_h = xavier_normal({H, H}, rng);
  weights.W_m = xavier_normal({H, Md}, rng);
  weights.theta_inv = Var(Tensor({1}, {static_cast<float>(1.0 / c.theta)}), c.trainable_theta);
}

Var LmuCell::forward(const Var& x) {
  require(x.defined() && x.value().rank() == 3 && x.shape()[2] == config.in,
          "lmu: input must be [N, T, " + std::to_string(config.in) + "] (or [T, N, ...] with batch_first = false), got " +
              (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  LmuCoreOptions opt;
  opt.memory_size = config.memory_d;
  opt.order = config.order;
  opt.hidden = config.hidden;
  opt.discretizer = parse_discretizer(config.discretizer);
  Population linear, tanh_units;
  tanh_units.unit = Unit::tanh;
  Var seq = config.batch_first ? swap_leading_axes(x) : x;
  Var h = lmu_sequence(seq, weights, linear, linear, tanh_units, opt);
  if (config.return_sequences) return config.batch_first ? swap_leading_axes(h) : h;
  const int64_t T = h.shape()[0], N = h.shape()[1], H = h.shape()[2];
  Tensor last = Tensor::empty({N, H});
  for (int64_t i = 0; i < N * H; ++i) last[i] = h.value()[(T - 1) * N * H + i];
  return autograd::record(last, {h}, [h, T, N, H](const Tensor& diff_dst) {
    Tensor dh({T, N, H});
    for (int64_t i = 0; i < N * H; ++i) dh[(T - 1) * N * H + i] = diff_dst[i];
    h.add_grad(dh);
  });
}

nn::Json LmuCell::spec() const {
  const LmuCellConfig& c = config;
  return {{"type", "lmu"},
          {"in", c.in},
          {"memory_d", c.memory_d},
          {"order", c.order},
          {"theta", c.theta},
          {"hidden", c.hidden},
          {"hidden_to_memory", c.hidden_to_memory},
          {"memory_to_memory", c.memory_to_memory},
          {"input_to_hidden", c.input_to_hidden},
          {"hidden_recurrent", c.hidden_recurrent},
          {"trainable_theta", c.trainable_theta},
          {"discretizer", c.discretizer},
          {"return_sequences", c.return_sequences},
          {"batch_first", c.batch_first}};
}

std::vector<nn::Param> LmuCell::parameters() {
  std::vector<nn::Param> p;
  auto add = [&p](const char* name, const Var& v) {
    if (v.defined() && v.requires_grad()) p.push_back({name, v});
  };
  add("e_x", weights.e_x);
  add("e_h", weights.e_h);
  add("e_m", weights.e_m);
  add("W_x", weights.W_x);
  add("W_h", weights.W_h);
  add("W_m", weights.W_m);
  add("theta_inv", weights.theta_inv);
  return p;
}

}  // namespace frugal::lmu
