// Weight formats, post-training quantization and the integer reference inference (see quant.h).
#include "frugal/hardwire/quant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "frugal/core/error.h"

namespace frugal::hardwire {

namespace {

// E2M1 magnitudes by the low three code bits; doubled they are the integers {0,1,2,3,4,6,8,12}.
const float kFp4Magnitude[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

int64_t round_half_away(double v) { return static_cast<int64_t>(std::llround(v)); }

int32_t clamp32(int64_t v, int32_t lo, int32_t hi) {
  return static_cast<int32_t>(std::min<int64_t>(hi, std::max<int64_t>(lo, v)));
}

std::string layer_label(size_t index, LayerKind kind) {
  return "layer " + std::to_string(index) + " (" + kind_name(kind) + ")";
}

int conv_out(int size, int kernel, int stride, int pad) { return (size + 2 * pad - kernel) / stride + 1; }

// Output size of a layer given its input size; checks the layer's stated shapes against it.
int layer_output_size(const FloatLayer& l, int in_size, size_t index) {
  std::string at = "hardwire: " + layer_label(index, l.kind);
  switch (l.kind) {
    case LayerKind::linear:
      require(l.in_features == in_size, at + ": in_features " + std::to_string(l.in_features) +
                                            ", expected the input size " + std::to_string(in_size));
      require(l.weight.size() == static_cast<size_t>(l.in_features) * l.out_features,
              at + ": weight has " + std::to_string(l.weight.size()) + " values, expected in*out");
      require(l.bias.empty() || l.bias.size() == static_cast<size_t>(l.out_features), at + ": bias size");
      return l.out_features;
    case LayerKind::conv2d: {
      require(l.in_channels * l.in_h * l.in_w == in_size && l.kernel > 0 && l.stride > 0,
              at + ": input C*H*W and kernel/stride must match the previous layer");
      require(l.weight.size() == static_cast<size_t>(l.out_channels) * l.in_channels * l.kernel * l.kernel,
              at + ": weight has " + std::to_string(l.weight.size()) + " values, expected O*I*K*K");
      require(l.bias.empty() || l.bias.size() == static_cast<size_t>(l.out_channels), at + ": bias size");
      int oh = conv_out(l.in_h, l.kernel, l.stride, l.pad), ow = conv_out(l.in_w, l.kernel, l.stride, l.pad);
      require(oh > 0 && ow > 0, at + ": kernel larger than the padded input");
      return l.out_channels * oh * ow;
    }
    case LayerKind::maxpool2d: {
      require(l.in_channels * l.in_h * l.in_w == in_size && l.kernel > 0 && l.stride > 0,
              at + ": input C*H*W and kernel/stride must match the previous layer");
      int oh = conv_out(l.in_h, l.kernel, l.stride, l.pad), ow = conv_out(l.in_w, l.kernel, l.stride, l.pad);
      require(oh > 0 && ow > 0, at + ": kernel larger than the padded input");
      return l.in_channels * oh * ow;
    }
    case LayerKind::encoder:
      require(l.steps >= 1 && l.steps <= 127, at + ": steps " + std::to_string(l.steps) +
                                                  ", expected 1 to 127 (spike counts are 8-bit codes)");
      return in_size;
    case LayerKind::relu:
    case LayerKind::flatten:
    case LayerKind::lif:
    case LayerKind::spike_count:
      return in_size;
  }
  return in_size;
}

bool is_weighted(LayerKind kind) { return kind == LayerKind::linear || kind == LayerKind::conv2d; }

// Index of the encoder that starts a spiking net's time loop, or the layer count when there is none.
template <typename L>
size_t encoder_index(const std::vector<L>& layers) {
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].kind == LayerKind::encoder) return i;
  return layers.size();
}

// The layer that feeds layer i, skipping the shape-only ones (flatten, encoder); -1 for the input.
template <typename L>
int feeding_layer(const std::vector<L>& layers, size_t i) {
  int j = static_cast<int>(i) - 1;
  while (j >= 0 && (layers[j].kind == LayerKind::flatten || layers[j].kind == LayerKind::encoder)) --j;
  return j;
}

// The spiking structure the integer reference and the netlists implement: [static layers ending in
// a weighted one] encoder [lif (weighted lif)*] spike_count, flattens allowed anywhere.
void check_spiking_structure(const FloatNet& net) {
  size_t e = encoder_index(net.layers), n = net.layers.size();
  for (size_t i = 0; i < n; ++i) {
    const FloatLayer& l = net.layers[i];
    std::string at = "hardwire: " + layer_label(i, l.kind);
    int from = feeding_layer(net.layers, i);
    LayerKind fk = from >= 0 ? net.layers[from].kind : LayerKind::flatten;
    if (l.kind == LayerKind::encoder) {
      require(i == e, at + ": a net may hold one encoder only");
      require(from >= 0 && is_weighted(fk), at + ": the direct encoder must follow a linear or conv2d layer "
                                                 "(its current is what the LIF neurons integrate)");
    } else if (i < e) {
      require(l.kind != LayerKind::lif && l.kind != LayerKind::spike_count,
              at + ": spiking layers need a direct encoder before them");
    } else if (i > e) {
      if (l.kind == LayerKind::lif) {
        require(from >= 0 && is_weighted(fk), at + ": LIF neurons must follow a linear or conv2d layer");
        require(l.beta >= 0 && l.beta <= 1 && l.threshold > 0, at + ": beta must lie in [0, 1] and threshold be > 0");
      } else if (is_weighted(l.kind)) {
        require(fk == LayerKind::lif, at + ": a weighted layer after the encoder must take spikes from a LIF layer");
      } else if (l.kind == LayerKind::spike_count) {
        require(i + 1 == n && fk == LayerKind::lif, at + ": the spike-count readout must be the last layer, after a LIF layer");
      } else {
        require(l.kind == LayerKind::flatten, at + " cannot run after the encoder: a spiking net holds linear, "
                                                  "conv2d, lif, flatten and a spike-count readout");
      }
      int next = static_cast<int>(i) + 1;
      while (next < static_cast<int>(n) && net.layers[next].kind == LayerKind::flatten) ++next;
      if (is_weighted(l.kind))
        require(next < static_cast<int>(n) && net.layers[next].kind == LayerKind::lif,
                at + ": a weighted layer after the encoder must feed LIF neurons");
    }
  }
  if (e < n) require(net.layers.back().kind == LayerKind::spike_count,
                     "hardwire: a spiking net must end in a spike-count readout");
}

// Shared loop nest of linear and conv2d over any element type: acc[o, p] = sum w * x + bias.
template <typename W, typename X, typename A>
void weighted_forward(LayerKind kind, int in_features, int out_features, int in_c, int out_c, int k,
                      int stride, int pad, int in_h, int in_w, const W* w, const X* x, A* acc) {
  if (kind == LayerKind::linear) {
    for (int o = 0; o < out_features; ++o) {
      A s = 0;
      for (int i = 0; i < in_features; ++i) s += static_cast<A>(w[static_cast<size_t>(o) * in_features + i]) * x[i];
      acc[o] = s;
    }
    return;
  }
  int oh = conv_out(in_h, k, stride, pad), ow = conv_out(in_w, k, stride, pad);
  for (int o = 0; o < out_c; ++o)
    for (int y = 0; y < oh; ++y)
      for (int xo = 0; xo < ow; ++xo) {
        A s = 0;
        for (int c = 0; c < in_c; ++c)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              int iy = y * stride - pad + ky, ix = xo * stride - pad + kx;
              if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) continue;  // zero padding
              s += static_cast<A>(w[((static_cast<size_t>(o) * in_c + c) * k + ky) * k + kx]) *
                   x[(static_cast<size_t>(c) * in_h + iy) * in_w + ix];
            }
        acc[(static_cast<size_t>(o) * oh + y) * ow + xo] = s;
      }
}

