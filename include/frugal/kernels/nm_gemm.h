// N:M-sparse × dense products, the two sparse GEMMs of BDWP training (SAT paper, Fang et al.):
//   forward        Y  = X · W_fwᵀ   with W_fw [out, in] packed along in  (rows = out, cols = in)
//   backward-data  dX = dY · W_bw   with W_bwᵀ [in, out] packed along out (rows = in, cols = out)
// Both are dst[b, r] = Σ_s values[r, s] · src[b, columns[r, s]]: every row of the sparse operand
// holds the same number of slots (N per group of M), so one kernel serves both passes.
// nm_gemm_ref is the plain-loop oracle; nm_gemm picks the fastest variant this CPU runs (the
// reference under the reference backend, FRUGAL_KERNELS=ref).
#pragma once
#include <cstdint>

namespace frugal::kernels {

struct NMSparseRows {
  int64_t rows = 0, cols = 0;
  int n = 0, m = 0;                 // slot s lies in group s / n, columns [s / n · m, s / n · m + m)
  int64_t slots = 0;                // per row: ceil(cols / m) · n
  const float* values = nullptr;    // [rows, slots]
  const int32_t* columns = nullptr; // [rows, slots], each in [0, cols)
};

// src [batch, cols] and dst [batch, rows], row-major and dense; dst is overwritten.
void nm_gemm_ref(const NMSparseRows& a, const float* src, int64_t batch, float* dst);
// The ISA variants take a 64-byte aligned workspace of nm_gemm_workspace_floats(a, batch) floats
// from the caller: their files are compiled for their ISA and so must not instantiate shared
// inline code (Tensor, std containers) that the linker could pick for the whole program.
int64_t nm_gemm_workspace_floats(const NMSparseRows& a, int64_t batch);
void nm_gemm_avx512(const NMSparseRows& a, const float* src, int64_t batch, float* dst, float* workspace);
void nm_gemm_avx2(const NMSparseRows& a, const float* src, int64_t batch, float* dst, float* workspace);
// AVX-512 vectorised over 16 sparse rows with in-register permutes (no workspace, no transposes
// of the dense operands); nm_gemm takes it for M ≥ 8 at density ≤ 1/4, where it beats the batch
// tiles.
void nm_gemm_permute_avx512(const NMSparseRows& a, const float* src, int64_t batch, float* dst);
void nm_gemm(const NMSparseRows& a, const float* src, int64_t batch, float* dst);

// "avx512", "avx2" or "ref": what nm_gemm runs on this CPU (for logs and benchmarks).
const char* nm_gemm_variant();

}  // namespace frugal::kernels
