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

Thresholds local_threshold_balancing(const SpikingNet& net, const std::vector<Tensor>& batches,
                                     const std::function<void()>& after_batch) {
  Thresholds th;
  th.per_site.resize(static_cast<size_t>(net.num_sites));
  const std::vector<float> ceilings = site_ceilings(net);
  auto hook = [&](int site, const Tensor& x, std::vector<float>& ceiling) {
    std::vector<float>& t = th.per_site[site];
    const auto channels = static_cast<size_t>(x.dim(1));
    if (t.empty()) t.assign(channels, 0.0f);
    require(t.size() == channels, "calibration: neuron site " + std::to_string(site) + " changed its channel count");
    // Sizes are read once: Tensor::dim formats its error message on every call. The hook runs
    // on all threads (one channel each), as the conv before it does: a serial hook would leave
    // the other threads to fall asleep and be woken by the next conv, which on a busy machine
    // cost more than the hook itself.
    std::vector<double> excess(channels, 0.0);
    const auto c_count = static_cast<int64_t>(channels);
    const int64_t batch = x.dim(0), plane = x.numel() / (batch * c_count);
    const float* data = x.data();
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < c_count; ++c) {
      const float th = t[static_cast<size_t>(c)];
      double total = 0;
      for (int64_t n = 0; n < batch; ++n) {
        const int64_t p = n * c_count + c;
        // One plane is at most a few thousand values: a float sum is exact enough, and a SIMD
        // one keeps this hook from costing more than the conv before it.
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t k = p * plane; k < (p + 1) * plane; ++k) sum += std::max(0.0f, data[k] - th);
        total += sum;
      }
      excess[static_cast<size_t>(c)] = total;
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
    if (after_batch) after_batch();
  }
  return th;
}

// The q-th percentile (0..100) of the positive values of min(x, cap) (x is [N, C, ...]), by
// linear interpolation between order statistics (numpy's default). Only the `keep` largest values
// matter (0.1 % of them at q = 99.9). Every plane's peak is one of the values, so the keep-th
// largest value is at least the keep-th largest peak: one branch-free pass finds the peaks and the
// count, and only the values from that peak up, in planes that reach it, are copied and sorted.
// (Copying all of a site's values and nth_element took longer than the forward pass itself.)
float positive_percentile(const Tensor& x, float cap, double q) {
  const int64_t planes = x.dim(0) * x.dim(1), plane = x.numel() / planes;
  const float* data = x.data();
  std::vector<float> peak(static_cast<size_t>(planes));
  int64_t active = 0;
#pragma omp parallel for schedule(static) reduction(+ : active)
  for (int64_t p = 0; p < planes; ++p) {
    float m = 0;
    int64_t count = 0;
#pragma omp simd reduction(max : m) reduction(+ : count)
    for (int64_t k = p * plane; k < (p + 1) * plane; ++k) {
      const float a = std::min(data[k], cap);
      m = std::max(m, a);
      count += a > 0.0f ? 1 : 0;
    }
    peak[static_cast<size_t>(p)] = m;
    active += count;
  }
  if (active == 0) return 0.0f;
  const double pos = q / 100.0 * static_cast<double>(active - 1);
  const auto lo = static_cast<int64_t>(std::floor(pos));
  const int64_t keep = active - lo;  // order statistics lo .. active - 1
  float bound = 0;
  if (keep <= planes) {
    std::vector<float> peaks = peak;
    std::nth_element(peaks.begin(), peaks.begin() + (planes - keep), peaks.end());
    bound = peaks[static_cast<size_t>(planes - keep)];
  }
  std::vector<float> top;
  for (int64_t p = 0; p < planes; ++p) {
    if (peak[static_cast<size_t>(p)] < bound) continue;
    for (int64_t k = p * plane; k < (p + 1) * plane; ++k) {
      const float a = std::min(data[k], cap);
      if (a > 0.0f && a >= bound) top.push_back(a);
    }
  }
  std::sort(top.begin(), top.end());
  const size_t at = top.size() - static_cast<size_t>(keep);  // order statistic lo
  if (at + 1 >= top.size()) return top[at];
  return top[at] + static_cast<float>(pos - static_cast<double>(lo)) * (top[at + 1] - top[at]);
}

Thresholds layer_norm(const SpikingNet& net, const std::vector<Tensor>& batches, ThresholdMethod method,
                      double percentile, const std::function<void()>& after_batch) {
  require(percentile > 0 && percentile <= 100, "calibration: percentile must be in (0, 100]");
  Thresholds th;
  const std::vector<float> ceilings = site_ceilings(net);
  std::vector<double> value(static_cast<size_t>(net.num_sites), 0.0);
  std::vector<int64_t> channels(static_cast<size_t>(net.num_sites), 0);
  auto hook = [&](int site, const Tensor& x, std::vector<float>&) {
    channels[site] = x.dim(1);
    if (method == ThresholdMethod::robust) {
      value[site] += positive_percentile(x, ceilings[site], percentile) / static_cast<double>(batches.size());
      return;
    }
    const float* data = x.data();
    const int64_t n = x.numel();
    float largest = 0;
    for (int64_t k = 0; k < n; ++k) largest = std::max(largest, std::min(data[k], ceilings[site]));
    value[site] = std::max(value[site], static_cast<double>(largest));
  };
  for (const Tensor& b : batches) {
    forward_ann(net, b, hook);
    ++th.forward_passes;
    if (after_batch) after_batch();
  }
  for (int s = 0; s < net.num_sites; ++s) th.per_site.emplace_back(channels[s], static_cast<float>(value[s]));
  return th;
}

}  // namespace

Thresholds calibrate(const SpikingNet& net, const std::vector<Tensor>& batches, ThresholdMethod method,
                     double percentile, const std::function<void()>& after_batch) {
  require(!batches.empty(), "calibration: no calibration batches");
  Thresholds th = method == ThresholdMethod::ltb ? local_threshold_balancing(net, batches, after_batch)
                                                 : layer_norm(net, batches, method, percentile, after_batch);
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
