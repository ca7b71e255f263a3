// The L2MU's spiking recurrence (lmu/lmu_core.h) differentiated in every argument at once: the
// gradient that BPTT gives for x, the six LMU weights, 1/theta and each population's beta,
// threshold and alpha must equal the directional derivative that forward-mode tangents give along
// a random direction in all of them (surrogate derivative in place of the spike step, reset
// detached as in snnTorch). Spikes are steps, so finite differences of the spiking loss are zero
// almost everywhere; the tangents are the exact derivative of the surrogate model instead. The
// smooth encoder op (channel_expand) is checked against central differences.
#include <gtest/gtest.h>

#include <cmath>

#include "frugal/autograd/gradcheck.h"
#include "frugal/autograd/ops.h"
#include "frugal/lmu/l2mu.h"
#include "frugal/lmu/legendre.h"
#include "frugal/lmu/lmu_core.h"

namespace {

using namespace frugal;
using autograd::Var;

Tensor uniform(Shape shape, Rng& rng, float lo, float hi) {
  Tensor t = Tensor::empty(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

// One population's parameters as values, directions and the Vars the op reads.
struct PopParams {
  int64_t size = 0;
  bool shared = false;  // one beta/threshold/alpha for the whole population
  Tensor beta, thr, alpha, dbeta, dthr, dalpha;
  lmu::Population pop;
  float get(const Tensor& t, int64_t i) const { return t[shared ? 0 : i]; }
};

PopParams make_pop(lmu::Unit unit, int64_t size, bool shared, Rng& rng) {
  PopParams p;
  p.size = size;
  p.shared = shared;
  const int64_t n = shared ? 1 : size;
  p.beta = uniform({n}, rng, 0.3f, 0.9f);
  p.thr = uniform({n}, rng, 0.3f, 0.7f);
  p.alpha = uniform({n}, rng, 0.3f, 0.8f);
  p.dbeta = uniform({n}, rng, -1.0f, 1.0f);
  p.dthr = uniform({n}, rng, -1.0f, 1.0f);
  p.dalpha = uniform({n}, rng, -1.0f, 1.0f);
  p.pop.unit = unit;
  p.pop.beta = Var(p.beta, true);
  p.pop.threshold = Var(p.thr, true);
  if (unit == lmu::Unit::cuba_lif) p.pop.alpha = Var(p.alpha, true);
  return p;
}

// Forward-mode state of a population over the batch: membrane, synaptic current, spikes and the
// tangents of each.
struct Tangent {
  std::vector<float> u, i, s, du, di, ds;
  explicit Tangent(int64_t n) : u(n), i(n), s(n), du(n), di(n), ds(n) {}
};

void step(const PopParams& p, lmu::Unit unit, kernels::Reset reset, const snn::Surrogate& sg, Tangent& st,
          const std::vector<float>& cur, const std::vector<float>& dcur) {
  for (size_t k = 0; k < cur.size(); ++k) {
    const int64_t n = static_cast<int64_t>(k) % p.size;
    const float b = p.get(p.beta, n), th = p.get(p.thr, n), db = p.get(p.dbeta, n), dth = p.get(p.dthr, n);
    const bool fired = st.u[k] > th;
    float u, du;
    if (unit == lmu::Unit::cuba_lif) {
      const float a = p.get(p.alpha, n), da = p.get(p.dalpha, n);
      const float c = a * st.i[k] + cur[k], dc = da * st.i[k] + a * st.di[k] + dcur[k];
      st.i[k] = c;
      st.di[k] = dc;
      u = b * st.u[k] + c;
      du = db * st.u[k] + b * st.du[k] + dc;
      if (fired && reset == kernels::Reset::subtract) {
        u -= th;
        du -= dth;
      }
      if (fired && reset == kernels::Reset::zero) u = du = 0.0f;
    } else if (reset == kernels::Reset::zero && fired) {
      u = cur[k];
      du = dcur[k];
    } else {
      u = b * st.u[k] + cur[k];
      du = db * st.u[k] + b * st.du[k] + dcur[k];
      if (fired && reset == kernels::Reset::subtract) {
        u -= th;
        du -= dth;
      }
    }
    st.u[k] = u;
    st.du[k] = du;
    st.s[k] = u > th ? 1.0f : 0.0f;
    st.ds[k] = snn::surrogate_grad(sg, u - th) * (du - dth);
  }
}

// c[n, r] += W[r, :] v[n, :] and its tangent dW v + W dv, for a batch of N rows.
void affine(const Tensor& W, const Tensor& dW, int64_t rows, int64_t cols, int64_t N, const float* v, const float* dv,
            std::vector<float>& c, std::vector<float>& dc) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k) {
        c[n * rows + r] += W[r * cols + k] * v[n * cols + k];
        dc[n * rows + r] += dW[r * cols + k] * v[n * cols + k] + W[r * cols + k] * dv[n * cols + k];
      }
}

double dot(const Var& v, const Tensor& dir) {
  if (!v.grad().defined()) return 0.0;
  double s = 0;
  for (int64_t i = 0; i < dir.numel(); ++i) s += static_cast<double>(v.grad()[i]) * dir[i];
  return s;
}

struct Case {
  lmu::Unit unit;
  kernels::Reset reset;
  bool transpose_a;
};

class L2muCoreGrad : public ::testing::TestWithParam<Case> {};

TEST_P(L2muCoreGrad, BpttMatchesTangentsInEveryParameter) {
  const Case c = GetParam();
  const int64_t T = 10, N = 2, F = 3, M = 2, d = 3, H = 4, Md = M * d;
  const double s = 0.2;  // 1/theta
  Rng rng(21);
  Tensor x = uniform({T, N, F}, rng, -2.0f, 2.0f), dx = uniform({T, N, F}, rng, -1.0f, 1.0f);
  const Shape shapes[6] = {{M, F}, {M, H}, {M, Md}, {H, F}, {H, H}, {H, Md}};
  const float scale[6] = {1.5f, 1.0f, 1.0f, 1.5f, 1.0f, 1.5f};
  Tensor W[6], dW[6];
  for (int i = 0; i < 6; ++i) {
    W[i] = uniform(shapes[i], rng, -scale[i], scale[i]);
    dW[i] = uniform(shapes[i], rng, -1.0f, 1.0f);
  }
  const float ds_dir = 0.7f;
  PopParams pu = make_pop(c.unit, M, true, rng), pm = make_pop(c.unit, Md, false, rng), ph = make_pop(c.unit, H, false, rng);
  Tensor out_weights = uniform({T, N, H}, rng, -1.0f, 1.0f);

  lmu::LmuCoreOptions opt;
  opt.memory_size = M;
  opt.order = d;
  opt.hidden = H;
  opt.transpose_a = c.transpose_a;
  opt.reset = c.reset;
  Var xv(x, true), theta_inv(Tensor({1}, {static_cast<float>(s)}), true);
  Var Wv[6];
  for (int i = 0; i < 6; ++i) Wv[i] = Var(W[i], true);
  lmu::LmuWeights w{Wv[0], Wv[1], Wv[2], Wv[3], Wv[4], Wv[5], theta_inv};
  Var out = lmu::lmu_sequence(xv, w, pu.pop, pm.pop, ph.pop, opt);
  autograd::backward(autograd::mul(out, Var(out_weights)));
  double analytic = dot(xv, dx) + dot(theta_inv, Tensor({1}, {ds_dir}));
  for (int i = 0; i < 6; ++i) analytic += dot(Wv[i], dW[i]);
  for (const PopParams* p : {&pu, &pm, &ph}) {
    analytic += dot(p->pop.beta, p->dbeta) + dot(p->pop.threshold, p->dthr);
    if (c.unit == lmu::Unit::cuba_lif) analytic += dot(p->pop.alpha, p->dalpha);
  }

  // The memory matrix E (Ā or Āᵀ), B̄ and their tangents along 1/theta (central differences of
  // the smooth discretization, in double).
  auto disc = [d](double inv) { return lmu::discretize_zoh(static_cast<int>(d), 1.0 / inv); };
  const lmu::LmuMatrices ab = disc(s), hi = disc(s + 1e-5), lo = disc(s - 1e-5);
  std::vector<float> E(d * d), dE(d * d), Bv(d), dB(d);
  for (int64_t j = 0; j < d; ++j) {
    Bv[j] = static_cast<float>(ab.B[j]);
    dB[j] = static_cast<float>((hi.B[j] - lo.B[j]) / 2e-5 * ds_dir);
    for (int64_t l = 0; l < d; ++l) {
      const int64_t src = c.transpose_a ? l * d + j : j * d + l;
      E[j * d + l] = static_cast<float>(ab.A[src]);
      dE[j * d + l] = static_cast<float>((hi.A[src] - lo.A[src]) / 2e-5 * ds_dir);
    }
  }

  const snn::Surrogate sg = opt.surrogate;
  Tangent su(N * M), sm(N * Md), sh(N * H);
  double tangent = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x.data() + t * N * F;
    const float* dxt = dx.data() + t * N * F;
    std::vector<float> cu(N * M, 0), dcu(N * M, 0), cm(N * Md, 0), dcm(N * Md, 0), ch(N * H, 0), dch(N * H, 0);
    affine(W[0], dW[0], M, F, N, xt, dxt, cu, dcu);
    affine(W[1], dW[1], M, H, N, sh.s.data(), sh.ds.data(), cu, dcu);
    affine(W[2], dW[2], M, Md, N, sm.s.data(), sm.ds.data(), cu, dcu);
    step(pu, c.unit, c.reset, sg, su, cu, dcu);
    for (int64_t r = 0; r < N * M; ++r)
      for (int64_t j = 0; j < d; ++j) {
        for (int64_t l = 0; l < d; ++l) {
          cm[r * d + j] += E[j * d + l] * sm.s[r * d + l];
          dcm[r * d + j] += dE[j * d + l] * sm.s[r * d + l] + E[j * d + l] * sm.ds[r * d + l];
        }
        cm[r * d + j] += Bv[j] * su.s[r];
        dcm[r * d + j] += dB[j] * su.s[r] + Bv[j] * su.ds[r];
      }
    const std::vector<float> sh_prev = sh.s, dsh_prev = sh.ds;
    step(pm, c.unit, c.reset, sg, sm, cm, dcm);
    affine(W[3], dW[3], H, F, N, xt, dxt, ch, dch);
    affine(W[4], dW[4], H, H, N, sh_prev.data(), dsh_prev.data(), ch, dch);
    affine(W[5], dW[5], H, Md, N, sm.s.data(), sm.ds.data(), ch, dch);
    step(ph, c.unit, c.reset, sg, sh, ch, dch);
    for (int64_t k = 0; k < N * H; ++k) {
      ASSERT_EQ(sh.s[k], out.value()[t * N * H + k]) << "forward differs at t " << t;
      tangent += out_weights[t * N * H + k] * sh.ds[k];
    }
  }
  // Spikes in all three populations, so no path is trivially zero.
  double spikes = 0;
  for (int64_t k = 0; k < out.value().numel(); ++k) spikes += out.value()[k];
  EXPECT_GT(spikes, 0.0);
  EXPECT_GT(std::fabs(tangent), 1e-2);
  EXPECT_NEAR(analytic, tangent, 2e-3 * std::max(1.0, std::fabs(tangent)));
}

INSTANTIATE_TEST_SUITE_P(
    Neurons, L2muCoreGrad,
    ::testing::Values(Case{lmu::Unit::lif, kernels::Reset::subtract, false}, Case{lmu::Unit::lif, kernels::Reset::subtract, true},
                      Case{lmu::Unit::lif, kernels::Reset::zero, false},
                      Case{lmu::Unit::cuba_lif, kernels::Reset::subtract, false},
                      Case{lmu::Unit::cuba_lif, kernels::Reset::zero, false}));

TEST(L2muEncoder, ChannelExpandMatchesFiniteDifferences) {
  Rng rng(5);
  std::vector<Tensor> inputs{uniform({4, 3, 2}, rng, -1.0f, 1.0f), uniform({2 * 5}, rng, -1.0f, 1.0f),
                             uniform({2 * 5}, rng, -1.0f, 1.0f)};
  auto f = [](const std::vector<Var>& v) { return lmu::channel_expand(v[0], v[1], v[2], 5); };
  autograd::GradcheckResult r = autograd::gradcheck(f, inputs, 1e-3);
  EXPECT_LT(r.max_rel_error, 1e-2) << "abs " << r.max_abs_error;
}

}  // namespace
