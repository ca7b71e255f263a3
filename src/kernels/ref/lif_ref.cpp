// Plain-loop LIF and CuBa-LIF kernels: the oracle the fast kernels are tested against. The float
// operations and their order are the contract; lif_avx2.cpp repeats them lane by lane.
#include "frugal/kernels/lif.h"

namespace frugal::kernels {

void lif_forward_ref(const LifArgs& a, const float* src, float* spikes, float* mem) {
  const int64_t n = a.n;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float b = a.beta[i], th = a.threshold[i];
    float u = a.init_frac * th;
    for (int64_t t = 0; t < a.steps; ++t) {
      const int64_t k = t * n + i;
      const bool r = u > th;
      if (a.reset == Reset::zero) {
        u = b * (r ? 0.0f : u) + src[k];
      } else {
        u = b * u + src[k];
        if (a.reset == Reset::subtract && r) u = u - th;
      }
      if (mem) mem[k] = u;
      spikes[k] = u > th ? a.amplitude : 0.0f;
    }
  }
}

void lif_backward_ref(const LifArgs& a, const float* mem, const float* diff_spikes, const float* diff_mem,
                      const LifGrads& g) {
  const int64_t n = a.n;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float b = a.beta[i], th = a.threshold[i];
    const float u_init = a.init_frac * th;
    float carry = 0.0f, db = 0.0f, dth = 0.0f;
    for (int64_t t = a.steps - 1; t >= 0; --t) {
      const int64_t k = t * n + i;
      const float u = mem[k];
      const float up = t > 0 ? mem[k - n] : u_init;
      const float gs = diff_spikes ? diff_spikes[k] * (a.amplitude * snn::surrogate_grad(a.surrogate, u - th)) : 0.0f;
      float du = gs + carry;
      if (diff_mem) du = du + diff_mem[k];
      g.diff_src[k] = du;
      const bool r = up > th;
      dth = dth - gs;
      if (a.reset == Reset::zero) {
        db = db + du * (r ? 0.0f : up);
        carry = b * (r ? 0.0f : du);
      } else {
        db = db + du * up;
        if (a.reset == Reset::subtract && r) dth = dth - du;
        carry = b * du;
      }
    }
    if (g.diff_beta) g.diff_beta[i] = db;
    if (g.diff_threshold) g.diff_threshold[i] = dth + a.init_frac * carry;
  }
}

void cuba_lif_forward_ref(const LifArgs& a, const float* src, float* spikes, float* syn, float* mem) {
  const int64_t n = a.n;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float al = a.alpha[i], b = a.beta[i], th = a.threshold[i];
    float cur = 0.0f, u = a.init_frac * th;
    for (int64_t t = 0; t < a.steps; ++t) {
      const int64_t k = t * n + i;
      const bool r = u > th;
      cur = al * cur + src[k];
      u = b * u + cur;
      if (r && a.reset == Reset::subtract) u = u - th;
      if (r && a.reset == Reset::zero) u = 0.0f;
      syn[k] = cur;
      mem[k] = u;
      spikes[k] = u > th ? a.amplitude : 0.0f;
    }
  }
}

void cuba_lif_backward_ref(const LifArgs& a, const float* syn, const float* mem, const float* diff_spikes,
                           const float* diff_mem, const LifGrads& g) {
  const int64_t n = a.n;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float al = a.alpha[i], b = a.beta[i], th = a.threshold[i];
    const float u_init = a.init_frac * th;
    float carry_u = 0.0f, carry_i = 0.0f, da = 0.0f, db = 0.0f, dth = 0.0f;
    for (int64_t t = a.steps - 1; t >= 0; --t) {
      const int64_t k = t * n + i;
      const float u = mem[k];
      const float up = t > 0 ? mem[k - n] : u_init;
      const float ip = t > 0 ? syn[k - n] : 0.0f;
      const float gs = diff_spikes ? diff_spikes[k] * (a.amplitude * snn::surrogate_grad(a.surrogate, u - th)) : 0.0f;
      float du = gs + carry_u;
      if (diff_mem) du = du + diff_mem[k];
      const bool r = up > th;
      // Reset to zero multiplies the whole new membrane by (1 - R): no gradient passes that step.
      const float du_kept = (r && a.reset == Reset::zero) ? 0.0f : du;
      const float di = du_kept + carry_i;
      g.diff_src[k] = di;
      da = da + di * ip;
      db = db + du_kept * up;
      dth = dth - gs;
      if (r && a.reset == Reset::subtract) dth = dth - du;
      carry_u = b * du_kept;
      carry_i = al * di;
    }
    if (g.diff_alpha) g.diff_alpha[i] = da;
    if (g.diff_beta) g.diff_beta[i] = db;
    if (g.diff_threshold) g.diff_threshold[i] = dth + a.init_frac * carry_u;
  }
}

}  // namespace frugal::kernels
