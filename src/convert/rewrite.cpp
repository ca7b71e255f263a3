// ONNX graph -> SpikingNet: one pass over the nodes in topological order. Attributes were
// already checked by nn::OnnxGraphRunner's planner, which also evaluates the integer shape chains
// that feed Reshape (on a truncated copy of the graph). See include/frugal/convert/spiking_net.h.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "frugal/convert/spiking_net.h"
#include "frugal/core/error.h"
#include "frugal/nn/onnx_graph.h"

namespace frugal::convert {

const char* layer_kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::Conv: return "conv";
    case LayerKind::Linear: return "linear";
    case LayerKind::Neuron: return "if_neuron";
    case LayerKind::MaxPool: return "max_pool";
    case LayerKind::AvgPool: return "avg_pool";
    case LayerKind::GlobalAvgPool: return "global_avg_pool";
    case LayerKind::Reshape: return "reshape";
    case LayerKind::Add: return "add";
    case LayerKind::Concat: return "concat";
    case LayerKind::Pad: return "pad";
  }
  return "?";
}

namespace {

class Rewriter {
 public:
  explicit Rewriter(const io::OnnxGraph& g) : g_(g) {
    for (const auto& n : g_.nodes)
      for (const auto& in : n.inputs) ++uses_[in];
    for (const auto& v : g_.outputs) ++uses_[v.name];
  }

  SpikingNet run() {
    // The planner rejects unsupported ops and attributes with the node's name before we start.
    nn::OnnxGraphRunner checked(g_);
    const io::OnnxValueInfo& in = g_.inputs[0];
    require(in.shape.size() >= 2,
            g_.path + ": input '" + in.name + "' must declare its shape [N, ...], got " + shape_str(in.shape));
    net_.path = g_.path;
    net_.sample_shape.assign(in.shape.begin() + 1, in.shape.end());
    for (int64_t d : net_.sample_shape)
      require(d > 0, g_.path + ": input '" + in.name + "' " + shape_str(in.shape) +
                         ": dimensions after the batch must be fixed");
    value_of_[in.name] = 0;
    producer_.push_back(-1);
    for (node_ = 0; node_ < g_.nodes.size(); ++node_) rewrite(g_.nodes[node_]);
    const std::string& out = g_.outputs[0].name;
    require(value_of_.count(out), g_.path + ": graph output '" + out + "' is not a computed float tensor");
    net_.output = value_of_.at(out);
    return std::move(net_);
  }

 private:
  const io::OnnxNode& node() const { return g_.nodes[node_]; }
  [[noreturn]] void fail(const std::string& msg) const { throw Error(g_.path + ": " + node().label() + ": " + msg); }
  void check(bool ok, const std::string& msg) const {
    if (!ok) fail(msg);
  }

  bool has_input(size_t k) const { return k < node().inputs.size() && !node().inputs[k].empty(); }

  int value(size_t k) const {
    check(has_input(k), "missing input " + std::to_string(k));
    auto it = value_of_.find(node().inputs[k]);
    check(it != value_of_.end(), "input '" + node().inputs[k] + "' must be a computed float tensor (conversion " +
                                     "supports constants only as weights, biases and shapes)");
    return it->second;
  }

  const Tensor* constant(size_t k) const {
    if (!has_input(k)) return nullptr;
    auto it = g_.initializers.find(node().inputs[k]);
    return it == g_.initializers.end() ? nullptr : &it->second;
  }

  const Tensor& required_constant(size_t k, const std::string& what) const {
    const Tensor* t = constant(k);
    check(t != nullptr, what + (has_input(k) ? " '" + node().inputs[k] + "'" : std::string()) +
                            " must be an initializer (missing initializer)");
    return *t;
  }

  bool is_int(const std::string& name) const { return int_values_.count(name) || g_.int_initializers.count(name); }

  Layer& add(LayerKind kind, std::vector<int> inputs) {
    Layer l;
    l.kind = kind;
    l.name = node().name;
    l.inputs = std::move(inputs);
    l.output = net_.num_values++;
    producer_.push_back(static_cast<int>(net_.layers.size()));
    value_of_[node().outputs[0]] = l.output;
    net_.layers.push_back(std::move(l));
    return net_.layers.back();
  }

