// Style `hn`: the Hardwired Neuron of HNLPU (Liu et al., arXiv:2508.16151, Sec. "Hardwired
// Neuron"). The input codes enter bit-serially, most significant (sign) bit first. For each
// output, the input wires are routed into one region per distinct weight value (at most 15 for
// FP4: ±{0.5, 1, 1.5, 2, 3, 4, 6}, zero weights are simply not wired); the region's set bits are
// counted by a popcount tree, each count is scaled by its region's constant (CSD shift-adds), and
// the scaled counts are summed into this cycle's partial p. Over the 8 bit cycles the accumulator
// runs Horner's rule, acc = 2*acc + p, except on the sign-bit cycle, where it starts from -p: the
// two's-complement weight of bit 7 is -2^7. A weight costs wiring plus a share of one popcount;
// there is no multiplier and no per-weight adder. A layer whose inputs are spikes is the one-bit
// case: its regions count the spikes and the partial is the layer's accumulator, in one cycle.
#include <map>

#include "verilog_styles.h"

namespace frugal::hardwire::verilog {

std::string layer_hn(const HwLayer& h, int k) {
  const QuantLayer& l = h.layer;
  std::string ks = std::to_string(k);
  bool spikes = h.in_bits == 1;
  std::string s = "module layer_" + ks + "(input clk, input rst, input start, input [" +
                  std::to_string(h.in_bits * h.inputs - 1) + ":0] x, output reg done, output reg [" +
                  std::to_string(h.out_bits * h.outputs - 1) + ":0] y);\n";
  s += "  reg [" + std::to_string(h.in_bits * h.inputs - 1) + ":0] xr;\n  reg busy;\n";
  if (!spikes) s += "  reg fin;\n  reg [2:0] cyc;\n";
  // The current bit of every input is bit 7 of its byte: the whole bus shifts left once per cycle.
  Emitter bits("b");
  std::vector<Sig> bit(h.inputs);
  for (int i = 0; i < h.inputs; ++i)
    bit[i] = bits.wire("{1'b0, xr[" + std::to_string(spikes ? i : 8 * i + 7) + "]}", 1);
  Emitter e("n");
  std::vector<Sig> partial;
  for (int o = 0; o < h.outputs; ++o) {
    std::map<int32_t, std::vector<Sig>> regions;
    for (int i = 0; i < h.inputs; ++i) {
      int32_t w = l.weight[static_cast<size_t>(o) * h.inputs + i];
      if (w != 0) regions[w].push_back(bit[i]);
    }
    std::vector<Sig> pos, neg;
    for (auto& [value, members] : regions) {
      Sig count = e.sum(std::move(members), {});
      Sig scaled = e.const_mul(count, value < 0 ? -int64_t{value} : value);
      (value > 0 ? pos : neg).push_back(scaled);
    }
    partial.push_back(e.sum(std::move(pos), std::move(neg)));
  }
  std::string regs, update;
  Emitter r("r");
  std::string outs;
  if (spikes) {
    for (int o = 0; o < h.outputs; ++o) {
      std::string q = r.add_bias(partial[o], l.bias[o], h.out_bits);
      outs.insert(0, o ? q + ", " : q);
    }
    s += bits.text + e.text + r.text;
    s += combinational_handshake(outs);
    return s;
  }
  for (int o = 0; o < h.outputs; ++o) {
    std::string acc = "acc" + std::to_string(o), p = partial[o].expr;
    int64_t bound = partial[o].bound * 255;
    regs += "  reg signed [" + std::to_string(signed_width(bound) - 1) + ":0] " + acc + ";\n";
    update += "        " + acc + " <= (cyc == 3'd0) ? -" + p + " : (" + acc + " <<< 1) + " + p + ";\n";
    std::string q = l.raw ? r.add_bias({acc, bound}, l.bias[o], h.out_bits)
                          : r.requant({acc, bound}, l.bias[o], l.mult[o], l.shift[o], h.lo, h.hi, h.out_bits);
    outs.insert(0, o ? q + ", " : q);
  }
  s += bits.text + e.text + regs + r.text;
  s += "  always @(posedge clk) begin\n"
       "    if (rst) begin busy <= 0; fin <= 0; done <= 0; end\n"
       "    else begin\n"
       "      done <= 0;\n      fin <= 0;\n"
       "      if (start) begin xr <= x; busy <= 1; cyc <= 0; end\n"
       "      else if (busy) begin\n"
       "        xr <= xr << 1;\n" +
       update +
       "        cyc <= cyc + 3'd1;\n"
       "        if (cyc == 3'd7) begin busy <= 0; fin <= 1; end\n"
       "      end\n"
       "      if (fin) begin y <= {" + outs + "}; done <= 1; end\n"
       "    end\n  end\nendmodule\n";
  return s;
}

}  // namespace frugal::hardwire::verilog
