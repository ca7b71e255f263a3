// Writes the synthesis blocks of docs/hardwire.md ("Synthesis figures"): one linear layer of IN
// inputs and 8 outputs with a ReLU, weights drawn from N(0, 1) (seed 1) and quantized to FP4,
// generated in one netlist style into DIR (hardwired.v, tb.v, inputs.hex, README.md), ready for
// the Yosys script of synth.h. Not part of the CMake build; compile it against libfrugal:
//   c++ -std=c++20 -fopenmp -Iinclude examples/hnlpu/make_blocks.cpp build/release/libfrugal.a -lfmt -o make_blocks
//   ./make_blocks 256 hn blocks/hn_256
#include <cstdio>
#include <string>

#include "frugal/core/rng.h"
#include "frugal/hardwire/netlist.h"
#include "frugal/hardwire/simulate.h"

using namespace frugal::hardwire;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_blocks INPUTS ce|hn|mem DIR\n");
    return 2;
  }
  int in = std::stoi(argv[1]);
  std::string style = argv[2], dir = argv[3];
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
  return 0;
}
