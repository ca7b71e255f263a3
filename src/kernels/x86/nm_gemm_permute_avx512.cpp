// AVX-512 N:M GEMM, vectorised over 16 sparse rows. For one group of M source columns and one
// batch row, the M source values are loaded once (one plain load, no gather) and every kept weight
// picks its value among them with one in-register permute (vpermps) by its position in the group:
// each loaded activation feeds N·16 multiply-adds, and each vector of 16 weights is reused across
// a register tile of 16 batch rows. Source and destination stay row-major; what is transposed
// is the sparse operand, into slot-major slices ([slot][16 rows]).
// Zen 4 issues a 512-bit vpermps and a 512-bit FMA together at about 0.75 FMA per cycle
// (measured), so this kernel tops out near 3/4 of the FMA peak, where the batch-tile kernel
// (nm_gemm_avx512.cpp) is bound by L2 bandwidth, one 64-byte load per FMA.
// Blocking (32 KiB L1, 1 MiB L2): a thread takes its rows up to 256 at a time (groups of equal
// size) and walks the columns in chunks of 256 slots per row. Per chunk it transposes those rows'
// slices (512 KiB for 256 rows at 2:8), then
// for each 16 batch rows copies their columns of the chunk into a padded buffer (the copy breaks
// the power-of-two row stride that would alias cache sets, and the padding lets every group load
// whole vectors) and runs every 16-row block over it. Chunks of 64 slots were 1.2× slower
// (per-tile set-up, accumulators reloaded per chunk), 128 rows per group 5 % slower (the source
// copied twice as often), reading the source in place 3.4× slower (a 2048-float row stride
// aliases L1 sets), and walking the batch inside each block with the source in L2 slower still.
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <omp.h>

#include "frugal/kernels/nm_gemm.h"
#include "transpose16_avx512.h"

