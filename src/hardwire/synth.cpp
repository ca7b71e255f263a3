// Yosys synthesis and the transistor table (see synth.h).
//
// Transistors per generic cell, static CMOS with complementary pull-up and pull-down networks
// (Weste & Harris, "CMOS VLSI Design", 4th ed., ch. 1 and 9; assumptions, not a foundry library):
//   NOT 2, BUF 4 (two inverters), NAND2 / NOR2 4, AND2 / OR2 6 (NAND / NOR + inverter),
//   ANDNOT / ORNOT 6 (an input inverter and a NOR / NAND),
//   XOR2 / XNOR2 12 (complementary static form including the input inverters),
//   MUX2 12 (two transmission gates, select inverter and output buffer),
//   D flip-flop 24 (static master-slave, transmission-gate latches with feedback keepers).
// Memories are costed as 6-transistor SRAM bit cells, without periphery.
#include "frugal/hardwire/synth.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "frugal/core/error.h"
#include "shell_quote.h"

namespace frugal::hardwire {

int transistors_per_cell(const std::string& type) {
  if (type == "$_NOT_") return 2;
  if (type == "$_BUF_") return 4;
  if (type == "$_NAND_" || type == "$_NOR_") return 4;
  if (type == "$_AND_" || type == "$_OR_" || type == "$_ANDNOT_" || type == "$_ORNOT_") return 6;
  if (type == "$_XOR_" || type == "$_XNOR_") return 12;
  if (type == "$_MUX_") return 12;
  if (type == "$_DFF_P_" || type == "$_DFF_N_") return 24;
  throw Error("hardwire: no transistor count for Yosys cell type " + type);
}

std::string yosys_script() {
  // Flip-flops with enable or reset are legalized to plain D flip-flops so that their enable and
  // reset logic is counted as gates; abc then maps all logic onto the two-input gate set. `-fast`
  // keeps abc's mapping to seconds on blocks of thousands of weights (the full script ran past 15
  // minutes on a 784-input ce layer).
  return "read_verilog -DHW_SYNTH hardwired.v; synth -flatten -top hw_top -noabc; "
         "dfflegalize -cell $_DFF_P_ x; abc -fast -g AND,NAND,OR,NOR,XOR,XNOR,MUX; opt_clean; tee -o stat.txt stat";
}

std::map<std::string, int64_t> parse_stat_cells(const std::string& report) {
  std::map<std::string, int64_t> cells;
  std::istringstream in(report);
  std::string line;
  bool in_cells = false;
  while (std::getline(in, line)) {
    if (line.find("Number of cells:") != std::string::npos) {
      in_cells = true;
      continue;
    }
    if (!in_cells) continue;
    std::istringstream ls(line);
    std::string type;
    int64_t count = 0;
    if (!(ls >> type >> count)) {
      if (!cells.empty()) break;  // the blank line after the list
      continue;
    }
    cells[type] += count;
  }
  return cells;
}

SynthStats synthesize(const Netlist& nl, const std::string& dir) {
  std::string cmd = "cd " + shell_quote(dir) + " && yosys -q -p " + shell_quote(yosys_script()) + " > synth.log 2>&1";
  require(std::system(cmd.c_str()) == 0, "hardwire: yosys failed, see " + dir + "/synth.log");
  std::ifstream f(dir + "/stat.txt");
  require(static_cast<bool>(f), "hardwire: yosys wrote no " + dir + "/stat.txt");
  std::stringstream ss;
  ss << f.rdbuf();
  SynthStats s;
  s.by_type = parse_stat_cells(ss.str());
  require(!s.by_type.empty(), "hardwire: no cell list in " + dir + "/stat.txt");
  for (const auto& [type, count] : s.by_type) {
    if (type.rfind("wmem_", 0) == 0) continue;  // the mem style's memories: costed as SRAM below
    s.cells += count;
    s.logic_transistors += count * transistors_per_cell(type);
  }
  s.memory_bits = nl.memory_bits;
  s.transistors = s.logic_transistors + s.memory_bits * kSramTransistorsPerBit;
  return s;
}

}  // namespace frugal::hardwire
