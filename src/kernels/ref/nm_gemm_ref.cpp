#include "frugal/kernels/nm_gemm.h"

namespace frugal::kernels {

void nm_gemm_ref(const NMSparseRows& a, const float* src, int64_t batch, float* dst) {
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batch; ++b) {
    const float* x = src + b * a.cols;
    for (int64_t r = 0; r < a.rows; ++r) {
      const float* v = a.values + r * a.slots;
      const int32_t* c = a.columns + r * a.slots;
      float sum = 0.0f;
      for (int64_t s = 0; s < a.slots; ++s) sum += v[s] * x[c[s]];
      dst[b * a.rows + r] = sum;
    }
  }
}

}  // namespace frugal::kernels
