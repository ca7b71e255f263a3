// AVX2 event-driven conv2d forward (event.h), event_conv_avx512.cpp with 8-lane vectors: per
// output position, up to 64 output channels' sums in eight vectors take the weight taps of the set
// bits of a receptive-field mask. Each output adds its terms in ref::conv2d_forward's (ci, ky, kx)
// order, a spike of value 1.0 adds its weight tap as is (1·w = w), any other value multiplies
// first, and nothing is contracted into an FMA, so results equal the dense reference bit for bit.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>
#include <omp.h>

#include "frugal/kernels/event.h"
#include "nm_batch_tiles.h"

namespace frugal::kernels {

namespace {

constexpr int64_t kLanes = 8;

// One sample's input with its nonzeros as bit rows: bit pad + ix of row (c, iy) is set where
// x[c, iy, ix] != 0 (NaN counts, as in the reference), so padding columns read as zero bits.
// rf holds, per input channel and output position, the receptive field's bits (bit ky·kw + kx).
// The sizes derived from the shape are computed once per call: divisions in the per-position
// code cost as much as the adds of a sparse field.
struct Sample {
  const float* x;
  const uint64_t* bits;
  int64_t words;
  const uint64_t* rf;  // [C, OH, OW]
  int64_t oh, ow, cg, per, cpw;  // output size, channels per group, taps, channels per 64-bit mask
};

// Bits [start, start + len) of a bit row, len <= 64.
inline uint64_t window(const uint64_t* row, int64_t words, int64_t start, int64_t len) {
  const int64_t wd = start >> 6, sh = start & 63;
  uint64_t m = row[wd] >> sh;
  if (sh != 0 && wd + 1 < words) m |= row[wd + 1] << (64 - sh);
  return len >= 64 ? m : m & ((uint64_t{1} << len) - 1);
}

// Fills bits; returns whether every nonzero input is exactly 1.0 (binary spikes).
bool build_bits(const Conv2dShape& s, const float* x, uint64_t* bits, int64_t words) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t i = 0; i < s.c * s.h * words; ++i) bits[i] = 0;
  bool binary = true;
  for (int64_t r = 0; r < s.c * s.h; ++r) {
    const float* xr = x + r * s.w;
    uint64_t* br = bits + r * words;
    for (int64_t ix = 0; ix < s.w; ix += kLanes) {
      const int64_t n = s.w - ix < kLanes ? s.w - ix : kLanes;
      const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane);
      const __m256 v = _mm256_maskload_ps(xr + ix, lanes);
      const __m256 nz = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ), _mm256_castsi256_ps(lanes));
      if (_mm256_movemask_ps(_mm256_and_ps(nz, _mm256_cmp_ps(v, one, _CMP_NEQ_UQ)))) binary = false;
      const uint64_t m = static_cast<uint64_t>(_mm256_movemask_ps(nz));
      const int64_t pos = s.pad + ix, wi = pos >> 6, sh = pos & 63;
      br[wi] |= m << sh;
      if (sh > 64 - kLanes && wi + 1 < words) br[wi + 1] |= m >> (64 - sh);
    }
  }
  return binary;
}

// Receptive-field masks of every channel and output position: each row window is cut once (win,
// [C, H, OW]) and the kh windows of a field stacked, instead of cutting kh·C windows per position.
void build_fields(const Conv2dShape& s, const uint64_t* bits, int64_t words, uint64_t* win, uint64_t* rf) {
  const int64_t oh = s.oh(), ow = s.ow();
  const uint64_t taps = s.kw >= 64 ? ~uint64_t{0} : (uint64_t{1} << s.kw) - 1;
  for (int64_t r = 0; r < s.c * s.h; ++r) {
    if (words == 1) {
      for (int64_t ox = 0; ox < ow; ++ox) win[r * ow + ox] = (bits[r] >> (ox * s.stride)) & taps;
      continue;
    }
    for (int64_t ox = 0; ox < ow; ++ox) win[r * ow + ox] = window(bits + r * words, words, ox * s.stride, s.kw);
  }
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t oy = 0; oy < oh; ++oy) {
      uint64_t* dst = rf + (c * oh + oy) * ow;
      for (int64_t ox = 0; ox < ow; ++ox) dst[ox] = 0;
      const int64_t iy0 = oy * s.stride - s.pad;
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        if (iy0 + ky < 0 || iy0 + ky >= s.h) continue;
        const uint64_t* src = win + (c * s.h + iy0 + ky) * ow;
        for (int64_t ox = 0; ox < ow; ++ox) dst[ox] |= src[ox] << (ky * s.kw);
      }
    }
}

