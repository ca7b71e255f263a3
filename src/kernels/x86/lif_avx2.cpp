// AVX2 LIF and CuBa-LIF kernels: lif_ref.cpp's float operations lane by lane (no FMA contraction,
// compare-and-mask for the step functions), so results equal the reference bit for bit. Four
// vectors of neurons advance together through time to hide the latency of the membrane recurrence.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

#include "frugal/kernels/lif.h"

namespace frugal::kernels {

namespace {

constexpr int kLanes = 8;
constexpr int kVectors = 4;  // per block: independent recurrences in flight
// The reverse pass reads each step at a stride of n floats: 2 KiB contiguous per step and stream
// keep many cache lines in flight (4 vectors, 128 bytes, left it waiting on memory: 2x slower in
// bench/lif_backward.cpp). Its state (carries and sums) then lives in L1 instead of registers.
constexpr int kBackwardVectors = 64;

template <bool Masked>
inline __m256 ld(const float* p, __m256i m) {
  if constexpr (Masked) return _mm256_maskload_ps(p, m);
  else return _mm256_loadu_ps(p);
}
template <bool Masked>
inline void st(float* p, __m256i m, __m256 v) {
  if constexpr (Masked) _mm256_maskstore_ps(p, m, v);
  else _mm256_storeu_ps(p, v);
}

inline __m256 gt(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }

// dS/du per lane, the same operations as snn::surrogate_grad.
inline __m256 surrogate_grad_v(const snn::Surrogate& s, __m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  switch (s.kind) {
    case snn::SurrogateKind::atan: {
      __m256 v = _mm256_mul_ps(_mm256_set1_ps(1.5707963267948966f * s.param), x);
      return _mm256_div_ps(_mm256_set1_ps(0.5f * s.param), _mm256_add_ps(one, _mm256_mul_ps(v, v)));
    }
    case snn::SurrogateKind::fast_sigmoid: {
      __m256 ax = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
      __m256 d = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(s.param), ax), one);
      return _mm256_div_ps(one, _mm256_mul_ps(d, d));
    }
    case snn::SurrogateKind::triangle:
      return _mm256_blendv_ps(_mm256_set1_ps(-s.param), _mm256_set1_ps(s.param),
                              _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    case snn::SurrogateKind::sigmoid: {
      // No vector exp matches std::exp bit for bit; the scalar formula keeps ref == fast.
      alignas(32) float lane[kLanes];
      _mm256_store_ps(lane, x);
      for (int l = 0; l < kLanes; ++l) lane[l] = snn::surrogate_grad(s, lane[l]);
      return _mm256_load_ps(lane);
    }
  }
  return _mm256_setzero_ps();
}

template <int V, bool Masked>
void lif_forward_block(const LifArgs& a, int64_t i0, __m256i m, const float* src, float* spikes, float* mem) {
  const int64_t n = a.n;
  const __m256 amp = _mm256_set1_ps(a.amplitude);
  __m256 b[V], th[V], u[V];
  for (int v = 0; v < V; ++v) {
    b[v] = ld<Masked>(a.beta + i0 + v * kLanes, m);
    th[v] = ld<Masked>(a.threshold + i0 + v * kLanes, m);
    u[v] = _mm256_mul_ps(_mm256_set1_ps(a.init_frac), th[v]);
  }
  for (int64_t t = 0; t < a.steps; ++t) {
    const int64_t k = t * n + i0;
    for (int v = 0; v < V; ++v) {
      const int64_t kv = k + v * kLanes;
      const __m256 r = gt(u[v], th[v]);
      const __m256 x = ld<Masked>(src + kv, m);
      if (a.reset == Reset::zero) {
        u[v] = _mm256_add_ps(_mm256_mul_ps(b[v], _mm256_andnot_ps(r, u[v])), x);
      } else {
        u[v] = _mm256_add_ps(_mm256_mul_ps(b[v], u[v]), x);
        if (a.reset == Reset::subtract) u[v] = _mm256_sub_ps(u[v], _mm256_and_ps(r, th[v]));
      }
      if (mem) st<Masked>(mem + kv, m, u[v]);
      st<Masked>(spikes + kv, m, _mm256_and_ps(gt(u[v], th[v]), amp));
    }
  }
}

template <int V, bool Masked>
void lif_backward_block(const LifArgs& a, int64_t i0, __m256i m, const float* mem, const float* diff_spikes,
                        const float* diff_mem, const LifGrads& g) {
  const int64_t n = a.n;
  const __m256 amp = _mm256_set1_ps(a.amplitude), frac = _mm256_set1_ps(a.init_frac);
  __m256 b[V], th[V], carry[V], db[V], dth[V];
  for (int v = 0; v < V; ++v) {
    b[v] = ld<Masked>(a.beta + i0 + v * kLanes, m);
    th[v] = ld<Masked>(a.threshold + i0 + v * kLanes, m);
    carry[v] = db[v] = dth[v] = _mm256_setzero_ps();
  }
  for (int64_t t = a.steps - 1; t >= 0; --t) {
    const int64_t k = t * n + i0;
    for (int v = 0; v < V; ++v) {
      const int64_t kv = k + v * kLanes;
      const __m256 u = ld<Masked>(mem + kv, m);
      const __m256 up = t > 0 ? ld<Masked>(mem + kv - n, m) : _mm256_mul_ps(frac, th[v]);
      __m256 gs = _mm256_setzero_ps();
      if (diff_spikes) {
        const __m256 sg = surrogate_grad_v(a.surrogate, _mm256_sub_ps(u, th[v]));
        gs = _mm256_mul_ps(ld<Masked>(diff_spikes + kv, m), _mm256_mul_ps(amp, sg));
      }
      __m256 du = _mm256_add_ps(gs, carry[v]);
      if (diff_mem) du = _mm256_add_ps(du, ld<Masked>(diff_mem + kv, m));
      st<Masked>(g.diff_src + kv, m, du);
      const __m256 r = gt(up, th[v]);
      dth[v] = _mm256_sub_ps(dth[v], gs);
      if (a.reset == Reset::zero) {
        db[v] = _mm256_add_ps(db[v], _mm256_mul_ps(du, _mm256_andnot_ps(r, up)));
        carry[v] = _mm256_mul_ps(b[v], _mm256_andnot_ps(r, du));
      } else {
        db[v] = _mm256_add_ps(db[v], _mm256_mul_ps(du, up));
        if (a.reset == Reset::subtract) dth[v] = _mm256_sub_ps(dth[v], _mm256_and_ps(r, du));
        carry[v] = _mm256_mul_ps(b[v], du);
      }
    }
  }
  for (int v = 0; v < V; ++v) {
    if (g.diff_beta) st<Masked>(g.diff_beta + i0 + v * kLanes, m, db[v]);
    if (g.diff_threshold)
      st<Masked>(g.diff_threshold + i0 + v * kLanes, m, _mm256_add_ps(dth[v], _mm256_mul_ps(frac, carry[v])));
  }
}

template <int V, bool Masked>
void cuba_forward_block(const LifArgs& a, int64_t i0, __m256i m, const float* src, float* spikes, float* syn,
                        float* mem) {
  const int64_t n = a.n;
  const __m256 amp = _mm256_set1_ps(a.amplitude);
  __m256 al[V], b[V], th[V], cur[V], u[V];
  for (int v = 0; v < V; ++v) {
    al[v] = ld<Masked>(a.alpha + i0 + v * kLanes, m);
    b[v] = ld<Masked>(a.beta + i0 + v * kLanes, m);
    th[v] = ld<Masked>(a.threshold + i0 + v * kLanes, m);
    cur[v] = _mm256_setzero_ps();
    u[v] = _mm256_mul_ps(_mm256_set1_ps(a.init_frac), th[v]);
  }
  for (int64_t t = 0; t < a.steps; ++t) {
    const int64_t k = t * n + i0;
    for (int v = 0; v < V; ++v) {
      const int64_t kv = k + v * kLanes;
      const __m256 r = gt(u[v], th[v]);
      cur[v] = _mm256_add_ps(_mm256_mul_ps(al[v], cur[v]), ld<Masked>(src + kv, m));
      u[v] = _mm256_add_ps(_mm256_mul_ps(b[v], u[v]), cur[v]);
      if (a.reset == Reset::subtract) u[v] = _mm256_sub_ps(u[v], _mm256_and_ps(r, th[v]));
      if (a.reset == Reset::zero) u[v] = _mm256_andnot_ps(r, u[v]);
      st<Masked>(syn + kv, m, cur[v]);
      st<Masked>(mem + kv, m, u[v]);
      st<Masked>(spikes + kv, m, _mm256_and_ps(gt(u[v], th[v]), amp));
    }
  }
}

template <int V, bool Masked>
void cuba_backward_block(const LifArgs& a, int64_t i0, __m256i m, const float* syn, const float* mem,
                         const float* diff_spikes, const float* diff_mem, const LifGrads& g) {
  const int64_t n = a.n;
  const __m256 amp = _mm256_set1_ps(a.amplitude), frac = _mm256_set1_ps(a.init_frac);
  __m256 al[V], b[V], th[V], cu[V], ci[V], da[V], db[V], dth[V];
  for (int v = 0; v < V; ++v) {
    al[v] = ld<Masked>(a.alpha + i0 + v * kLanes, m);
    b[v] = ld<Masked>(a.beta + i0 + v * kLanes, m);
    th[v] = ld<Masked>(a.threshold + i0 + v * kLanes, m);
    cu[v] = ci[v] = da[v] = db[v] = dth[v] = _mm256_setzero_ps();
  }
  for (int64_t t = a.steps - 1; t >= 0; --t) {
    const int64_t k = t * n + i0;
    for (int v = 0; v < V; ++v) {
      const int64_t kv = k + v * kLanes;
      const __m256 u = ld<Masked>(mem + kv, m);
      const __m256 up = t > 0 ? ld<Masked>(mem + kv - n, m) : _mm256_mul_ps(frac, th[v]);
      const __m256 ip = t > 0 ? ld<Masked>(syn + kv - n, m) : _mm256_setzero_ps();
      __m256 gs = _mm256_setzero_ps();
      if (diff_spikes) {
        const __m256 sg = surrogate_grad_v(a.surrogate, _mm256_sub_ps(u, th[v]));
        gs = _mm256_mul_ps(ld<Masked>(diff_spikes + kv, m), _mm256_mul_ps(amp, sg));
      }
      __m256 du = _mm256_add_ps(gs, cu[v]);
      if (diff_mem) du = _mm256_add_ps(du, ld<Masked>(diff_mem + kv, m));
      const __m256 r = gt(up, th[v]);
      const __m256 du_kept = a.reset == Reset::zero ? _mm256_andnot_ps(r, du) : du;
      const __m256 di = _mm256_add_ps(du_kept, ci[v]);
      st<Masked>(g.diff_src + kv, m, di);
      da[v] = _mm256_add_ps(da[v], _mm256_mul_ps(di, ip));
      db[v] = _mm256_add_ps(db[v], _mm256_mul_ps(du_kept, up));
      dth[v] = _mm256_sub_ps(dth[v], gs);
      if (a.reset == Reset::subtract) dth[v] = _mm256_sub_ps(dth[v], _mm256_and_ps(r, du));
      cu[v] = _mm256_mul_ps(b[v], du_kept);
      ci[v] = _mm256_mul_ps(al[v], di);
    }
  }
  for (int v = 0; v < V; ++v) {
    if (g.diff_alpha) st<Masked>(g.diff_alpha + i0 + v * kLanes, m, da[v]);
    if (g.diff_beta) st<Masked>(g.diff_beta + i0 + v * kLanes, m, db[v]);
    if (g.diff_threshold)
      st<Masked>(g.diff_threshold + i0 + v * kLanes, m, _mm256_add_ps(dth[v], _mm256_mul_ps(frac, cu[v])));
  }
}

// Splits n neurons into blocks of `vectors` x kLanes (one OpenMP job each) and a last job that
// takes the remaining whole vectors and the partial one under a lane mask.
template <typename Full, typename Part>
void for_each_block(int64_t n, Full full, Part part, int64_t vectors = kVectors) {
  const int64_t block = vectors * kLanes;
  const int64_t blocks = n / block;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j <= blocks; ++j) {
    if (j < blocks) {
      full(j * block);
      continue;
    }
    for (int64_t i0 = blocks * block; i0 < n; i0 += kLanes) {
      const int64_t left = n - i0 < kLanes ? n - i0 : kLanes;
      alignas(32) int32_t lane_on[kLanes];
      for (int l = 0; l < kLanes; ++l) lane_on[l] = l < left ? -1 : 0;
      part(i0, _mm256_load_si256(reinterpret_cast<const __m256i*>(lane_on)));
    }
  }
}

}  // namespace

