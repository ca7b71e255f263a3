// Netlist generator: a quantized feed-forward net (quant.h) as synthesizable Verilog in one of
// three styles, all with the same top-level interface so one testbench replays them all:
//   ce  - a constant-coefficient multiplier per weight as CSD shift-adds, explicit adder trees;
//   hn  - the Hardwired Neuron of HNLPU (Liu et al., arXiv:2508.16151): inputs enter bit-serially
//         (MSB, the two's-complement sign bit, first), each weight value owns a region of input
//         wires whose set bits are counted, the counts are scaled by the region's constant and
//         shift-accumulated, the sign-bit cycle subtracting;
//   mem - the programmable baseline: weights in a memory, one multiply-accumulate per cycle.
// Linear layers are hardwired; a ReLU folds into the preceding layer's clamp; flatten is free.
// Spiking nets (quant.h): LIF layers are modules shared by all styles, hw_top runs the layers
// after the encoder once per step and counts the last layer's spikes; a layer whose inputs are
// spikes needs no multiplier in any style (a spike adds its weight constants).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/hardwire/quant.h"

namespace frugal::hardwire {

enum class NetStyle { ce, hn, mem };
NetStyle parse_style(const std::string& name);
std::string style_name(NetStyle style);

// top module `hw_top(clk, rst, start, x, done, y)`: x packs the int8 input codes (code i at bits
// [8i+7:8i]); after `start` the design raises `done` for one cycle with y packing the last
// layer's output codes (a spiking net's spike counts), each out_bits wide, and holds y until the
// next start.
struct Netlist {
  NetStyle style = NetStyle::ce;
  std::string verilog;
  int inputs = 0, outputs = 0, out_bits = 0;
  int64_t cycles_per_sample = 0;
  int64_t weights = 0, nonzero_weights = 0;
  int64_t memory_bits = 0;  // mem style: the weight and requantization memories (black boxes in synthesis)
  std::string readme;       // the design in words, for the output folder
};

// Throws Error naming the layer when the net holds a layer the generator cannot hardwire.
Netlist generate_netlist(const QuantNet& net, NetStyle style);

// The testbench: reads inputs.hex (one packed x per line), writes outputs.hex (one packed y).
std::string testbench_verilog(const Netlist& netlist, int samples);
std::string inputs_hex(const std::vector<std::vector<int32_t>>& inputs);
// Parses outputs.hex text into per-sample codes (sign-extended from out_bits).
std::vector<std::vector<int32_t>> parse_outputs_hex(const std::string& text, int outputs, int out_bits);

}  // namespace frugal::hardwire
