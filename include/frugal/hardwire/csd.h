// Canonical signed digit (CSD, also non-adjacent form) recoding of integer constants: digits in
// {-1, 0, 1} with no two adjacent non-zero digits, which has the fewest non-zero digits of any
// signed-binary form (Reitwiesner 1960). A constant multiplier x*c becomes one shifted add or
// subtract of x per non-zero digit: the multiplierless weights of the `ce` netlist style.
#pragma once
#include <cstdint>
#include <vector>

namespace frugal::hardwire {

// Digits of `value`, least significant first; value == sum digits[k] * 2^k. Zero gives {}.
std::vector<int> csd_digits(int64_t value);
// Number of non-zero CSD digits: the adders (minus one) a constant multiplier needs.
int csd_weight(int64_t value);

}  // namespace frugal::hardwire
