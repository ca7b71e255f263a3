// AVX-512 event-driven conv2d backward (kernels/event_backward.h), stride 1 and one group.
// Backward-weights: for one input channel and kernel row, the KW × O weight gradients stay in
// registers while the channel's spikes stream by; each spike adds KW rows of the sample's
// channel-last dy (a contiguous run, as the kernel columns are neighbouring output positions).
// Backward-data: for one output position, the KH × KW·C input gradients it reaches stay in
// registers while its nonzero dy (over output channels) stream by; each adds one weight slice,
// and the sum is added once to the channel-last dx.
#include <immintrin.h>
#include <omp.h>

#include <cstddef>
#include <cstdint>

#include "../event_backward_parts.h"
#include "frugal/kernels/event_backward.h"

namespace frugal::kernels {

namespace {

constexpr int kLanes = 16;
constexpr int64_t kMaxKw = 5;
constexpr int64_t kMaxRows = 24;  // accumulator vectors of backward-data (32 registers in all)

// The first 64-byte boundary at or after p (buffers are allocated kLanes floats longer).
float* aligned64(float* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return p + ((64 - a % 64) % 64) / sizeof(float);
}

// Appends the nonzero entries of v[0, n) (values and their offsets in v) at *count.
// Register compress and a full store: the memory form of compress is microcoded, slow on Zen 4;
// so both outputs need room for a whole vector past the last entry.
void compress_nonzeros(const float* v, int64_t n, float* values, int32_t* offsets, int32_t* count) {
  // Not a namespace-scope constant: its initializer would run AVX-512 at start-up on every CPU.
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int64_t i = 0; i < n; i += kLanes) {
    const int64_t lanes = n - i < kLanes ? n - i : kLanes;
    const __mmask16 valid = static_cast<__mmask16>((1u << lanes) - 1u);
    const __m512 x = _mm512_maskz_loadu_ps(valid, v + i);
    const __mmask16 m = _mm512_mask_cmp_ps_mask(valid, x, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(i)), iota);
    _mm512_storeu_ps(values + *count, _mm512_maskz_compress_ps(m, x));
    _mm512_storeu_si512(offsets + *count, _mm512_maskz_compress_epi32(m, idx));
    *count += __builtin_popcount(m);
  }
}

// One sample's events, channel by channel, in (iy, ix) order.
// Every array has room for a whole vector past the last event (compress_nonzeros).
struct Events {
  explicit Events(const Conv2dShape& s)
      : start(s.c + 1), offset(s.c * s.h * s.w + kLanes), y(s.c * s.h * s.w + kLanes), x(s.c * s.h * s.w + kLanes),
        v(s.c * s.h * s.w + kLanes), row_of(s.h * s.w), column_of(s.h * s.w) {
    for (int64_t i = 0; i < s.h * s.w; ++i) {
      row_of[i] = static_cast<int32_t>(i / s.w);
      column_of[i] = static_cast<int32_t>(i % s.w);
    }
  }
  Buffer<int32_t> start;   // [C + 1]
  Buffer<int32_t> offset;  // iy·W + ix
  Buffer<int32_t> y, x;
  Buffer<float> v;
  Buffer<int32_t> row_of, column_of;  // of an offset: a table instead of a division per event
};

void collect_events(const Conv2dShape& s, const float* xn, Events& e) {
  const int64_t plane = s.h * s.w;
  int32_t total = 0;
  for (int64_t c = 0; c < s.c; ++c) {
    e.start[c] = total;
    compress_nonzeros(xn + c * plane, plane, e.v.data(), e.offset.data(), &total);
  }
  e.start[s.c] = total;
  for (int32_t i = 0; i < total; ++i) {
    e.y[i] = e.row_of[e.offset[i]];
    e.x[i] = e.column_of[e.offset[i]];
  }
}

