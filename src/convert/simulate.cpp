// The spiking run of a converted net, its delay estimate and its scoring over budgets.
// See include/frugal/convert/simulate.h.
#include "frugal/convert/simulate.h"

#include <algorithm>
#include <cmath>

#include "frugal/autograd/ops.h"
#include "frugal/autograd/tape.h"
#include "frugal/core/error.h"

namespace frugal::convert {

namespace {

// Weights laid out so that one input event adds a contiguous vector: conv [C/groups, K, K, O],
// linear [in, out].
std::vector<float> event_layout(const Layer& l) {
  const int64_t out = l.weight.dim(0), per_out = l.weight.numel() / out;
  std::vector<float> wt(static_cast<size_t>(l.weight.numel()));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < per_out; ++k) wt[k * out + o] = l.weight[o * per_out + k];
  return wt;
}

// Event-driven conv: y = bias + the weight slices of every nonzero input. Returns the accumulates.
double event_conv(const Layer& l, const std::vector<float>& wt, const Tensor& x, Tensor& y) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t o = l.weight.dim(0), k = l.kernel, cg = c / l.groups, og = o / l.groups;
  const int64_t oh = (h + 2 * l.pad - k) / l.stride + 1, ow = (w + 2 * l.pad - k) / l.stride + 1;
  require(cg == l.weight.dim(1), l.name + ": input has " + std::to_string(c) + " channels, weight expects " +
                                     std::to_string(l.weight.dim(1) * l.groups));
  y = Tensor::empty({n, o, oh, ow});
  double ops = 0;
#pragma omp parallel reduction(+ : ops)
  {
    std::vector<float> acc(static_cast<size_t>(oh * ow * o));
#pragma omp for schedule(static)
    for (int64_t s = 0; s < n; ++s) {
      for (int64_t p = 0; p < oh * ow; ++p) std::copy(l.bias.data(), l.bias.data() + o, acc.data() + p * o);
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t g = ch / cg, ci = ch % cg;
        const float* xc = x.data() + (s * c + ch) * h * w;
        for (int64_t iy = 0; iy < h; ++iy)
          for (int64_t ix = 0; ix < w; ++ix) {
            const float v = xc[iy * w + ix];
            if (v == 0.0f) continue;
            for (int64_t ky = 0; ky < k; ++ky) {
              const int64_t ty = iy + l.pad - ky;
              if (ty < 0 || ty % l.stride != 0 || ty / l.stride >= oh) continue;
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t tx = ix + l.pad - kx;
                if (tx < 0 || tx % l.stride != 0 || tx / l.stride >= ow) continue;
                const float* wk = wt.data() + ((ci * k + ky) * k + kx) * o + g * og;
                float* dst = acc.data() + ((ty / l.stride) * ow + tx / l.stride) * o + g * og;
                for (int64_t q = 0; q < og; ++q) dst[q] += v * wk[q];
                ops += static_cast<double>(og);
              }
            }
          }
      }
      float* ys = y.data() + s * o * oh * ow;
      for (int64_t q = 0; q < o; ++q)
        for (int64_t p = 0; p < oh * ow; ++p) ys[q * oh * ow + p] = acc[p * o + q];
    }
  }
  return ops;
}

double event_linear(const Layer& l, const std::vector<float>& wt, const Tensor& x, Tensor& y) {
  const int64_t n = x.dim(0), in = x.dim(1), out = l.weight.dim(0);
  require(x.rank() == 2 && in == l.weight.dim(1), l.name + ": fully connected layer expects [N, " +
                                                      std::to_string(l.weight.dim(1)) + "], got " +
                                                      shape_str(x.shape()));
  y = Tensor::empty({n, out});
  double ops = 0;
#pragma omp parallel for reduction(+ : ops) schedule(static)
  for (int64_t s = 0; s < n; ++s) {
    float* ys = y.data() + s * out;
    std::copy(l.bias.data(), l.bias.data() + out, ys);
    for (int64_t i = 0; i < in; ++i) {
      const float v = x[s * in + i];
      if (v == 0.0f) continue;
      const float* col = wt.data() + i * out;
      for (int64_t q = 0; q < out; ++q) ys[q] += v * col[q];
      ops += static_cast<double>(out);
    }
  }
  return ops;
}

}  // namespace

