// Speed of the N:M GEMM against frugal's own dense oneDNN GEMM on the same shapes, for
// `frugal bench nm-gemm` (issue 4: ≥ 1.2× at 2:4, ≥ 2× at 2:8 and 1:4, ≥ 3× at 1:8 on shapes
// ≥ 1024; the bound is M/N). A shape is the product C [m, n] = A [m, k] · Bᵀ with B [n, k] N:M
// sparse along k: m is the batch, k the reduced axis (in for the forward product Y = X·W_fwᵀ,
// out for backward-data dX = dY·W_bw), n the width of the result. Dense and sparse runs alternate
// and the medians are compared, so load on a shared machine hits both alike.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/sparse/nm_mask.h"

namespace frugal::sparse {

struct NMGemmShape {
  int64_t m = 0, n = 0, k = 0;
};

// A shape list: one "m n k" per line; blank lines and '#' comments are skipped. Each size is in
// [1, 65536]; errors name the file and line.
std::vector<NMGemmShape> read_nm_shapes(const std::string& path);

// Milliseconds of one run: wall clock, and CPU time of the whole process (all threads; on a
// loaded machine the CPU time of a one-thread run is the steadier figure).
struct NMTime {
  double wall_ms = 0, cpu_ms = 0;
};
double process_cpu_ms();

struct NMGemmTiming {
  NMGemmShape shape;
  NMPattern pattern;
  int reps = 0, threads = 0;
  NMTime dense, sparse;        // medians over reps
  NMTime select;               // median: both copies of B (select_linear), once per step in training
  double max_abs_error = 0;    // sparse result against the dense product of the masked B
  double speedup() const { return sparse.wall_ms > 0 ? dense.wall_ms / sparse.wall_ms : 0; }
  double cpu_speedup() const { return sparse.cpu_ms > 0 ? dense.cpu_ms / sparse.cpu_ms : 0; }
};

// Times one shape and pattern at the current thread count: `reps` alternating runs of the dense
// GEMM and the N:M GEMM on random operands, after one warm-up run of each.
NMGemmTiming time_nm_gemm(const NMGemmShape& shape, const NMPattern& p, int reps);

// The products of one linear layer's training step [batch, in] -> [batch, out], dense against N:M
// (BDWP), medians in ms: where a step's time goes (`frugal bench nm-step`). The weight gradient is
// the same dense oneDNN product in both, so it is timed once.
struct NMLinearTiming {
  int64_t batch = 0, in = 0, out = 0;
  NMTime dense_forward, dense_backward_data, weight_grad;
  NMTime nm_forward, nm_backward_data, select;
};
NMLinearTiming time_linear_products(int64_t batch, int64_t in, int64_t out, const NMPattern& p, int reps);

}  // namespace frugal::sparse
