// The LMU / L2MU recurrence over a whole sequence: forward loop, BPTT, and the gradient of the
// discretized memory with respect to 1/theta (trainable theta).
#include "frugal/lmu/lmu_core.h"

#include <cmath>

#include "frugal/core/error.h"
#include "frugal/kernels/gemm.h"
#include "frugal/lmu/legendre.h"

namespace frugal::lmu {

using autograd::Var;
using kernels::Reset;

Unit parse_unit(const std::string& name) {
  if (name == "linear") return Unit::linear;
  if (name == "tanh") return Unit::tanh;
  if (name == "lif") return Unit::lif;
  if (name == "cuba_lif") return Unit::cuba_lif;
  throw Error("lmu: unknown unit '" + name + "', expected linear, tanh, lif or cuba_lif");
}

std::string unit_name(Unit unit) {
  switch (unit) {
    case Unit::linear: return "linear";
    case Unit::tanh: return "tanh";
    case Unit::lif: return "lif";
    case Unit::cuba_lif: return "cuba_lif";
  }
  return "";
}

Discretizer parse_discretizer(const std::string& name) {
  if (name == "zoh") return Discretizer::zoh;
  if (name == "euler") return Discretizer::euler;
  throw Error("lmu: unknown discretizer '" + name + "', expected zoh or euler");
}

namespace {

bool spiking(Unit u) { return u == Unit::lif || u == Unit::cuba_lif; }

// One value per neuron, clamped to [0, 1] for decay factors as snnTorch clamps beta and alpha.
std::vector<float> per_neuron(const Var& p, int64_t size, bool clamp01, const std::string& what) {
  require(p.defined(), "lmu: " + what + " is missing");
  const int64_t n = p.value().numel();
  require(n == 1 || n == size, "lmu: " + what + " must hold 1 or " + std::to_string(size) + " values, got " +
                                   std::to_string(n));
  std::vector<float> v(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) {
    float x = p.value()[n == 1 ? 0 : i];
    if (clamp01) x = std::fmin(std::fmax(x, 0.0f), 1.0f);
    v[static_cast<size_t>(i)] = x;
  }
  return v;
}

// The sequence state of one population: outputs s, membranes U and synaptic currents I per step.
struct PopState {
  Unit unit;
  int64_t size;
  std::vector<float> beta, alpha, thr;
  Tensor s, mem, syn;  // [T, N, size]; mem, syn only for neurons
};

PopState make_state(const Population& p, int64_t steps, int64_t batch, int64_t size, const std::string& what) {
  PopState st;
  st.unit = p.unit;
  st.size = size;
  st.s = Tensor::empty({steps, batch, size});
  if (spiking(p.unit)) {
    st.beta = per_neuron(p.beta, size, true, what + " beta");
    st.thr = per_neuron(p.threshold, size, false, what + " threshold");
    for (float t : st.thr) require(std::isfinite(t) && t > 0.0f, "lmu: " + what + " threshold must be positive");
    st.mem = Tensor::empty({steps, batch, size});
    if (p.unit == Unit::cuba_lif) {
      st.alpha = per_neuron(p.alpha, size, true, what + " alpha");
      st.syn = Tensor::empty({steps, batch, size});
    }
  }
  return st;
}

// Step t of a population from its input current `cur` [N, size] (kernels/lif.h semantics).
void pop_forward(PopState& p, int64_t t, int64_t batch, const float* cur, Reset reset) {
  const int64_t n = batch * p.size, off = t * n;
  float* s = p.s.data() + off;
  if (p.unit == Unit::linear) {
    for (int64_t k = 0; k < n; ++k) s[k] = cur[k];
    return;
  }
  if (p.unit == Unit::tanh) {
    for (int64_t k = 0; k < n; ++k) s[k] = std::tanh(cur[k]);
    return;
  }
  float* mem = p.mem.data() + off;
  const float* mem_prev = t > 0 ? mem - n : nullptr;
  const bool cuba = p.unit == Unit::cuba_lif;
  float* syn = cuba ? p.syn.data() + off : nullptr;
  const float* syn_prev = cuba && t > 0 ? syn - n : nullptr;
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t i = 0; i < p.size; ++i) {
      const int64_t k = r * p.size + i;
      const float b = p.beta[i], th = p.thr[i];
      const float up = mem_prev ? mem_prev[k] : 0.0f;
      const bool fired = up > th;
      float u;
      if (cuba) {
        const float c = p.alpha[i] * (syn_prev ? syn_prev[k] : 0.0f) + cur[k];
        u = b * up + c;
        if (fired && reset == Reset::subtract) u = u - th;
        if (fired && reset == Reset::zero) u = 0.0f;
        syn[k] = c;
      } else if (reset == Reset::zero) {
        u = b * (fired ? 0.0f : up) + cur[k];
      } else {
        u = b * up + cur[k];
        if (reset == Reset::subtract && fired) u = u - th;
      }
      mem[k] = u;
      s[k] = u > th ? 1.0f : 0.0f;
    }
}

// Per-neuron parameter gradients summed over batch and time.
struct PopGrads {
  std::vector<float> beta, alpha, thr;
  std::vector<float> carry_u, carry_i;  // [N*size]: gradient reaching U[t-1], I[t-1] from step t
};

PopGrads make_grads(const PopState& p, int64_t batch) {
  PopGrads g;
  if (!spiking(p.unit)) return g;
  g.beta.assign(static_cast<size_t>(p.size), 0.0f);
  g.alpha.assign(static_cast<size_t>(p.size), 0.0f);
  g.thr.assign(static_cast<size_t>(p.size), 0.0f);
  g.carry_u.assign(static_cast<size_t>(batch * p.size), 0.0f);
  g.carry_i.assign(static_cast<size_t>(batch * p.size), 0.0f);
  return g;
}

// From the gradient `ds` reaching the outputs of step t to the gradient of its input current.
// The arithmetic mirrors lif_backward_ref / cuba_lif_backward_ref (reset detached).
void pop_backward(const PopState& p, PopGrads& g, int64_t t, int64_t batch, const float* ds, float* dcur, Reset reset,
                  const snn::Surrogate& sg) {
  const int64_t n = batch * p.size, off = t * n;
  if (p.unit == Unit::linear) {
    for (int64_t k = 0; k < n; ++k) dcur[k] = ds[k];
    return;
  }
  if (p.unit == Unit::tanh) {
    const float* s = p.s.data() + off;
    for (int64_t k = 0; k < n; ++k) dcur[k] = ds[k] * (1.0f - s[k] * s[k]);
    return;
  }
  const float* mem = p.mem.data() + off;
  const bool cuba = p.unit == Unit::cuba_lif;
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t i = 0; i < p.size; ++i) {
      const int64_t k = r * p.size + i;
      const float b = p.beta[i], th = p.thr[i];
      const float up = t > 0 ? mem[k - n] : 0.0f;
      const float gs = ds[k] * snn::surrogate_grad(sg, mem[k] - th);
      const float du = gs + g.carry_u[k];
      const bool fired = up > th;
      g.thr[i] -= gs;
      if (cuba) {
        const float ip = t > 0 ? p.syn.data()[off + k - n] : 0.0f;
        const float du_kept = (fired && reset == Reset::zero) ? 0.0f : du;
        const float di = du_kept + g.carry_i[k];
        dcur[k] = di;
        g.alpha[i] += di * ip;
        g.beta[i] += du_kept * up;
        if (fired && reset == Reset::subtract) g.thr[i] -= du;
        g.carry_u[k] = b * du_kept;
        g.carry_i[k] = p.alpha[i] * di;
      } else if (reset == Reset::zero) {
        dcur[k] = du;
        g.beta[i] += du * (fired ? 0.0f : up);
        g.carry_u[k] = b * (fired ? 0.0f : du);
      } else {
        dcur[k] = du;
        g.beta[i] += du * up;
        if (reset == Reset::subtract && fired) g.thr[i] -= du;
        g.carry_u[k] = b * du;
      }
    }
}

