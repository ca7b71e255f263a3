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

std::string Emitter::add_bias(const Sig& acc, int32_t bias, int out_bits) {
  std::string name = prefix_ + std::to_string(next_++);
  text += "  wire signed [" + std::to_string(out_bits - 1) + ":0] " + name + " = " + acc.expr +
          (bias < 0 ? " - " : " + ") + lit(std::llabs(bias)) + ";\n";
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
  d.in_max = c.in_max;
  d.raw = c.raw;
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
  bool timed = false;
  int steps = 0;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const QuantLayer& l = net.layers[i];
    std::string at = "hardwire: layer " + std::to_string(i) + " (" + kind_name(l.kind) + ")";
    if (l.kind == LayerKind::linear || l.kind == LayerKind::conv2d) {
      HwLayer h;
      h.layer = l.kind == LayerKind::linear ? l : conv_as_linear(l);
      h.index = i;
      h.inputs = h.layer.in_features;
      h.outputs = h.layer.out_features;
      h.in_bits = !layers.empty() && layers.back().is_lif() ? 1 : 8;
      h.lo = l.out_lo;
      h.hi = l.out_hi;
      h.out_bits = l.raw ? signed_width(accumulator_bound(h.layer)) : l.out_hi > 127 ? 16 : 8;
      h.timed = timed;
      h.steps = steps;
      layers.push_back(h);
    } else if (l.kind == LayerKind::relu) {
      require(!layers.empty(), at + ": a ReLU on the input codes cannot be folded into a layer's clamp");
      layers.back().lo = std::max<int32_t>(layers.back().lo, 0);
    } else if (l.kind == LayerKind::encoder) {
      timed = true;
      steps = l.steps;
    } else if (l.kind == LayerKind::lif) {
      require(!layers.empty() && layers.back().layer.raw, at + ": LIF neurons must follow a linear or conv2d layer");
      HwLayer h;
      h.layer = l;
      h.index = i;
      h.inputs = h.outputs = static_cast<int>(l.threshold.size());
      h.in_bits = layers.back().out_bits;
      h.out_bits = 1;
      h.timed = true;
      h.steps = steps;
      layers.push_back(h);
    } else if (l.kind == LayerKind::spike_count) {
      require(!layers.empty() && layers.back().is_lif(), at + ": the spike-count readout must follow LIF neurons");
    } else if (l.kind != LayerKind::flatten) {
      throw Error(at + " cannot be hardwired: the netlist generator supports linear, conv2d (and avgpool2d, "
                       "which arrives as a conv2d), relu, flatten, and a direct encoder, lif and a spike-count "
                       "readout for spiking nets");
    }
  }
  require(!layers.empty(), "hardwire: the net has no linear layer to hardwire");
  return layers;
}

std::string layer_lif(const HwLayer& h, int k) {
  const QuantLayer& l = h.layer;
  int n = h.outputs, cw = h.in_bits;
  int mw = signed_width(l.membrane_bound);
  std::string ks = std::to_string(k);
  std::string s = "module layer_" + ks + "(input clk, input rst, input start, input first, input [" +
                  std::to_string(cw * n - 1) + ":0] x, output reg done, output reg [" + std::to_string(n - 1) +
                  ":0] y);\n";
  Emitter e("n");
  std::string regs, update;
  for (int j = 0; j < n; ++j) {
    std::string js = std::to_string(j), u = "u" + js;
    regs += "  reg signed [" + std::to_string(mw - 1) + ":0] " + u + ";\n";
    Sig cur = e.wire("x[" + std::to_string(cw * j + cw - 1) + ":" + std::to_string(cw * j) + "]",
                     (int64_t{1} << (cw - 1)) - 1);
    // leak: (U * beta_q + 2^(kBetaBits-1)) >>> kBetaBits, a constant multiplier, no general one
    Sig m = e.const_mul({u, l.membrane_bound}, l.beta_q);
    Sig t = e.wire(m.expr + " + " + lit(int64_t{1} << (kBetaBits - 1)), m.bound + (int64_t{1} << (kBetaBits - 1)));
    Sig leak = e.wire(t.expr + " >>> " + std::to_string(kBetaBits), (t.bound >> kBetaBits) + 1);
    std::string theta = lit(l.threshold[j]);
    Sig nu = e.wire("first ? " + cur.expr + " : " + leak.expr + " + " + cur.expr + " - (y[" + js + "] ? " + theta +
                        " : 0)",
                    leak.bound + cur.bound + l.threshold[j]);
    update += "        " + u + " <= " + nu.expr + ";\n        y[" + js + "] <= " + nu.expr + " > " + theta + ";\n";
  }
  s += regs + e.text;
  s += "  always @(posedge clk) begin\n"
       "    if (rst) done <= 0;\n"
       "    else begin\n"
       "      done <= start;\n"
       "      if (start) begin\n" +
       update +
       "      end\n    end\n  end\nendmodule\n";
  return s;
}

