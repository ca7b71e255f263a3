#include "frugal/sparse/nm_packed.h"

#include <algorithm>

#include "frugal/core/error.h"

namespace frugal::sparse {

int NMPacked::bits_per_index() const {
  int bits = 0;
  while ((1 << bits) < pattern.m) ++bits;
  return bits;
}

int64_t NMPacked::row_index_bytes() const { return (slots_per_row() * bits_per_index() + 7) / 8; }

int64_t NMPacked::bytes() const {
  return rows * slots_per_row() * static_cast<int64_t>(sizeof(float)) + static_cast<int64_t>(index_bits.size());
}

int NMPacked::index(int64_t row, int64_t slot) const {
  int bits = bits_per_index();
  int64_t bit = slot * bits;
  const uint8_t* bytes_of_row = index_bits.data() + row * row_index_bytes();
  int64_t byte = bit / 8;
  // An index may straddle two bytes (3 bits at offset 6), never three (bits <= 4).
  unsigned word = bytes_of_row[byte];
  if (byte + 1 < row_index_bytes()) word |= static_cast<unsigned>(bytes_of_row[byte + 1]) << 8;
  return static_cast<int>((word >> (bit % 8)) & ((1u << bits) - 1));
}

NMPacked pack_nm(const float* dense, int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                 const NMPattern& p) {
  check_nm(p, "sparse::pack_nm");
  require(rows > 0 && cols > 0 && cols < (int64_t{1} << 31) && rows * cols <= (int64_t{1} << 34),
          "sparse::pack_nm: matrix " + std::to_string(rows) + " x " + std::to_string(cols) +
              " must be non-empty, with fewer than 2^31 columns and 2^34 elements");
  if (col_stride != 1) {
    // Walking groups down a column (the backward copy) would touch a new cache line per weight;
    // a blocked transpose into a row-major copy first is several times faster.
    Tensor rowwise = Tensor::empty({rows, cols});
    float* t = rowwise.data();
    constexpr int64_t kBlock = 32;
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < cols; c0 += kBlock)
      for (int64_t r0 = 0; r0 < rows; r0 += kBlock)
        for (int64_t c = c0; c < std::min(cols, c0 + kBlock); ++c)
          for (int64_t r = r0; r < std::min(rows, r0 + kBlock); ++r)
            t[r * cols + c] = dense[r * row_stride + c * col_stride];
    return pack_nm(t, rows, cols, cols, 1, p);
  }
  NMPacked out;
  out.rows = rows;
  out.cols = cols;
  out.pattern = p;
  out.groups = (cols + p.m - 1) / p.m;
  int64_t slots = out.slots_per_row();
  out.values = Tensor({rows, slots});
  out.index_bits.assign(static_cast<size_t>(rows * out.row_index_bytes()), 0);
  int bits = out.bits_per_index();
  int64_t row_bytes = out.row_index_bytes();
  float* values = out.values.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t kept[16];
    uint8_t* row_bits = out.index_bits.data() + r * row_bytes;
    for (int64_t g = 0; g < out.groups; ++g) {
      int len = static_cast<int>(std::min<int64_t>(p.m, cols - g * p.m));
      const float* base = dense + r * row_stride + g * p.m * col_stride;
      int count = select_group(base, col_stride, len, p.n, kept);
      for (int s = 0; s < count; ++s) {
        int64_t slot = g * p.n + s;
        values[r * slots + slot] = base[kept[s] * col_stride];
        int64_t bit = slot * bits;
        unsigned word = static_cast<unsigned>(kept[s]) << (bit % 8);
        row_bits[bit / 8] |= static_cast<uint8_t>(word & 0xff);
        if (word >> 8) row_bits[bit / 8 + 1] |= static_cast<uint8_t>(word >> 8);
      }
    }
  }
  return out;
}

void unpack_nm(const NMPacked& packed, float* dense, int64_t row_stride, int64_t col_stride) {
  const NMPattern& p = packed.pattern;
  int64_t slots = packed.slots_per_row();
  const float* values = packed.values.data();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < packed.rows; ++r) {
    for (int64_t c = 0; c < packed.cols; ++c) dense[r * row_stride + c * col_stride] = 0.0f;
    for (int64_t g = 0; g < packed.groups; ++g) {
      int len = static_cast<int>(std::min<int64_t>(p.m, packed.cols - g * p.m));
      for (int s = 0; s < std::min(p.n, len); ++s) {
        int64_t slot = g * p.n + s;
        int64_t c = g * p.m + packed.index(r, slot);
        dense[r * row_stride + c * col_stride] = values[r * slots + slot];
      }
    }
  }
}

std::vector<int32_t> slot_columns(const NMPacked& packed) {
  const NMPattern& p = packed.pattern;
  int64_t slots = packed.slots_per_row();
  std::vector<int32_t> columns(static_cast<size_t>(packed.rows * slots));
  int bits = packed.bits_per_index();
  int64_t row_bytes = packed.row_index_bytes();
  unsigned index_mask = (1u << bits) - 1;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < packed.rows; ++r) {
    // A bit cursor over the row: the indices are read in order, so no per-slot address math.
    const uint8_t* in = packed.index_bits.data() + r * row_bytes;
    uint32_t window = 0;
    int have = 0;
    int64_t next = 0;
    for (int64_t slot = 0; slot < slots; ++slot) {
      if (have < bits) {
        window |= static_cast<uint32_t>(in[next++]) << have;
        have += 8;
      }
      columns[r * slots + slot] = static_cast<int32_t>((slot / p.n) * p.m + (window & index_mask));
      window >>= bits;
      have -= bits;
    }
  }
  return columns;
}

}  // namespace frugal::sparse
