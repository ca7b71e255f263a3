// L2MU: the LIF-based Legendre Memory Unit (Leto, Urgese, Macii & Fra, Politecnico di Torino),
// every element of the LMU a population of LIF or CuBa-LIF neurons, reading raw sensor values:
//   s_in = encoder(x)                     plain: x itself; single: per channel Linear(1, P) + LIF;
//                                         stacked: single, then two Linear + LIF layers
//   s_u[t] = LIF_u(e_x s_in[t] + e_h s_h[t-1] + e_m s_m[t-1])                 [memory_size]
//   s_m[t] = LIF_m(Ā s_m[t-1] + B̄ s_u[t])   per memory row                    [memory_size x order]
//   s_h[t] = LIF_h(W_x s_in[t] + W_h s_h[t-1] + W_m s_m[t])                   [hidden]
//   s_o[t] = LIF_o(W_o s_h[t] + b_o)                                           [classes]
// and a readout over time (spike count by default). Equations and the authors' Āᵀ: docs/l2mu.md.
#pragma once
#include <string>

#include "frugal/core/rng.h"
#include "frugal/lmu/lmu_core.h"
#include "frugal/nn/module.h"

namespace frugal::lmu {

// Neuron parameters of one population (u, m, h, out, or the encoder's).
struct PopulationConfig {
  float beta = 0.9f;
  float alpha = 0.8f;  // CuBa-LIF only
  float threshold = 1.0f;
};

struct L2muConfig {
  int in = 0;           // input channels F
  int memory_size = 0;  // M
  int order = 0;        // d
  double theta = 0;
  int hidden = 0;       // H
  int out = 0;          // classes
  std::string neuron = "lif";       // "lif" or "cuba_lif", for every population
  std::string encoder = "plain";    // "plain", "single", "stacked"
  int encoder_population = 8;       // P: neurons per input channel (single, stacked)
  int encoder_hidden = 0;           // stacked: width of the two Linear + LIF layers (0: F*P)
  PopulationConfig pop_u, pop_m, pop_h, pop_out, pop_enc;
  bool learn_beta = false;          // per-neuron beta (and alpha) trained
  bool learn_threshold = false;     // per-neuron threshold trained
  bool trainable_theta = false;
  std::string discretizer = "zoh";
  bool transpose_a = false;         // the authors' code: memory multiplied by Āᵀ
  std::string reset = "subtract";
  std::string surrogate = "atan";
  float surrogate_param = 2.0f;
  std::string readout = "spike_count";
  bool batch_first = true;
};

class L2mu : public nn::Module {
 public:
  L2mu(const L2muConfig& config, Rng& rng);
  nn::Var forward(const nn::Var& x) override;  // [N, T, F] -> [N, classes]
  std::string type() const override { return "l2mu"; }
  nn::Json spec() const override;
  std::vector<nn::Param> parameters() override;

  // The output layer's spikes [T, N, classes] of the last forward (for spike counts and SOPs).
  nn::Var last_output_spikes;

  L2muConfig config;
  LmuWeights weights;
  Population u, m, h, out_pop;
  nn::Var out_weight, out_bias;
  // Encoder: single [F*P] per-channel weight and bias; stacked adds two [S, in] linear layers.
  nn::Var enc_weight, enc_bias, enc1_weight, enc1_bias, enc2_weight, enc2_bias;
  Population enc_pop, enc1_pop, enc2_pop;
  int core_in = 0;  // width of s_in
};

// y[t, n, c*P + p] = x[t, n, c] * w[c*P + p] + b[c*P + p]: the single-population encoder's
// per-channel Linear(1, P), for x [T, N, C].
autograd::Var channel_expand(const autograd::Var& x, const autograd::Var& w, const autograd::Var& b, int population);

}  // namespace frugal::lmu
