// The rewritten net run as an ANN (calibration and the reference the spiking run approaches).
// See include/frugal/convert/spiking_net.h.
#include <algorithm>

#include "frugal/autograd/ops.h"
#include "frugal/convert/spiking_net.h"
#include "frugal/core/error.h"

namespace frugal::convert {

namespace {

using autograd::Var;

Tensor global_avg_pool(const Tensor& x) {
  const int64_t planes = x.dim(0) * x.dim(1), area = x.numel() / planes;
  Tensor y = Tensor::empty({x.dim(0), x.dim(1), 1, 1});
  for (int64_t p = 0; p < planes; ++p) {
    double sum = 0;
    for (int64_t k = 0; k < area; ++k) sum += x[p * area + k];
    y[p] = static_cast<float>(sum / static_cast<double>(area));
  }
  return y;
}

Tensor pad2d(const Tensor& x, const std::vector<int64_t>& p) {
  const int64_t h = x.dim(2), w = x.dim(3), oh = h + p[0] + p[2], ow = w + p[1] + p[3];
  Tensor y(Shape{x.dim(0), x.dim(1), oh, ow});
  const int64_t planes = x.dim(0) * x.dim(1);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) y[(pl * oh + r + p[0]) * ow + c + p[1]] = x[(pl * h + r) * w + c];
  return y;
}

Tensor activate(const Layer& l, const Tensor& x, const NeuronHook& hook) {
  std::vector<float> ceiling(static_cast<size_t>(x.dim(1)), l.ceiling);
  if (hook) hook(l.site, x, ceiling);
  Tensor y = Tensor::empty(x.shape());
  // Sizes are read once: Tensor::dim formats its error message on every call. All threads take
  // part, as in the conv before it, so that none falls asleep between the two.
  const int64_t channels = x.dim(1), planes = x.dim(0) * channels, plane = x.numel() / planes;
  const float* in = x.data();
  float* out = y.data();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float hi = ceiling[p % channels];
    for (int64_t k = p * plane; k < (p + 1) * plane; ++k) out[k] = std::clamp(in[k], 0.0f, hi);
  }
  return y;
}

}  // namespace

Tensor apply_layer(const Layer& l, const std::vector<Tensor>& v) {
  const Tensor& x = v[l.inputs[0]];
  switch (l.kind) {
    case LayerKind::Conv:
      require(x.rank() == 4, l.name + ": conv expects [N, C, H, W], got " + shape_str(x.shape()));
      return autograd::conv2d(Var(x), Var(l.weight), Var(l.bias), {l.stride, l.pad, l.groups}).value();
    case LayerKind::Linear:
      require(x.rank() == 2, l.name + ": fully connected layer expects [N, features], got " + shape_str(x.shape()));
      return autograd::linear(Var(x), Var(l.weight), Var(l.bias)).value();
    case LayerKind::MaxPool: return autograd::max_pool2d(Var(x), l.kernel, l.stride, l.pad).value();
    case LayerKind::AvgPool: return autograd::avg_pool2d(Var(x), l.kernel, l.stride, l.pad).value();
    case LayerKind::GlobalAvgPool: return global_avg_pool(x);
    case LayerKind::Reshape: {
      Shape s = l.sample_shape;
      s.insert(s.begin(), x.dim(0));
      return x.reshape(s);
    }
    case LayerKind::Add:
      require(x.shape() == v[l.inputs[1]].shape(), l.name + ": add of " + shape_str(x.shape()) + " and " +
                                                       shape_str(v[l.inputs[1]].shape()) + " (no broadcasting)");
      return autograd::add(Var(x), Var(v[l.inputs[1]])).value();
    case LayerKind::Concat: {
      std::vector<Var> xs;
      for (int in : l.inputs) xs.emplace_back(v[in]);
      return autograd::concat(xs, l.axis < 0 ? l.axis + x.rank() : l.axis).value();
    }
    case LayerKind::Pad: return pad2d(x, l.pads);
    case LayerKind::Neuron: break;
  }
  throw Error(l.name + ": not an analog layer");
}

Tensor forward_ann(const SpikingNet& net, const Tensor& x, const NeuronHook& hook, AnnCount* count) {
  Shape want = net.sample_shape;
  want.insert(want.begin(), x.rank() > 0 ? x.dim(0) : 0);
  require(x.shape() == want, net.path + ": input must be [N" + shape_str(net.sample_shape).replace(0, 1, ", ") +
                                 ", got " + shape_str(x.shape()));
  autograd::NoGradGuard no_grad;
  std::vector<Tensor> v(static_cast<size_t>(net.num_values));
  v[0] = x;
  for (const Layer& l : net.layers) {
    v[l.output] = l.kind == LayerKind::Neuron ? activate(l, v[l.inputs[0]], hook) : apply_layer(l, v);
    if (count && (l.kind == LayerKind::Conv || l.kind == LayerKind::Linear))
      count->macs +=
          static_cast<double>(v[l.output].numel() / x.dim(0)) * static_cast<double>(l.weight.numel() / l.weight.dim(0));
  }
  return v[net.output];
}

}  // namespace frugal::convert