namespace frugal::kernels {

namespace {

constexpr int kRows = 16;         // sparse rows per vector
constexpr int kBatchTile = 16;    // batch rows per register tile
constexpr int kSlotChunk = 256;   // slots per row of a chunk
constexpr int kGroupBlocks = 16;  // 16-row blocks transposed together, at most

// Slots [s0, s0 + count) of rows [r0, r0 + live) into slot-major vectors: values[s][lane] and
// the slot's position in its group, pos[s][lane]. Missing rows get weight 0 at position 0.
void slot_major(const NMSparseRows& a, int64_t r0, int live, int64_t s0, int count, float* values,
                int32_t* pos) {
  for (int q = 0; q < count; q += 16) {
    int width = std::min(16, count - q);
    __mmask16 lanes = static_cast<__mmask16>((1u << width) - 1);
    __m512 v[16], c[16];
    for (int i = 0; i < 16; ++i) {
      v[i] = _mm512_setzero_ps();
      c[i] = _mm512_setzero_ps();
      if (i >= live) continue;
      int64_t at = (r0 + i) * a.slots + s0 + q;
      v[i] = _mm512_maskz_loadu_ps(lanes, a.values + at);
      c[i] = _mm512_castsi512_ps(_mm512_maskz_loadu_epi32(lanes, a.columns + at));
    }
    transpose16(v);
    transpose16(c);
    for (int i = 0; i < width; ++i) {
      int64_t s = s0 + q + i;
      __m512i start = _mm512_set1_epi32(static_cast<int32_t>(s / a.n * a.m));
      __m512i p = _mm512_sub_epi32(_mm512_castps_si512(c[i]), start);
      // Rows past the end hold column 0, which the subtraction may make negative: vpermps reads
      // only the low 4 bits, and their weight is 0.
      _mm512_store_ps(values + (q + i) * kRows, v[i]);
      _mm512_store_si512(pos + (q + i) * kRows, p);
    }
  }
}

// The M source values of a group in lanes 0 .. M − 1 (the other lanes are never selected): one
// unaligned 512-bit load, which the padding of the copied rows keeps inside the buffer. Zen 4
// runs a broadcast load followed by vpermps at half the rate (measured), and a masked load costs
// about three FMAs.
inline __m512 group_values(const float* x) { return _mm512_loadu_ps(x); }

// Lane l of the result is x[pos[l]]. The masked form with every lane set: GCC 12 warns on the
// plain form's undefined pass-through operand.
inline __m512 pick(__m512i pos, __m512 x) { return _mm512_mask_permutexvar_ps(x, 0xFFFF, pos, x); }

// dst[b, r0 .. r0 + 16) for B batch rows += the groups [0, groups) of the slice, N slots per group
// (N = 0: a run-time n, reloading each source group once per slot). src points at the chunk's
// first column of the first batch row, ld_src apart; group g lies at g·m (M = 0: a run-time m).
template <int N, int M, int B>
void tile(int n, int m, int64_t groups, const float* values, const int32_t* pos, const float* src, int64_t ld_src,
          float* dst, int64_t ld_dst, __mmask16 rows, bool first) {
  if constexpr (M > 0) m = M;
  __m512 acc[B];
  for (int b = 0; b < B; ++b) {
    if (first)
      acc[b] = _mm512_setzero_ps();
    else
      acc[b] = rows == 0xFFFF ? _mm512_loadu_ps(dst + b * ld_dst) : _mm512_maskz_loadu_ps(rows, dst + b * ld_dst);
  }
  for (int64_t g = 0; g < groups; ++g) {
    const float* x = src + g * m;
    if constexpr (N > 0) {
      __m512 v[N];
      __m512i p[N];
      for (int j = 0; j < N; ++j) {
        v[j] = _mm512_load_ps(values + (g * N + j) * kRows);
        p[j] = _mm512_load_si512(pos + (g * N + j) * kRows);
      }
#pragma GCC unroll 16
      for (int b = 0; b < B; ++b) {
        __m512 xg = group_values(x + b * ld_src);
        for (int j = 0; j < N; ++j) acc[b] = _mm512_fmadd_ps(v[j], pick(p[j], xg), acc[b]);
      }
    } else {
      for (int j = 0; j < n; ++j) {
        __m512 v = _mm512_load_ps(values + (g * n + j) * kRows);
        __m512i p = _mm512_load_si512(pos + (g * n + j) * kRows);
#pragma GCC unroll 16
        for (int b = 0; b < B; ++b)
          acc[b] = _mm512_fmadd_ps(v, pick(p, group_values(x + b * ld_src)), acc[b]);
      }
    }
  }
  for (int b = 0; b < B; ++b) {
    if (rows == 0xFFFF)
      _mm512_storeu_ps(dst + b * ld_dst, acc[b]);
    else
      _mm512_mask_storeu_ps(dst + b * ld_dst, rows, acc[b]);
  }
}

// Rows [r0, r0 + 16·count) over the chunk of groups [g0, g0 + gn), for every batch row.
struct Chunk {
  int64_t g0, gn, c0, cn, ld;  // groups; their columns [c0, c0 + cn); copied rows ld floats apart
};

template <int N, int M>
void row_group(const NMSparseRows& a, int64_t r0, int64_t count, const Chunk& ch, const float* src, int64_t batch,
               float* dst, float* values, int32_t* pos, float* xs) {
  int n = a.n, m = a.m;
  int64_t slots = ch.gn * n, first = ch.g0 == 0;
  for (int64_t k = 0; k < count; ++k) {
    int64_t rk = r0 + k * kRows;
    slot_major(a, rk, static_cast<int>(std::min<int64_t>(kRows, a.rows - rk)), ch.g0 * n, static_cast<int>(slots),
               values + k * slots * kRows, pos + k * slots * kRows);
  }
  for (int64_t b0 = 0; b0 < batch; b0 += kBatchTile) {
    int64_t bn = std::min<int64_t>(kBatchTile, batch - b0);
    for (int64_t b = 0; b < bn; ++b) {
      std::memcpy(xs + b * ch.ld, src + (b0 + b) * a.cols + ch.c0, static_cast<size_t>(ch.cn) * sizeof(float));
      std::memset(xs + b * ch.ld + ch.cn, 0, static_cast<size_t>(ch.ld - ch.cn) * sizeof(float));
    }
    // The next tile's rows come from L3 (the source is read once per group of rows): ask for
    // them now, so their copy does not wait.
    for (int64_t b = 0; b < kBatchTile && b0 + kBatchTile + b < batch; ++b)
      for (int64_t c = 0; c < ch.cn; c += 16)
        _mm_prefetch(reinterpret_cast<const char*>(src + (b0 + kBatchTile + b) * a.cols + ch.c0 + c), _MM_HINT_T1);
    for (int64_t k = 0; k < count; ++k) {
      int64_t rk = r0 + k * kRows;
      int live = static_cast<int>(std::min<int64_t>(kRows, a.rows - rk));
      __mmask16 rows = static_cast<__mmask16>((1u << live) - 1);
      const float* v = values + k * slots * kRows;
      const int32_t* p = pos + k * slots * kRows;
      float* d = dst + b0 * a.rows + rk;
      if (bn == kBatchTile) {
        tile<N, M, kBatchTile>(n, m, ch.gn, v, p, xs, ch.ld, d, a.rows, rows, first);
        continue;
      }
      for (int64_t b = 0; b < bn; ++b)
        tile<N, M, 1>(n, m, ch.gn, v, p, xs + b * ch.ld, ch.ld, d + b * a.rows, a.rows, rows, first);
    }
  }
}

template <int N>
void row_group(const NMSparseRows& a, int64_t r0, int64_t count, const Chunk& ch, const float* src, int64_t batch,
               float* dst, float* values, int32_t* pos, float* xs) {
  switch (a.m) {
    case 8: return row_group<N, 8>(a, r0, count, ch, src, batch, dst, values, pos, xs);
    default: return row_group<N, 0>(a, r0, count, ch, src, batch, dst, values, pos, xs);
  }
}

}  // namespace

void nm_gemm_permute_avx512(const NMSparseRows& a, const float* src, int64_t batch, float* dst) {
  const int64_t groups = (a.cols + a.m - 1) / a.m;
  const int64_t chunk_groups = std::max(1, kSlotChunk / a.n);
  const int64_t blocks = (a.rows + kRows - 1) / kRows;
  // Copied rows: the chunk's columns, at least 16 floats of padding, whole 64-byte lines.
  const int64_t ld_max = (chunk_groups * a.m + 31) / 16 * 16;
#pragma omp parallel
  {
    // Per thread: slices of kGroupBlocks row blocks and 16 copied source rows. Plain C
    // allocation: this file is compiled for AVX-512 and must not instantiate shared inline code.
    size_t slice = static_cast<size_t>(kGroupBlocks) * kSlotChunk * kRows;
    size_t bytes = (2 * slice + static_cast<size_t>(kBatchTile * ld_max)) * sizeof(float);
    auto* buffer = static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    float* values = buffer;
    auto* pos = reinterpret_cast<int32_t*>(buffer + slice);
    float* xs = buffer + 2 * slice;
    int threads = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t begin = blocks * t / threads, end = blocks * (t + 1) / threads;
    // Groups of equal size (49 blocks: 4 of 12–13, not 3 × 16 + 1): each group's chunks copy
    // the source again, so a small last group costs nearly as much as a full one.
    int64_t group_count = (end - begin + kGroupBlocks - 1) / kGroupBlocks;
    int64_t group_size = group_count > 0 ? (end - begin + group_count - 1) / group_count : 1;
    for (int64_t k0 = begin; k0 < end; k0 += group_size) {
      int64_t count = std::min<int64_t>(group_size, end - k0);
      for (int64_t g0 = 0; g0 < groups; g0 += chunk_groups) {
        Chunk ch;
        ch.g0 = g0;
        ch.gn = std::min(chunk_groups, groups - g0);
        ch.c0 = g0 * a.m;
        ch.cn = std::min(a.cols, (g0 + ch.gn) * a.m) - ch.c0;
        ch.ld = (ch.cn + 31) / 16 * 16;
        switch (a.n) {
          case 1: row_group<1>(a, k0 * kRows, count, ch, src, batch, dst, values, pos, xs); break;
          case 2: row_group<2>(a, k0 * kRows, count, ch, src, batch, dst, values, pos, xs); break;
          case 4: row_group<4>(a, k0 * kRows, count, ch, src, batch, dst, values, pos, xs); break;
          default: row_group<0>(a, k0 * kRows, count, ch, src, batch, dst, values, pos, xs); break;
        }
      }
    }
    std::free(buffer);
  }
}

}  // namespace frugal::kernels
