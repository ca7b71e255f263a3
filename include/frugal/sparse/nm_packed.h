// The packed N:M format: for every row and every group of M consecutive columns, the N kept
// values and their positions in the group as ceil(log2 M)-bit indices (2:8 costs 2 floats and
// 6 bits per 8 weights). Each row's index bits start on a byte boundary so rows pack in parallel
// and can be read on their own; bits fill each byte from its least significant end.
// BDWP keeps two packed copies of a weight: the forward one (groups along input channels, rows
// are outputs) and the backward one (groups along output channels, rows are inputs).
#pragma once
#include <cstdint>
#include <vector>

#include "frugal/core/tensor.h"
#include "frugal/sparse/nm_mask.h"

namespace frugal::sparse {

struct NMPacked {
  int64_t rows = 0, cols = 0;  // the dense matrix; groups of m run along cols within a row
  NMPattern pattern;
  int64_t groups = 0;                 // ceil(cols / m); a short tail group follows the tail rule
  Tensor values;                      // [rows, groups * n]; unused slots of a short tail group hold 0
  std::vector<uint8_t> index_bits;    // row r's slots start at byte r * row_index_bytes()

  int64_t slots_per_row() const { return groups * pattern.n; }
  int bits_per_index() const;
  int64_t row_index_bytes() const;
  int64_t bytes() const;  // values plus indices: the packed size in memory and on disk
  int index(int64_t row, int64_t slot) const;  // slot's position within its group
};

// Selects the N largest magnitudes of every group (select_group) and packs them. The dense matrix
// is read as dense[r * row_stride + c * col_stride], so a weight [out, in] packs for the forward
// pass with (in, 1) and its backward copy (rows = in, cols = out) with (1, in).
NMPacked pack_nm(const float* dense, int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                 const NMPattern& p);

// Writes every element of the dense matrix: kept values in place, zeros elsewhere.
void unpack_nm(const NMPacked& packed, float* dense, int64_t row_stride, int64_t col_stride);

// The absolute column of every slot, [rows, slots_per_row], for the kernels; slots that hold no
// weight point at their group's first column (their value is 0).
std::vector<int32_t> slot_columns(const NMPacked& packed);

}  // namespace frugal::sparse
