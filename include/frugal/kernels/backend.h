// Which implementation the ops call: the fast kernels (oneDNN for dense math, which itself picks
// AVX-512, AVX2 or SSE code for the CPU it finds at run time, and frugal's x86 kernels behind a
// CPU-feature check) or the plain-loop references in kernels/ref, the oracle the tests compare
// against. FRUGAL_KERNELS=ref in the environment selects the references for a whole run.
#pragma once
#include <string>

namespace frugal::kernels {

enum class Backend { fast, reference };

Backend backend();
void set_backend(Backend b);

// What the fast path will run on this CPU, e.g. "avx512" or "avx2" (for logs and bench tables).
std::string cpu_isa();

// While alive, switches the backend (tests run each op both ways).
class BackendGuard {
 public:
  explicit BackendGuard(Backend b) : previous_(backend()) { set_backend(b); }
  ~BackendGuard() { set_backend(previous_); }
  BackendGuard(const BackendGuard&) = delete;
  BackendGuard& operator=(const BackendGuard&) = delete;

 private:
  Backend previous_;
};

}  // namespace frugal::kernels
