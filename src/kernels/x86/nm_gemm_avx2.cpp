// AVX2 N:M GEMM. The dense operand is transposed to feature-major so that every kept weight
// selects one contiguous row of batch values: the "gather" of N:M sparsity becomes a plain vector
// load at a computed address, and the weight is one broadcast reused across a 32-wide batch tile.
// Each batch tile is stored on its own ([cols, 32] contiguous, no power-of-two row stride to
// alias cache sets), and columns are walked in chunks whose slice of the tile fits in L1, so the
// loads the sparsity scatters hit L1 instead of streaming from L2. A register tile holds 3 sparse
// rows × 32 batch columns (12 of the 16 ymm registers).
#include <immintrin.h>

#include <algorithm>

#include "frugal/kernels/nm_gemm.h"
#include "nm_batch_tiles.h"

namespace frugal::kernels {

namespace {

constexpr int kLanes = 8;
constexpr int kTileVectors = 4;
constexpr int kRowBlock = 3;
constexpr int64_t kChunkBytes = 512 * 1024;  // half of a 1 MiB L2: measured faster than L1-sized chunks

// Rows r0.. r0+NR of a batch tile NV vectors wide, over slots [s0, s1); adds to dst_t unless first.
template <int NR, int NV>
void tile(const NMSparseRows& a, int64_t r0, int64_t s0, int64_t s1, bool first, const float* src_t,
          float* dst_t) {
  constexpr int width = NV * kLanes;
  __m256 acc[NR][NV];
  const float* v[NR];
  const int32_t* c[NR];
  for (int r = 0; r < NR; ++r) {
    for (int j = 0; j < NV; ++j) acc[r][j] = _mm256_setzero_ps();
    if (!first)
      for (int j = 0; j < NV; ++j) acc[r][j] = _mm256_load_ps(dst_t + (r0 + r) * width + j * kLanes);
    v[r] = a.values + (r0 + r) * a.slots;
    c[r] = a.columns + (r0 + r) * a.slots;
  }
  for (int64_t s = s0; s < s1; ++s) {
    for (int r = 0; r < NR; ++r) {
      __m256 w = _mm256_set1_ps(v[r][s]);
      const float* x = src_t + static_cast<int64_t>(c[r][s]) * width;
      for (int j = 0; j < NV; ++j) acc[r][j] = _mm256_fmadd_ps(w, _mm256_load_ps(x + j * kLanes), acc[r][j]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int j = 0; j < NV; ++j) _mm256_store_ps(dst_t + (r0 + r) * width + j * kLanes, acc[r][j]);
}

template <int NV>
void row_block(const NMSparseRows& a, int64_t r0, int64_t s0, int64_t s1, bool first, const float* src_t,
               float* dst_t) {
  if (r0 + kRowBlock <= a.rows) return tile<kRowBlock, NV>(a, r0, s0, s1, first, src_t, dst_t);
  for (int64_t r = r0; r < a.rows; ++r) tile<1, NV>(a, r, s0, s1, first, src_t, dst_t);
}

}  // namespace

void nm_gemm_avx2(const NMSparseRows& a, const float* src, int64_t batch, float* dst, float* workspace) {
  // Batch padded to whole vectors; tile t starts at t·32·cols (all earlier tiles are full) and
  // holds min(32, ld − b0) columns. Tracked storage is 64-byte aligned, so every load aligns.
  int64_t ld = (batch + kLanes - 1) / kLanes * kLanes;
  float* st = workspace;
  float* dt = workspace + a.cols * ld;
  int64_t blocks = (a.rows + kRowBlock - 1) / kRowBlock;
  constexpr int64_t full = kLanes * kTileVectors;
  // Chunks are whole groups so each covers a contiguous run of slots.
  int64_t chunk = std::max<int64_t>(1, kChunkBytes / (full * 4) / a.m) * a.m;
#pragma omp parallel
  {
    to_batch_tiles(src, batch, a.cols, ld, full, st);
    for (int64_t b0 = 0; b0 < ld; b0 += full) {
      int nv = static_cast<int>(std::min(full, ld - b0) / kLanes);
      const float* s_tile = st + b0 * a.cols;
      float* d_tile = dt + b0 * a.rows;
      for (int64_t k0 = 0; k0 < a.cols; k0 += chunk) {
        int64_t s0 = k0 / a.m * a.n, s1 = std::min(a.slots, (k0 + chunk) / a.m * a.n);
        // The same static split in every chunk and tile keeps each thread on its own rows, so
        // no barrier is needed between chunks.
#pragma omp for schedule(static) nowait
        for (int64_t rb = 0; rb < blocks; ++rb) {
          int64_t r0 = rb * kRowBlock;
          switch (nv) {
            case 4: row_block<4>(a, r0, s0, s1, k0 == 0, s_tile, d_tile); break;
            case 3: row_block<3>(a, r0, s0, s1, k0 == 0, s_tile, d_tile); break;
            case 2: row_block<2>(a, r0, s0, s1, k0 == 0, s_tile, d_tile); break;
            default: row_block<1>(a, r0, s0, s1, k0 == 0, s_tile, d_tile); break;
          }
        }
      }
    }
#pragma omp barrier
    from_batch_tiles(dt, batch, a.rows, ld, full, dst);
  }
}

}  // namespace frugal::kernels