template <typename X>
std::vector<X> maxpool_forward(int c, int k, int stride, int pad, int in_h, int in_w, const std::vector<X>& x) {
  int oh = conv_out(in_h, k, stride, pad), ow = conv_out(in_w, k, stride, pad);
  std::vector<X> out(static_cast<size_t>(c) * oh * ow);
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < oh; ++y)
      for (int xo = 0; xo < ow; ++xo) {
        X m = std::numeric_limits<X>::lowest();
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            int iy = y * stride - pad + ky, ix = xo * stride - pad + kx;
            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) continue;
            m = std::max(m, x[(static_cast<size_t>(ch) * in_h + iy) * in_w + ix]);
          }
        out[(static_cast<size_t>(ch) * oh + y) * ow + xo] = m;
      }
  return out;
}

// One layer of the float net on a single step's values (lif and spike_count keep state in `u`, `spk`).
std::vector<float> float_layer(const FloatLayer& l, size_t li, const std::vector<float>& cur, std::vector<float>& u,
                               std::vector<float>& spk) {
  int out_size = layer_output_size(l, static_cast<int>(cur.size()), li);
  std::vector<float> next(out_size);
  if (is_weighted(l.kind)) {
    std::vector<double> acc(out_size);
    weighted_forward(l.kind, l.in_features, l.out_features, l.in_channels, l.out_channels, l.kernel, l.stride,
                     l.pad, l.in_h, l.in_w, l.weight.data(), cur.data(), acc.data());
    int channels = l.kind == LayerKind::linear ? l.out_features : l.out_channels;
    int per = out_size / channels;
    for (int i = 0; i < out_size; ++i)
      next[i] = static_cast<float>(acc[i] + (l.bias.empty() ? 0.0 : l.bias[i / per]));
  } else if (l.kind == LayerKind::relu) {
    for (int i = 0; i < out_size; ++i) next[i] = std::max(0.0f, cur[i]);
  } else if (l.kind == LayerKind::maxpool2d) {
    next = maxpool_forward(l.in_channels, l.kernel, l.stride, l.pad, l.in_h, l.in_w, cur);
  } else if (l.kind == LayerKind::lif) {
    u.resize(out_size, 0.0f);
    spk.resize(out_size, 0.0f);
    for (int i = 0; i < out_size; ++i) {
      u[i] = l.beta * u[i] + cur[i] - spk[i] * l.threshold;
      spk[i] = u[i] > l.threshold ? 1.0f : 0.0f;
      next[i] = spk[i];
    }
  } else if (l.kind == LayerKind::spike_count) {
    u.resize(out_size, 0.0f);
    for (int i = 0; i < out_size; ++i) u[i] += cur[i];
    next = u;
  } else {
    next = cur;
  }
  return next;
}

