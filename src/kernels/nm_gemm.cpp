// Run-time choice of the N:M GEMM, in order of preference with the reference last, so one binary
// runs on any x86-64 (and, through the reference, anywhere).
#include "frugal/kernels/nm_gemm.h"

#include "frugal/core/tensor.h"
#include "frugal/kernels/backend.h"

namespace frugal::kernels {

namespace {

enum class Variant { avx512, avx2, ref };

Variant pick() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return Variant::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Variant::avx2;
#endif
  return Variant::ref;
}

Variant chosen() {
  static const Variant v = pick();
  return v;
}

}  // namespace

int64_t nm_gemm_workspace_floats(const NMSparseRows& a, int64_t batch) {
  int64_t ld = (batch + 15) / 16 * 16;  // whole vectors of the widest variant
  return (a.cols + a.rows) * ld;
}

void nm_gemm(const NMSparseRows& a, const float* src, int64_t batch, float* dst) {
  if (backend() == Backend::reference) return nm_gemm_ref(a, src, batch, dst);
  Variant v = chosen();
  if (v == Variant::ref) return nm_gemm_ref(a, src, batch, dst);
  // In-register permutes pay at M ≥ 8 and density ≤ 1/4 (1:8, 2:8: 1.15–1.25× over the batch
  // tiles, one thread); at 4:8, 2:4 and 1:4 the batch tiles are faster (docs/sparse.md).
  if (v == Variant::avx512 && a.m >= 8 && 4 * a.n <= a.m) return nm_gemm_permute_avx512(a, src, batch, dst);
  Tensor workspace = Tensor::empty({nm_gemm_workspace_floats(a, batch)});
  switch (v) {
    case Variant::avx512: return nm_gemm_avx512(a, src, batch, dst, workspace.data());
    case Variant::avx2: return nm_gemm_avx2(a, src, batch, dst, workspace.data());
    case Variant::ref: return nm_gemm_ref(a, src, batch, dst);
  }
}

const char* nm_gemm_variant() {
  switch (chosen()) {
    case Variant::avx512: return "avx512";
    case Variant::avx2: return "avx2";
    case Variant::ref: return "ref";
  }
  return "ref";
}

}  // namespace frugal::kernels
