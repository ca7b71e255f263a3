// AVX-512 fused N:M selection of both copies of a linear weight (kernels/nm_select.h). One pass
// reads each tile of M rows × 16 columns once and ranks it two ways:
//   forward  (groups of M consecutive columns in a row): the M − 1 rotations of a row vector
//            within its groups (vpermd) are compared with it, so 16 / M groups rank at once;
//            the kept lanes are compressed to the front of a register, already in slot order.
//   backward (groups of M rows in a column): one vector per row, 16 columns rank at once with
//            one compare per pair of rows; kept members move to their slot with masked blends,
//            and 16 slots per lane are transposed into rows of the copy.
// No sort, no branch on the data (the comparisons are coin flips a predictor would miss).
// Magnitudes compare as integers (the bits of |w|, NaN mapped to −1), so "beats, ties to the lower
// index" is one integer compare against the other member's key plus 1 where that member comes
// first. M is a template parameter so a tile's M vectors stay in registers.
#include <immintrin.h>

#include "frugal/kernels/nm_select.h"
#include "transpose16_avx512.h"

namespace frugal::kernels {

namespace {

constexpr int kLanes = 16;
// Columns per task (a multiple of 16): 256 measured faster than 128 and 512 (2048 × 2048 and
// 2048 × 784 at 2:8, one thread), and its backward slots fit L1.
constexpr int64_t kPanel = 256;

// Orders like select_group's key: |w| as integer bits (monotone for non-negative floats), NaN −1.
inline __m512i key_of(__m512 v) {
  __m512i bits = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7FFFFFFF));
  __mmask16 nan = _mm512_cmpgt_epi32_mask(bits, _mm512_set1_epi32(0x7F800000));
  return _mm512_mask_mov_epi32(bits, nan, _mm512_set1_epi32(-1));
}

struct Rotations {
  __m512i index[16];  // rotation t: lane l reads member (l mod m + t) mod m of its own group
  __m512i first[16];  // 1 where that member has the lower index (and so wins a tie), else 0
};

Rotations make_rotations(int m) {
  Rotations r;
  for (int t = 1; t < m; ++t) {
    alignas(64) int32_t idx[kLanes], first[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      int base = l / m * m, j = l - base;
      idx[l] = base + (j + t) % m;
      first[l] = j + t >= m;
    }
    r.index[t] = _mm512_load_si512(idx);
    r.first[t] = _mm512_load_si512(first);
  }
  return r;
}

// Kept lanes of one row vector under the forward mask.
template <int M>
inline __mmask16 forward_kept(__m512 v, const Rotations& rot, __m512i limit) {
  __m512i key = key_of(v);
  __m512i rank = _mm512_setzero_si512();
  const __m512i one = _mm512_set1_epi32(1);
  for (int t = 1; t < M; ++t) {
    __m512i other = _mm512_add_epi32(_mm512_mask_permutexvar_epi32(key, 0xFFFF, rot.index[t], key), rot.first[t]);
    rank = _mm512_mask_add_epi32(rank, _mm512_cmpgt_epi32_mask(other, key), rank, one);
  }
  return _mm512_cmplt_epi32_mask(rank, limit);
}