std::vector<std::vector<float>> float_forward_trace(const FloatNet& net, const std::vector<float>& x) {
  require(static_cast<int>(x.size()) == net.input_size,
          "hardwire: input has " + std::to_string(x.size()) + " values, expected " + std::to_string(net.input_size));
  size_t n = net.layers.size(), e = encoder_index(net.layers);
  std::vector<std::vector<float>> trace(n), u(n), spk(n);
  std::vector<float> cur = x;
  for (size_t li = 0; li < std::min(n, e + 1); ++li) {
    cur = float_layer(net.layers[li], li, cur, u[li], spk[li]);
    trace[li] = cur;
  }
  int steps = e < n ? net.layers[e].steps : 0;
  for (int t = 0; t < steps; ++t) {
    std::vector<float> v = trace[e];
    for (size_t li = e + 1; li < n; ++li) {
      v = float_layer(net.layers[li], li, v, u[li], spk[li]);
      trace[li] = v;
    }
  }
  return trace;
}

// Real multiplier m as mult * 2^-shift with mult in [2^14, 2^15), the precision of a 16-bit
// signed constant; a zero multiplier (an all-zero output) stays exactly zero.
void fixed_point(double m, int32_t& mult, int32_t& shift, const std::string& at) {
  if (m == 0) {
    mult = 0;
    shift = 1;
    return;
  }
  int e = static_cast<int>(std::floor(std::log2(m)));
  int s = 14 - e;
  int64_t q = round_half_away(std::ldexp(m, s));
  if (q >= (1 << 15)) {  // rounding reached 2^15: one bit less of shift
    --s;
    q = round_half_away(std::ldexp(m, s));
  }
  require(s >= 1, at + ": requantization multiplier " + std::to_string(m) +
                      " is too large for a 16-bit fixed-point constant (output scale too small)");
  if (s > 62) {  // the output rounds to zero for every reachable accumulator
    mult = 0;
    shift = 1;
    return;
  }
  mult = static_cast<int32_t>(q);
  shift = s;
}

}  // namespace

