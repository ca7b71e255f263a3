#include "frugal/sparse/nm_mask.h"

#include <algorithm>
#include <cmath>

#include "frugal/core/error.h"

namespace frugal::sparse {

void check_nm(const NMPattern& p, const std::string& where) {
  require(p.n >= 1 && p.n < p.m && p.m <= 16,
          where + ": N:M sparsity pattern " + p.str() + " is invalid; expected 1 <= N < M <= 16 (e.g. \"2:8\")");
}

NMPattern parse_nm(const std::string& text, const std::string& where) {
  size_t colon = text.find(':');
  auto bad = [&]() {
    return Error(where + ": sparsity \"" + text + "\" is not an N:M pattern; expected \"N:M\" with 1 <= N < M <= 16");
  };
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size() || colon > 2 || text.size() - colon - 1 > 2)
    throw bad();
  NMPattern p;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == colon) continue;
    if (text[i] < '0' || text[i] > '9') throw bad();
  }
  p.n = std::stoi(text.substr(0, colon));
  p.m = std::stoi(text.substr(colon + 1));
  check_nm(p, where);
  return p;
}

int select_group(const float* base, int64_t stride, int len, int n, uint8_t* kept) {
  // Magnitude with NaN below every number, then rank by (magnitude, lower index first): a strict
  // total order, so exactly min(n, len) are kept even with ties and NaN.
  float key[16];
  for (int j = 0; j < len; ++j) {
    float v = base[j * stride];
    key[j] = std::isnan(v) ? -1.0f : std::fabs(v);
  }
  // Branch-free ranking: the comparisons are data-dependent coin flips that a branch predictor
  // would miss about half the time.
  int count = 0;
  for (int j = 0; j < len; ++j) {
    int rank = 0;
    for (int k = 0; k < len; ++k) rank += (key[k] > key[j]) | ((key[k] == key[j]) & (k < j));
    kept[count] = static_cast<uint8_t>(j);
    count += rank < n;
  }
  return count;
}

namespace {

// Fills a 0/1 mask of a weight viewed as [outer, axis, inner], groups of m along axis.
Tensor grouped_mask(const Tensor& weight, int64_t outer, int64_t axis, int64_t inner, const NMPattern& p) {
  Tensor mask(weight.shape());
  const float* w = weight.data();
  float* out = mask.data();
  // One line is one (outer, inner) pair; its groups run along axis with stride `inner`.
#pragma omp parallel for schedule(static)
  for (int64_t line = 0; line < outer * inner; ++line) {
    int64_t o = line / inner, i = line % inner;
    uint8_t kept[16];
    for (int64_t g0 = 0; g0 < axis; g0 += p.m) {
      int len = static_cast<int>(std::min<int64_t>(p.m, axis - g0));
      int64_t base = (o * axis + g0) * inner + i;
      int count = select_group(w + base, inner, len, p.n, kept);
      for (int c = 0; c < count; ++c) out[base + kept[c] * inner] = 1.0f;
    }
  }
  return mask;
}

void check_weight(const Tensor& weight, const NMPattern& p, const char* what) {
  check_nm(p, what);
  require(weight.rank() == 2 || weight.rank() == 4,
          std::string(what) + ": weight must be [out, in] or [O, C, KH, KW], got " + shape_str(weight.shape()));
}

}  // namespace

Tensor forward_mask(const Tensor& weight, const NMPattern& p) {
  check_weight(weight, p, "sparse::forward_mask");
  int64_t inner = weight.numel() / (weight.dim(0) * weight.dim(1));
  return grouped_mask(weight, weight.dim(0), weight.dim(1), inner, p);
}

Tensor backward_mask(const Tensor& weight, const NMPattern& p) {
  check_weight(weight, p, "sparse::backward_mask");
  return grouped_mask(weight, 1, weight.dim(0), weight.numel() / weight.dim(0), p);
}

void add_sr_ste_decay(const Tensor& weight, const Tensor& mask, float decay, Tensor& grad) {
  require(weight.shape() == mask.shape() && weight.shape() == grad.shape(),
          "sparse::add_sr_ste_decay: weight " + shape_str(weight.shape()) + ", mask " + shape_str(mask.shape()) +
              " and grad " + shape_str(grad.shape()) + " must have one shape");
  const float* w = weight.data();
  const float* k = mask.data();
  float* g = grad.data();
  int64_t count = weight.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) g[i] += decay * (1.0f - k[i]) * w[i];
}

}  // namespace frugal::sparse
