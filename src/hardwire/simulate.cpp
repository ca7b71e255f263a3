// Icarus Verilog co-simulation (see simulate.h).
#include "frugal/hardwire/simulate.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "frugal/core/error.h"
#include "shell_quote.h"

namespace frugal::hardwire {

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  require(static_cast<bool>(f), "hardwire: cannot write " + path);
  f << text;
  require(static_cast<bool>(f), "hardwire: writing " + path + " failed");
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  require(static_cast<bool>(f), "hardwire: cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

bool tool_available(const std::string& tool) {
  return std::system(("command -v " + shell_quote(tool) + " > /dev/null 2>&1").c_str()) == 0;
}

void write_design(const Netlist& nl, const std::string& dir, const std::vector<std::vector<int32_t>>& inputs) {
  require(!inputs.empty(), "hardwire: the testbench needs at least one input");
  for (const std::vector<int32_t>& x : inputs)
    require(static_cast<int>(x.size()) == nl.inputs, "hardwire: a test input has " + std::to_string(x.size()) +
                                                         " codes, the netlist expects " + std::to_string(nl.inputs));
  std::filesystem::create_directories(dir);
  write_text(dir + "/hardwired.v", nl.verilog);
  write_text(dir + "/tb.v", testbench_verilog(nl, static_cast<int>(inputs.size())));
  write_text(dir + "/inputs.hex", inputs_hex(inputs));
  write_text(dir + "/README.md", nl.readme);
}

SimResult simulate(const Netlist& nl, const std::string& dir, const std::vector<std::vector<int32_t>>& inputs,
                   const std::vector<std::vector<int32_t>>& expected) {
  require(expected.size() == inputs.size(), "hardwire: expected outputs and inputs differ in count");
  require(tool_available("iverilog") && tool_available("vvp"),
          "hardwire: simulation needs iverilog and vvp on PATH (Debian package iverilog)");
  write_design(nl, dir, inputs);
  std::filesystem::remove(dir + "/outputs.hex");
  std::string cmd = "cd " + shell_quote(dir) + " && iverilog -g2012 -o sim.vvp hardwired.v tb.v > sim.log 2>&1 && " +
                    "vvp -n sim.vvp >> sim.log 2>&1";
  require(std::system(cmd.c_str()) == 0, "hardwire: simulation failed, see " + dir + "/sim.log");
  SimResult r;
  r.outputs = parse_outputs_hex(read_text(dir + "/outputs.hex"), nl.outputs, nl.out_bits);
  require(r.outputs.size() == inputs.size(), "hardwire: " + dir + "/outputs.hex has " +
                                                 std::to_string(r.outputs.size()) + " lines, expected " +
                                                 std::to_string(inputs.size()));
  r.samples = static_cast<int>(inputs.size());
  for (size_t n = 0; n < expected.size(); ++n) {
    require(static_cast<int>(expected[n].size()) == nl.outputs, "hardwire: expected output size differs");
    for (int o = 0; o < nl.outputs; ++o) r.mismatches += r.outputs[n][o] != expected[n][o];
  }
  return r;
}

}  // namespace frugal::hardwire