WeightFormat parse_weight_format(const std::string& name) {
  if (name == "int8") return WeightFormat::int8;
  if (name == "int4") return WeightFormat::int4;
  if (name == "fp4") return WeightFormat::fp4;
  if (name == "mxfp4") return WeightFormat::mxfp4;
  throw Error("hardwire: format '" + name + "' unknown, expected int8, int4, fp4 or mxfp4");
}

std::string format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::int8: return "int8";
    case WeightFormat::int4: return "int4";
    case WeightFormat::fp4: return "fp4";
    case WeightFormat::mxfp4: return "mxfp4";
  }
  return "?";
}

std::string kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::linear: return "linear";
    case LayerKind::conv2d: return "conv2d";
    case LayerKind::relu: return "relu";
    case LayerKind::flatten: return "flatten";
    case LayerKind::maxpool2d: return "maxpool2d";
    case LayerKind::encoder: return "encoder";
    case LayerKind::lif: return "lif";
    case LayerKind::spike_count: return "spike_count";
  }
  return "?";
}

float fp4_decode(int code) {
  require(code >= 0 && code < 16, "hardwire: FP4 code " + std::to_string(code) + " outside [0, 15]");
  float m = kFp4Magnitude[code & 7];
  return (code & 8) ? -m : m;
}

int fp4_encode(float value) {
  float a = std::fabs(value);
  if (std::isnan(value)) throw Error("hardwire: FP4 cannot encode NaN");
  int best = 0;
  for (int c = 1; c < 8; ++c) {
    float d = std::fabs(kFp4Magnitude[c] - a), db = std::fabs(kFp4Magnitude[best] - a);
    // Codes are ordered by magnitude, so on a tie the even code is the one to keep or take.
    if (d < db || (d == db && (c & 1) == 0)) best = c;
  }
  if (a >= 6.0f) best = 7;
  return (std::signbit(value) && best != 0) ? (best | 8) : best;
}

std::vector<Mxfp4Block> mxfp4_encode(const float* values, int count) {
  std::vector<Mxfp4Block> blocks;
  for (int start = 0; start < count; start += 32) {
    int n = std::min(32, count - start);
    float amax = 0;
    for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(values[start + i]));
    int x = 0;
    if (amax > 0) x = static_cast<int>(std::floor(std::log2(amax))) - 2;
    x = std::max(-127, std::min(127, x));
    Mxfp4Block b;
    b.scale_e8m0 = static_cast<uint8_t>(x + 127);
    for (int i = 0; i < n; ++i) b.codes.push_back(static_cast<uint8_t>(fp4_encode(std::ldexp(values[start + i], -x))));
    blocks.push_back(std::move(b));
  }
  return blocks;
}

std::vector<float> mxfp4_decode(const std::vector<Mxfp4Block>& blocks, int count) {
  std::vector<float> out;
  for (const Mxfp4Block& b : blocks) {
    require(b.scale_e8m0 != 255, "hardwire: MXFP4 block scale is NaN (E8M0 0xFF)");
    for (uint8_t c : b.codes) out.push_back(std::ldexp(fp4_decode(c), b.scale_e8m0 - 127));
  }
  require(static_cast<int>(out.size()) == count, "hardwire: MXFP4 blocks hold " + std::to_string(out.size()) +
                                                     " values, expected " + std::to_string(count));
  return out;
}