  void alias(int v) { value_of_[node().outputs[0]] = v; }

  // The Conv or Linear layer whose output only this node's input k consumes, or null.
  Layer* sole_synaptic_producer(size_t k) {
    const int p = producer_[value(k)];
    if (p < 0 || uses_[node().inputs[k]] != 1) return nullptr;
    Layer& l = net_.layers[p];
    return l.kind == LayerKind::Conv || l.kind == LayerKind::Linear ? &l : nullptr;
  }

  void rewrite(const io::OnnxNode& n) {
    const std::string& op = n.op_type;
    if (op == "Shape" || op == "Gather" || op == "Unsqueeze" || (op == "Concat" && is_int(n.inputs[0]))) {
      for (const auto& in : n.inputs)
        check(in.empty() || !value_of_.count(in) || op == "Shape",
              "integer op on a float tensor is not supported in conversion");
      int_values_.insert(n.outputs[0]);
      return;
    }
    if (op == "Conv")
      conv();
    else if (op == "Gemm")
      gemm();
    else if (op == "MatMul")
      matmul();
    else if (op == "BatchNormalization")
      batchnorm();
    else if (op == "Relu")
      neuron(std::numeric_limits<float>::infinity());
    else if (op == "Clip")
      clip();
    else if (op == "MaxPool")
      max_pool();
    else if (op == "AveragePool")
      pool(LayerKind::AvgPool);
    else if (op == "GlobalAveragePool")
      add(LayerKind::GlobalAvgPool, {value(0)});
    else if (op == "Flatten" || op == "Reshape")
      reshape();
    else if (op == "Add")
      add_node();
    else if (op == "Concat")
      concat();
    else if (op == "Identity" || op == "Dropout")
      alias(value(0));
    else if (op == "Pad")
      pad();
    else
      fail("unsupported op " + op + " in conversion");
  }

  void conv() {
    const Tensor& w = required_constant(1, "weight");
    check(w.rank() == 4 && w.dim(2) == w.dim(3), "weight " + shape_str(w.shape()) + " must be [O, C, K, K]");
    Layer& l = add(LayerKind::Conv, {value(0)});
    l.weight = w.clone();
    l.bias = has_input(2) ? required_constant(2, "bias").clone().reshape({w.dim(0)}) : Tensor(Shape{w.dim(0)});
    l.kernel = static_cast<int>(w.dim(2));
    l.stride = static_cast<int>(node().attr_ints("strides", {1, 1})[0]);
    l.pad =
        node().attr_string("auto_pad", "NOTSET") == "VALID" ? 0 : static_cast<int>(node().attr_ints("pads", {0})[0]);
    l.groups = static_cast<int>(node().attr_int("group", 1));
  }

  void gemm() {
    const Tensor& b = required_constant(1, "B");
    const bool trans = node().attr_int("transB", 0) != 0;
    const int64_t out = trans ? b.dim(0) : b.dim(1), in = trans ? b.dim(1) : b.dim(0);
    const float alpha = node().attr_float("alpha", 1.0f), beta = node().attr_float("beta", 1.0f);
    Layer& l = add(LayerKind::Linear, {value(0)});
    l.weight = Tensor::empty({out, in});
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) l.weight[o * in + i] = alpha * (trans ? b[o * in + i] : b[i * out + o]);
    l.bias = Tensor(Shape{out});
    if (const Tensor* c = constant(2)) {
      check(c->numel() == out || c->numel() == 1,
            "C " + shape_str(c->shape()) + " must hold 1 or " + std::to_string(out) + " values");
      for (int64_t o = 0; o < out; ++o) l.bias[o] = beta * (*c)[c->numel() == 1 ? 0 : o];
    } else {
      check(!has_input(2), "C must be an initializer");
    }
  }

