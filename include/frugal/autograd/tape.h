// Reverse-mode autograd on a tape. Each op computes its output eagerly and, when any input needs
// a gradient, records a closure that maps diff_dst to the inputs' gradients. backward() replays
// the tape in reverse. Ops that recompute instead of storing (reversible blocks) record one
// closure and run their inner ops under NoGradGuard.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "frugal/core/tensor.h"

namespace frugal::autograd {

struct Node {
  Tensor value;
  Tensor grad;  // undefined until a gradient arrives
  bool requires_grad = false;
};

// A value in the graph. Copies share the node (handle semantics).
class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return node_ != nullptr; }
  Tensor& value() const { return node_->value; }
  Tensor& grad() const { return node_->grad; }
  bool requires_grad() const { return node_ && node_->requires_grad; }
  const Shape& shape() const { return node_->value.shape(); }

  void add_grad(const Tensor& diff) const;  // grad += diff (allocates on first use)
  void zero_grad() const { node_->grad = Tensor(); }
  Node* node() const { return node_.get(); }
  const std::shared_ptr<Node>& shared_node() const { return node_; }

 private:
  std::shared_ptr<Node> node_;
};

using BackwardFn = std::function<void(const Tensor& diff_dst)>;

// Makes the output Var of an op; records `backward` on the tape when gradients are being taken
// and some input requires a gradient. `backward` receives diff_dst (same shape as value).
Var record(Tensor value, const std::vector<Var>& inputs, BackwardFn backward);

// Runs the tape in reverse from `loss` (seeded with ones), then clears the tape.
void backward(const Var& loss);
void clear_tape();
size_t tape_size();

bool grad_enabled();

// While alive, ops record nothing (evaluation, recomputation inside reversible blocks).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace frugal::autograd
