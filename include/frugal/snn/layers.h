// Spiking layers as nn::Modules, so a TOML [[layers]] list can build a spiking net: neuron layers
// (LIF = snnTorch `Leaky`, CuBa-LIF = `Synaptic`, IF), the recurrent LIF (snnTorch `RLeaky` with an
// all-to-all Linear from the layer's own spikes at t-1), encoders that turn a static batch [N, ...]
// into a sequence [T, N, ...], and readouts that reduce [T, N, classes] to [N, classes] and end a
// net. Spec keys and their defaults: docs/snn.md. The builder finds these through the family
// registry of nn/builder.h (registered by src/snn/layers.cpp).
#pragma once
#include <string>

#include "frugal/core/rng.h"
#include "frugal/nn/module.h"
#include "frugal/snn/encoders.h"
#include "frugal/snn/neurons.h"
#include "frugal/snn/readouts.h"

namespace frugal::snn {

using nn::Json;
using nn::Var;

// What every neuron layer shares. `neurons` is the per-step element count per sample (features,
// or C*H*W) when parameters are per neuron, 0 when shared.
struct NeuronLayerSpec {
  float beta = 0.9f;
  float alpha = 0.8f;  // CuBa-LIF synaptic decay
  float threshold = 1.0f;
  Reset reset = Reset::subtract;
  Surrogate surrogate;
  bool learn_beta = false, learn_alpha = false, learn_threshold = false;
  int neurons = 0;
  float init_frac = 0.0f;   // IF: starting membrane as a fraction of the threshold
  bool output_membrane = false;  // emit U[t] instead of spikes (for membrane readouts)
};

// kind: "lif", "cuba_lif" or "if".
class NeuronLayer : public nn::Module {
 public:
  NeuronLayer(std::string kind, const NeuronLayerSpec& spec);
  Var forward(const Var& x) override;  // [T, N, ...] -> [T, N, ...]
  // Spikes, and membranes when asked or when the layer outputs them.
  NeuronOutput run(const Var& x, bool membranes) const;
  std::string type() const override { return kind_; }
  Json spec() const override;
  std::vector<nn::Param> parameters() override;  // the learned ones only; fixed ones live in the spec
  const NeuronLayerSpec& settings() const { return s_; }
  Var beta, alpha, threshold;  // [1] or [neurons]

 private:
  std::string kind_;
  NeuronLayerSpec s_;
};

// snnTorch RLeaky (all_to_all): U[t] = b*U[t-1] + x[t] + V(S[t-1]) - R[t]*thr over [T, N, features].
// Runs step by step because each step's input depends on the previous step's spikes.
class RecurrentLif : public nn::Module {
 public:
  RecurrentLif(int features, const NeuronLayerSpec& spec, Rng& rng);
  Var forward(const Var& x) override;
  std::string type() const override { return "rlif"; }
  Json spec() const override;
  std::vector<nn::Param> parameters() override;
  int features;
  Var weight, bias;  // the recurrent Linear V: [features, features], [features]
  Var beta, threshold;

 private:
  NeuronLayerSpec s_;
};

enum class Encoding { direct, rate, latency, delta };

// direct, rate, latency: [N, ...] -> [T, N, ...] with T = steps. delta: a batch of series
// [N, T, ...] -> [T, N, ...] spikes of its changes. Only direct passes gradients (it repeats its
// input), so it may follow analog layers; the others are the first layer.
class Encoder : public nn::Module {
 public:
  Encoder(Encoding code, int steps, uint64_t seed);
  Var forward(const Var& x) override;
  std::string type() const override { return "encoder"; }
  Json spec() const override;
  Encoding code;
  int steps;
  float gain = 1.0f;          // rate
  float delta_threshold = 0.1f;  // delta
  bool off_spikes = false;    // delta
  LatencyOptions latency;

 private:
  Rng rng_;
};

class ReadoutLayer : public nn::Module {
 public:
  explicit ReadoutLayer(Readout how) : how(how) {}
  Var forward(const Var& x) override { return readout(x, how); }
  std::string type() const override { return "readout"; }
  Json spec() const override;
  Readout how;
};

// The short config names of readouts: count, mem_mean, mem_max, mem_last.
Readout parse_readout_mode(const std::string& name);
std::string readout_mode_name(Readout how);

// Builds any of the layers above from its spec, or returns null when `spec.type` is not one of
// them (the signature of nn::ModuleBuilder).
nn::ModulePtr try_build_snn(const Json& spec, Rng& rng, const std::string& where);
// Makes nn::build_module know the spiking layer types.
void register_layers();

}  // namespace frugal::snn
