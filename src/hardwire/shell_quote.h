// Quoting for the shell commands the hardwire tools run (iverilog, yosys, the C++ compiler):
// single quotes, with embedded single quotes closed, escaped and reopened.
#pragma once
#include <string>

namespace frugal::hardwire {

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace frugal::hardwire