void lif_forward_avx2(const LifArgs& a, const float* src, float* spikes, float* mem) {
  const __m256i all = _mm256_set1_epi32(-1);
  for_each_block(
      a.n, [&](int64_t i0) { lif_forward_block<kVectors, false>(a, i0, all, src, spikes, mem); },
      [&](int64_t i0, __m256i m) { lif_forward_block<1, true>(a, i0, m, src, spikes, mem); });
}

void lif_backward_avx2(const LifArgs& a, const float* mem, const float* diff_spikes, const float* diff_mem,
                       const LifGrads& g) {
  const __m256i all = _mm256_set1_epi32(-1);
  for_each_block(
      a.n, [&](int64_t i0) { lif_backward_block<kBackwardVectors, false>(a, i0, all, mem, diff_spikes, diff_mem, g); },
      [&](int64_t i0, __m256i m) { lif_backward_block<1, true>(a, i0, m, mem, diff_spikes, diff_mem, g); },
      kBackwardVectors);
}

void cuba_lif_forward_avx2(const LifArgs& a, const float* src, float* spikes, float* syn, float* mem) {
  const __m256i all = _mm256_set1_epi32(-1);
  for_each_block(
      a.n, [&](int64_t i0) { cuba_forward_block<kVectors, false>(a, i0, all, src, spikes, syn, mem); },
      [&](int64_t i0, __m256i m) { cuba_forward_block<1, true>(a, i0, m, src, spikes, syn, mem); });
}

void cuba_lif_backward_avx2(const LifArgs& a, const float* syn, const float* mem, const float* diff_spikes,
                            const float* diff_mem, const LifGrads& g) {
  const __m256i all = _mm256_set1_epi32(-1);
  for_each_block(
      a.n,
      [&](int64_t i0) { cuba_backward_block<kVectors, false>(a, i0, all, syn, mem, diff_spikes, diff_mem, g); },
      [&](int64_t i0, __m256i m) { cuba_backward_block<1, true>(a, i0, m, syn, mem, diff_spikes, diff_mem, g); });
}

}  // namespace frugal::kernels
