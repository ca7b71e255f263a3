// Software hardwiring (HNLPU's idea on a CPU): a quantized net as C++ source whose weights are
// constants in the code, not data. Zero weights emit nothing, power-of-two weights a shift, others
// a multiply by a literal; a layer whose inputs are spikes adds its weight constants only for the
// inputs that spiked. The source is compiled at run time with the system C++ compiler, loaded,
// and checked bit for bit against the integer reference (quant.h), whose arithmetic it repeats.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/hardwire/quant.h"

namespace frugal::hardwire {

// The source: `extern "C" void hw_forward(const int32_t* x, int32_t* y)`, x the input codes and y
// the last layer's output codes, as quant_forward returns them.
std::string cpp_source(const QuantNet& net);

// The C++ compiler: $CXX when set, else the first of c++, g++, clang++ on PATH. Throws Error
// naming what it looked for when there is none.
std::string find_cxx_compiler();

// Writes dir/hardwired.cpp and compiles it into dir/hardwired.so (log in dir/compile.log).
// Returns the library's path.
std::string compile_cpp(const QuantNet& net, const std::string& dir);

// The loaded library (closed on destruction).
class HardwiredCpp {
 public:
  explicit HardwiredCpp(const std::string& library);
  ~HardwiredCpp();
  HardwiredCpp(const HardwiredCpp&) = delete;
  HardwiredCpp& operator=(const HardwiredCpp&) = delete;
  void forward(const int32_t* x, int32_t* y) const { fn_(x, y); }

 private:
  void* handle_ = nullptr;
  void (*fn_)(const int32_t*, int32_t*) = nullptr;
};

}  // namespace frugal::hardwire
