// The layer module of each netlist style; each returns `module layer_<k>` with the ports
// (clk, rst, start, x, done, y) that top_module() chains.
#pragma once
#include <string>

#include "verilog_emit.h"

namespace frugal::hardwire::verilog {

std::string layer_ce(const HwLayer& h, int k);
std::string layer_hn(const HwLayer& h, int k);
// Also returns the bits its memories hold, for the SRAM estimate (they are black boxes in synthesis).
std::string layer_mem(const HwLayer& h, int k, WeightFormat format, int64_t& memory_bits);

}  // namespace frugal::hardwire::verilog
