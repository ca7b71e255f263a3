// Kernel-ready N:M copies of a weight, made once per optimizer step (the SAT accelerator's
// "pre-generate both packed weights" dataflow, Fang et al.): per row, the N kept values of every
// group of M and their absolute columns, exactly what kernels/nm_gemm.h reads. Unlike NMPacked
// (nm_packed.h: bit-packed indices, for storage and reporting) nothing is bit-packed here, so no
// decode step stands between the optimizer and the next forward pass.
//
// Selection follows select_group (nm_mask.h) exactly: the min(N, length) largest magnitudes,
// ties to the lower index, NaN smallest; a short tail group keeps min(N, length). It runs over
// many groups at once: groups run down the columns of a row-major matrix, one group per column,
// so the rank comparisons are plain loops over contiguous lanes that the compiler vectorises.
#pragma once
#include <cstdint>
#include <vector>

#include "frugal/core/tensor.h"
#include "frugal/kernels/nm_gemm.h"
#include "frugal/sparse/nm_mask.h"

namespace frugal::sparse {

struct NMRows {
  int64_t rows = 0, cols = 0;
  NMPattern pattern;
  int64_t slots = 0;              // per row: ceil(cols / m) · n
  Tensor values;                  // [rows, slots]; unused slots of a short tail group hold 0
  std::vector<int32_t> columns;   // [rows, slots]; unused slots point at their group's first column
  kernels::NMSparseRows view() const {
    return {rows, cols, pattern.n, pattern.m, slots, values.data(), columns.data()};
  }
};

// a is [axis, lanes] row-major. Lane i becomes row i of the result; its groups of M run down
// column i (rows g·M ... g·M + M − 1 of a), so the result has rows = lanes, cols = axis.
NMRows select_down(const float* a, int64_t axis, int64_t lanes, const NMPattern& p);

// dst [cols, rows] = srcᵀ for src [rows, cols]; blocked so both sides stay in cache.
void transpose(const float* src, int64_t rows, int64_t cols, float* dst);

// The two copies of a linear weight [out, in]: forward rows = out with groups along in (for
// Y = X·W_fwᵀ); backward rows = in with groups along out (for dX = dY·W_bw).
NMRows select_linear_forward(const Tensor& w, const NMPattern& p);
NMRows select_linear_backward(const Tensor& w, const NMPattern& p);

// Both copies in one pass over w (kernels/nm_select.h) where the fused kernel runs, else through
// select_linear_forward / select_linear_backward (the reference for it). Writes into fw and *bw,
// reusing their storage when the shapes match, so a training step allocates nothing; bw null
// skips the backward copy.
void select_linear(const Tensor& w, const NMPattern& p, NMRows& fw, NMRows* bw);
// Whether select_linear takes the fused kernel for this weight shape and pattern on this CPU.
bool select_linear_fused(int64_t out, int64_t in, const NMPattern& p);

// Writes the dense matrix [rows, cols] the copy stands for: kept values in place, zeros elsewhere.
void expand(const NMRows& r, float* dense);

}  // namespace frugal::sparse
