#include "frugal/autograd/tape.h"

#include "frugal/core/error.h"

namespace frugal::autograd {

namespace {
struct Entry {
  std::shared_ptr<Node> output;
  BackwardFn backward;
};
thread_local std::vector<Entry> t_tape;
thread_local bool t_grad_enabled = true;
}  // namespace

Var::Var(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

void Var::add_grad(const Tensor& diff) const {
  require(diff.numel() == node_->value.numel(),
          "gradient of shape " + shape_str(diff.shape()) + " for value " + shape_str(node_->value.shape()));
  Tensor& g = node_->grad;
  if (!g.defined()) {
    // Most backward closures hand over a fresh tensor: adopt it rather than copy it.
    g = diff.sole_owner() ? diff.reshape(node_->value.shape()) : diff.clone().reshape(node_->value.shape());
    return;
  }
  float* dst = g.data();
  const float* src = diff.data();
  int64_t n = g.numel();
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

Var record(Tensor value, const std::vector<Var>& inputs, BackwardFn backward) {
  bool needs = false;
  if (t_grad_enabled)
    for (const Var& v : inputs) needs = needs || v.requires_grad();
  Var out(std::move(value), needs);
  if (needs) {
    // The tape keeps the output node alive so its gradient can be read in reverse order.
    t_tape.push_back({out.shared_node(), std::move(backward)});
  }
  return out;
}

void backward(const Var& loss) {
  require(loss.requires_grad(), "backward: the loss does not depend on any parameter");
  loss.node()->grad = Tensor::full(loss.shape(), 1.0f);
  std::vector<Entry> tape;
  tape.swap(t_tape);
  for (size_t i = tape.size(); i-- > 0;) {
    Entry& e = tape[i];
    if (e.output->grad.defined()) e.backward(e.output->grad);
    // Intermediate gradients are not needed once propagated; free them (and the closure's
    // saved tensors) as we go so peak memory is that of the forward pass.
    e.output->grad = Tensor();
    e.backward = nullptr;
    e.output.reset();
  }
}

void clear_tape() { t_tape.clear(); }
size_t tape_size() { return t_tape.size(); }
bool grad_enabled() { return t_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

}  // namespace frugal::autograd