// Output channels [ob, ob + 16·NB) of one sample. dyt is [oh][ow + 2(KW-1)][O] with KW-1 zero
// columns on each side, so every kernel column reads valid memory and needs no branch.
template <int NB>
void weights_sample(const Conv2dShape& s, const Events& e, const float* dyt, int64_t ob, float* acc) {
  const int64_t oh = s.oh(), owp = s.ow() + 2 * (s.kw - 1), margin = s.kw - 1 + s.pad;
  for (int64_t c = 0; c < s.c; ++c)
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      float* a = acc + (c * s.kh + ky) * s.kw * s.o + ob;
      __m512 r[kMaxKw][NB];
#pragma GCC unroll 8
      for (int kx = 0; kx < kMaxKw; ++kx)
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b)
          r[kx][b] = kx < s.kw ? _mm512_loadu_ps(a + kx * s.o + b * kLanes) : _mm512_setzero_ps();
      for (int32_t i = e.start[c]; i < e.start[c + 1]; ++i) {
        const int64_t oy = e.y[i] + s.pad - ky;
        if (oy < 0 || oy >= oh) continue;
        const __m512 v = _mm512_set1_ps(e.v[i]);
        // Column ox = ix + pad - kx sits at ox + KW - 1 in the padded row.
        const float* row = dyt + (oy * owp + e.x[i] + margin) * s.o + ob;
#pragma GCC unroll 8
        for (int kx = 0; kx < kMaxKw; ++kx) {
          if (kx >= s.kw) break;
#pragma GCC unroll 4
          for (int b = 0; b < NB; ++b)
            r[kx][b] = _mm512_fmadd_ps(v, _mm512_loadu_ps(row - kx * s.o + b * kLanes), r[kx][b]);
        }
      }
#pragma GCC unroll 8
      for (int kx = 0; kx < kMaxKw; ++kx)
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b)
          if (kx < s.kw) _mm512_storeu_ps(a + kx * s.o + b * kLanes, r[kx][b]);
    }
}

// RB accumulator vectors (a multiple of 4 ≥ KH·NV; the weight slices are zero-padded to RB).
template <int RB>
void data_position(const float* wt, const int32_t* os, const float* vs, int32_t count, int64_t rows, int64_t nv,
                   int64_t run, int64_t row_stride, float* dst) {
  __m512 acc[RB];
#pragma GCC unroll 24
  for (int r = 0; r < RB; ++r) acc[r] = _mm512_setzero_ps();
  for (int32_t i = 0; i < count; ++i) {
    const __m512 v = _mm512_set1_ps(vs[i]);
    const float* wo = wt + static_cast<int64_t>(os[i]) * RB * kLanes;
#pragma GCC unroll 24
    for (int r = 0; r < RB; ++r) acc[r] = _mm512_fmadd_ps(v, _mm512_load_ps(wo + r * kLanes), acc[r]);
  }
#pragma GCC unroll 24
  for (int r = 0; r < RB; ++r) {
    if (r >= rows) break;
    const int64_t ky = r / nv, j = r % nv;
    const int64_t lanes = run - j * kLanes < kLanes ? run - j * kLanes : kLanes;
    const __mmask16 m = static_cast<__mmask16>((1u << lanes) - 1u);
    float* d = dst + ky * row_stride + j * kLanes;
    _mm512_mask_storeu_ps(d, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), acc[r]));
  }
}

}  // namespace

bool event_conv2d_backward_weights_avx512_fits(const Conv2dShape& s) {
  return s.stride == 1 && s.groups == 1 && s.o % kLanes == 0 && s.kw <= kMaxKw;
}

bool event_conv2d_backward_data_avx512_fits(const Conv2dShape& s) {
  const int64_t nv = (s.kw * s.c + kLanes - 1) / kLanes;
  return s.stride == 1 && s.groups == 1 && s.kh * nv <= kMaxRows;
}

void event_conv2d_backward_avx512(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx,
                                  float* dw, float* db) {
  const int64_t oh = s.oh(), ow = s.ow(), owp = ow + 2 * (s.kw - 1), hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
  const int64_t k = s.kh * s.kw, size = s.c * k * s.o;
  const int64_t run = s.kw * s.c, nv = (run + kLanes - 1) / kLanes, rows = s.kh * nv, rb = (rows + 3) / 4 * 4;
  // Weights as [O][RB][16]: kernel row ky of output channel o is the run (kx, c) of KW·C floats,
  // zero-padded to whole vectors, so it lines up with the channel-last dx row it is added to.
  Buffer<float> wt_store(dx ? s.o * rb * kLanes + kLanes : 0);
  float* wt = aligned64(wt_store.data());
  if (dx) {
    for (int64_t o = 0; o < s.o; ++o)
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t ky = 0; ky < s.kh; ++ky)
          for (int64_t kx = 0; kx < s.kw; ++kx)
            wt[(o * rb + ky * nv) * kLanes + kx * s.c + c] = w[(o * s.c + c) * k + ky * s.kw + kx];
  }
  const int threads = omp_get_max_threads();
  Buffer<float> parts(dw ? threads * size : 0);
  Buffer<double> bias_parts(db ? threads * s.o : 0);
