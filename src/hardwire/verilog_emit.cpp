// Shared Verilog emitter (see verilog_emit.h).
#include "verilog_emit.h"

#include <cstdlib>

#include "frugal/core/error.h"
#include "frugal/hardwire/csd.h"

namespace frugal::hardwire::verilog {

int signed_width(int64_t bound) {
  int bits = 1;
  while (bits < 63 && (int64_t{1} << (bits - 1)) - 1 < bound) ++bits;
  return bits;
}

std::string lit(int64_t value) {
  if (value > -2147483647 && value < 2147483647) return std::to_string(value);
  std::string mag = std::to_string(value < 0 ? -value : value);
  return value < 0 ? "(-64'sd" + mag + ")" : "64'sd" + mag;
}

Sig Emitter::wire(const std::string& expr, int64_t bound) {
  std::string name = prefix_ + std::to_string(next_++);
  text += "  wire signed [" + std::to_string(signed_width(bound) - 1) + ":0] " + name + " = " + expr + ";\n";
  return {name, bound};
}

Sig Emitter::tree(std::vector<Sig> items) {
  while (items.size() > 1) {
    std::vector<Sig> next;
    for (size_t i = 0; i + 1 < items.size(); i += 2)
      next.push_back(wire(items[i].expr + " + " + items[i + 1].expr, items[i].bound + items[i + 1].bound));
    if (items.size() % 2) next.push_back(items.back());
    items = std::move(next);
  }
  return items.front();
}

Sig Emitter::sum(std::vector<Sig> pos, std::vector<Sig> neg) {
  if (pos.empty() && neg.empty()) return wire("0", 0);
  if (neg.empty()) {
    Sig p = tree(std::move(pos));
    return p.expr.find(' ') == std::string::npos ? p : wire(p.expr, p.bound);
  }
  Sig n = tree(std::move(neg));
  if (pos.empty()) return wire("-" + n.expr, n.bound);
  Sig p = tree(std::move(pos));
  return wire(p.expr + " - " + n.expr, p.bound + n.bound);
}

Sig Emitter::const_mul(const Sig& x, int64_t c) {
  std::vector<int> digits = csd_digits(c);
  std::vector<Sig> pos, neg;
  for (size_t k = 0; k < digits.size(); ++k) {
    if (digits[k] == 0) continue;
    Sig term{k == 0 ? x.expr : "(" + x.expr + " <<< " + std::to_string(k) + ")", x.bound << k};
    (digits[k] > 0 ? pos : neg).push_back(term);
  }
  return sum(std::move(pos), std::move(neg));
}

std::string Emitter::requant(const Sig& acc, int32_t bias, int32_t mult, int32_t shift, int32_t lo, int32_t hi,
                             int out_bits) {
  Sig b = bias == 0 ? acc : wire(acc.expr + (bias < 0 ? " - " : " + ") + lit(std::llabs(bias)),
                                 acc.bound + std::llabs(bias));
  Sig m = mult == 0 ? wire("0", 0) : const_mul(b, mult);
  int64_t half = int64_t{1} << (shift - 1);
  Sig t = wire(m.expr + " + " + lit(half), m.bound + half);
  Sig r = wire(t.expr + " >>> " + std::to_string(shift), (t.bound >> shift) + 1);
  std::string name = prefix_ + std::to_string(next_++);
  text += "  wire signed [" + std::to_string(out_bits - 1) + ":0] " + name + " = (" + r.expr + " < " + lit(lo) +
          ") ? " + lit(lo) + " : (" + r.expr + " > " + lit(hi) + ") ? " + lit(hi) + " : " + r.expr + ";\n";
  return name;
}

QuantLayer conv_as_linear(const QuantLayer& c) {
  int oh = (c.in_h + 2 * c.pad - c.kernel) / c.stride + 1, ow = (c.in_w + 2 * c.pad - c.kernel) / c.stride + 1;
  int64_t in = static_cast<int64_t>(c.in_channels) * c.in_h * c.in_w, out = static_cast<int64_t>(c.out_channels) * oh * ow;
  require(in * out <= (int64_t{1} << 26), "hardwire: a conv2d of " + std::to_string(in) + " inputs and " +
                                              std::to_string(out) + " outputs is too large to lower to a netlist");
  QuantLayer d;
  d.kind = LayerKind::linear;
  d.in_features = static_cast<int>(in);
  d.out_features = static_cast<int>(out);
  d.weight.assign(static_cast<size_t>(in * out), 0);
  d.out_lo = c.out_lo;
  d.out_hi = c.out_hi;
  d.out_scale = c.out_scale;
  for (int o = 0; o < c.out_channels; ++o)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        int64_t row = (static_cast<int64_t>(o) * oh + y) * ow + x;
        for (int ch = 0; ch < c.in_channels; ++ch)
          for (int ky = 0; ky < c.kernel; ++ky)
            for (int kx = 0; kx < c.kernel; ++kx) {
              int iy = y * c.stride - c.pad + ky, ix = x * c.stride - c.pad + kx;
              if (iy < 0 || iy >= c.in_h || ix < 0 || ix >= c.in_w) continue;
              d.weight[row * in + (static_cast<int64_t>(ch) * c.in_h + iy) * c.in_w + ix] =
                  c.weight[((static_cast<size_t>(o) * c.in_channels + ch) * c.kernel + ky) * c.kernel + kx];
            }
        d.weight_scale.push_back(c.weight_scale[o]);
        d.bias.push_back(c.bias[o]);
        d.mult.push_back(c.mult[o]);
        d.shift.push_back(c.shift[o]);
      }
  return d;
}

