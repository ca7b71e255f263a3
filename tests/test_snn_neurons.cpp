// Spiking neurons: surrogates, fused LIF / CuBa-LIF kernels (fast == reference bit for bit),
// BPTT against an independent forward-mode (tangent) derivation, finite differences where the
// function is smooth, and golden values from snnTorch 0.9 (tests/data/snn/).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "frugal/autograd/gradcheck.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/lif.h"
#include "frugal/snn/neurons.h"

using namespace frugal;
using autograd::Var;
using kernels::Reset;
using snn::Surrogate;
using snn::SurrogateKind;

namespace {

Tensor random_tensor(const Shape& shape, float lo, float hi, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

// L = sum(ws * spikes) + sum(wm * membranes); wm is ignored when membranes are undefined.
Var weighted_loss(const snn::NeuronOutput& o, const Tensor& ws, const Tensor& wm) {
  double s = 0;
  for (int64_t i = 0; i < ws.numel(); ++i) s += static_cast<double>(ws[i]) * o.spikes.value()[i];
  std::vector<Var> inputs = {o.spikes};
  if (o.membranes.defined()) {
    for (int64_t i = 0; i < wm.numel(); ++i) s += static_cast<double>(wm[i]) * o.membranes.value()[i];
    inputs.push_back(o.membranes);
  }
  Var spikes = o.spikes, mem = o.membranes;
  return autograd::record(Tensor::full({1}, static_cast<float>(s)), inputs, [=](const Tensor& d) {
    Tensor a = ws.clone();
    for (int64_t i = 0; i < a.numel(); ++i) a[i] *= d[0];
    if (spikes.requires_grad()) spikes.add_grad(a);
    if (mem.defined() && mem.requires_grad()) {
      Tensor b = wm.clone();
      for (int64_t i = 0; i < b.numel(); ++i) b[i] *= d[0];
      mem.add_grad(b);
    }
  });
}

double surrogate_d(const Surrogate& s, double u) {
  switch (s.kind) {
    case SurrogateKind::atan: return s.param / 2 / (1 + std::pow(M_PI / 2 * s.param * u, 2));
    case SurrogateKind::fast_sigmoid: return 1 / std::pow(s.param * std::fabs(u) + 1, 2);
    case SurrogateKind::sigmoid: {
      double sig = 1 / (1 + std::exp(-s.param * u));
      return s.param * sig * (1 - sig);
    }
    case SurrogateKind::triangle: return u < 0 ? s.param : -s.param;
  }
  return 0;
}

struct Config {
  bool cuba = false;
  Reset reset = Reset::subtract;
  Surrogate surrogate;
  float amplitude = 1.0f, init_frac = 0.0f;
  bool membranes = true;
};

struct Grads {
  std::vector<double> x, alpha, beta, threshold;  // parameters per element of a step
};

// Forward-mode derivation of dL/d(everything), one tangent per direction, independent of the
// kernels' reverse pass. Forward states are recomputed in float so spike decisions agree.
Grads tangent_reference(const Config& c, int64_t T, int64_t n, const Tensor& x, const Tensor& alpha,
                        const Tensor& beta, const Tensor& thr, const Tensor& ws, const Tensor& wm) {
  Grads g;
  g.x.assign(T * n, 0.0);
  g.alpha.assign(n, 0.0);
  g.beta.assign(n, 0.0);
  g.threshold.assign(n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const float a = c.cuba ? alpha[i % alpha.numel()] : 0.0f;
    const float b = beta[i % beta.numel()], th = thr[i % thr.numel()];
    // directions: 0..T-1 = x[t], T = alpha, T+1 = beta, T+2 = threshold
    const int dirs = static_cast<int>(T) + 3;
    std::vector<double> dI(dirs, 0.0), dU(dirs, 0.0), dL(dirs, 0.0);
    dU[T + 2] = c.init_frac;
    float cur = 0.0f, u = c.init_frac * th;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t k = t * n + i;
      const bool r = u > th;
      const float up = u, ip = cur;
      cur = c.cuba ? a * cur + x[k] : x[k];
      if (c.cuba) {
        u = b * u + cur;
        if (r && c.reset == Reset::subtract) u = u - th;
        if (r && c.reset == Reset::zero) u = 0.0f;
      } else if (c.reset == Reset::zero) {
        u = b * (r ? 0.0f : u) + cur;
      } else {
        u = b * u + cur;
        if (r && c.reset == Reset::subtract) u = u - th;
      }
      const double sg = surrogate_d(c.surrogate, static_cast<double>(u) - th);
      for (int d = 0; d < dirs; ++d) {
        dI[d] = (c.cuba ? a * dI[d] : 0.0) + (d == t ? 1.0 : 0.0) + (c.cuba && d == T ? ip : 0.0);
        const double leak = b * dU[d] + (d == T + 1 ? up : 0.0);
        if (c.reset == Reset::zero && r) dU[d] = c.cuba ? 0.0 : dI[d];
        else dU[d] = leak + dI[d] - (c.reset == Reset::subtract && r && d == T + 2 ? 1.0 : 0.0);
        const double fire = dU[d] - (d == T + 2 ? 1.0 : 0.0);
        dL[d] += ws[k] * c.amplitude * sg * fire + (c.membranes ? wm[k] * dU[d] : 0.0);
      }
    }
    for (int64_t t = 0; t < T; ++t) g.x[t * n + i] = dL[t];
    g.alpha[i] = dL[T];
    g.beta[i] = dL[T + 1];
    g.threshold[i] = dL[T + 2];
  }
  return g;
}

double reduced(const std::vector<double>& elem, int64_t count, int64_t j) {
  double s = 0;
  for (size_t i = 0; i < elem.size(); ++i)
    if (static_cast<int64_t>(i) % count == j) s += elem[i];
  return s;
}

void expect_close(double analytic, double expected, double tol, const std::string& what) {
  EXPECT_NEAR(analytic, expected, tol * std::max(1.0, std::fabs(expected))) << what;
}

snn::NeuronOutput run_neuron(const Config& c, const Var& x, const Var& alpha, const Var& beta, const Var& thr) {
  snn::NeuronOptions o;
  o.reset = c.reset;
  o.surrogate = c.surrogate;
  o.amplitude = c.amplitude;
  o.init_frac = c.init_frac;
  o.membranes = c.membranes;
  return c.cuba ? snn::cuba_lif(x, alpha, beta, thr, o) : snn::lif(x, beta, thr, o);
}

void check_against_tangent(const Config& c, uint64_t seed) {
  const int64_t T = 9, B = 2, F = 5, n = B * F;
  Tensor x = random_tensor({T, B, F}, -0.2f, 0.8f, seed);
  Tensor ws = random_tensor({T, B, F}, -1, 1, seed + 1), wm = random_tensor({T, B, F}, -1, 1, seed + 2);
  Var xv(x.clone(), true);
  Var alpha(random_tensor({F}, 0.3f, 0.9f, seed + 3), true);
  Var beta(random_tensor({F}, 0.5f, 0.95f, seed + 4), true);
  Var thr(Tensor::full({1}, 0.9f), true);
  Var loss = weighted_loss(run_neuron(c, xv, alpha, beta, thr), ws, wm);
  autograd::backward(loss);
  Grads g = tangent_reference(c, T, n, x, alpha.value(), beta.value(), thr.value(), ws, wm);
  for (int64_t k = 0; k < T * n; ++k) expect_close(xv.grad()[k], g.x[k], 1e-4, "x " + std::to_string(k));
  for (int64_t j = 0; j < F; ++j) {
    expect_close(beta.grad()[j], reduced(g.beta, F, j), 1e-4, "beta");
    if (c.cuba) expect_close(alpha.grad()[j], reduced(g.alpha, F, j), 1e-4, "alpha");
  }
  expect_close(thr.grad()[0], reduced(g.threshold, 1, 0), 1e-4, "threshold");
}

const Surrogate kSurrogates[] = {snn::make_surrogate("atan"), snn::make_surrogate("fast_sigmoid"),
                                 snn::make_surrogate("sigmoid"), snn::make_surrogate("triangle")};
const Reset kResets[] = {Reset::subtract, Reset::zero, Reset::none};

}  // namespace

