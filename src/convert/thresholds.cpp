// Threshold calibration: local threshold balancing, max-norm and robust-norm.
// See include/frugal/convert/thresholds.h.
#include "frugal/convert/thresholds.h"

#include <algorithm>
#include <cmath>

#include "frugal/core/error.h"

namespace frugal::convert {

ThresholdMethod parse_threshold_method(const std::string& name) {
  if (name == "ltb") return ThresholdMethod::ltb;
  if (name == "maxnorm" || name == "max") return ThresholdMethod::maxnorm;
  if (name == "robust") return ThresholdMethod::robust;
  throw Error("--method: unknown threshold method '" + name + "' (expected ltb, maxnorm or robust)");
}

const char* threshold_method_name(ThresholdMethod m) {
  switch (m) {
    case ThresholdMethod::ltb: return "ltb";
    case ThresholdMethod::maxnorm: return "maxnorm";
    case ThresholdMethod::robust: return "robust";
  }
  return "?";
}

namespace {

std::vector<float> site_ceilings(const SpikingNet& net) {
  std::vector<float> c(static_cast<size_t>(net.num_sites));
  for (const Layer& l : net.layers)
    if (l.kind == LayerKind::Neuron) c[l.site] = l.ceiling;
  return c;
}

Thresholds local_threshold_balancing(const SpikingNet& net, const std::vector<Tensor>& batches) {
  Thresholds th;
  th.per_site.resize(static_cast<size_t>(net.num_sites));
  const std::vector<float> ceilings = site_ceilings(net);
  auto hook = [&](int site, const Tensor& x, std::vector<float>& ceiling) {
    std::vector<float>& t = th.per_site[site];
    const auto channels = static_cast<size_t>(x.dim(1));
    if (t.empty()) t.assign(channels, 0.0f);
    require(t.size() == channels, "calibration: neuron site " + std::to_string(site) + " changed its channel count");
    std::vector<double> excess(channels, 0.0);
    const int64_t plane = x.numel() / (x.dim(0) * x.dim(1));
    for (int64_t p = 0; p < x.dim(0) * x.dim(1); ++p) {
      const float th = t[p % x.dim(1)];
      double sum = 0;
      for (int64_t k = p * plane; k < (p + 1) * plane; ++k) sum += std::max(0.0f, x[k] - th);
      excess[p % x.dim(1)] += sum;
    }
    const double per_channel = static_cast<double>(x.numel()) / static_cast<double>(channels);
    for (size_t c = 0; c < channels; ++c) {
      t[c] = std::min(static_cast<float>(t[c] + 2.0 * excess[c] / per_channel), ceilings[site]);
      ceiling[c] = std::min(ceiling[c], t[c]);
    }
  };
  for (const Tensor& b : batches) {
    forward_ann(net, b, hook);
    ++th.forward_passes;
  }
  return th;
}

// The q-th percentile (0..100) of v by linear interpolation between order statistics (numpy's default).
float percentile_of(std::vector<float>& v, double q) {
  if (v.empty()) return 0.0f;
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  const float a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const float b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  return a + static_cast<float>(pos - static_cast<double>(lo)) * (b - a);
}

Thresholds layer_norm(const SpikingNet& net, const std::vector<Tensor>& batches, ThresholdMethod method,
                      double percentile) {
  require(percentile > 0 && percentile <= 100, "calibration: percentile must be in (0, 100]");
  Thresholds th;
  const std::vector<float> ceilings = site_ceilings(net);
  std::vector<double> value(static_cast<size_t>(net.num_sites), 0.0);
  std::vector<int64_t> channels(static_cast<size_t>(net.num_sites), 0);
  auto hook = [&](int site, const Tensor& x, std::vector<float>&) {
    channels[site] = x.dim(1);
    std::vector<float> active;
    float largest = 0;
    for (int64_t k = 0; k < x.numel(); ++k) {
      const float a = std::min(x[k], ceilings[site]);
      if (a <= 0) continue;
      largest = std::max(largest, a);
      if (method == ThresholdMethod::robust) active.push_back(a);
    }
    if (method == ThresholdMethod::maxnorm)
      value[site] = std::max(value[site], static_cast<double>(largest));
    else
      value[site] += percentile_of(active, percentile) / static_cast<double>(batches.size());
  };
  for (const Tensor& b : batches) {
    forward_ann(net, b, hook);
    ++th.forward_passes;
  }
  for (int s = 0; s < net.num_sites; ++s) th.per_site.emplace_back(channels[s], static_cast<float>(value[s]));
  return th;
}

}  // namespace

Thresholds calibrate(const SpikingNet& net, const std::vector<Tensor>& batches, ThresholdMethod method,
                     double percentile) {
  require(!batches.empty(), "calibration: no calibration batches");
  Thresholds th = method == ThresholdMethod::ltb ? local_threshold_balancing(net, batches)
                                                 : layer_norm(net, batches, method, percentile);
  for (int s = 0; s < net.num_sites; ++s)
    require(!th.per_site[s].empty(), net.path + ": neuron site " + std::to_string(s) + " was never reached");
  return th;
}

Tensor forward_clipped(const SpikingNet& net, const Thresholds& th, const Tensor& x) {
  return forward_ann(net, x, [&](int site, const Tensor&, std::vector<float>& ceiling) {
    for (size_t c = 0; c < ceiling.size(); ++c) ceiling[c] = std::min(ceiling[c], th.per_site[site][c]);
  });
}

}  // namespace frugal::convert
