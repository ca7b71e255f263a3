// Finite-difference gradient check: compares an op's backward with central differences of
// sum(w * f(x)) for a random w, so every element of diff_dst is exercised.
#pragma once
#include <functional>
#include <vector>

#include "frugal/autograd/tape.h"

namespace frugal::autograd {

struct GradcheckResult {
  double max_abs_error = 0;  // largest |analytic - numeric| over all inputs' elements
  double max_rel_error = 0;  // same, divided by max(1, |numeric|)
};

// f maps the input Vars to one output. Inputs are perturbed in double-checked float steps of eps.
GradcheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-3, uint64_t seed = 7);

}  // namespace frugal::autograd