SpikingRun run_spiking(const SpikingNet& net, const Thresholds& th, const Tensor& x, int timesteps) {
  require(timesteps > 0, "spiking run: timesteps must be positive, got " + std::to_string(timesteps));
  require(static_cast<int>(th.per_site.size()) == net.num_sites,
          "spiking run: thresholds for " + std::to_string(th.per_site.size()) + " sites, net has " +
              std::to_string(net.num_sites));
  autograd::NoGradGuard no_grad;
  const auto nv = static_cast<size_t>(net.num_values);
  std::vector<bool> is_static(nv, false), is_spikes(nv, false);
  is_static[0] = true;
  std::vector<std::vector<float>> layouts(net.layers.size());
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    bool all_static = true, all_spikes = true;
    for (int in : l.inputs) {
      all_static = all_static && is_static[in];
      all_spikes = all_spikes && is_spikes[in];
    }
    is_static[l.output] = all_static && l.kind != LayerKind::Neuron;
    // Spikes stay spikes through ops that only move or pick values.
    const bool moves = l.kind == LayerKind::Reshape || l.kind == LayerKind::Pad || l.kind == LayerKind::Concat ||
                       l.kind == LayerKind::MaxPool;
    is_spikes[l.output] = l.kind == LayerKind::Neuron || (moves && all_spikes);
    if ((l.kind == LayerKind::Conv || l.kind == LayerKind::Linear) && !is_static[l.output])
      layouts[i] = event_layout(l);
  }

  SpikingRun run;
  run.timesteps = timesteps;
  run.sops.assign(timesteps, 0.0);
  run.macs.assign(timesteps, 0.0);
  run.spikes.assign(timesteps, 0.0);
  const int64_t batch = x.dim(0);
  std::vector<Tensor> v(nv), membrane(static_cast<size_t>(net.num_sites));
  std::vector<Tensor> pool_in(net.layers.size()), pool_out(net.layers.size());  // time-varying max-pools
  v[0] = x;
  for (int t = 0; t < timesteps; ++t) {
    for (size_t i = 0; i < net.layers.size(); ++i) {
      const Layer& l = net.layers[i];
      if (is_static[l.output] && t > 0) continue;
      const bool synaptic = l.kind == LayerKind::Conv || l.kind == LayerKind::Linear;
      if (synaptic && !is_static[l.output]) {
        const Tensor& in = v[l.inputs[0]];
        const double ops = l.kind == LayerKind::Conv ? event_conv(l, layouts[i], in, v[l.output])
                                                     : event_linear(l, layouts[i], in, v[l.output]);
        (is_spikes[l.inputs[0]] ? run.sops : run.macs)[t] += ops;
      } else if (l.kind == LayerKind::Neuron) {
        const Tensor& in = v[l.inputs[0]];
        const std::vector<float>& theta = th.per_site[l.site];
        require(static_cast<int64_t>(theta.size()) == in.dim(1), l.name + ": " + std::to_string(theta.size()) +
                                                                     " thresholds for " + std::to_string(in.dim(1)) +
                                                                     " channels");
        Tensor& m = membrane[l.site];
        const int64_t channels = in.dim(1), plane = in.numel() / (batch * channels);
        if (t == 0) {
          m = Tensor::empty(in.shape());
          for (int64_t k = 0; k < m.numel(); ++k) m[k] = 0.5f * theta[(k / plane) % channels];
          run.neurons += static_cast<double>(in.numel() / batch);
        }
        Tensor out = Tensor::empty(in.shape());
        double spikes = 0;
        for (int64_t pl = 0; pl < batch * channels; ++pl) {
          const float th_c = theta[pl % channels];
          const bool dead = th_c <= 0.0f;
          for (int64_t k = pl * plane; k < (pl + 1) * plane; ++k) {
            m[k] += in[k];
            const bool fire = !dead && m[k] > th_c;
            out[k] = fire ? th_c : 0.0f;
            m[k] -= fire ? th_c : 0.0f;
            spikes += fire ? 1.0 : 0.0;
          }
        }
        run.spikes[t] += spikes;
        v[l.output] = out;
      } else if (l.kind == LayerKind::MaxPool && !is_static[l.output]) {
        // Max over a window of one step's currents overshoots the max of their means (the
        // currents of spike-fed layers jump from step to step), so the pool takes the max of the
        // integrated currents and passes on its increase: what the neuron integrates over t steps
        // is then t times the max of the mean currents, the ANN's max-pool.
        Tensor& total = pool_in[i];
        const Tensor& in = v[l.inputs[0]];
        if (t == 0) total = Tensor(in.shape());
        for (int64_t k = 0; k < in.numel(); ++k) total[k] += in[k];
        const Tensor pooled = autograd::max_pool2d(autograd::Var(total), l.kernel, l.stride, l.pad).value();
        Tensor& before = pool_out[i];
        if (t == 0) before = Tensor(pooled.shape());
        Tensor step = Tensor::empty(pooled.shape());
        for (int64_t k = 0; k < pooled.numel(); ++k) {
          step[k] = pooled[k] - before[k];
          before[k] = pooled[k];
        }
        v[l.output] = step;
      } else {
        v[l.output] = apply_layer(l, v);
        if (synaptic)
          run.static_macs +=
              static_cast<double>(v[l.output].numel()) * static_cast<double>(l.weight.numel() / l.weight.dim(0));
      }
    }
    const Tensor& out = v[net.output];
    require(out.rank() == 2 && out.dim(0) == batch,
            net.path + ": the output must be [N, classes], got " + shape_str(out.shape()));
    if (t == 0) run.logits = Tensor::empty({timesteps, batch, out.dim(1)});
    std::copy(out.data(), out.data() + out.numel(), run.logits.data() + t * out.numel());
  }
  return run;
}

