// AVX2 N:M GEMM. The dense operand is transposed to feature-major [cols, batch] so that every
// kept weight selects one contiguous row of batch values: the "gather" of N:M sparsity becomes a
// plain vector load at a computed address, and the weight is one broadcast reused across a
// 32-wide batch tile. A register tile holds 3 sparse rows × 32 batch columns (12 of the 16 ymm registers).
#include <immintrin.h>

#include <algorithm>

#include "frugal/core/tensor.h"
#include "frugal/kernels/nm_gemm.h"

namespace frugal::kernels {

namespace {

constexpr int kLanes = 8;
constexpr int kTileVectors = 4;
constexpr int kRowBlock = 3;

// dstT[r, b0 + 8j ...] for NR rows from r0 and NV vectors of batch columns from b0.
template <int NR, int NV>
void tile(const NMSparseRows& a, int64_t r0, const float* src_t, int64_t ld, int64_t b0, float* dst_t) {
  __m256 acc[NR][NV];
  const float* v[NR];
  const int32_t* c[NR];
  for (int r = 0; r < NR; ++r) {
    for (int j = 0; j < NV; ++j) acc[r][j] = _mm256_setzero_ps();
    v[r] = a.values + (r0 + r) * a.slots;
    c[r] = a.columns + (r0 + r) * a.slots;
  }
  const float* base = src_t + b0;
  for (int64_t s = 0; s < a.slots; ++s) {
    for (int r = 0; r < NR; ++r) {
      __m256 w = _mm256_set1_ps(v[r][s]);
      const float* x = base + static_cast<int64_t>(c[r][s]) * ld;
      for (int j = 0; j < NV; ++j) acc[r][j] = _mm256_fmadd_ps(w, _mm256_load_ps(x + j * kLanes), acc[r][j]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int j = 0; j < NV; ++j) _mm256_store_ps(dst_t + (r0 + r) * ld + b0 + j * kLanes, acc[r][j]);
}

template <int NR>
void tile_nv(int nv, const NMSparseRows& a, int64_t r0, const float* src_t, int64_t ld, int64_t b0, float* dst_t) {
  switch (nv) {
    case 4: return tile<NR, 4>(a, r0, src_t, ld, b0, dst_t);
    case 3: return tile<NR, 3>(a, r0, src_t, ld, b0, dst_t);
    case 2: return tile<NR, 2>(a, r0, src_t, ld, b0, dst_t);
    default: return tile<NR, 1>(a, r0, src_t, ld, b0, dst_t);
  }
}

}  // namespace

void nm_gemm_avx2(const NMSparseRows& a, const float* src, int64_t batch, float* dst) {
  // ld is a multiple of 8 floats and tracked storage is 64-byte aligned, so every load aligns.
  int64_t ld = (batch + kLanes - 1) / kLanes * kLanes;
  Tensor src_t = Tensor::empty({a.cols, ld});
  Tensor dst_t = Tensor::empty({a.rows, ld});
  float* st = src_t.data();
  float* dt = dst_t.data();
  int64_t blocks = (a.rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t c0 = 0; c0 < a.cols; c0 += kLanes) {
      int64_t c1 = std::min(a.cols, c0 + kLanes);
      for (int64_t b0 = 0; b0 < ld; b0 += kLanes)
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t b = b0; b < b0 + kLanes; ++b) st[c * ld + b] = b < batch ? src[b * a.cols + c] : 0.0f;
    }
    // The same static split of rows in every batch tile keeps each thread on its own weights.
    for (int64_t b0 = 0; b0 < ld; b0 += kLanes * kTileVectors) {
      int nv = static_cast<int>(std::min<int64_t>(kTileVectors, (ld - b0) / kLanes));
#pragma omp for schedule(static) nowait
      for (int64_t rb = 0; rb < blocks; ++rb) {
        int64_t r0 = rb * kRowBlock;
        if (r0 + kRowBlock <= a.rows) {
          tile_nv<kRowBlock>(nv, a, r0, st, ld, b0, dt);
        } else {
          for (int64_t r = r0; r < a.rows; ++r) tile_nv<1>(nv, a, r, st, ld, b0, dt);
        }
      }
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t b0 = 0; b0 < batch; b0 += kLanes) {
      int64_t b1 = std::min(batch, b0 + kLanes);
      for (int64_t r0 = 0; r0 < a.rows; r0 += kLanes) {
        int64_t r1 = std::min(a.rows, r0 + kLanes);
        for (int64_t b = b0; b < b1; ++b)
          for (int64_t r = r0; r < r1; ++r) dst[b * a.rows + r] = dt[r * ld + b];
      }
    }
  }
}

}  // namespace frugal::kernels
