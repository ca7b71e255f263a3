// Writes the synthesis blocks of docs/hardwire.md ("Synthesis figures"): one linear layer of IN
// inputs and 8 outputs with a ReLU, weights drawn from N(0, 1) (seed 1) and quantized to FP4,
// generated in one netlist style into DIR (hardwired.v, tb.v, inputs.hex, README.md), ready for
// the Yosys script of synth.h. Built with the project (CMake globs bench/*.cpp):
//   cmake --build build/release --target bench_hw_blocks
//   build/release/bench_hw_blocks 256 hn blocks/hn_256
#include <cstdio>
#include <string>

#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/hardwire/netlist.h"
#include "frugal/hardwire/simulate.h"

using namespace frugal::hardwire;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_hw_blocks INPUTS ce|hn|mem DIR\n");
    return 2;
  }
  std::string inputs = argv[1], style = argv[2], dir = argv[3];
  if (inputs.empty() || inputs.size() > 5 || inputs.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(inputs) < 1) {
    std::fprintf(stderr, "bench_hw_blocks: INPUTS must be a number from 1 to 99999, got '%s'\n", argv[1]);
    return 2;
  }
  int in = std::stoi(inputs);
  try {
    frugal::Rng rng(1);
    FloatNet net;
    net.input_size = in;
    FloatLayer l;
    l.kind = LayerKind::linear;
    l.in_features = in;
    l.out_features = 8;
    for (int i = 0; i < in * 8; ++i) l.weight.push_back(rng.normal());
    for (int o = 0; o < 8; ++o) l.bias.push_back(0.1f * rng.normal());
    FloatLayer relu;
    relu.kind = LayerKind::relu;
    net.layers = {l, relu};
    std::vector<std::vector<float>> calibration(16, std::vector<float>(in));
    for (auto& x : calibration)
      for (float& v : x) v = rng.normal();
    QuantNet q = quantize_net(net, WeightFormat::fp4, calibration);
    Netlist nl = generate_netlist(q, parse_style(style));
    write_design(nl, dir, {std::vector<int32_t>(in, 0)});
    std::printf("%s %dx8: %lld non-zero weights, %lld memory bits\n", style.c_str(), in,
                static_cast<long long>(nl.nonzero_weights), static_cast<long long>(nl.memory_bits));
  } catch (const frugal::Error& e) {
    std::fprintf(stderr, "bench_hw_blocks: %s\n", e.what());
    return 2;
  }
  return 0;
}
