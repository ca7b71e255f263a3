// Reversible sequence: forward without a tape, backward by reconstruction (see reversible.h).
#include "frugal/rev/reversible.h"

#include "frugal/autograd/ops.h"
#include "frugal/autograd/ops3d.h"
#include "frugal/core/error.h"

namespace frugal::rev {

using namespace frugal::autograd;

void ReversibleSequence::add(ResidualFnPtr f, ResidualFnPtr g) {
  require(f && g, "reversible_sequence: a coupling needs both F and G");
  blocks.push_back({std::move(f), std::move(g)});
}

nn::Json ReversibleSequence::spec() const {
  nn::Json list = nn::Json::array();
  for (const Coupling& b : blocks) list.push_back({{"f", b.f->spec()}, {"g", b.g->spec()}});
  return {{"type", type()}, {"reversible", reversible}, {"blocks", list}};
}

std::vector<nn::Param> ReversibleSequence::parameters() {
  std::vector<nn::Param> out;
  for (size_t i = 0; i < blocks.size(); ++i) {
    for (nn::Param& p : blocks[i].f->parameters()) out.push_back({std::to_string(i) + ".f." + p.name, p.var});
    for (nn::Param& p : blocks[i].g->parameters()) out.push_back({std::to_string(i) + ".g." + p.name, p.var});
  }
  return out;
}

std::vector<nn::Buffer> ReversibleSequence::buffers() {
  std::vector<nn::Buffer> out;
  for (size_t i = 0; i < blocks.size(); ++i) {
    for (nn::Buffer& b : blocks[i].f->buffers()) out.push_back({std::to_string(i) + ".f." + b.name, b.tensor});
    for (nn::Buffer& b : blocks[i].g->buffers()) out.push_back({std::to_string(i) + ".g." + b.name, b.tensor});
  }
  return out;
}

void ReversibleSequence::set_training(bool on) {
  training_ = on;
  for (Coupling& b : blocks) {
    b.f->set_training(on);
    b.g->set_training(on);
  }
}

Var ReversibleSequence::forward(const Var& x) {
  require(x.defined() && x.shape().size() >= 3 && x.shape()[1] % 2 == 0,
          "reversible_sequence: input must be [N, C, ...] with an even C, got " +
              (x.defined() ? shape_str(x.shape()) : std::string("none")));
  if (blocks.empty()) return x;
  bool needs_grad = x.requires_grad();
  for (const nn::Param& p : parameters()) needs_grad = needs_grad || p.var.requires_grad();
  if (!reversible || !grad_enabled() || !needs_grad) return forward_plain(x);
  return forward_reversible(x);
}

Var ReversibleSequence::forward_plain(const Var& x) {
  int64_t half = x.shape()[1] / 2;
  Var x1 = slice_channels(x, 0, half), x2 = slice_channels(x, half, half);
  for (Coupling& b : blocks) {
    x1 = autograd::add(x1, b.f->forward(x2));
    x2 = autograd::add(x2, b.g->forward(x1));
  }
  return concat({x1, x2}, 1);
}

namespace {
// Backpropagates diff_dst from `out` through the local tape; returns the gradient reaching `in`.
// Parameters reached on the way accumulate their gradients as in ordinary backprop.
Tensor local_backward(const Var& out, const Var& in, const Tensor& diff_dst) {
  Var seed = record(Tensor::full({1}, 0.0f), {out}, [out, diff_dst](const Tensor&) { out.add_grad(diff_dst); });
  backward(seed);
  return in.grad().defined() ? in.grad() : Tensor::zeros(in.shape());
}

Tensor subtract(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape());
  int64_t n = out.numel();
  const float* ap = a.data();
  const float* bp = b.data();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) out[i] = ap[i] - bp[i];
  return out;
}

Tensor sum(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape());
  int64_t n = out.numel();
  const float* ap = a.data();
  const float* bp = b.data();
#pragma omp parallel for simd
  for (int64_t i = 0; i < n; ++i) out[i] = ap[i] + bp[i];
  return out;
}

Tensor cat_channels(const Tensor& a, const Tensor& b) {
  NoGradGuard no_grad;
  return concat({Var(a), Var(b)}, 1).value();
}

Tensor channels(const Tensor& t, int64_t start, int64_t count) {
  NoGradGuard no_grad;
  return slice_channels(Var(t), start, count).value();
}
}  // namespace

Var ReversibleSequence::forward_reversible(const Var& x) {
  int64_t half = x.shape()[1] / 2;
  f_states_.clear();
  g_states_.clear();
  Tensor y;
  {
    NoGradGuard no_grad;
    Var x1 = slice_channels(x, 0, half), x2 = slice_channels(x, half, half);
    for (Coupling& b : blocks) {
      f_states_.push_back(b.f->random_state());
      x1 = autograd::add(x1, b.f->forward(x2));
      g_states_.push_back(b.g->random_state());
      x2 = autograd::add(x2, b.g->forward(x1));
    }
    y = concat({x1, x2}, 1).value();
  }
  std::vector<Var> inputs{x};
  for (const nn::Param& p : parameters()) inputs.push_back(p.var);
  Shape x_shape = x.shape();
  Var out = record(y, inputs, [this, x, y, half, x_shape](const Tensor& dy) {
    Tensor y1 = channels(y, 0, half), y2 = channels(y, half, half);
    Tensor dy1 = channels(dy, 0, half), dy2 = channels(dy, half, half);
    for (size_t i = blocks.size(); i-- > 0;) {
      Coupling& b = blocks[i];
      // G's recompute rebuilds x2 = y2 - G(y1) and carries dy2 back into y1.
      Var z1(y1, true);
      b.g->set_random_state(g_states_[i]);
      b.g->set_recomputing(true);
      Var g_out = b.g->forward(z1);
      b.g->set_recomputing(false);
      Tensor x2 = subtract(y2, g_out.value());
      Tensor dz1 = sum(dy1, local_backward(g_out, z1, dy2));
      g_out = Var();
      // F's recompute rebuilds x1 = y1 - F(x2) and carries dz1 back into x2.
      Var v2(x2, true);
      b.f->set_random_state(f_states_[i]);
      b.f->set_recomputing(true);
      Var f_out = b.f->forward(v2);
      b.f->set_recomputing(false);
      Tensor x1 = subtract(y1, f_out.value());
      Tensor dx2 = sum(dy2, local_backward(f_out, v2, dz1));
      y1 = x1;
      y2 = x2;
      dy1 = dz1;
      dy2 = dx2;
    }
    // The producer of x (or a caller) may read it again: hand back the reconstruction.
    if (!x.value().defined()) x.value() = cat_channels(y1, y2).reshape(x_shape);
    if (x.requires_grad()) x.add_grad(cat_channels(dy1, dy2));
  });
  // Only the output is kept: the input is rebuilt in backward, so its storage can go now.
  x.value() = Tensor();
  return out;
}

}  // namespace frugal::rev
