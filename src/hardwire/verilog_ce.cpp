// Style `ce`: every weight is a constant-coefficient multiplier. x*w becomes one shifted copy of
// x per non-zero CSD digit of w (no multipliers), each output sums its terms through an explicit
// balanced adder tree (positive and negative terms apart, one subtractor at the root), and the
// whole layer is combinational between the input latch and the output register. A layer whose
// inputs are spikes has no multiplier at all: a spike gates its weight constant into the tree.
#include "verilog_styles.h"

namespace frugal::hardwire::verilog {

std::string layer_ce(const HwLayer& h, int k) {
  const QuantLayer& l = h.layer;
  std::string ks = std::to_string(k);
  bool spikes = h.in_bits == 1;
  std::string s = "module layer_" + ks + "(input clk, input rst, input start, input [" +
                  std::to_string(h.in_bits * h.inputs - 1) + ":0] x, output reg done, output reg [" +
                  std::to_string(h.out_bits * h.outputs - 1) + ":0] y);\n";
  s += "  reg [" + std::to_string(h.in_bits * h.inputs - 1) + ":0] xr;\n  reg busy;\n";
  if (!spikes) s += unpack_inputs("xr", "x", h.inputs);
  Emitter e("n");
  std::string outs;
  for (int o = 0; o < h.outputs; ++o) {
    std::vector<Sig> pos, neg;
    for (int i = 0; i < h.inputs; ++i) {
      int32_t w = l.weight[static_cast<size_t>(o) * h.inputs + i];
      if (w == 0) continue;
      int64_t c = w < 0 ? -int64_t{w} : w;
      std::string name = spikes ? "xr[" : "x";
      name += std::to_string(i);  // appended, not "x" + ...: GCC 12 raises a false -Wrestrict on that
      Sig prod = spikes ? e.wire(name + "] ? " + lit(c) + " : 0", c) : e.const_mul({name, 127}, c);
      (w > 0 ? pos : neg).push_back(prod);
    }
    Sig acc = e.sum(std::move(pos), std::move(neg));
    std::string q = l.raw ? e.add_bias(acc, l.bias[o], h.out_bits)
                          : e.requant(acc, l.bias[o], l.mult[o], l.shift[o], h.lo, h.hi, h.out_bits);
    outs.insert(0, o ? q + ", " : q);  // output o at the low end of y
  }
  s += e.text;
  s += combinational_handshake(outs);
  return s;
}

}  // namespace frugal::hardwire::verilog
