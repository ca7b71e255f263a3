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

}  // namespace frugal::kernels