// Backward selection of one tile: val[j] is row first + j of the weight; slot s of lane l goes to
// out_v[s], out_c[s] (value and absolute column of the copy's row c0 + l).
template <int M>
inline void backward_tile(const __m512 (&val)[M], int n, int32_t first, __m512* out_v, __m512i* out_c) {
  __m512i key[M], rank[M];
  const __m512i one = _mm512_set1_epi32(1);
  for (int j = 0; j < M; ++j) {
    key[j] = key_of(val[j]);
    rank[j] = _mm512_setzero_si512();
  }
  // For rows k < j exactly one of the pair beats the other: k when key[k] >= key[j].
  for (int j = 1; j < M; ++j)
    for (int k = 0; k < j; ++k) {
      __mmask16 k_wins = _mm512_cmpge_epi32_mask(key[k], key[j]);
      rank[j] = _mm512_mask_add_epi32(rank[j], k_wins, rank[j], one);
      rank[k] = _mm512_mask_add_epi32(rank[k], static_cast<__mmask16>(~k_wins), rank[k], one);
    }
  for (int s = 0; s < n; ++s) {
    out_v[s] = _mm512_setzero_ps();
    out_c[s] = _mm512_setzero_si512();
  }
  __m512i count = _mm512_setzero_si512();
  const __m512i limit = _mm512_set1_epi32(n);
  for (int j = 0; j < M; ++j) {
    __mmask16 kept = _mm512_cmplt_epi32_mask(rank[j], limit);
    __m512i column = _mm512_set1_epi32(first + j);
    for (int s = 0; s < n; ++s) {
      __mmask16 here = kept & _mm512_cmpeq_epi32_mask(count, _mm512_set1_epi32(s));
      out_v[s] = _mm512_mask_mov_ps(out_v[s], here, val[j]);
      out_c[s] = _mm512_mask_mov_epi32(out_c[s], here, column);
    }
    count = _mm512_mask_add_epi32(count, kept, count, one);
  }
}

