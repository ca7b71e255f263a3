// Gate counts of a generated netlist: Yosys synthesizes the design flattened to a generic gate
// set (AND, NAND, OR, NOR, XOR, XNOR, MUX, NOT and plain D flip-flops), and a documented table
// turns cells into static-CMOS transistors. Memories of the `mem` style stay black boxes and
// are costed as 6-transistor SRAM bits.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "frugal/hardwire/netlist.h"

namespace frugal::hardwire {

struct SynthStats {
  int64_t cells = 0;                        // logic cells and flip-flops (black boxes excluded)
  std::map<std::string, int64_t> by_type;   // e.g. "$_XOR_" -> count
  int64_t logic_transistors = 0;
  int64_t memory_bits = 0;
  int64_t transistors = 0;                  // logic + 6 per memory bit
};

// Transistors of one generic cell in static CMOS (table and reasons in synth.cpp); throws Error for
// a cell type the table does not know.
int transistors_per_cell(const std::string& type);
constexpr int kSramTransistorsPerBit = 6;

// The Yosys script synthesize() runs, for the README and docs.
std::string yosys_script();
// Runs yosys in dir on dir/hardwired.v (written by write_design), log in dir/synth.log.
SynthStats synthesize(const Netlist& netlist, const std::string& dir);
// Parses the cell list of a Yosys `stat` report.
std::map<std::string, int64_t> parse_stat_cells(const std::string& report);

}  // namespace frugal::hardwire