TEST(Surrogate, IsTheDerivativeOfItsSmoothStep) {
  // atan: 1/pi*atan(pi/2*alpha*u); fast_sigmoid: u/(1+k|u|); sigmoid: 1/(1+e^(-k u)).
  auto smooth = [](const Surrogate& s, double u) {
    switch (s.kind) {
      case SurrogateKind::atan: return std::atan(M_PI / 2 * s.param * u) / M_PI;
      case SurrogateKind::fast_sigmoid: return u / (1 + s.param * std::fabs(u));
      default: return 1 / (1 + std::exp(-s.param * u));
    }
  };
  for (const char* name : {"atan", "fast_sigmoid", "sigmoid"}) {
    for (float param : {NAN, 5.0f}) {
      Surrogate s = snn::make_surrogate(name, param);
      for (double u : {-2.0, -0.3, -0.01, 0.02, 0.25, 1.5}) {
        double h = 1e-5, fd = (smooth(s, u + h) - smooth(s, u - h)) / (2 * h);
        EXPECT_NEAR(snn::surrogate_grad(s, static_cast<float>(u)), fd, 1e-4 * std::max(1.0, fd)) << name << " " << u;
      }
    }
  }
  EXPECT_FLOAT_EQ(snn::surrogate_grad(snn::make_surrogate("atan"), 0.0f), 1.0f);
  EXPECT_FLOAT_EQ(snn::surrogate_grad(snn::make_surrogate("fast_sigmoid"), 0.0f), 1.0f);
  EXPECT_FLOAT_EQ(snn::surrogate_grad(snn::make_surrogate("sigmoid"), 0.0f), 6.25f);
  // Far below threshold snnTorch's sigmoid gives NaN; frugal's gives 0.
  EXPECT_EQ(snn::surrogate_grad(snn::make_surrogate("sigmoid"), -10.0f), 0.0f);
  // snnTorch's triangular: +scale below threshold, -scale at and above.
  EXPECT_EQ(snn::surrogate_grad(snn::make_surrogate("triangle", 0.5f), -0.1f), 0.5f);
  EXPECT_EQ(snn::surrogate_grad(snn::make_surrogate("triangle", 0.5f), 0.0f), -0.5f);
  EXPECT_THROW(snn::make_surrogate("relu"), Error);
  EXPECT_THROW(snn::make_surrogate("atan", -1.0f), Error);
}