std::vector<HwLayer> plan_layers(const QuantNet& net) {
  std::vector<HwLayer> layers;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const QuantLayer& l = net.layers[i];
    std::string at = "hardwire: layer " + std::to_string(i) + " (" + kind_name(l.kind) + ")";
    if (l.kind == LayerKind::linear || l.kind == LayerKind::conv2d) {
      HwLayer h;
      h.layer = l.kind == LayerKind::linear ? l : conv_as_linear(l);
      h.index = i;
      h.inputs = h.layer.in_features;
      h.outputs = h.layer.out_features;
      h.lo = l.out_lo;
      h.hi = l.out_hi;
      h.out_bits = l.out_hi > 127 ? 16 : 8;
      layers.push_back(h);
    } else if (l.kind == LayerKind::relu) {
      require(!layers.empty(), at + ": a ReLU on the input codes cannot be folded into a layer's clamp");
      layers.back().lo = std::max<int32_t>(layers.back().lo, 0);
    } else if (l.kind != LayerKind::flatten) {
      throw Error(at + " cannot be hardwired: the netlist generator supports linear, conv2d (and avgpool2d, "
                       "which arrives as a conv2d), relu and flatten layers");
    }
  }
  require(!layers.empty(), "hardwire: the net has no linear layer to hardwire");
  return layers;
}

std::string unpack_inputs(const std::string& bus, const std::string& name, int count) {
  std::string s;
  for (int i = 0; i < count; ++i)
    s += "  wire signed [7:0] " + name + std::to_string(i) + " = " + bus + "[" + std::to_string(8 * i + 7) + ":" +
         std::to_string(8 * i) + "];\n";
  return s;
}

std::string top_module(const std::vector<HwLayer>& layers) {
  const HwLayer& last = layers.back();
  std::string s = "module hw_top(input clk, input rst, input start, input [" +
                  std::to_string(8 * layers.front().inputs - 1) + ":0] x, output done, output [" +
                  std::to_string(last.out_bits * last.outputs - 1) + ":0] y);\n";
  std::string prev_x = "x", prev_start = "start";
  for (size_t k = 0; k < layers.size(); ++k) {
    std::string ks = std::to_string(k);
    bool is_last = k + 1 == layers.size();
    std::string y = is_last ? "y" : "a" + ks, d = is_last ? "done" : "d" + ks;
    if (!is_last) {
      s += "  wire [" + std::to_string(layers[k].out_bits * layers[k].outputs - 1) + ":0] " + y + ";\n";
      s += "  wire " + d + ";\n";
    }
    s += "  layer_" + ks + " l" + ks + "(.clk(clk), .rst(rst), .start(" + prev_start + "), .x(" + prev_x +
         "), .done(" + d + "), .y(" + y + "));\n";
    prev_x = y;
    prev_start = d;
  }
  return s + "endmodule\n";
}

}  // namespace frugal::hardwire::verilog
