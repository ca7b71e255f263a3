// Weight formats for hardwiring and the integer-exact reference inference that every generated
// netlist must match bit for bit. Formats: int8 and int4 (symmetric, one scale per output
// channel), FP4 E2M1 (values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6} times a per-channel scale) and MXFP4
// (OCP Microscaling Formats spec v1.0: blocks of 32 E2M1 elements sharing an E8M0 power-of-two
// scale). Activations are int8 with one scale per tensor calibrated on data; accumulators are
// integers; requantization uses a fixed-point multiplier and a rounding shift (as in gemmlowp /
// TFLite integer inference), so the reference needs no floating point after quantization.
// Spiking nets (direct encoding, LIF with subtract reset, spike-count readout; snnTorch `Leaky`
// semantics, docs/snn.md) run in integers too: a LIF neuron's membrane is kept in the units of the
// accumulator that feeds it, its threshold rounded to those units, its leak a fixed-point constant.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace frugal::hardwire {

enum class WeightFormat { int8, int4, fp4, mxfp4 };
WeightFormat parse_weight_format(const std::string& name);  // "int8", "int4", "fp4", "mxfp4"
std::string format_name(WeightFormat format);

// FP4 E2M1 code: bit 3 sign, bits 2..1 exponent (bias 1), bit 0 mantissa; no inf or NaN.
float fp4_decode(int code);
// Nearest representable value, ties to the even code (as IEEE round-to-nearest-even), saturating
// at ±6 (the MX spec converts overflow to the largest magnitude).
int fp4_encode(float value);

// One MXFP4 block: element i is fp4_decode(codes[i]) * 2^(scale_e8m0 - 127).
struct Mxfp4Block {
  uint8_t scale_e8m0 = 127;  // 255 is NaN in the spec and never produced here
  std::vector<uint8_t> codes;
};
// The spec's shared scale: X = floor(log2(max |v|)) - 2 (2 = emax of E2M1), then each element is
// v / 2^X rounded to E2M1. A block of zeros gets X = 0 (any X encodes it).
std::vector<Mxfp4Block> mxfp4_encode(const float* values, int count);
std::vector<float> mxfp4_decode(const std::vector<Mxfp4Block>& blocks, int count);

// Integer codes of a row of weights in `format`: real weight = scale * level. For FP4 the level is
// twice the E2M1 value (an integer in [-12, 12]) so halves stay integral; for MXFP4 the level also
// carries the block's power of two relative to the row's smallest block scale.
struct QuantRow {
  std::vector<int32_t> level;
  float scale = 0;
};
QuantRow quantize_row(const float* weights, int count, WeightFormat format);

// encoder: direct encoding, the layers after it run `steps` times on the same input; lif: LIF
// neurons with reset by subtraction; spike_count: the readout, spikes of the last LIF summed over
// the steps (it ends a spiking net).
enum class LayerKind { linear, conv2d, relu, flatten, maxpool2d, encoder, lif, spike_count };
std::string kind_name(LayerKind kind);

// A float layer of a feed-forward net: the plain description post-training quantization reads.
// Weight layouts follow PyTorch: linear [out, in], conv2d [O, I, K, K]; shapes are per sample.
struct FloatLayer {
  LayerKind kind = LayerKind::linear;
  int in_features = 0, out_features = 0;                         // linear
  int in_channels = 0, out_channels = 0, kernel = 0, stride = 1, pad = 0;  // conv2d, maxpool2d
  int in_h = 0, in_w = 0;                                        // conv2d, maxpool2d input
  std::vector<float> weight, bias;
  int steps = 0;                                                 // encoder
  float beta = 1, threshold = 1;                                 // lif
};

struct FloatNet {
  std::vector<FloatLayer> layers;
  int input_size = 0;  // elements per sample
};

// Per-sample float forward pass: the accuracy the quantized net is compared against. A spiking
// net returns the spike counts of its readout.
std::vector<float> float_forward(const FloatNet& net, const std::vector<float>& x);

