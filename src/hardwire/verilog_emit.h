// The Verilog emitter the three netlist styles share: signed wires whose widths follow from a
// bound on |value| (so adders are only as wide as their operands can need), balanced adder
// trees written out node by node (synthesis then has no large `+` chains to restructure),
// CSD constant multipliers, the requantization stage, and the layer plan every style follows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/hardwire/quant.h"

namespace frugal::hardwire::verilog {

// Bits of a signed wire that holds every value in [-bound, bound].
int signed_width(int64_t bound);
// A decimal literal that keeps 64-bit values exact (`-64'sd...` past 32 bits).
std::string lit(int64_t value);

// A signed value: a wire name or a shift of one, and a bound on its magnitude.
struct Sig {
  std::string expr;
  int64_t bound = 0;
};

class Emitter {
 public:
  explicit Emitter(std::string prefix) : prefix_(std::move(prefix)) {}
  Sig wire(const std::string& expr, int64_t bound);
  // sum(pos) - sum(neg) through two balanced adder trees and one subtractor; zero when both are empty.
  Sig sum(std::vector<Sig> pos, std::vector<Sig> neg);
  // x * c as shifted adds and subtracts of x, one per non-zero CSD digit of c.
  Sig const_mul(const Sig& x, int64_t c);
  // clamp((x + bias) * mult + 2^(shift-1) >> shift, lo, hi) as an out_bits wide wire.
  std::string requant(const Sig& acc, int32_t bias, int32_t mult, int32_t shift, int32_t lo, int32_t hi,
                      int out_bits);
  // acc + bias as an out_bits wide wire: a raw layer's output, the current of LIF neurons.
  std::string add_bias(const Sig& acc, int32_t bias, int out_bits);
  std::string text;  // the declarations, in order

 private:
  Sig tree(std::vector<Sig> items);
  std::string prefix_;
  int next_ = 0;
};

// One hardwired layer: a linear layer with its requantization clamp (a following ReLU folded in),
// or a layer of LIF neurons. A conv2d arrives lowered to the linear layer it equals (see
// conv_as_linear). In a spiking net the layers after the encoder are `timed`: the top module runs
// them once per step and counts the last one's spikes.
struct HwLayer {
  QuantLayer layer;  // kind linear or lif
  size_t index = 0;  // in QuantNet::layers
  int inputs = 0, outputs = 0;
  int in_bits = 8;   // bits of one input: 8 (int8 codes), 1 (spikes), or a LIF layer's current width
  int out_bits = 8;
  int32_t lo = -127, hi = 127;
  bool timed = false;
  int steps = 0;     // timed layers: the encoder's steps
  bool is_lif() const { return layer.kind == LayerKind::lif; }
};
std::vector<HwLayer> plan_layers(const QuantNet& net);
// The linear layer a conv2d equals: row (o, y, x) holds the kernel of channel o at the input
// positions that output reads, zeros elsewhere, and repeats channel o's bias and requantization.
// The parallel styles wire only non-zero weights, so the zeros cost them nothing.
QuantLayer conv_as_linear(const QuantLayer& conv);

// `wire signed [7:0] <name>_<i> = x[8i+7:8i];` for every input code.
std::string unpack_inputs(const std::string& bus, const std::string& name, int count);
// The end of a layer module whose outputs are combinational in the latched input: x is latched on
// `start`, and one cycle later `y <= {outs}` and `done` pulses.
std::string combinational_handshake(const std::string& outs);
// A layer of LIF neurons, the same in every style: each neuron's leak is a CSD constant multiplier,
// its threshold a constant; one cycle per step.
std::string layer_lif(const HwLayer& h, int k);
// The module that chains the layer modules layer_0 .. layer_n-1 into hw_top; in a spiking net it
// also sequences the steps and counts the last layer's spikes.
std::string top_module(const std::vector<HwLayer>& layers);

}  // namespace frugal::hardwire::verilog