DelayEstimate estimate_delay(const SpikingNet& net, const Thresholds& th, const Tensor& batch) {
  DelayEstimate d;
  d.per_site.assign(static_cast<size_t>(net.num_sites), 0.0);
  forward_ann(net, batch, [&](int site, const Tensor& x, std::vector<float>& ceiling) {
    const std::vector<float>& theta = th.per_site[site];
    const int64_t channels = x.dim(1), planes = x.dim(0) * channels, plane = x.numel() / planes;
    double sum_theta = 0, sum_a = 0;
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t c = p % channels;
      const float hi = std::min(ceiling[c], theta[c]);
      int64_t active = 0;
      for (int64_t k = p * plane; k < (p + 1) * plane; ++k) {
        const float a = std::min(x[k], hi);
        if (a <= 0) continue;
        ++active;
        sum_a += a;
      }
      sum_theta += static_cast<double>(active) * theta[c];
    }
    d.per_site[site] = sum_a > 0 ? 0.5 * sum_theta / sum_a : 0.0;
    for (size_t c = 0; c < ceiling.size(); ++c) ceiling[c] = std::min(ceiling[c], theta[c]);
  });
  double total = 0;
  for (double s : d.per_site) total += s;
  d.steps = static_cast<int>(std::ceil(total - 1e-9));
  return d;
}

int discarded_steps(int timesteps, int delay) { return std::max(0, std::min(delay, timesteps - 5)); }

SpikingEval::SpikingEval(std::vector<int> budgets, int delay) : budgets_(std::move(budgets)), delay_(delay) {
  require(!budgets_.empty(), "no timestep budgets");
  for (int b : budgets_) require(b > 0, "timestep budgets must be positive, got " + std::to_string(b));
  require(delay_ >= 0, "delay must be >= 0, got " + std::to_string(delay_));
  correct_.assign(budgets_.size(), 0);
}

void SpikingEval::add(const SpikingRun& run, const std::vector<int>& labels) {
  const int64_t n = run.logits.dim(1), classes = run.logits.dim(2);
  require(static_cast<int64_t>(labels.size()) == n, "spiking eval: labels do not match the batch");
  if (sops_.empty()) {
    sops_.assign(run.timesteps, 0.0);
    macs_.assign(run.timesteps, 0.0);
    spikes_.assign(run.timesteps, 0.0);
    neurons_ = run.neurons;
  }
  require(static_cast<int>(sops_.size()) == run.timesteps, "spiking eval: runs of different lengths");
  for (int t = 0; t < run.timesteps; ++t) {
    sops_[t] += run.sops[t];
    macs_[t] += run.macs[t];
    spikes_[t] += run.spikes[t];
  }
  static_macs_ += run.static_macs;
  for (size_t b = 0; b < budgets_.size(); ++b) {
    const int steps = budgets_[b];
    require(steps <= run.timesteps, "spiking eval: budget " + std::to_string(steps) + " exceeds the run");
    const int from = discarded_steps(steps, delay_);
    for (int64_t s = 0; s < n; ++s) {
      int64_t best = 0;
      double best_sum = -1e300;
      for (int64_t c = 0; c < classes; ++c) {
        double sum = 0;
        for (int t = from; t < steps; ++t) sum += run.logits[(t * n + s) * classes + c];
        if (sum > best_sum) {
          best_sum = sum;
          best = c;
        }
      }
      correct_[b] += best == labels[s];
    }
  }
  samples_ += n;
}

double SpikingEval::accuracy(size_t b) const {
  return samples_ ? static_cast<double>(correct_[b]) / static_cast<double>(samples_) : 0.0;
}

double SpikingEval::firing_rate(size_t b) const {
  double spikes = 0;
  for (int t = 0; t < budgets_[b]; ++t) spikes += spikes_[t];
  const double slots = neurons_ * static_cast<double>(budgets_[b]) * static_cast<double>(samples_);
  return slots > 0 ? spikes / slots : 0.0;
}

double SpikingEval::sops_per_sample(size_t b) const {
  double s = 0;
  for (int t = 0; t < budgets_[b]; ++t) s += sops_[t];
  return samples_ ? s / static_cast<double>(samples_) : 0.0;
}

double SpikingEval::macs_per_sample(size_t b) const {
  double m = static_macs_;
  for (int t = 0; t < budgets_[b]; ++t) m += macs_[t];
  return samples_ ? m / static_cast<double>(samples_) : 0.0;
}

double SpikingEval::energy_pj(size_t b, const EnergyCosts& e) const {
  return sops_per_sample(b) * e.pj_per_sop + macs_per_sample(b) * e.pj_per_mac;
}

}  // namespace frugal::convert