// Output channels [off, off + NV·8) of group g at every conv output position into acc
// [OH·OW, ld]. The outer loop walks the group's input channels cpw at a time (one 64-bit field mask
// each): their weight taps (2·25·64 floats for the spiking CNN's conv) stay in L1 while every
// position adds its events to its sums, loaded and stored once per mask. Each output still gets its
// terms in (ci, ky, kx) order.
template <int NV, bool Binary>
void accumulate(const Conv2dShape& s, const EventConvWeights& w, const Sample& in, int64_t g, int64_t off, float* acc,
                int64_t ld) {
  const int64_t cg = in.cg, per = in.per, cpw = in.cpw, c_end = (g + 1) * cg, oh = in.oh, ow = in.ow;
  const float* bias = w.bias + g * w.opad + off;
  for (int64_t p = 0; p < oh * ow; ++p)
    for (int v = 0; v < NV; ++v)
      _mm256_storeu_ps(acc + p * ld + g * w.opad + off + v * kLanes, _mm256_loadu_ps(bias + v * kLanes));
  for (int64_t c0 = g * cg; c0 < c_end; c0 += cpw) {
    const int64_t c1 = c0 + cpw < c_end ? c0 + cpw : c_end;
    const float* taps = w.wt + c0 * per * w.opad + off;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        uint64_t m = 0;
        for (int64_t c = c0; c < c1; ++c) m |= in.rf[(c * oh + oy) * ow + ox] << ((c - c0) * per);
        if (m == 0) continue;
        float* dst = acc + (oy * ow + ox) * ld + g * w.opad + off;
        __m256 a[NV];
        for (int v = 0; v < NV; ++v) a[v] = _mm256_loadu_ps(dst + v * kLanes);
        while (m != 0) {
          const int64_t bit = __builtin_ctzll(m);
          m &= m - 1;
          const float* wk = taps + bit * w.opad;
          if constexpr (Binary) {
            for (int v = 0; v < NV; ++v) a[v] = _mm256_add_ps(a[v], _mm256_loadu_ps(wk + v * kLanes));
          } else {
            const int64_t c = c0 + bit / per, ky = bit % per / s.kw, kx = bit % per % s.kw;
            const int64_t iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
            const __m256 xv = _mm256_set1_ps(in.x[(c * s.h + iy) * s.w + ix]);
            for (int v = 0; v < NV; ++v)
              a[v] = _mm256_add_ps(a[v], _mm256_mul_ps(xv, _mm256_loadu_ps(wk + v * kLanes)));
          }
        }
        for (int v = 0; v < NV; ++v) _mm256_storeu_ps(dst + v * kLanes, a[v]);
      }
  }
}