TEST(LifKernel, FastEqualsReferenceBitForBit) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "no AVX2";
  for (int64_t n : {1, 7, 8, 31, 33, 45, 100, 1100}) {  // 1100: whole 512-neuron backward blocks too
    for (int64_t T : {1, 6, 13}) {
      for (bool cuba : {false, true}) {
        for (Reset reset : kResets) {
          for (const Surrogate& s : kSurrogates) {
            const uint64_t seed = static_cast<uint64_t>(n * 131 + T);
            Tensor x = random_tensor({T, n}, -0.3f, 1.0f, seed);
            Tensor al = random_tensor({n}, 0.2f, 0.9f, seed + 1), be = random_tensor({n}, 0.4f, 1.0f, seed + 2);
            Tensor th = random_tensor({n}, 0.5f, 1.2f, seed + 3);
            Tensor ds = random_tensor({T, n}, -1, 1, seed + 4), dm = random_tensor({T, n}, -1, 1, seed + 5);
            kernels::LifArgs a;
            a.steps = T;
            a.n = n;
            a.alpha = al.data();
            a.beta = be.data();
            a.threshold = th.data();
            a.init_frac = 0.4f;
            a.amplitude = 0.7f;
            a.reset = reset;
            a.surrogate = s;
            Tensor out[2][4], grads[2][4];
            for (int impl = 0; impl < 2; ++impl) {
              for (int j = 0; j < 3; ++j) out[impl][j] = Tensor({T, n});
              grads[impl][0] = Tensor({T, n});
              for (int j = 1; j < 4; ++j) grads[impl][j] = Tensor({n});
              kernels::LifGrads g{grads[impl][0].data(), grads[impl][1].data(), grads[impl][2].data(),
                                  grads[impl][3].data()};
              const float* dmem = T % 2 ? dm.data() : nullptr;  // with and without membrane gradients
              float *spk = out[impl][0].data(), *syn = out[impl][1].data(), *mem = out[impl][2].data();
              if (cuba) {
                if (impl == 0) kernels::cuba_lif_forward_ref(a, x.data(), spk, syn, mem);
                else kernels::cuba_lif_forward_avx2(a, x.data(), spk, syn, mem);
                if (impl == 0) kernels::cuba_lif_backward_ref(a, syn, mem, ds.data(), dmem, g);
                else kernels::cuba_lif_backward_avx2(a, syn, mem, ds.data(), dmem, g);
              } else {
                g.diff_alpha = nullptr;
                if (impl == 0) kernels::lif_forward_ref(a, x.data(), spk, mem);
                else kernels::lif_forward_avx2(a, x.data(), spk, mem);
                if (impl == 0) kernels::lif_backward_ref(a, mem, ds.data(), dmem, g);
                else kernels::lif_backward_avx2(a, mem, ds.data(), dmem, g);
              }
            }
            std::string what = "n=" + std::to_string(n) + " T=" + std::to_string(T) + " cuba=" + std::to_string(cuba) +
                               " reset=" + snn::reset_name(reset) + " " + snn::surrogate_name(s.kind);
            for (int j = 0; j < 3; ++j)
              EXPECT_EQ(std::memcmp(out[0][j].data(), out[1][j].data(), out[0][j].bytes()), 0) << what << " out " << j;
            for (int j = 0; j < 4; ++j)
              EXPECT_EQ(std::memcmp(grads[0][j].data(), grads[1][j].data(), grads[0][j].bytes()), 0)
                  << what << " grad " << j;
          }
        }
      }
    }
  }
}