// Adds per-neuron sums to a parameter of 1 or `size` values; a clamped decay factor outside [0, 1]
// gets no gradient (torch.clamp).
void add_param_grad(const Var& p, const std::vector<float>& g, bool clamp01) {
  if (!p.defined() || !p.requires_grad()) return;
  const int64_t n = p.value().numel();
  Tensor d({n});
  for (size_t i = 0; i < g.size(); ++i) {
    const int64_t j = n == 1 ? 0 : static_cast<int64_t>(i);
    const float v = p.value()[j];
    if (clamp01 && (v < 0.0f || v > 1.0f)) continue;
    d[j] += g[i];
  }
  p.add_grad(d.reshape(p.shape()));
}

void add_pop_grads(const Population& pop, const PopGrads& g) {
  if (!spiking(pop.unit)) return;
  add_param_grad(pop.beta, g.beta, true);
  add_param_grad(pop.threshold, g.thr, false);
  if (pop.unit == Unit::cuba_lif) add_param_grad(pop.alpha, g.alpha, true);
}

void check_weight(const Var& w, int64_t rows, int64_t cols, const std::string& name) {
  if (!w.defined()) return;
  require(w.value().rank() == 2 && w.shape()[0] == rows && w.shape()[1] == cols,
          "lmu: " + name + " must be [" + std::to_string(rows) + ", " + std::to_string(cols) + "], got " +
              shape_str(w.shape()));
}

}  // namespace

