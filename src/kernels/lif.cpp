// Run-time choice of the LIF kernels: AVX2 where the CPU has it, the reference otherwise.
#include "frugal/kernels/lif.h"

namespace frugal::kernels {

bool cpu_has_avx2() {
  // lif_avx2.cpp is compiled with -mavx2 -mfma, so both must be present.
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

void lif_forward(const LifArgs& a, const float* src, float* spikes, float* mem) {
  if (cpu_has_avx2()) lif_forward_avx2(a, src, spikes, mem);
  else lif_forward_ref(a, src, spikes, mem);
}

void lif_backward(const LifArgs& a, const float* mem, const float* diff_spikes, const float* diff_mem,
                  const LifGrads& g) {
  if (cpu_has_avx2()) lif_backward_avx2(a, mem, diff_spikes, diff_mem, g);
  else lif_backward_ref(a, mem, diff_spikes, diff_mem, g);
}

void cuba_lif_forward(const LifArgs& a, const float* src, float* spikes, float* syn, float* mem) {
  if (cpu_has_avx2()) cuba_lif_forward_avx2(a, src, spikes, syn, mem);
  else cuba_lif_forward_ref(a, src, spikes, syn, mem);
}

void cuba_lif_backward(const LifArgs& a, const float* syn, const float* mem, const float* diff_spikes,
                       const float* diff_mem, const LifGrads& g) {
  if (cpu_has_avx2()) cuba_lif_backward_avx2(a, syn, mem, diff_spikes, diff_mem, g);
  else cuba_lif_backward_ref(a, syn, mem, diff_spikes, diff_mem, g);
}

}  // namespace frugal::kernels