TEST(Lif, BackwardMatchesTangentReference) {
  uint64_t seed = 10;
  for (Reset reset : kResets) {
    for (const Surrogate& s : kSurrogates) {
      Config c;
      c.reset = reset;
      c.surrogate = s;
      check_against_tangent(c, seed++);
      c.amplitude = 0.5f;
      c.init_frac = 0.6f;
      c.membranes = false;
      check_against_tangent(c, seed++);
    }
  }
}

TEST(CubaLif, BackwardMatchesTangentReference) {
  uint64_t seed = 50;
  for (Reset reset : kResets) {
    for (const Surrogate& s : kSurrogates) {
      Config c;
      c.cuba = true;
      c.reset = reset;
      c.surrogate = s;
      check_against_tangent(c, seed++);
      c.init_frac = 0.3f;
      c.membranes = false;
      check_against_tangent(c, seed++);
    }
  }
}

// The membranes are piecewise smooth in x, beta and threshold (the reset is detached, so the
// analytic gradient is the true one between spike-pattern changes): finite differences apply.
TEST(Neurons, MembraneGradientsMatchFiniteDifferences) {
  for (bool cuba : {false, true}) {
    for (Reset reset : kResets) {
      snn::NeuronOptions o;
      o.reset = reset;
      o.init_frac = 0.3f;
      o.membranes = true;
      auto f = [&](const std::vector<Var>& in) {
        return (cuba ? snn::cuba_lif(in[0], in[1], in[2], in[3], o) : snn::lif(in[0], in[2], in[3], o)).membranes;
      };
      Tensor x = random_tensor({6, 2, 3}, -0.1f, 0.7f, 77);
      auto r = autograd::gradcheck(f, {x, Tensor({3}, {0.5f, 0.6f, 0.7f}), Tensor({3}, {0.8f, 0.9f, 0.7f}),
                                       Tensor({1}, {0.95f})});
      EXPECT_LT(r.max_rel_error, 1e-2) << "cuba=" << cuba << " reset=" << snn::reset_name(reset);
    }
  }
}

TEST(Neurons, ClampedBetaHasNoGradientOutsideUnitInterval) {
  Var x(random_tensor({5, 1, 2}, 0.0f, 0.5f, 3), true);
  Var beta(Tensor({2}, {1.3f, 0.5f}), true);
  snn::NeuronOptions o;
  o.membranes = true;
  Var loss = weighted_loss(snn::lif(x, beta, Var(Tensor::full({1}, 1.0f)), o), Tensor::full({5, 1, 2}, 1.0f),
                           Tensor::full({5, 1, 2}, 1.0f));
  autograd::backward(loss);
  EXPECT_EQ(beta.grad()[0], 0.0f);
  EXPECT_NE(beta.grad()[1], 0.0f);
}

TEST(Neurons, KnownValuesOfLeakyIntegration) {
  // Constant input 0.3, beta 0.5, threshold 0.5: U = 0.3, 0.45, 0.525 (spike), 0.5625 - 0.5 ...
  Var x(Tensor::full({5, 1, 1}, 0.3f));
  snn::NeuronOptions o;
  o.membranes = true;
  auto out = snn::lif(x, Var(Tensor::full({1}, 0.5f)), Var(Tensor::full({1}, 0.5f)), o);
  const float mem[5] = {0.3f, 0.45f, 0.525f, 0.0625f + 0.3f - 0.0f, 0.0f};
  EXPECT_FLOAT_EQ(out.membranes.value()[0], mem[0]);
  EXPECT_FLOAT_EQ(out.membranes.value()[1], mem[1]);
  EXPECT_FLOAT_EQ(out.membranes.value()[2], mem[2]);
  // Step 3 subtracts the threshold for the spike of step 2: 0.5*0.525 + 0.3 - 0.5.
  EXPECT_FLOAT_EQ(out.membranes.value()[3], 0.5f * 0.525f + 0.3f - 0.5f);
  const float spikes[5] = {0, 0, 1, 0, 0};
  for (int t = 0; t < 5; ++t) EXPECT_EQ(out.spikes.value()[t], spikes[t]) << t;

  // IF: no leak, membrane starts at half the threshold, each spike removes one threshold; over
  // T steps of input c the count is floor((T*c + thr/2) / thr) when the reset keeps up.
  Var c(Tensor::full({20, 1, 1}, 0.3f));
  snn::IfOptions io;
  io.init_frac = 0.5f;
  io.amplitude = 2.0f;
  auto spk = snn::if_neuron(c, Var(Tensor::full({1}, 1.0f)), io).spikes;
  float total = 0;
  for (int t = 0; t < 20; ++t) total += spk.value()[t];
  EXPECT_EQ(total, 2.0f * 6);  // floor((6 + 0.5) / 1) = 6 spikes of amplitude 2
}