QuantRow quantize_row(const float* w, int count, WeightFormat format) {
  QuantRow row;
  row.level.assign(count, 0);
  float amax = 0;
  for (int i = 0; i < count; ++i) amax = std::max(amax, std::fabs(w[i]));
  if (amax == 0) return row;
  if (format == WeightFormat::int8 || format == WeightFormat::int4) {
    int qmax = format == WeightFormat::int8 ? 127 : 7;
    row.scale = amax / qmax;
    for (int i = 0; i < count; ++i)
      row.level[i] = clamp32(round_half_away(w[i] / row.scale), -qmax, qmax);
  } else if (format == WeightFormat::fp4) {
    float s = amax / 6.0f;
    row.scale = s / 2;  // levels are doubled E2M1 values
    for (int i = 0; i < count; ++i) row.level[i] = static_cast<int32_t>(2 * fp4_decode(fp4_encode(w[i] / s)));
  } else {
    std::vector<Mxfp4Block> blocks = mxfp4_encode(w, count);
    int xmin = 255;
    for (const Mxfp4Block& b : blocks) {
      bool nonzero = false;
      for (uint8_t c : b.codes) nonzero = nonzero || (c & 7) != 0;
      if (nonzero) xmin = std::min<int>(xmin, b.scale_e8m0);
    }
    for (size_t bi = 0; bi < blocks.size(); ++bi)
      for (size_t j = 0; j < blocks[bi].codes.size(); ++j) {
        int code = blocks[bi].codes[j];
        if ((code & 7) == 0) continue;
        int up = blocks[bi].scale_e8m0 - xmin;
        require(up <= 20, "hardwire: MXFP4 block scales in one row differ by 2^" + std::to_string(up) +
                              ", more than the 2^20 an integer weight level can carry");
        row.level[bi * 32 + j] = static_cast<int32_t>(2 * fp4_decode(code)) * (1 << up);
      }
    row.scale = std::ldexp(1.0f, xmin - 127 - 1);
  }
  return row;
}

std::vector<float> float_forward(const FloatNet& net, const std::vector<float>& x) {
  std::vector<std::vector<float>> trace = float_forward_trace(net, x);
  return trace.empty() ? x : trace.back();
}

int64_t accumulator_bound(const QuantLayer& l) {
  int channels = l.kind == LayerKind::linear ? l.out_features : l.out_channels;
  if (channels == 0) return 0;
  size_t per = l.weight.size() / channels;
  int64_t worst = 0;
  for (int o = 0; o < channels; ++o) {
    int64_t s = 0;
    for (size_t i = 0; i < per; ++i) s += std::abs(static_cast<int64_t>(l.weight[o * per + i]));
    worst = std::max(worst, s * l.in_max + std::abs(static_cast<int64_t>(l.bias[o])));
  }
  return worst;
}

void check_accumulator_bits(const QuantNet& net, int bits) {
  require(bits >= 2 && bits <= 63, "hardwire: accumulator width " + std::to_string(bits) + " bits, expected 2 to 63");
  int64_t limit = int64_t{1} << (bits - 1);
  for (size_t li = 0; li < net.layers.size(); ++li) {
    const QuantLayer& l = net.layers[li];
    std::string at = "hardwire: " + layer_label(li, l.kind);
    if (is_weighted(l.kind)) {
      int64_t bound = accumulator_bound(l);
      require(bound < limit, at + ": format " + format_name(net.format) + " reaches |accumulator| " +
                                 std::to_string(bound) + ", which overflows the " + std::to_string(bits) +
                                 "-bit accumulator");
    } else if (l.kind == LayerKind::lif) {
      require(l.membrane_bound < limit, at + ": the membrane can reach " + std::to_string(l.membrane_bound) +
                                            " in format " + format_name(net.format) + ", which overflows the " +
                                            std::to_string(bits) + "-bit accumulator");
    }
  }
}

