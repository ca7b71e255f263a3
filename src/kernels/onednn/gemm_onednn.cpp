#include <oneapi/dnnl/dnnl.hpp>

#include "frugal/core/error.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/gemm.h"

namespace frugal::kernels {

namespace onednn {
void gemm(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0) return;
  dnnl_status_t st = dnnl_sgemm(g.trans_a ? 'T' : 'N', g.trans_b ? 'T' : 'N', g.m, g.n, g.k, g.alpha, g.a, g.lda,
                                g.b, g.ldb, g.beta, g.c, g.ldc);
  require(st == dnnl_success, "oneDNN sgemm failed with status " + std::to_string(static_cast<int>(st)));
}
}  // namespace onednn

void gemm(const GemmArgs& g) {
  if (backend() == Backend::reference)
    ref::gemm(g);
  else
    onednn::gemm(g);
}

void gemm_packed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                 float* c, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m * n; ++i) c[i] = 0.0f;
    return;
  }
  GemmArgs g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a;
  g.lda = trans_a ? m : k;
  g.b = b;
  g.ldb = trans_b ? k : n;
  g.c = c;
  g.ldc = n;
  g.beta = accumulate ? 1.0f : 0.0f;
  gemm(g);
}

}  // namespace frugal::kernels
