// Module: a layer or a network. A module turns an input Var into an output Var, owns named
// parameters (trained) and buffers (saved, not trained), and can describe itself as a JSON spec
// from which build_module() (nn/builder.h) rebuilds it, so a saved model needs no code to load.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "frugal/autograd/tape.h"

namespace frugal::nn {

using autograd::Var;
using Json = nlohmann::json;

struct Param {
  std::string name;  // unique within the model, e.g. "3.weight"
  Var var;
};

struct Buffer {
  std::string name;
  Tensor* tensor;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Var forward(const Var& x) = 0;
  virtual std::string type() const = 0;
  virtual Json spec() const = 0;  // {"type": ..., hyper-parameters...}
  virtual std::vector<Param> parameters() { return {}; }
  virtual std::vector<Buffer> buffers() { return {}; }
  // Stateful modules (spiking neurons, recurrent cells) forget their state between sequences.
  virtual void reset_state() {}
  virtual void set_training(bool on) { training_ = on; }
  bool training() const { return training_; }

 protected:
  bool training_ = true;
};

using ModulePtr = std::unique_ptr<Module>;

}  // namespace frugal::nn