// A quantized layer. Weighted layers (linear, conv2d) hold integer weight levels and integer biases
// in accumulator units (bias / (input_scale * weight_scale[o])), and requantize their accumulator:
//   out = clamp((acc * mult[o] + 2^(shift[o]-1)) >> shift[o], out_lo, out_hi)
// with an arithmetic shift, i.e. round half up. relu, flatten and maxpool2d act on integer codes.
// A weighted layer that feeds LIF neurons is `raw`: its output is acc + bias, unrequantized, the
// neurons' input current. A lif layer runs, per neuron j and step,
//   U = ((U * beta_q + 2^(kBetaBits-1)) >> kBetaBits) + I - (S ? threshold[j] : 0);  S = U > threshold[j]
// (S the previous step's spike: the reset is delayed one step, as snnTorch's) from U = 0, S = 0.
struct QuantLayer {
  LayerKind kind = LayerKind::linear;
  int in_features = 0, out_features = 0;
  int in_channels = 0, out_channels = 0, kernel = 0, stride = 1, pad = 0, in_h = 0, in_w = 0;
  std::vector<int32_t> weight;       // levels, same layout as FloatLayer::weight
  std::vector<float> weight_scale;   // per output channel
  std::vector<int32_t> bias;         // per output channel, accumulator units
  std::vector<int32_t> mult;         // per output channel, in [2^14, 2^15)
  std::vector<int32_t> shift;        // per output channel, >= 1
  int32_t out_lo = -127, out_hi = 127;
  float out_scale = 1;               // real value of one output code
  int32_t in_max = 127;              // largest |input code|: 1 when the input is spikes
  bool raw = false;
  int steps = 0;                     // encoder
  int32_t beta_q = 0;                // lif: round(beta * 2^kBetaBits)
  std::vector<int32_t> threshold;    // lif: per neuron, in the units of its input current
  int64_t membrane_bound = 0;        // lif: largest |U| over the net's steps
};
constexpr int kBetaBits = 8;

struct QuantNet {
  WeightFormat format = WeightFormat::int8;
  int input_size = 0;
  float input_scale = 1;             // real value of one input code; inputs are int8 in [-127, 127]
  std::vector<QuantLayer> layers;
};

// Post-training quantization: weights per `format`, activation scales from the calibration
// samples (max |value| / 127 per tensor; the last weighted layer's output uses 16 bits so its
// arg-max keeps the logits' order). Throws Error naming the layer when an accumulator (or a LIF
// membrane) bound overflows 32 bits (check_accumulator_bits), or a spiking layer is out of place.
QuantNet quantize_net(const FloatNet& net, WeightFormat format,
                      const std::vector<std::vector<float>>& calibration);
// Throws Error naming the first layer whose accumulator or membrane bound does not fit a signed
// `bits`-wide register (a hardware design choice: narrower accumulators are cheaper).
void check_accumulator_bits(const QuantNet& net, int bits);

std::vector<int32_t> quantize_input(const QuantNet& net, const std::vector<float>& x);
// Integer-only inference: the oracle. Returns the last layer's output codes (a spiking net: the
// readout's spike counts).
std::vector<int32_t> quant_forward(const QuantNet& net, const std::vector<int32_t>& x);
// Every layer's output codes (index i is the output of layers[i]; in a spiking net, the last step's
// for layers after the encoder), for checking netlists by layer.
std::vector<std::vector<int32_t>> quant_forward_trace(const QuantNet& net, const std::vector<int32_t>& x);

// Largest |accumulator| a weighted layer can reach for its inputs (int8 codes or spikes), bias included.
int64_t accumulator_bound(const QuantLayer& layer);
// Index of the largest value, the first on ties.
int argmax(const std::vector<int32_t>& values);
int argmax(const std::vector<float>& values);

}  // namespace frugal::hardwire
