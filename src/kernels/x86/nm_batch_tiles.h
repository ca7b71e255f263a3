// The feature-major batch tiles the N:M GEMM kernels work on, and the 8×8 AVX register transpose
// that moves data in and out of them. A matrix [batch, cols] becomes, for every tile of `full`
// batch columns starting at b0, a contiguous [cols, width] block at offset b0·cols, width being
// min(full, ld − b0) and ld the batch rounded up to 8; padding columns are zero.
// Included by each per-ISA kernel file (compiled with that ISA's flags), hence static.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace frugal::kernels {

static inline void transpose8x8(const float* in, int64_t in_stride, float* out, int64_t out_stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + i * in_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(out + i * out_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(out + (i + 4) * out_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// Inside a parallel region: src [batch, cols] into tiles (see above).
static inline void to_batch_tiles(const float* src, int64_t batch, int64_t cols, int64_t ld, int64_t full,
                                  float* tiles) {
#pragma omp for schedule(static)
  for (int64_t c0 = 0; c0 < cols; c0 += 8) {
    for (int64_t b0 = 0; b0 < ld; b0 += 8) {
      int64_t t0 = b0 / full * full, width = std::min(full, ld - t0);
      float* out = tiles + t0 * cols + c0 * width + (b0 - t0);
      if (c0 + 8 <= cols && b0 + 8 <= batch) {
        transpose8x8(src + b0 * cols + c0, cols, out, width);
        continue;
      }
      for (int64_t c = c0; c < std::min(cols, c0 + 8); ++c)
        for (int64_t b = b0; b < b0 + 8; ++b) out[(c - c0) * width + (b - b0)] = b < batch ? src[b * cols + c] : 0.0f;
    }
  }
}

// Inside a parallel region: tiles of a [batch, rows] result back to row-major dst.
static inline void from_batch_tiles(const float* tiles, int64_t batch, int64_t rows, int64_t ld, int64_t full,
                                    float* dst) {
#pragma omp for schedule(static)
  for (int64_t r0 = 0; r0 < rows; r0 += 8) {
    for (int64_t b0 = 0; b0 < batch; b0 += 8) {
      int64_t t0 = b0 / full * full, width = std::min(full, ld - t0);
      const float* in = tiles + t0 * rows + r0 * width + (b0 - t0);
      if (r0 + 8 <= rows && b0 + 8 <= batch) {
        transpose8x8(in, width, dst + b0 * rows + r0, rows);
        continue;
      }
      for (int64_t b = b0; b < std::min(batch, b0 + 8); ++b)
        for (int64_t r = r0; r < std::min(rows, r0 + 8); ++r) dst[b * rows + r] = in[(r - r0) * width + (b - b0)];
    }
  }
}

}  // namespace frugal::kernels
