// CSD recoding by the standard right-to-left rule: an odd remainder takes digit 2 - (v mod 4),
// which leaves a multiple of 4 behind, so the next digit is always zero.
#include "frugal/hardwire/csd.h"

#include "frugal/core/error.h"

namespace frugal::hardwire {

std::vector<int> csd_digits(int64_t value) {
  require(value > INT64_MIN / 4 && value < INT64_MAX / 4, "hardwire: CSD constant out of range");
  std::vector<int> digits;
  int64_t v = value;
  while (v != 0) {
    int d = 0;
    if (v & 1) {
      int64_t mod4 = v & 3;  // two's complement: also right for negative v
      d = mod4 == 1 ? 1 : -1;
    }
    digits.push_back(d);
    v = (v - d) / 2;
  }
  return digits;
}

int csd_weight(int64_t value) {
  int n = 0;
  for (int d : csd_digits(value)) n += d != 0;
  return n;
}

}  // namespace frugal::hardwire