std::string unpack_inputs(const std::string& bus, const std::string& name, int count) {
  std::string s;
  for (int i = 0; i < count; ++i)
    s += "  wire signed [7:0] " + name + std::to_string(i) + " = " + bus + "[" + std::to_string(8 * i + 7) + ":" +
         std::to_string(8 * i) + "];\n";
  return s;
}

std::string combinational_handshake(const std::string& outs) {
  return "  always @(posedge clk) begin\n"
         "    if (rst) begin busy <= 0; done <= 0; end\n"
         "    else begin\n"
         "      done <= 0;\n"
         "      if (start) begin xr <= x; busy <= 1; end\n"
         "      else if (busy) begin y <= {" + outs + "}; done <= 1; busy <= 0; end\n"
         "    end\n  end\nendmodule\n";
}

std::string top_module(const std::vector<HwLayer>& layers) {
  const HwLayer& last = layers.back();
  bool spiking = last.timed;
  int ob = spiking ? 8 : last.out_bits;  // spike counts are 8-bit codes
  std::string s = "module hw_top(input clk, input rst, input start, input [" +
                  std::to_string(8 * layers.front().inputs - 1) + ":0] x, output " + (spiking ? "reg " : "") +
                  "done, output " + (spiking ? "reg " : "") + "[" + std::to_string(ob * last.outputs - 1) + ":0] y);\n";
  if (spiking) s += "  reg go, first;\n  reg [7:0] t;\n";
  std::string prev_x = "x", prev_start = "start";
  for (size_t k = 0; k < layers.size(); ++k) {
    const HwLayer& h = layers[k];
    std::string ks = std::to_string(k);
    bool is_out = !spiking && k + 1 == layers.size();
    std::string y = is_out ? "y" : "a" + ks, d = is_out ? "done" : "d" + ks;
    if (!is_out) {
      s += "  wire [" + std::to_string(h.out_bits * h.outputs - 1) + ":0] " + y + ";\n";
      s += "  wire " + d + ";\n";
    }
    // The first timed layer starts each step; the static part's output holds its value meanwhile.
    bool first_timed = h.timed && (k == 0 || !layers[k - 1].timed);
    std::string st = first_timed ? "go" : prev_start;
    s += "  layer_" + ks + " l" + ks + "(.clk(clk), .rst(rst), .start(" + st + ")" +
         (h.is_lif() ? ", .first(first)" : "") + ", .x(" + prev_x + "), .done(" + d + "), .y(" + y + "));\n";
    if (!h.timed && k + 1 < layers.size() && layers[k + 1].timed) s += "  wire static_done = " + d + ";\n";
    prev_x = y;
    prev_start = d;
  }
  if (!spiking) return s + "endmodule\n";
  std::string n = std::to_string(layers.size() - 1), cat, clear, add;
  for (int j = 0; j < last.outputs; ++j) {
    std::string js = std::to_string(j);
    s += "  reg [7:0] c" + js + ";\n  wire [7:0] nc" + js + " = c" + js + " + a" + n + "[" + js + "];\n";
    cat.insert(0, j ? "nc" + js + ", " : "nc" + js);
    clear += " c" + js + " <= 0;";
    add += " c" + js + " <= nc" + js + ";";
  }
  s += "  always @(posedge clk) begin\n"
       "    if (rst) begin go <= 0; done <= 0; end\n"
       "    else begin\n"
       "      go <= 0;\n      done <= 0;\n"
       "      if (static_done) begin go <= 1; first <= 1; t <= 0;" + clear + " end\n"
       "      else if (d" + n + ") begin\n"
       "       " + add + "\n"
       "        t <= t + 8'd1;\n        first <= 0;\n"
       "        if (t == 8'd" + std::to_string(last.steps - 1) + ") begin y <= {" + cat + "}; done <= 1; end\n"
       "        else go <= 1;\n"
       "      end\n    end\n  end\n";
  return s + "endmodule\n";
}

}  // namespace frugal::hardwire::verilog
