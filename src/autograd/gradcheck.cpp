#include "frugal/autograd/gradcheck.h"

#include <algorithm>
#include <cmath>

#include "frugal/core/rng.h"

namespace frugal::autograd {

namespace {
double weighted_sum(const Tensor& y, const Tensor& w) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y[i]) * w[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, uint64_t seed) {
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  Var y = f(vars);
  Rng rng(seed);
  Tensor w = Tensor::empty(y.shape());
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.uniform(-1.0f, 1.0f);
  Var loss = record(Tensor::full({1}, static_cast<float>(weighted_sum(y.value(), w))), {y},
                    [y, w](const Tensor& d) mutable {
                      Tensor dy = Tensor::empty(y.shape());
                      for (int64_t i = 0; i < dy.numel(); ++i) dy[i] = w[i] * d[0];
                      y.add_grad(dy);
                    });
  backward(loss);

  GradcheckResult r;
  NoGradGuard no_grad;
  for (size_t k = 0; k < vars.size(); ++k) {
    Tensor& x = vars[k].value();
    for (int64_t i = 0; i < x.numel(); ++i) {
      float saved = x[i];
      x[i] = static_cast<float>(saved + eps);
      double plus = weighted_sum(f(vars).value(), w);
      x[i] = static_cast<float>(saved - eps);
      double minus = weighted_sum(f(vars).value(), w);
      x[i] = saved;
      double numeric = (plus - minus) / (2 * eps);
      double analytic = vars[k].grad().defined() ? vars[k].grad()[i] : 0.0;
      double err = std::fabs(analytic - numeric);
      r.max_abs_error = std::max(r.max_abs_error, err);
      r.max_rel_error = std::max(r.max_rel_error, err / std::max(1.0, std::fabs(numeric)));
    }
  }
  return r;
}

}  // namespace frugal::autograd