QuantNet quantize_net(const FloatNet& net, WeightFormat format, const std::vector<std::vector<float>>& calibration) {
  require(!calibration.empty(), "hardwire: quantization needs at least one calibration sample");
  require(!net.layers.empty(), "hardwire: the net has no layers");
  check_spiking_structure(net);
  // Calibration: the largest activation each tensor reaches. A tensor that feeds a ReLU only
  // needs its positive range, so its codes spend no resolution on values the ReLU clears.
  size_t n = net.layers.size();
  float in_max = 0;
  std::vector<float> out_max(n, 0.0f);
  for (const std::vector<float>& x : calibration) {
    for (float v : x) in_max = std::max(in_max, std::fabs(v));
    std::vector<std::vector<float>> trace = float_forward_trace(net, x);
    for (size_t li = 0; li < n; ++li) {
      bool to_relu = li + 1 < n && net.layers[li + 1].kind == LayerKind::relu;
      for (float v : trace[li]) out_max[li] = std::max(out_max[li], to_relu ? v : std::fabs(v));
    }
  }
  int last_weighted = -1;
  for (size_t li = 0; li < n; ++li)
    if (is_weighted(net.layers[li].kind)) last_weighted = static_cast<int>(li);
  require(last_weighted >= 0, "hardwire: the net has no linear or conv2d layer to hardwire");
  size_t e = encoder_index(net.layers);
  int steps = e < n ? net.layers[e].steps : 0;

  QuantNet q;
  q.format = format;
  q.input_size = net.input_size;
  q.input_scale = in_max > 0 ? in_max / 127 : 1.0f;
  float scale = q.input_scale;
  int32_t code_max = 127;   // largest |code| of the current tensor: 1 once it is spikes
  int size = net.input_size;
  std::vector<double> in_scale(n);  // real value of one input code of each layer
  for (size_t li = 0; li < n; ++li) {
    const FloatLayer& f = net.layers[li];
    in_scale[li] = scale;
    std::string at = "hardwire: " + layer_label(li, f.kind);
    int out_size = layer_output_size(f, size, li);
    QuantLayer l;
    l.kind = f.kind;
    l.in_features = f.in_features;
    l.out_features = f.out_features;
    l.in_channels = f.in_channels;
    l.out_channels = f.out_channels;
    l.kernel = f.kernel;
    l.stride = f.stride;
    l.pad = f.pad;
    l.in_h = f.in_h;
    l.in_w = f.in_w;
    l.steps = f.steps;
    l.out_scale = scale;
    l.in_max = code_max;
    if (is_weighted(f.kind)) {
      int channels = f.kind == LayerKind::linear ? f.out_features : f.out_channels;
      int per = static_cast<int>(f.weight.size()) / channels;
      size_t next = li + 1;
      while (next < n && (net.layers[next].kind == LayerKind::flatten || net.layers[next].kind == LayerKind::encoder))
        ++next;
      l.raw = next < n && net.layers[next].kind == LayerKind::lif;
      bool last = static_cast<int>(li) == last_weighted;
      int32_t qmax = last ? 32767 : 127;
      l.out_lo = -qmax;
      l.out_hi = qmax;
      l.out_scale = out_max[li] > 0 ? out_max[li] / qmax : 1.0f;
      float fallback = 0;
      std::vector<QuantRow> rows;
      for (int o = 0; o < channels; ++o) {
        rows.push_back(quantize_row(f.weight.data() + static_cast<size_t>(o) * per, per, format));
        fallback = std::max(fallback, rows.back().scale);
      }
      for (int o = 0; o < channels; ++o) {
        // An all-zero row has no scale of its own; any scale represents its bias.
        float sw = rows[o].scale > 0 ? rows[o].scale : (fallback > 0 ? fallback : 1.0f);
        l.weight.insert(l.weight.end(), rows[o].level.begin(), rows[o].level.end());
        l.weight_scale.push_back(sw);
        double unit = static_cast<double>(scale) * sw;
        float fb = f.bias.empty() ? 0.0f : f.bias[o];  // a layer without bias (an average pool) has none to read
        double b = fb / unit;
        require(std::fabs(b) < 2147483647.0, at + ": bias " + std::to_string(fb) +
                                                 " overflows the 32-bit accumulator at this scale");
        l.bias.push_back(static_cast<int32_t>(round_half_away(b)));
        int32_t mult = 0, shift = 0;  // a raw layer does not requantize
        if (!l.raw) fixed_point(unit / l.out_scale, mult, shift, at);
        l.mult.push_back(mult);
        l.shift.push_back(shift);
      }
      if (l.raw) {  // the output is the accumulator itself
        int64_t bound = std::min<int64_t>(accumulator_bound(l), 2147483647);
        l.out_lo = static_cast<int32_t>(-bound);
        l.out_hi = static_cast<int32_t>(bound);
      }
      scale = l.out_scale;
      code_max = l.out_hi;
    } else if (f.kind == LayerKind::relu) {
      l.out_lo = 0;
    } else if (f.kind == LayerKind::lif) {
      // The membrane is kept in the feeding layer's accumulator units: input scale times the
      // channel's weight scale. The threshold is rounded to those units.
      int wi = feeding_layer(net.layers, li);
      const QuantLayer& w = q.layers[wi];
      int channels = static_cast<int>(w.weight_scale.size());
      int per = out_size / channels;
      l.beta_q = static_cast<int32_t>(round_half_away(std::ldexp(static_cast<double>(f.beta), kBetaBits)));
      int64_t theta_max = 0;
      for (int j = 0; j < out_size; ++j) {
        double unit = in_scale[wi] * w.weight_scale[j / per];
        double theta = std::max(1.0, std::round(f.threshold / unit));
        require(theta < 2147483647.0, at + ": threshold " + std::to_string(f.threshold) +
                                          " overflows 32 bits in the units of its input current");
        l.threshold.push_back(static_cast<int32_t>(theta));
        theta_max = std::max<int64_t>(theta_max, l.threshold.back());
      }
      // leak never grows |U| (beta_q <= 2^kBetaBits), so each step adds at most the current and a threshold
      l.membrane_bound = steps * (accumulator_bound(w) + theta_max);
      l.out_lo = 0;
      l.out_hi = 1;
      l.out_scale = 1;
      scale = 1;
      code_max = 1;
    } else if (f.kind == LayerKind::spike_count) {
      l.out_lo = 0;
      l.out_hi = steps;
      l.out_scale = 1;
    }
    q.layers.push_back(std::move(l));
    size = out_size;
  }
  check_accumulator_bits(q, 32);
  return q;
}