#pragma omp parallel
  {
    const int t = omp_get_thread_num();
    // One sample's dy channel-last, with KW-1 zero columns each side (see weights_sample). Rows
    // start on cache lines: a vector load that straddles two lines costs two.
    Buffer<float> dyt_store(oh * owp * s.o + kLanes);
    float* dyt = aligned64(dyt_store.data());
    Buffer<float> bias_sum(s.o);
    Events e(dw ? s : Conv2dShape{});
    Buffer<float> canvas(dx ? hp * wp * s.c : 0);
    Buffer<int32_t> start(oh * ow + 1);
    // Room for a full vector past the last nonzero: compress writes whole vectors.
    Buffer<int32_t> os(dx ? s.o * oh * ow + kLanes : 0);
    Buffer<float> vs(dx ? s.o * oh * ow + kLanes : 0);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      // Contiguous writes, strided reads: the strided stores of the other order stall on 4K aliasing.
      const float* dn = dy + n * s.o * oh * ow;
      // The next sample's dy streams from memory while this one is worked on.
      if (n + 1 < s.n)
        for (int64_t i = 0; i < s.o * oh * ow; i += kLanes)
          _mm_prefetch(reinterpret_cast<const char*>(dn + s.o * oh * ow + i), _MM_HINT_T1);
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          float* d = dyt + (oy * owp + ox + s.kw - 1) * s.o;
          for (int64_t o = 0; o < s.o; ++o) d[o] = dn[o * oh * ow + oy * ow + ox];
        }
      if (db) {
        // Per output channel, positions in order: event_parts::bias_grad's float sums exactly.
        for (int64_t o = 0; o < s.o; ++o) bias_sum[o] = 0.0f;
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            const float* d = dyt + (oy * owp + ox + s.kw - 1) * s.o;
            for (int64_t o = 0; o < s.o; ++o) bias_sum[o] += d[o];
          }
        for (int64_t o = 0; o < s.o; ++o) bias_parts[t * s.o + o] += bias_sum[o];
      }
      if (dw) {
        collect_events(s, x + n * s.c * s.h * s.w, e);
        float* acc = parts.data() + t * size;
        int64_t ob = 0;
        if (e.start[s.c] > 0) {
          for (; ob + 4 * kLanes <= s.o; ob += 4 * kLanes) weights_sample<4>(s, e, dyt, ob, acc);
          for (; ob < s.o; ob += kLanes) weights_sample<1>(s, e, dyt, ob, acc);
        }
      }
      if (!dx) continue;
      // Nonzero dy grouped by output position, output channels ascending.
      int32_t total = 0;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          start[oy * ow + ox] = total;
          compress_nonzeros(dyt + (oy * owp + ox + s.kw - 1) * s.o, s.o, vs.data(), os.data(), &total);
        }
      start[oh * ow] = total;
      for (int64_t i = 0; i < hp * wp * s.c; ++i) canvas[i] = 0.0f;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t p = oy * ow + ox;
          const int32_t count = start[p + 1] - start[p];
          if (count == 0) continue;
          float* dst = canvas.data() + (oy * wp + ox) * s.c;
          const int32_t* po = os.data() + start[p];
          const float* pv = vs.data() + start[p];
          switch (rb) {
            case 4: data_position<4>(wt, po, pv, count, rows, nv, run, wp * s.c, dst); break;
            case 8: data_position<8>(wt, po, pv, count, rows, nv, run, wp * s.c, dst); break;
            case 12: data_position<12>(wt, po, pv, count, rows, nv, run, wp * s.c, dst); break;
            case 16: data_position<16>(wt, po, pv, count, rows, nv, run, wp * s.c, dst); break;
            case 20: data_position<20>(wt, po, pv, count, rows, nv, run, wp * s.c, dst); break;
            default: data_position<24>(wt, po, pv, count, rows, nv, run, wp * s.c, dst); break;
          }
        }
      float* dxn = dx + n * s.c * s.h * s.w;
      for (int64_t c = 0; c < s.c; ++c)
        for (int64_t iy = 0; iy < s.h; ++iy)
          for (int64_t ix = 0; ix < s.w; ++ix)
            dxn[(c * s.h + iy) * s.w + ix] = canvas[((iy + s.pad) * wp + ix + s.pad) * s.c + c];
    }
  }
  if (dw) event_parts::finish_weights(s, parts.data(), threads, dw);
  if (db)
    for (int64_t o = 0; o < s.o; ++o) {
      double sum = 0.0;
      for (int t = 0; t < threads; ++t) sum += bias_parts[t * s.o + o];
      db[o] = static_cast<float>(sum);
    }
}

void event_conv2d_backward_weights_avx512(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                                          float* db) {
  event_conv2d_backward_avx512(s, x, dy, nullptr, nullptr, dw, db);
}

void event_conv2d_backward_data_avx512(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  event_conv2d_backward_avx512(s, nullptr, dy, w, dx, nullptr, nullptr);
}

}  // namespace frugal::kernels
