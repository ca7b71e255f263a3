// Fused N:M selection of both per-step copies of a linear weight in one pass over the dense
// weights (the SAT accelerator's pre-generated forward and backward weights, Fang et al.): the
// forward copy (rows = out, groups of M along in) and the backward copy (rows = in, groups of M
// along out), in the NMSparseRows layout that kernels/nm_gemm.h reads. Selection is that of
// sparse::select_group: the N largest magnitudes of a group, ties to the lower index, NaN
// smallest. sparse::select_linear (sparse/nm_select.h) is the entry point; it falls back to the
// general path when this kernel does not fit.
#pragma once
#include <cstdint>

namespace frugal::kernels {

// Needs AVX-512, M dividing 16 (groups never straddle a vector) and out, in multiples of M (no
// short tail group); sparse::select_linear checks. w [out, in] row-major. fw_values/fw_columns [out, in / m · n]; bw_values/bw_columns
// [in, out / m · n], or both null to skip the backward copy. Columns are absolute.
void nm_select_linear_avx512(const float* w, int64_t out, int64_t in, int n, int m, float* fw_values,
                             int32_t* fw_columns, float* bw_values, int32_t* bw_columns);

}  // namespace frugal::kernels
