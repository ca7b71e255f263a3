// C++ source with the weights as constants, its compilation and loading (see cpp_target.h).
#include "frugal/hardwire/cpp_target.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "frugal/core/error.h"
#include "frugal/hardwire/simulate.h"
#include "verilog_emit.h"
#include "shell_quote.h"

namespace frugal::hardwire {

namespace {

// k when |w| == 2^k, else -1.
int power_of_two(int64_t w) {
  int64_t a = w < 0 ? -w : w;
  if (a == 0 || (a & (a - 1)) != 0) return -1;
  int k = 0;
  while ((int64_t{1} << k) < a) ++k;
  return k;
}

// `a += w * v` with w a literal: a shift for a power of two, nothing for zero.
std::string add_term(const std::string& a, int64_t w, const std::string& v) {
  int k = power_of_two(w);
  std::string op = w < 0 ? " -= " : " += ";
  if (k == 0) return a + op + v + ";";
  if (k > 0) return a + op + "(" + v + " << " + std::to_string(k) + ");";
  return a + " += " + v + " * " + verilog::lit(w) + ";";
}

std::string finish(const QuantLayer& l, int o, const std::string& a) {
  if (l.raw) return a;
  return "rq(" + a + ", " + std::to_string(l.mult[o]) + ", " + std::to_string(l.shift[o]) + ", " +
         verilog::lit(l.out_lo) + ", " + verilog::lit(l.out_hi) + ")";
}

// A weighted layer (a conv2d lowered to its linear layer). With int8 inputs each output is one
// straight run of constant terms; with spikes each input that fired adds its column of constants.
std::string weighted_function(const QuantLayer& l, const std::string& name) {
  int in = l.in_features, out = l.out_features;
  std::string s = "static void " + name + "(const int32_t* x, int32_t* y) {\n";
  if (l.in_max == 1) {
    s += "  int32_t a[" + std::to_string(out) + "] = {";
    for (int o = 0; o < out; ++o) s += (o ? ", " : "") + verilog::lit(l.bias[o]);
    s += "};\n";
    for (int i = 0; i < in; ++i) {
      std::string body;
      for (int o = 0; o < out; ++o) {
        int32_t w = l.weight[static_cast<size_t>(o) * in + i];
        if (w != 0) body += " a[" + std::to_string(o) + "] += " + verilog::lit(w) + ";";
      }
      if (!body.empty()) s += "  if (x[" + std::to_string(i) + "]) {" + body + " }\n";
    }
    for (int o = 0; o < out; ++o) s += "  y[" + std::to_string(o) + "] = " + finish(l, o, "a[" + std::to_string(o) + "]") + ";\n";
    return s + "}\n";
  }
  s += "  int32_t a;\n";
  for (int o = 0; o < out; ++o) {
    s += "  a = " + verilog::lit(l.bias[o]) + ";\n";
    for (int i = 0; i < in; ++i) {
      int32_t w = l.weight[static_cast<size_t>(o) * in + i];
      if (w != 0) s += "  " + add_term("a", w, "x[" + std::to_string(i) + "]") + "\n";
    }
    s += "  y[" + std::to_string(o) + "] = " + finish(l, o, "a") + ";\n";
  }
  return s + "}\n";
}

std::string lif_function(const QuantLayer& l, const std::string& name) {
  size_t n = l.threshold.size();
  std::string s = "static void " + name + "(const int32_t* x, int64_t* u, int32_t* s, int32_t* y) {\n";
  s += "  static const int32_t thr[" + std::to_string(n) + "] = {";
  for (size_t j = 0; j < n; ++j) s += (j ? ", " : "") + std::to_string(l.threshold[j]);
  s += "};\n";
  s += "  for (int j = 0; j < " + std::to_string(n) + "; ++j) {\n"
       "    u[j] = ((u[j] * " + std::to_string(l.beta_q) + " + " + std::to_string(1 << (kBetaBits - 1)) + ") >> " +
       std::to_string(kBetaBits) + ") + x[j] - (s[j] ? thr[j] : 0);\n"
       "    s[j] = u[j] > thr[j] ? 1 : 0;\n    y[j] = s[j];\n  }\n}\n";
  return s;
}

std::string maxpool_function(const QuantLayer& l, const std::string& name) {
  int oh = (l.in_h + 2 * l.pad - l.kernel) / l.stride + 1, ow = (l.in_w + 2 * l.pad - l.kernel) / l.stride + 1;
  auto n = [](int v) { return std::to_string(v); };
  return "static void " + name + "(const int32_t* x, int32_t* y) {\n"
         "  for (int c = 0; c < " + n(l.in_channels) + "; ++c)\n"
         "    for (int oy = 0; oy < " + n(oh) + "; ++oy)\n"
         "      for (int ox = 0; ox < " + n(ow) + "; ++ox) {\n"
         "        int32_t m = INT32_MIN;\n"
         "        for (int ky = 0; ky < " + n(l.kernel) + "; ++ky)\n"
         "          for (int kx = 0; kx < " + n(l.kernel) + "; ++kx) {\n"
         "            int iy = oy * " + n(l.stride) + " - " + n(l.pad) + " + ky, ix = ox * " + n(l.stride) + " - " +
         n(l.pad) + " + kx;\n"
         "            if (iy < 0 || iy >= " + n(l.in_h) + " || ix < 0 || ix >= " + n(l.in_w) + ") continue;\n"
         "            int32_t v = x[(c * " + n(l.in_h) + " + iy) * " + n(l.in_w) + " + ix];\n"
         "            if (v > m) m = v;\n"
         "          }\n"
         "        y[(c * " + n(oh) + " + oy) * " + n(ow) + " + ox] = m;\n"
         "      }\n}\n";
}

}  // namespace

std::string cpp_source(const QuantNet& net) {
  std::string funcs, once, loop, init;
  std::string cur = "x";
  int size = net.input_size, steps = 0;
  bool in_loop = false;
  for (size_t li = 0; li < net.layers.size(); ++li) {
    const QuantLayer& l = net.layers[li];
    std::string ls = std::to_string(li), name = "layer_" + ls, buf = "b" + ls;
    std::string& code = in_loop ? loop : once;
    std::string ind = in_loop ? "    " : "  ";
    if (l.kind == LayerKind::linear || l.kind == LayerKind::conv2d) {
      QuantLayer d = l.kind == LayerKind::linear ? l : verilog::conv_as_linear(l);
      funcs += weighted_function(d, name);
      size = d.out_features;
      init += "  int32_t " + buf + "[" + std::to_string(size) + "];\n";
      code += ind + name + "(" + cur + ", " + buf + ");\n";
      cur = buf;
    } else if (l.kind == LayerKind::relu) {
      init += "  int32_t " + buf + "[" + std::to_string(size) + "];\n";
      code += ind + "for (int i = 0; i < " + std::to_string(size) + "; ++i) " + buf + "[i] = " + cur + "[i] > 0 ? " +
              cur + "[i] : 0;\n";
      cur = buf;
    } else if (l.kind == LayerKind::maxpool2d) {
      funcs += maxpool_function(l, name);
      size = l.in_channels * ((l.in_h + 2 * l.pad - l.kernel) / l.stride + 1) *
             ((l.in_w + 2 * l.pad - l.kernel) / l.stride + 1);
      init += "  int32_t " + buf + "[" + std::to_string(size) + "];\n";
      code += ind + name + "(" + cur + ", " + buf + ");\n";
      cur = buf;
    } else if (l.kind == LayerKind::encoder) {
      in_loop = true;
      steps = l.steps;
    } else if (l.kind == LayerKind::lif) {
      funcs += lif_function(l, name);
      init += "  int32_t " + buf + "[" + std::to_string(size) + "];\n  int64_t u" + ls + "[" + std::to_string(size) +
              "] = {};\n  int32_t s" + ls + "[" + std::to_string(size) + "] = {};\n";
      code += ind + name + "(" + cur + ", u" + ls + ", s" + ls + ", " + buf + ");\n";
      cur = buf;
    } else if (l.kind == LayerKind::spike_count) {
      init += "  int32_t " + buf + "[" + std::to_string(size) + "] = {};\n";
      code += ind + "for (int i = 0; i < " + std::to_string(size) + "; ++i) " + buf + "[i] += " + cur + "[i];\n";
      cur = buf;
    }
  }
  std::string s = "// Generated by frugal hardwire --target cpp, weights " + format_name(net.format) +
                  ": the weights are constants in the code (zero weights omitted, powers of two as shifts).\n"
                  "#include <cstdint>\n\n"
                  "static inline int32_t rq(int64_t a, int64_t mult, int shift, int32_t lo, int32_t hi) {\n"
                  "  int64_t r = (a * mult + (int64_t{1} << (shift - 1))) >> shift;\n"
                  "  return r < lo ? lo : r > hi ? hi : static_cast<int32_t>(r);\n}\n\n" +
                  funcs + "\nextern \"C\" void hw_forward(const int32_t* x, int32_t* y) {\n" + init + once;
  if (in_loop) s += "  for (int t = 0; t < " + std::to_string(steps) + "; ++t) {\n" + loop + "  }\n";
  s += "  for (int i = 0; i < " + std::to_string(size) + "; ++i) y[i] = " + cur + "[i];\n}\n";
  return s;
}

std::string find_cxx_compiler() {
  const char* env = std::getenv("CXX");
  if (env != nullptr && *env != '\0') {
    require(tool_available(env), std::string("hardwire: $CXX is '") + env + "', which is not on PATH");
    return env;
  }
  for (const char* c : {"c++", "g++", "clang++"})
    if (tool_available(c)) return c;
  throw Error("hardwire: --target cpp needs a C++ compiler: none of c++, g++, clang++ is on PATH and CXX is unset "
              "(Debian package g++)");
}

std::string compile_cpp(const QuantNet& net, const std::string& dir) {
  std::string cxx = find_cxx_compiler();
  std::filesystem::create_directories(dir);
  std::string src = dir + "/hardwired.cpp", lib = dir + "/hardwired.so";
  {
    std::ofstream f(src, std::ios::binary);
    require(static_cast<bool>(f), "hardwire: cannot write " + src);
    f << cpp_source(net);
    require(static_cast<bool>(f), "hardwire: writing " + src + " failed");
  }
  // -O2 is enough: the code is straight-line constant arithmetic; C++20 defines shifts of negatives.
  std::string cmd = "cd " + shell_quote(dir) + " && " + shell_quote(cxx) +
                    " -std=c++20 -O2 -fPIC -shared -o hardwired.so hardwired.cpp > compile.log 2>&1";
  require(std::system(cmd.c_str()) == 0, "hardwire: compiling " + src + " with " + cxx + " failed, see " + dir +
                                             "/compile.log");
  return std::filesystem::absolute(lib).string();
}

HardwiredCpp::HardwiredCpp(const std::string& library) {
  handle_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) throw Error("hardwire: cannot load " + library + ": " + dlerror());
  fn_ = reinterpret_cast<void (*)(const int32_t*, int32_t*)>(dlsym(handle_, "hw_forward"));
  if (fn_ == nullptr) {
    dlclose(handle_);
    throw Error("hardwire: " + library + " has no hw_forward");
  }
}

HardwiredCpp::~HardwiredCpp() { dlclose(handle_); }

}  // namespace frugal::hardwire
