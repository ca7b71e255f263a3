#include "frugal/snn/encoders.h"

#include <cmath>

#include "frugal/core/error.h"

namespace frugal::snn {

namespace {
Shape with_time(int64_t steps, const Shape& shape) {
  Shape s = {steps};
  s.insert(s.end(), shape.begin(), shape.end());
  return s;
}
void check_steps(int64_t steps, const char* encoder) {
  require(steps >= 1, std::string(encoder) + ": T must be at least 1, got " + std::to_string(steps));
}
}  // namespace

Tensor encode_direct(const Tensor& x, int64_t steps) {
  check_steps(steps, "encode_direct");
  Tensor out = Tensor::empty(with_time(steps, x.shape()));
  const int64_t n = x.numel();
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t i = 0; i < n; ++i) out[t * n + i] = x[i];
  return out;
}

Tensor encode_rate(const Tensor& x, int64_t steps, Rng& rng, float gain, float offset) {
  check_steps(steps, "encode_rate");
  Tensor out = Tensor::empty(with_time(steps, x.shape()));
  const int64_t n = x.numel();
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t i = 0; i < n; ++i) {
      float p = gain * x[i] + offset;
      p = p < 0.0f ? 0.0f : (p > 1.0f ? 1.0f : p);
      out[t * n + i] = rng.uniform() < p ? 1.0f : 0.0f;
    }
  }
  return out;
}

Tensor encode_latency(const Tensor& x, int64_t steps, const LatencyOptions& opt) {
  check_steps(steps, "encode_latency");
  require(opt.threshold > 0.0f && opt.threshold < 1.0f,
          "encode_latency: threshold must be in (0, 1), got " + std::to_string(opt.threshold));
  require(opt.tau > 0.0f, "encode_latency: tau must be positive, got " + std::to_string(opt.tau));
  const int64_t n = x.numel();
  std::vector<float> time(n);
  float latest = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    require(x[i] >= 0.0f && x[i] <= 1.0f, "encode_latency: inputs must lie in [0, 1], got " + std::to_string(x[i]));
    if (opt.linear) {
      const float tau = opt.normalize ? static_cast<float>(steps - 1) : opt.tau;
      time[i] = std::fmin(-tau * (x[i] - 1.0f), -tau * (opt.threshold - 1.0f));
    } else {
      // Saturate below threshold as snnTorch does (epsilon 1e-7) so the log stays finite.
      const float v = std::fmax(x[i], opt.threshold + 1e-7f);
      time[i] = opt.tau * std::log(v / (v - opt.threshold));
    }
    latest = std::fmax(latest, time[i]);
  }
  if (opt.normalize && !opt.linear && latest > 0.0f)
    for (float& t : time) t = t * static_cast<float>(steps - 1) / latest;
  Tensor out(with_time(steps, x.shape()));
  for (int64_t i = 0; i < n; ++i) {
    if (opt.clip && x[i] < opt.threshold) continue;
    const int64_t t = static_cast<int64_t>(std::nearbyint(time[i]));
    require(t <= steps - 1, "encode_latency: spike time " + std::to_string(t) + " is past T-1 = " +
                                std::to_string(steps - 1) + "; set normalize or lower tau");
    out[t * n + i] = 1.0f;
  }
  return out;
}

Tensor encode_delta(const Tensor& x, float threshold, bool padding, bool off_spikes) {
  require(x.rank() >= 1 && x.dim(0) >= 1, "encode_delta: input must be [T, ...] with T >= 1, got " +
                                              shape_str(x.shape()));
  const int64_t steps = x.dim(0), n = x.numel() / steps;
  Tensor out(x.shape());
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t i = 0; i < n; ++i) {
      const float prev = t > 0 ? x[(t - 1) * n + i] : (padding ? x[i] : 0.0f);
      const float d = x[t * n + i] - prev;
      if (d >= threshold) out[t * n + i] = 1.0f;
      else if (off_spikes && d <= -threshold) out[t * n + i] = -1.0f;
    }
  }
  return out;
}

}  // namespace frugal::snn