TEST(Neurons, RejectsBadInput) {
  Var one(Tensor::full({1}, 1.0f));
  EXPECT_THROW(snn::lif(Var(Tensor({0, 2})), one, one), Error);
  EXPECT_THROW(snn::lif(Var(Tensor({4})), one, one), Error);
  EXPECT_THROW(snn::lif(Var(Tensor({4, 2, 3})), Var(Tensor::full({2}, 0.5f)), one), Error);
  EXPECT_NO_THROW(snn::lif(Var(Tensor({4, 2, 3})), Var(Tensor::full({3}, 0.5f)), one));
  EXPECT_THROW(snn::parse_reset("hard"), Error);
  EXPECT_THROW(snn::check_neuron_params(-0.1f, 1.0f, "layer lif1"), Error);
  EXPECT_THROW(snn::check_neuron_params(0.5f, 0.0f, "layer lif1"), Error);
  EXPECT_NO_THROW(snn::check_neuron_params(0.5f, 1.0f, "layer lif1"));
}

TEST(Neurons, MatchSnnTorchGoldenValues) {
  std::ifstream in(std::string(FRUGAL_SOURCE_DIR) + "/tests/data/snn/neurons_snntorch.json");
  ASSERT_TRUE(in.good());
  nlohmann::json doc = nlohmann::json::parse(in);
  ASSERT_EQ(doc["cases"].size(), 7u);
  for (const auto& c : doc["cases"]) {
    const std::string name = c["name"];
    Shape shape = c["shape"].get<Shape>();
    auto tensor = [&](const char* key, Shape s) { return Tensor(s, c[key].get<std::vector<float>>()); };
    auto param = [&](const char* key) {
      auto v = c[key].get<std::vector<float>>();
      return Var(Tensor({static_cast<int64_t>(v.size())}, v), true);
    };
    Var x(tensor("x", shape), true);
    Var beta = param("beta"), thr = param("threshold");
    Var alpha = c.contains("alpha") ? param("alpha") : Var();
    snn::NeuronOptions o;
    o.reset = snn::parse_reset(c["reset"]);
    o.surrogate = snn::make_surrogate(c["surrogate"], c["param"].get<float>());
    o.amplitude = c["amplitude"];
    o.init_frac = c["init_frac"];
    o.membranes = true;
    auto out = c["neuron"] == "synaptic" ? snn::cuba_lif(x, alpha, beta, thr, o) : snn::lif(x, beta, thr, o);
    autograd::backward(weighted_loss(out, tensor("ws", shape), tensor("wm", shape)));

    auto check = [&](const Tensor& got, const char* key, double tol) {
      auto want = c[key].get<std::vector<float>>();
      ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << name << " " << key;
      for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got[i], want[i], tol * std::max(1.0f, std::fabs(want[i]))) << name << " " << key << "[" << i << "]";
    };
    check(out.spikes.value(), "spikes", 0);
    check(out.membranes.value(), "membranes", 1e-5);
    check(x.grad(), "diff_x", 1e-4);
    check(beta.grad(), "diff_beta", 1e-4);
    check(thr.grad(), "diff_threshold", 1e-4);
    if (alpha.defined()) check(alpha.grad(), "diff_alpha", 1e-4);

    if (name == "if_atan") {
      // The same case through if_neuron (beta fixed at 1).
      Var xi(tensor("x", shape), true), thri = param("threshold");
      snn::IfOptions io;
      io.surrogate = o.surrogate;
      io.amplitude = o.amplitude;
      io.init_frac = o.init_frac;
      io.membranes = true;
      auto oi = snn::if_neuron(xi, thri, io);
      autograd::backward(weighted_loss(oi, tensor("ws", shape), tensor("wm", shape)));
      check(oi.spikes.value(), "spikes", 0);
      check(xi.grad(), "diff_x", 1e-4);
      check(thri.grad(), "diff_threshold", 1e-4);
    }
  }
}
