// Co-simulation of a generated netlist with Icarus Verilog: writes the design folder, runs
// iverilog and vvp on the test inputs and compares every output code with the integer reference.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/hardwire/netlist.h"

namespace frugal::hardwire {

// True when `tool` is on PATH (checked through the shell's `command -v`).
bool tool_available(const std::string& tool);

// Writes hardwired.v, tb.v, inputs.hex and README.md into dir (created if missing).
void write_design(const Netlist& netlist, const std::string& dir, const std::vector<std::vector<int32_t>>& inputs);

struct SimResult {
  int samples = 0;
  int64_t mismatches = 0;  // output codes that differ from the reference
  std::vector<std::vector<int32_t>> outputs;
};

// Writes the design, runs iverilog + vvp in dir (log in dir/sim.log) and compares with expected.
// Throws Error when a tool fails or the outputs are missing or malformed.
SimResult simulate(const Netlist& netlist, const std::string& dir, const std::vector<std::vector<int32_t>>& inputs,
                   const std::vector<std::vector<int32_t>>& expected);

}  // namespace frugal::hardwire
