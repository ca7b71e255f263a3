// Single-precision GEMM, row-major: C = alpha · op(A) · op(B) + beta · C, op = transpose when
// the flag is set. op(A) is [m, k], op(B) is [k, n], C is [m, n]. The fast one is oneDNN's sgemm.
#pragma once
#include <cstdint>

namespace frugal::kernels {

struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1, beta = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
};

namespace ref {
void gemm(const GemmArgs& g);
}
namespace onednn {
void gemm(const GemmArgs& g);
}

// Dispatches on the current backend.
void gemm(const GemmArgs& g);

// The common case: A, B and C stored densely (leading dimension = stored row width).
// C = op(A) · op(B), plus C when accumulate; k = 0 gives zeros (or leaves C when accumulating).
void gemm_packed(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                 float* c, bool accumulate = false);

}  // namespace frugal::kernels