std::vector<int32_t> quantize_input(const QuantNet& net, const std::vector<float>& x) {
  require(static_cast<int>(x.size()) == net.input_size,
          "hardwire: input has " + std::to_string(x.size()) + " values, expected " + std::to_string(net.input_size));
  std::vector<int32_t> codes(x.size());
  for (size_t i = 0; i < x.size(); ++i) codes[i] = clamp32(round_half_away(x[i] / net.input_scale), -127, 127);
  return codes;
}

namespace {

// One layer of the integer reference on a single step's codes (lif and spike_count keep state).
std::vector<int32_t> quant_layer(const QuantLayer& l, size_t li, const std::vector<int32_t>& cur,
                                 std::vector<int64_t>& u, std::vector<int32_t>& spk) {
  std::vector<int32_t> next;
  if (is_weighted(l.kind)) {
    int channels = l.kind == LayerKind::linear ? l.out_features : l.out_channels;
    int out_size = l.kind == LayerKind::linear
                       ? l.out_features
                       : l.out_channels * conv_out(l.in_h, l.kernel, l.stride, l.pad) *
                             conv_out(l.in_w, l.kernel, l.stride, l.pad);
    int in_size = l.kind == LayerKind::linear ? l.in_features : l.in_channels * l.in_h * l.in_w;
    require(static_cast<int>(cur.size()) == in_size, "hardwire: " + layer_label(li, l.kind) + ": input has " +
                                                         std::to_string(cur.size()) + " codes, expected " +
                                                         std::to_string(in_size));
    std::vector<int64_t> acc(out_size);
    weighted_forward(l.kind, l.in_features, l.out_features, l.in_channels, l.out_channels, l.kernel, l.stride,
                     l.pad, l.in_h, l.in_w, l.weight.data(), cur.data(), acc.data());
    int per = out_size / channels;
    next.resize(out_size);
    for (int i = 0; i < out_size; ++i) {
      int o = i / per;
      int64_t a = acc[i] + l.bias[o];
      if (l.raw) {
        next[i] = clamp32(a, l.out_lo, l.out_hi);  // the bound holds, so this never clamps
        continue;
      }
      int64_t r = (a * l.mult[o] + (int64_t{1} << (l.shift[o] - 1))) >> l.shift[o];
      next[i] = clamp32(r, l.out_lo, l.out_hi);
    }
  } else if (l.kind == LayerKind::relu) {
    next = cur;
    for (int32_t& v : next) v = std::max(0, v);
  } else if (l.kind == LayerKind::maxpool2d) {
    require(static_cast<int>(cur.size()) == l.in_channels * l.in_h * l.in_w,
            "hardwire: " + layer_label(li, l.kind) + ": input size does not match C*H*W");
    next = maxpool_forward(l.in_channels, l.kernel, l.stride, l.pad, l.in_h, l.in_w, cur);
  } else if (l.kind == LayerKind::lif) {
    require(cur.size() == l.threshold.size(), "hardwire: " + layer_label(li, l.kind) + ": input has " +
                                                  std::to_string(cur.size()) + " currents, expected " +
                                                  std::to_string(l.threshold.size()));
    u.resize(cur.size(), 0);
    spk.resize(cur.size(), 0);
    next.resize(cur.size());
    const int64_t half = int64_t{1} << (kBetaBits - 1);
    for (size_t j = 0; j < cur.size(); ++j) {
      u[j] = ((u[j] * l.beta_q + half) >> kBetaBits) + cur[j] - (spk[j] ? l.threshold[j] : 0);
      spk[j] = u[j] > l.threshold[j] ? 1 : 0;
      next[j] = spk[j];
    }
  } else if (l.kind == LayerKind::spike_count) {
    spk.resize(cur.size(), 0);
    for (size_t j = 0; j < cur.size(); ++j) spk[j] += cur[j];
    next = spk;
  } else {
    next = cur;
  }
  return next;
}

}  // namespace

