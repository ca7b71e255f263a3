// Style `mem`: the programmable baseline the hardwired styles are measured against. Weights,
// biases and requantization constants live in a memory (a black box in synthesis, costed as SRAM
// bits); one multiplier-accumulator walks the weights one per cycle, and a general requantizer
// (a real multiplier and barrel shifter, since its constants are data) finishes each output.
// With spikes as inputs the multiplier becomes a multiplexer (a spike adds the weight or nothing),
// and a layer feeding LIF neurons passes acc + bias on without requantizing.
#include <algorithm>

#include "verilog_styles.h"

namespace frugal::hardwire::verilog {

namespace {

int address_bits(int64_t count) {
  int bits = 1;
  while ((int64_t{1} << bits) < count) ++bits;
  return bits;
}

// Storage a weight needs in `format`: the code, plus MXFP4's 8-bit scale shared by 32 weights.
double bits_per_weight(WeightFormat format) {
  switch (format) {
    case WeightFormat::int8: return 8;
    case WeightFormat::int4: return 4;
    case WeightFormat::fp4: return 4;
    case WeightFormat::mxfp4: return 4 + 8.0 / 32;
  }
  return 8;
}

}  // namespace

std::string layer_mem(const HwLayer& h, int k, WeightFormat format, int64_t& memory_bits) {
  const QuantLayer& l = h.layer;
  std::string ks = std::to_string(k);
  int64_t n = static_cast<int64_t>(h.inputs) * h.outputs;
  int aw = address_bits(n), iw = address_bits(h.inputs), ow = address_bits(h.outputs);
  int32_t wmax = 0;
  for (int32_t w : l.weight) wmax = std::max(wmax, w < 0 ? -w : w);
  int wb = signed_width(wmax);
  int accw = signed_width(accumulator_bound(l));
  memory_bits += static_cast<int64_t>(bits_per_weight(format) * static_cast<double>(n) + 0.5) +
                 static_cast<int64_t>(h.outputs) * (accw + 16 + 6);

  std::string ports = "(input [" + std::to_string(aw - 1) + ":0] addr, output signed [" + std::to_string(wb - 1) +
                      ":0] w, input [" + std::to_string(ow - 1) +
                      ":0] o, output signed [" + std::to_string(accw - 1) + ":0] bias, output [15:0] mult, output [5:0] shift)";
  std::string s = "`ifdef HW_SYNTH\n(* blackbox *)\nmodule wmem_" + ks + ports + ";\nendmodule\n`else\n";
  s += "module wmem_" + ks + ports + ";\n";
  s += "  reg signed [" + std::to_string(wb - 1) + ":0] wm [0:" + std::to_string(n - 1) + "];\n";
  s += "  reg signed [" + std::to_string(accw - 1) + ":0] bm [0:" + std::to_string(h.outputs - 1) + "];\n";
  s += "  reg [15:0] mm [0:" + std::to_string(h.outputs - 1) + "];\n";
  s += "  reg [5:0] sm [0:" + std::to_string(h.outputs - 1) + "];\n  initial begin\n";
  for (int64_t a = 0; a < n; ++a) s += "    wm[" + std::to_string(a) + "] = " + lit(l.weight[a]) + ";\n";
  for (int o = 0; o < h.outputs; ++o)
    s += "    bm[" + std::to_string(o) + "] = " + lit(l.bias[o]) + "; mm[" + std::to_string(o) +
         "] = " + std::to_string(l.mult[o]) + "; sm[" + std::to_string(o) + "] = " + std::to_string(l.shift[o]) + ";\n";
  s += "  end\n  assign w = wm[addr];\n  assign bias = bm[o];\n  assign mult = mm[o];\n  assign shift = sm[o];\n";
  s += "endmodule\n`endif\n";

  int ob = h.out_bits, yb = h.out_bits * h.outputs;
  int xb = h.in_bits * h.inputs;
  s += "module layer_" + ks + "(input clk, input rst, input start, input [" + std::to_string(xb - 1) +
       ":0] x, output reg done, output reg [" + std::to_string(yb - 1) + ":0] y);\n";
  s += "  reg [" + std::to_string(xb - 1) + ":0] xr;\n  reg busy;\n";
  s += "  reg [" + std::to_string(aw - 1) + ":0] addr;\n  reg [" + std::to_string(iw - 1) + ":0] i;\n  reg [" +
       std::to_string(ow - 1) + ":0] o;\n";
  std::string aws = std::to_string(accw - 1);
  s += "  reg signed [" + aws + ":0] acc;\n";
  s += "  wire signed [" + std::to_string(wb - 1) + ":0] w;\n  wire signed [" + aws + ":0] bias;\n  wire [15:0] mult;\n"
       "  wire [5:0] shift;\n";
  s += "  wmem_" + ks + " mem(.addr(addr), .w(w), .o(o), .bias(bias), .mult(mult), .shift(shift));\n";
  if (h.in_bits == 1) {
    s += "  wire signed [" + std::to_string(wb - 1) + ":0] prod = xr[i] ? w : 0;\n";
  } else {
    s += "  wire signed [7:0] xi = xr[8 * i +: 8];\n";
    s += "  wire signed [" + std::to_string(8 + wb - 1) + ":0] prod = xi * w;\n";
  }
  s += "  wire signed [" + aws + ":0] sum = acc + prod;\n";
  // Biases are stored as wide as the accumulator (the bound includes them), so acc + bias needs one bit more.
  int bw = accw + 1, mw = bw + 17, tw = mw + 1;
  s += "  wire signed [" + std::to_string(bw - 1) + ":0] b = sum + bias;\n";
  if (l.raw) {
    s += "  wire signed [" + std::to_string(ob - 1) + ":0] q = b;\n";
  } else {
    s += "  wire signed [" + std::to_string(mw - 1) + ":0] m = b * $signed({1'b0, mult});\n";
    s += "  wire signed [" + std::to_string(tw - 1) + ":0] half = {{" + std::to_string(tw - 1) +
         "{1'b0}}, 1'b1} << (shift - 6'd1);\n";
    s += "  wire signed [" + std::to_string(tw - 1) + ":0] t = m + half;\n";
    s += "  wire signed [" + std::to_string(tw - 1) + ":0] r = t >>> shift;\n";
    s += "  wire signed [" + std::to_string(ob - 1) + ":0] q = (r < " + lit(h.lo) + ") ? " + lit(h.lo) + " : (r > " +
         lit(h.hi) + ") ? " + lit(h.hi) + " : r;\n";
  }
  std::string shift_in = h.outputs == 1 ? "q" : "{q, y[" + std::to_string(yb - 1) + ":" + std::to_string(ob) + "]}";
  s += "  always @(posedge clk) begin\n"
       "    if (rst) begin busy <= 0; done <= 0; end\n"
       "    else begin\n"
       "      done <= 0;\n"
       "      if (start) begin xr <= x; busy <= 1; i <= 0; o <= 0; addr <= 0; acc <= 0; end\n"
       "      else if (busy) begin\n"
       "        addr <= addr + 1'b1;\n"
       "        if (i == " + std::to_string(h.inputs - 1) + ") begin\n"
       "          y <= " + shift_in + ";\n"
       "          acc <= 0;\n          i <= 0;\n          o <= o + 1'b1;\n"
       "          if (o == " + std::to_string(h.outputs - 1) + ") begin busy <= 0; done <= 1; end\n"
       "        end else begin acc <= sum; i <= i + 1'b1; end\n"
       "      end\n"
       "    end\n  end\nendmodule\n";
  return s;
}

}  // namespace frugal::hardwire::verilog
