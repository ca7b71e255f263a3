// frugal::Error: the one exception type. Thrown deep inside; the CLI catches it once, prints the
// message and exits with code 2. Messages name the file, the field and what was expected.
#pragma once
#include <stdexcept>
#include <string>

namespace frugal {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error(message) when `ok` is false. For checks on user input, not for programming bugs.
inline void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

}  // namespace frugal