std::vector<std::vector<int32_t>> quant_forward_trace(const QuantNet& net, const std::vector<int32_t>& x) {
  require(static_cast<int>(x.size()) == net.input_size,
          "hardwire: input has " + std::to_string(x.size()) + " codes, expected " + std::to_string(net.input_size));
  size_t n = net.layers.size(), e = encoder_index(net.layers);
  std::vector<std::vector<int32_t>> trace(n), spk(n);
  std::vector<std::vector<int64_t>> u(n);
  std::vector<int32_t> cur = x;
  for (size_t li = 0; li < std::min(n, e + 1); ++li) {
    cur = quant_layer(net.layers[li], li, cur, u[li], spk[li]);
    trace[li] = cur;
  }
  int steps = e < n ? net.layers[e].steps : 0;
  for (int t = 0; t < steps; ++t) {
    std::vector<int32_t> v = trace[e];
    for (size_t li = e + 1; li < n; ++li) {
      v = quant_layer(net.layers[li], li, v, u[li], spk[li]);
      trace[li] = v;
    }
  }
  return trace;
}

std::vector<int32_t> quant_forward(const QuantNet& net, const std::vector<int32_t>& x) {
  std::vector<std::vector<int32_t>> trace = quant_forward_trace(net, x);
  return trace.empty() ? x : trace.back();
}

int argmax(const std::vector<int32_t>& values) {
  int best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = static_cast<int>(i);
  return best;
}

int argmax(const std::vector<float>& values) {
  int best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = static_cast<int>(i);
  return best;
}

}  // namespace frugal::hardwire