  void matmul() {
    const Tensor& b = required_constant(1, "B (conversion needs a constant weight)");
    check(b.rank() == 2, "B must be 2-D, got " + shape_str(b.shape()));
    const int64_t in = b.dim(0), out = b.dim(1);
    Layer& l = add(LayerKind::Linear, {value(0)});
    l.weight = Tensor::empty({out, in});
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) l.weight[o * in + i] = b[i * out + o];
    l.bias = Tensor(Shape{out});
  }

  void batchnorm() {
    const Tensor& gamma = required_constant(1, "scale");
    const Tensor& beta = required_constant(2, "B");
    const Tensor& mean = required_constant(3, "input_mean");
    const Tensor& var = required_constant(4, "input_var");
    const float eps = node().attr_float("epsilon", 1e-5f);
    const int64_t c = gamma.numel();
    std::vector<float> scale(c), shift(c);
    for (int64_t k = 0; k < c; ++k) {
      scale[k] = gamma[k] / std::sqrt(var[k] + eps);
      shift[k] = beta[k] - mean[k] * scale[k];
    }
    if (Layer* p = sole_synaptic_producer(0)) {
      // BN(W x + b) = (scale W) x + (scale b + shift), per output channel.
      const int64_t out = p->weight.dim(0), per_out = p->weight.numel() / out;
      check(out == c, "has " + std::to_string(c) + " channels but the layer before has " + std::to_string(out));
      for (int64_t o = 0; o < out; ++o) {
        for (int64_t k = 0; k < per_out; ++k) p->weight[o * per_out + k] *= scale[o];
        p->bias[o] = p->bias[o] * scale[o] + shift[o];
      }
      alias(p->output);
      return;
    }
    // Not after a conv: a depthwise 1x1 convolution computes the same per-channel affine map.
    Layer& l = add(LayerKind::Conv, {value(0)});
    l.weight = Tensor(Shape{c, 1, 1, 1}, scale);
    l.bias = Tensor(Shape{c}, shift);
    l.kernel = 1;
    l.groups = static_cast<int>(c);
  }

  void neuron(float ceiling) {
    Layer& l = add(LayerKind::Neuron, {value(0)});
    l.ceiling = ceiling;
    l.site = net_.num_sites++;
  }

  void clip() {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (g_.opset < 11) {
      lo = node().attr_float("min", lo);
      hi = node().attr_float("max", hi);
    } else {
      if (has_input(1)) lo = required_constant(1, "min")[0];
      if (has_input(2)) hi = required_constant(2, "max")[0];
    }
    const int p = producer_[value(0)];
    if (p >= 0 && net_.layers[p].kind == LayerKind::Neuron && uses_[node().inputs[0]] == 1 && lo <= 0.0f && hi > 0.0f) {
      // Relu then Clip(max=6), as PyTorch writes ReLU6 at opset 9: one neuron with a ceiling.
      net_.layers[p].ceiling = std::min(net_.layers[p].ceiling, hi);
      alias(net_.layers[p].output);
      return;
    }
    check(lo == 0.0f && hi > 0.0f, "Clip(" + std::to_string(lo) + ", " + std::to_string(hi) +
                                       ") cannot become an IF neuron (min must be 0 and max positive)");
    neuron(hi);
  }

  void set_window(Layer& l) {
    l.kernel = static_cast<int>(node().attr_ints("kernel_shape", {1})[0]);
    l.stride = static_cast<int>(node().attr_ints("strides", {1, 1})[0]);
    l.pad =
        node().attr_string("auto_pad", "NOTSET") == "VALID" ? 0 : static_cast<int>(node().attr_ints("pads", {0})[0]);
    check(node().attr_int("ceil_mode", 0) == 0, "ceil_mode=1 is not supported in conversion");
  }

  void pool(LayerKind kind) { set_window(add(kind, {value(0)})); }

  void max_pool() {
    const int v = value(0);
    const int p = producer_[v];
    if (p < 0 || net_.layers[p].kind != LayerKind::Neuron) {
      pool(LayerKind::MaxPool);
      return;
    }
    check(uses_[node().inputs[0]] == 1, "max-pools a ReLU output that is also used elsewhere; the pool cannot " +
                                            std::string("move before the neuron"));
    // neuron(a) -> b, maxpool(b) -> c  becomes  maxpool(a) -> b, neuron(b) -> c.
    Layer moved = net_.layers[p];
    Layer& pl = net_.layers[p];
    pl.kind = LayerKind::MaxPool;
    pl.name = node().name;
    pl.site = -1;
    pl.ceiling = std::numeric_limits<float>::infinity();
    set_window(pl);
    moved.inputs = {pl.output};
    moved.output = net_.num_values++;
    producer_.push_back(static_cast<int>(net_.layers.size()));
    value_of_[node().outputs[0]] = moved.output;
    net_.layers.push_back(std::move(moved));
  }

  // Per-sample shape of this node's output, from running the graph up to it at batch 1 and 2.
  Shape output_sample_shape() const {
    io::OnnxGraph prefix;
    prefix.path = g_.path;
    prefix.opset = g_.opset;
    prefix.inputs = g_.inputs;
    prefix.initializers = g_.initializers;
    prefix.int_initializers = g_.int_initializers;
    prefix.nodes.assign(g_.nodes.begin(), g_.nodes.begin() + static_cast<std::ptrdiff_t>(node_) + 1);
    prefix.outputs = {{node().outputs[0], {}}};
    nn::OnnxGraphRunner runner(std::move(prefix));
    Shape one = net_.sample_shape, two = net_.sample_shape;
    one.insert(one.begin(), 1);
    two.insert(two.begin(), 2);
    const Shape a = runner.run(Tensor(one)).shape(), b = runner.run(Tensor(two)).shape();
    check(a.size() >= 1 && b.size() == a.size() && a[0] == 1 && b[0] == 2,
          "must keep the batch as its first axis (conversion runs batches), gives " + shape_str(a) + " at batch 1");
    return Shape(a.begin() + 1, a.end());
  }

  void reshape() {
    Layer& l = add(LayerKind::Reshape, {value(0)});
    l.sample_shape = output_sample_shape();
  }

  void add_node() {
    const Tensor* c = constant(1) ? constant(1) : constant(0);
    if (c == nullptr) {
      add(LayerKind::Add, {value(0), value(1)});
      return;
    }
    // MatMul + Add(bias), as older exporters write a Linear, folds into the layer's bias.
    Layer* p = sole_synaptic_producer(constant(1) ? 0 : 1);
    check(p != nullptr && c->numel() == p->bias.numel(),
          "adds a constant that is not the bias of the Conv/Gemm/MatMul before it");
    for (int64_t o = 0; o < c->numel(); ++o) p->bias[o] += (*c)[o];
    alias(p->output);
  }

  void concat() {
    std::vector<int> ins;
    for (size_t k = 0; k < node().inputs.size(); ++k) ins.push_back(value(k));
    Layer& l = add(LayerKind::Concat, std::move(ins));
    l.axis = static_cast<int>(node().attr_int("axis", 1));
    check(l.axis != 0, "concatenates along the batch axis");
  }

  void pad() {
    std::vector<int64_t> p = g_.opset < 11 ? node().attr_ints("pads", {}) : std::vector<int64_t>{};
    if (g_.opset >= 11) {
      auto it = g_.int_initializers.find(node().inputs[1]);
      check(it != g_.int_initializers.end(), "pads must be an integer initializer");
      p = it->second.values;
    }
    check(p.size() == 8, "pads must have 8 values (4-D input)");
    Layer& l = add(LayerKind::Pad, {value(0)});
    l.pads = {p[2], p[3], p[6], p[7]};
  }

  const io::OnnxGraph& g_;
  SpikingNet net_;
  size_t node_ = 0;
  std::map<std::string, int> uses_;
  std::map<std::string, int> value_of_;
  std::set<std::string> int_values_;
  std::vector<int> producer_;  // per value: the layer that writes it, -1 for the input
};

}  // namespace

SpikingNet rewrite_onnx(const io::OnnxGraph& graph) { return Rewriter(graph).run(); }

}  // namespace frugal::convert