Var lmu_sequence(const Var& x, const LmuWeights& w, const Population& u_pop, const Population& m_pop,
                 const Population& h_pop, const LmuCoreOptions& opt) {
  require(x.defined() && x.value().rank() == 3 && x.shape()[0] >= 1,
          "lmu: input must be [T, N, features], got " + (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  const int64_t T = x.shape()[0], N = x.shape()[1], F = x.shape()[2];
  const int64_t M = opt.memory_size, d = opt.order, H = opt.hidden, Md = M * d;
  require(M > 0 && d > 0 && H > 0, "lmu: memory_size, order and hidden must be positive");
  require(w.e_x.defined() && w.W_m.defined(), "lmu: e_x and W_m are required");
  check_weight(w.e_x, M, F, "e_x");
  check_weight(w.e_h, M, H, "e_h");
  check_weight(w.e_m, M, Md, "e_m");
  check_weight(w.W_x, H, F, "W_x");
  check_weight(w.W_h, H, H, "W_h");
  check_weight(w.W_m, H, Md, "W_m");
  require(w.theta_inv.defined() && w.theta_inv.value().numel() == 1, "lmu: theta_inv must hold one value");
  const double s = w.theta_inv.value()[0];
  require(std::isfinite(s) && s > 0, "lmu: theta must be positive and finite (1/theta = " + std::to_string(s) + ")");

  const LmuMatrices disc = opt.discretizer == Discretizer::zoh ? discretize_zoh(static_cast<int>(d), 1.0 / s)
                                                                : discretize_euler(static_cast<int>(d), 1.0 / s);
  // E is the matrix the memory is multiplied by: Ā, or Āᵀ as in the L2MU authors' code.
  std::vector<float> E(static_cast<size_t>(d * d)), Bv(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) {
    Bv[j] = static_cast<float>(disc.B[j]);
    for (int64_t l = 0; l < d; ++l) E[j * d + l] = static_cast<float>(opt.transpose_a ? disc.A[l * d + j] : disc.A[j * d + l]);
  }

  PopState su = make_state(u_pop, T, N, M, "u");
  PopState sm = make_state(m_pop, T, N, Md, "m");
  PopState sh = make_state(h_pop, T, N, H, "h");

  const float* xv = x.value().data();
  Tensor xu = Tensor::empty({T, N, M}), xh = Tensor::zeros({T, N, H});
  kernels::gemm_packed(false, true, T * N, M, F, xv, w.e_x.value().data(), xu.data(), false);
  if (w.W_x.defined()) kernels::gemm_packed(false, true, T * N, H, F, xv, w.W_x.value().data(), xh.data(), false);

  std::vector<float> cu(static_cast<size_t>(N * M)), cm(static_cast<size_t>(N * Md)), ch(static_cast<size_t>(N * H));
  for (int64_t t = 0; t < T; ++t) {
    const float* sh_prev = t > 0 ? sh.s.data() + (t - 1) * N * H : nullptr;
    const float* sm_prev = t > 0 ? sm.s.data() + (t - 1) * N * Md : nullptr;
    const float* sm_now = sm.s.data() + t * N * Md;
    const float* su_now = su.s.data() + t * N * M;
    for (int64_t k = 0; k < N * M; ++k) cu[k] = xu[t * N * M + k];
    if (sh_prev && w.e_h.defined()) kernels::gemm_packed(false, true, N, M, H, sh_prev, w.e_h.value().data(), cu.data(), true);
    if (sm_prev && w.e_m.defined()) kernels::gemm_packed(false, true, N, M, Md, sm_prev, w.e_m.value().data(), cu.data(), true);
    pop_forward(su, t, N, cu.data(), opt.reset);

    for (int64_t r = 0; r < N * M; ++r) {
      float* c = cm.data() + r * d;
      const float uin = su_now[r];
      for (int64_t j = 0; j < d; ++j) {
        float acc = 0.0f;
        if (sm_prev)
          for (int64_t l = 0; l < d; ++l) acc += E[j * d + l] * sm_prev[r * d + l];
        c[j] = acc + Bv[j] * uin;
      }
    }
    pop_forward(sm, t, N, cm.data(), opt.reset);

    for (int64_t k = 0; k < N * H; ++k) ch[k] = xh[t * N * H + k];
    if (sh_prev && w.W_h.defined()) kernels::gemm_packed(false, true, N, H, H, sh_prev, w.W_h.value().data(), ch.data(), true);
    kernels::gemm_packed(false, true, N, H, Md, sm_now, w.W_m.value().data(), ch.data(), true);
    pop_forward(sh, t, N, ch.data(), opt.reset);
  }

  std::vector<Var> inputs{x, w.e_x, w.e_h, w.e_m, w.W_x, w.W_h, w.W_m, w.theta_inv};
  for (const Population* p : {&u_pop, &m_pop, &h_pop})
    if (spiking(p->unit)) {
      inputs.push_back(p->beta);
      inputs.push_back(p->threshold);
      if (p->unit == Unit::cuba_lif) inputs.push_back(p->alpha);
    }
  std::vector<Var> defined_inputs;
  for (const Var& v : inputs)
    if (v.defined()) defined_inputs.push_back(v);

  Tensor out = sh.s;
  return autograd::record(out, defined_inputs, [=](const Tensor& diff_dst) {
    PopGrads gu = make_grads(su, N), gm = make_grads(sm, N), gh = make_grads(sh, N);
    Tensor dcu = Tensor::empty({T, N, M}), dcm = Tensor::empty({T, N, Md}), dch = Tensor::empty({T, N, H});
    std::vector<float> dsh(static_cast<size_t>(N * H), 0.0f), dsh_next(static_cast<size_t>(N * H), 0.0f);
    std::vector<float> dsm(static_cast<size_t>(N * Md)), dsm_next(static_cast<size_t>(N * Md), 0.0f);
    std::vector<float> dsu(static_cast<size_t>(N * M));
    for (int64_t t = T - 1; t >= 0; --t) {
      float* dch_t = dch.data() + t * N * H;
      float* dcm_t = dcm.data() + t * N * Md;
      float* dcu_t = dcu.data() + t * N * M;
      for (int64_t k = 0; k < N * H; ++k) dsh[k] = diff_dst[t * N * H + k] + dsh_next[k];
      pop_backward(sh, gh, t, N, dsh.data(), dch_t, opt.reset, opt.surrogate);

      for (int64_t k = 0; k < N * Md; ++k) dsm[k] = dsm_next[k];
      kernels::gemm_packed(false, false, N, Md, H, dch_t, w.W_m.value().data(), dsm.data(), true);
      pop_backward(sm, gm, t, N, dsm.data(), dcm_t, opt.reset, opt.surrogate);

      for (int64_t r = 0; r < N * M; ++r) {
        float acc = 0.0f;
        for (int64_t j = 0; j < d; ++j) acc += Bv[j] * dcm_t[r * d + j];
        dsu[r] = acc;
      }
      pop_backward(su, gu, t, N, dsu.data(), dcu_t, opt.reset, opt.surrogate);

      if (t == 0) break;
      for (int64_t k = 0; k < N * H; ++k) dsh_next[k] = 0.0f;
      if (w.W_h.defined()) kernels::gemm_packed(false, false, N, H, H, dch_t, w.W_h.value().data(), dsh_next.data(), true);
      if (w.e_h.defined()) kernels::gemm_packed(false, false, N, H, M, dcu_t, w.e_h.value().data(), dsh_next.data(), true);
      for (int64_t r = 0; r < N * M; ++r)
        for (int64_t l = 0; l < d; ++l) {
          float acc = 0.0f;
          for (int64_t j = 0; j < d; ++j) acc += E[j * d + l] * dcm_t[r * d + j];
          dsm_next[r * d + l] = acc;
        }
      if (w.e_m.defined()) kernels::gemm_packed(false, false, N, Md, M, dcu_t, w.e_m.value().data(), dsm_next.data(), true);
    }

    const int64_t TN = T * N, Tp = (T - 1) * N;  // Tp: rows of steps 1..T-1 paired with 0..T-2
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      kernels::gemm_packed(false, false, TN, F, M, dcu.data(), w.e_x.value().data(), dx.data(), false);
      if (w.W_x.defined()) kernels::gemm_packed(false, false, TN, F, H, dch.data(), w.W_x.value().data(), dx.data(), true);
      x.add_grad(dx);
    }
    auto weight_grad = [&](const Var& wv, const Tensor& dcur, int64_t rows, const Tensor& src, int64_t cols,
                           bool shifted) {
      if (!wv.defined() || !wv.requires_grad()) return;
      Tensor g = Tensor::empty(wv.shape());
      if (shifted)
        kernels::gemm_packed(true, false, rows, cols, Tp, dcur.data() + N * rows, src.data(), g.data(), false);
      else
        kernels::gemm_packed(true, false, rows, cols, TN, dcur.data(), src.data(), g.data(), false);
      wv.add_grad(g);
    };
    weight_grad(w.e_x, dcu, M, x.value(), F, false);
    weight_grad(w.W_x, dch, H, x.value(), F, false);
    weight_grad(w.e_h, dcu, M, sh.s, H, true);
    weight_grad(w.W_h, dch, H, sh.s, H, true);
    weight_grad(w.e_m, dcu, M, sm.s, Md, true);
    weight_grad(w.W_m, dch, H, sm.s, Md, false);

    if (w.theta_inv.requires_grad()) {
      // dL/dE summed over steps, batch and memory rows, and dL/dB̄; then the chain through
      // Ā(s), B̄(s): zoh gives dĀ/ds = A Ā and dB̄/ds = Ā B (A, B for theta = 1), euler A and B.
      std::vector<float> gE(static_cast<size_t>(d * d), 0.0f);
      if (T > 1) kernels::gemm_packed(true, false, d, d, Tp * M, dcm.data() + N * Md, sm.s.data(), gE.data(), false);
      std::vector<double> gB(static_cast<size_t>(d), 0.0);
      for (int64_t r = 0; r < TN * M; ++r)
        for (int64_t j = 0; j < d; ++j) gB[j] += static_cast<double>(dcm[r * d + j]) * su.s[r];
      const LmuMatrices base = continuous(static_cast<int>(d), 1.0);
      double ds = 0;
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) {
          double dA = base.A[i * d + j], dB = base.B[i];
          if (opt.discretizer == Discretizer::zoh) {
            dA = 0;
            for (int64_t k = 0; k < d; ++k) dA += base.A[i * d + k] * disc.A[k * d + j];
          }
          const double gA = opt.transpose_a ? gE[j * d + i] : gE[i * d + j];
          ds += gA * dA;
          if (j == 0) {
            if (opt.discretizer == Discretizer::zoh) {
              dB = 0;
              for (int64_t k = 0; k < d; ++k) dB += disc.A[i * d + k] * base.B[k];
            }
            ds += gB[i] * dB;
          }
        }
      w.theta_inv.add_grad(Tensor(w.theta_inv.shape(), {static_cast<float>(ds)}));
    }
    add_pop_grads(u_pop, gu);
    add_pop_grads(m_pop, gm);
    add_pop_grads(h_pop, gh);
  });
}

Var swap_leading_axes(const Var& x) {
  require(x.defined() && x.value().rank() >= 2, "swap_leading_axes: input must have at least two axes");
  const Shape& s = x.shape();
  const int64_t a = s[0], b = s[1], inner = x.value().numel() / (a * b == 0 ? 1 : a * b);
  Shape o = s;
  std::swap(o[0], o[1]);
  auto swap = [inner](const float* src, float* dst, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const float* from = src + (i * cols + j) * inner;
        float* to = dst + (j * rows + i) * inner;
        for (int64_t k = 0; k < inner; ++k) to[k] = from[k];
      }
  };
  Tensor out = Tensor::empty(o);
  swap(x.value().data(), out.data(), a, b);
  return autograd::record(out, {x}, [x, swap, a, b](const Tensor& diff_dst) {
    Tensor dx = Tensor::empty(x.shape());
    swap(diff_dst.data(), dx.data(), b, a);
    x.add_grad(dx);
  });
}

}  // namespace frugal::lmu