template <int M>
void select_linear(const float* w, int64_t out, int64_t in, int n, float* fw_values, int32_t* fw_columns,
                   float* bw_values, int32_t* bw_columns) {
  const Rotations rot = make_rotations(M);
  const int64_t fw_slots = in / M * n, bw_slots = out / M * n, groups = out / M;
  const int64_t panels = (in + kPanel - 1) / kPanel;
  // Backward slots are made as vectors over lanes (rows of the copy); 16 / n groups fill 16 slots
  // per lane, and a 16×16 transpose turns them into one contiguous store per row of the copy (a
  // scatter per slot measured slower than the rest of the selection together).
  const int block = 16 % n == 0 ? 16 / n : 1;
  const __m512i limit = _mm512_set1_epi32(n);
  const int per_vector = kLanes / M * n;  // slots a whole vector keeps
  alignas(64) int32_t lane_values[kLanes];
  for (int l = 0; l < kLanes; ++l) lane_values[l] = l;
  const __m512i iota = _mm512_load_si512(lane_values);
  for (int l = 0; l < kLanes; ++l) lane_values[l] = static_cast<int32_t>(l * bw_slots);
  const __m512i lane_offset = _mm512_load_si512(lane_values);
#pragma omp parallel for schedule(static)
  for (int64_t panel = 0; panel < panels; ++panel) {
    int64_t c_begin = panel * kPanel, c_end = c_begin + kPanel < in ? c_begin + kPanel : in;
    int vectors = static_cast<int>((c_end - c_begin + kLanes - 1) / kLanes);
    // A block's backward slots for the whole panel, [vector][slot] (32 KiB): the tile loop then
    // walks M rows at a time along the panel, M read streams the prefetcher follows.
    __m512 slot_v[kPanel / kLanes][16];
    __m512i slot_c[kPanel / kLanes][16];
    for (int64_t g0 = 0; g0 < groups; g0 += block) {
      int count = groups - g0 < block ? static_cast<int>(groups - g0) : block;
      for (int gi = 0; gi < count; ++gi) {
        int64_t g = g0 + gi;
        for (int v = 0; v < vectors; ++v) {
          int64_t c0 = c_begin + v * kLanes;
          int width = c_end - c0 < kLanes ? static_cast<int>(c_end - c0) : kLanes;
          __mmask16 valid = static_cast<__mmask16>((1u << width) - 1);
          __m512i column = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int32_t>(c0)));
          __m512 val[M];
          // Plain loads and stores wherever a whole vector allows: Zen 4's masked forms cost
          // several times more (together 5–8 % of this pass at 2:8, measured).
          for (int j = 0; j < M; ++j)
            val[j] = width == kLanes ? _mm512_loadu_ps(w + (g * M + j) * in + c0)
                                     : _mm512_maskz_loadu_ps(valid, w + (g * M + j) * in + c0);
          // Forward: a width that is a multiple of M puts invalid lanes in groups of their own.
          for (int j = 0; j < M; ++j) {
            __mmask16 kept = forward_kept<M>(val[j], rot, limit) & valid;
            int64_t at = (g * M + j) * fw_slots + c0 / M * n;
            // Compress in a register, then store the kept front (a whole vector keeps exactly
            // per_vector): the memory form of vcompressps is microcoded on AMD Zen 4.
            __m512 kv = _mm512_maskz_compress_ps(kept, val[j]);
            __m512i kc = _mm512_maskz_compress_epi32(kept, column);
            // (The low parts are taken by masked extracts with every lane set: GCC 12 warns on
            // the casts' and plain extracts' undefined operands.)
            if (width == kLanes && per_vector == 4) {
              _mm_storeu_ps(fw_values + at, _mm512_mask_extractf32x4_ps(_mm_setzero_ps(), 0xF, kv, 0));
              _mm_storeu_si128(reinterpret_cast<__m128i*>(fw_columns + at),
                               _mm512_mask_extracti32x4_epi32(_mm_setzero_si128(), 0xF, kc, 0));
            } else if (width == kLanes && per_vector == 8) {
              _mm256_storeu_pd(reinterpret_cast<double*>(fw_values + at),
                               _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(kv), 0));
              _mm256_storeu_si256(reinterpret_cast<__m256i*>(fw_columns + at),
                                  _mm512_mask_extracti64x4_epi64(_mm256_setzero_si256(), 0xF, kc, 0));
            } else {
              __mmask16 front = static_cast<__mmask16>((1u << _mm_popcnt_u32(kept)) - 1);
              _mm512_mask_storeu_ps(fw_values + at, front, kv);
              _mm512_mask_storeu_epi32(fw_columns + at, front, kc);
            }
          }
          if (bw_values)
            backward_tile<M>(val, n, static_cast<int32_t>(g * M), slot_v[v] + gi * n, slot_c[v] + gi * n);
        }
      }
      if (!bw_values) continue;
      for (int v = 0; v < vectors; ++v) {
        int64_t c0 = c_begin + v * kLanes;
        int width = c_end - c0 < kLanes ? static_cast<int>(c_end - c0) : kLanes;
        float* bv = bw_values + c0 * bw_slots + g0 * n;
        int32_t* bc = bw_columns + c0 * bw_slots + g0 * n;
        if (count * n == 16) {
          __m512 rows_v[16], rows_c[16];
          for (int s = 0; s < 16; ++s) {
            rows_v[s] = slot_v[v][s];
            rows_c[s] = _mm512_castsi512_ps(slot_c[v][s]);
          }
          transpose16(rows_v);
          transpose16(rows_c);
          for (int l = 0; l < width; ++l) {
            _mm512_storeu_ps(bv + l * bw_slots, rows_v[l]);
            _mm512_storeu_si512(bc + l * bw_slots, _mm512_castps_si512(rows_c[l]));
          }
        } else {
          __mmask16 valid = static_cast<__mmask16>((1u << width) - 1);
          for (int s = 0; s < count * n; ++s) {
            _mm512_mask_i32scatter_ps(bv + s, valid, lane_offset, slot_v[v][s], 4);
            _mm512_mask_i32scatter_epi32(bc + s, valid, lane_offset, slot_c[v][s], 4);
          }
        }
      }
    }
  }
}

}  // namespace

void nm_select_linear_avx512(const float* w, int64_t out, int64_t in, int n, int m, float* fw_values,
                             int32_t* fw_columns, float* bw_values, int32_t* bw_columns) {
  switch (m) {
    case 2: return select_linear<2>(w, out, in, n, fw_values, fw_columns, bw_values, bw_columns);
    case 4: return select_linear<4>(w, out, in, n, fw_values, fw_columns, bw_values, bw_columns);
    case 8: return select_linear<8>(w, out, in, n, fw_values, fw_columns, bw_values, bw_columns);
    default: return select_linear<16>(w, out, in, n, fw_values, fw_columns, bw_values, bw_columns);
  }
}

}  // namespace frugal::kernels
