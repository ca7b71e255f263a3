#include "frugal/kernels/backend.h"

#include <cstdlib>
#include <cstring>

namespace frugal::kernels {

namespace {
Backend initial_backend() {
  const char* env = std::getenv("FRUGAL_KERNELS");
  return env && std::strcmp(env, "ref") == 0 ? Backend::reference : Backend::fast;
}
Backend g_backend = initial_backend();
}  // namespace

Backend backend() { return g_backend; }
void set_backend(Backend b) { g_backend = b; }

std::string cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  return "generic";
}

}  // namespace frugal::kernels