template <int NV, bool Binary>
void channel_block(const Conv2dShape& s, const EventConvWeights& w, const Sample& in, int64_t g, int64_t off,
                   float* acc, int64_t ld) {
  accumulate<NV, Binary>(s, w, in, g, off, acc, ld);
  if (w.pool == 1) return;
  // 2x2 max-pool in place: pooled position q = py·pw + px is written after its window is read, and
  // every later window reads positions above q. Reduced as kernels::max_pool2d_forward does (row
  // by row, a value that is not <= the best replaces it), so it equals conv-then-pool bit for bit.
  const int64_t ph = in.oh / 2, pw = in.ow / 2, ow = in.ow;
  for (int64_t py = 0; py < ph; ++py)
    for (int64_t px = 0; px < pw; ++px) {
      const float* base = acc + (2 * py * ow + 2 * px) * ld + g * w.opad + off;
      __m256 best[NV];
      for (int v = 0; v < NV; ++v) best[v] = _mm256_loadu_ps(base + v * kLanes);
      for (int64_t k = 1; k < 4; ++k) {
        const float* src = base + ((k / 2) * ow + k % 2) * ld;
        for (int v = 0; v < NV; ++v) {
          const __m256 a = _mm256_loadu_ps(src + v * kLanes);
          best[v] = _mm256_blendv_ps(best[v], a, _mm256_cmp_ps(a, best[v], _CMP_NLE_UQ));
        }
      }
      float* dst = acc + (py * pw + px) * ld + g * w.opad + off;
      for (int v = 0; v < NV; ++v) _mm256_storeu_ps(dst + v * kLanes, best[v]);
    }
}

template <bool Binary>
void channel_blocks(const Conv2dShape& s, const EventConvWeights& w, const Sample& in, float* acc, int64_t ld) {
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t off = 0; off < w.opad; off += 8 * kLanes) {
      switch ((w.opad - off) / kLanes) {
        case 2: channel_block<2, Binary>(s, w, in, g, off, acc, ld); break;
        case 4: channel_block<4, Binary>(s, w, in, g, off, acc, ld); break;
        case 6: channel_block<6, Binary>(s, w, in, g, off, acc, ld); break;
        default: channel_block<8, Binary>(s, w, in, g, off, acc, ld); break;
      }
    }
}

// acc [oh·ow, ld] (channel-last, padded) to the sample's NCHW output.
void to_nchw(const Conv2dShape& s, const EventConvWeights& w, const float* acc, int64_t ld, float* y) {
  const int64_t og = s.o / s.groups, hw = (s.oh() / w.pool) * (s.ow() / w.pool);
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t o0 = 0; o0 < og; o0 += 8)
      for (int64_t p0 = 0; p0 < hw; p0 += 8) {
        const float* in = acc + p0 * ld + g * w.opad + o0;
        float* out = y + (g * og + o0) * hw + p0;
        if (o0 + 8 <= og && p0 + 8 <= hw) {
          transpose8x8(in, ld, out, hw);
          continue;
        }
        for (int64_t o = 0; o < 8 && o0 + o < og; ++o)
          for (int64_t p = 0; p < 8 && p0 + p < hw; ++p) out[o * hw + p] = in[p * ld + o];
      }
}

}  // namespace

void event_conv2d_avx2(const Conv2dShape& s, const EventConvWeights& w, const float* x, float* y, float* workspace) {
  const int64_t words = (s.w + 2 * s.pad + 63) / 64, ld = s.groups * w.opad;
  const int64_t bit_words = s.c * s.h * words, win_words = s.c * s.h * s.ow(), rf_words = s.c * s.oh() * s.ow();
  const int64_t bit_floats = ((bit_words + win_words + rf_words) * 2 + 15) / 16 * 16;
  const int64_t per_thread = event_conv2d_workspace_floats(s, w.opad);
  const int64_t in_size = s.c * s.h * s.w, out_size = s.o * (s.oh() / w.pool) * (s.ow() / w.pool);
#pragma omp parallel
  {
    float* ws = workspace + omp_get_thread_num() * per_thread;
    auto* bits = reinterpret_cast<uint64_t*>(ws);
    uint64_t* win = bits + bit_words;
    uint64_t* rf = win + win_words;
    float* acc = ws + bit_floats;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      const Sample in{x + n * in_size, bits, words, rf, s.oh(), s.ow(), s.c / s.groups,
                      s.kh * s.kw, 64 / (s.kh * s.kw)};
      const bool binary = build_bits(s, in.x, bits, words);
      build_fields(s, bits, words, win, rf);
      if (binary) channel_blocks<true>(s, w, in, acc, ld);
      else channel_blocks<false>(s, w, in, acc, ld);
      to_nchw(s, w, acc, ld, y + n * out_size);
    }
  }
}

}  // namespace frugal::kernels
