// ONNX graph runner: each node is planned once (attributes checked, Gemm/MatMul weights put in
// frugal's [out, in] layout), then runs evaluate float tensors on autograd ops and shape tensors
// on exact integers. See include/frugal/nn/onnx_graph.h.
#include "frugal/nn/onnx_graph.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"

namespace frugal::nn {

using autograd::Var;

enum class OnnxOp {
  Conv, Gemm, MatMul, Relu, Clip, BatchNorm, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Add,
  Concat, Identity, Pad, ShapeOf, Gather, Unsqueeze
};

struct OnnxNodePlan {
  size_t node = 0;  // index into graph_.nodes (an index, so moving the runner keeps plans valid)
  OnnxOp op = OnnxOp::Identity;
  int kernel = 0, stride = 1, pad = 0, groups = 1;  // Conv and pooling: square windows, symmetric pads
  bool ceil_mode = false;
  bool allow_zero = false;  // Reshape: a 0 in the target shape means 0, not "copy this dimension"
  int64_t axis = 0;  // Flatten, Concat, Gather
  int64_t start = 0, end = std::numeric_limits<int64_t>::max();  // Shape (opset 15 slice)
  std::vector<int64_t> ints;  // Unsqueeze axes; Pad [top, left, bottom, right]
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();  // Clip
  float eps = 1e-5f;  // BatchNormalization
  Var weight, bias;  // Gemm/MatMul [out, in] weight and bias; BatchNormalization scale and shift
  Tensor mean, var;  // BatchNormalization running statistics
};

namespace {

// A value flowing through the graph: a float tensor, or an integer tensor from the shape ops.
struct Value {
  bool is_int = false;
  Tensor f;
  io::OnnxInts i;
};

Tensor transpose2d(const Tensor& t) {
  const int64_t rows = t.dim(0), cols = t.dim(1);
  Tensor out = Tensor::empty({cols, rows});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = t[r * cols + c];
  return out;
}

Tensor scaled(const Tensor& t, float s) {
  Tensor out = t.clone();
  if (s != 1.0f)
    for (int64_t k = 0; k < out.numel(); ++k) out[k] *= s;
  return out;
}

// numpy broadcasting of two shapes (ONNX's multidirectional broadcasting).
Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    const int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    const int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    require(da == db || da == 1 || db == 1, "shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[k] = da == 1 ? db : da;
  }
  return out;
}

// Copies t into the larger shape `to`, repeating it along its size-1 and missing leading axes.
Tensor expand(const Tensor& t, const Shape& to) {
  if (t.shape() == to) return t;
  const int r = static_cast<int>(to.size());
  const int lead = r - t.rank();
  std::vector<int64_t> step(r, 0);  // source stride per output axis; 0 where t repeats
  int64_t s = 1;
  for (int k = r - 1; k >= lead; --k) {
    const int64_t d = t.shape()[k - lead];
    step[k] = d == 1 ? 0 : s;
    s *= d;
  }
  Tensor out = Tensor::empty(to);
  std::vector<int64_t> idx(r, 0);
  int64_t src = 0;
  for (int64_t n = 0; n < out.numel(); ++n) {
    out[n] = t[src];
    for (int k = r - 1; k >= 0; --k) {
      if (++idx[k] < to[k]) {
        src += step[k];
        break;
      }
      src -= step[k] * (to[k] - 1);
      idx[k] = 0;
    }
  }
  return out;
}

// Output length of a pooling window along one axis, checking that ceil_mode would not change it
// (frugal's pooling ops round down, as ONNX does by default).
void check_ceil_mode(int64_t in, const OnnxNodePlan& p) {
  const int64_t span = in + 2 * p.pad - p.kernel;
  if (!p.ceil_mode || span < 0) return;
  int64_t floor_out = span / p.stride + 1;
  int64_t ceil_out = (span + p.stride - 1) / p.stride + 1;
  if ((ceil_out - 1) * p.stride >= in + p.pad) --ceil_out;  // the last window must start inside the input
  require(ceil_out == floor_out, "ceil_mode=1 gives a different output size for input size " + std::to_string(in) +
                                     " (only floor rounding is supported)");
}

class Planner {
 public:
  Planner(const io::OnnxGraph& g, size_t index, const std::set<std::string>& consumed)
      : g_(g), n_(g.nodes[index]), consumed_(consumed) {
    plan_.node = index;
  }

  OnnxNodePlan plan() {
    const std::string& op = n_.op_type;
    if (!n_.domain.empty()) fail_unsupported(n_.domain + "." + op);
    if (op == "Conv") conv();
    else if (op == "Gemm") gemm();
    else if (op == "MatMul") matmul();
    else if (op == "Relu") plan_.op = OnnxOp::Relu;
    else if (op == "Clip") clip();
    else if (op == "BatchNormalization") batchnorm();
    else if (op == "MaxPool" || op == "AveragePool") pool();
    else if (op == "GlobalAveragePool") plan_.op = OnnxOp::GlobalAveragePool;
    else if (op == "Flatten") flatten();
    else if (op == "Reshape") reshape();
    else if (op == "Add") plan_.op = OnnxOp::Add;
    else if (op == "Concat") concat();
    else if (op == "Identity") plan_.op = OnnxOp::Identity;
    else if (op == "Dropout") dropout();
    else if (op == "Pad") pad();
    else if (op == "Shape") shape();
    else if (op == "Gather") gather();
    else if (op == "Unsqueeze") unsqueeze();
    else fail_unsupported(op);
    check(!n_.outputs.empty() && !n_.outputs[0].empty(), "has no output");
    for (size_t k = 1; k < n_.outputs.size(); ++k)
      check(n_.outputs[k].empty() || !consumed_.count(n_.outputs[k]),
            "output " + std::to_string(k) + " ('" + n_.outputs[k] + "') is used, but only the first output is supported");
    return plan_;
  }

 private:
  [[noreturn]] void fail_unsupported(const std::string& op) const {
    throw Error(g_.path + ": node '" + n_.name + "': unsupported op " + op);
  }
  void check(bool ok, const std::string& msg) const { require(ok, g_.path + ": " + n_.label() + ": " + msg); }

  bool has_input(size_t k) const { return k < n_.inputs.size() && !n_.inputs[k].empty(); }

  const Tensor& float_constant(size_t k, const std::string& what) const {
    check(has_input(k), "missing input " + std::to_string(k) + " (" + what + ")");
    auto it = g_.initializers.find(n_.inputs[k]);
    check(it != g_.initializers.end(), what + " '" + n_.inputs[k] + "' must be a float initializer or Constant");
    return it->second;
  }

  const io::OnnxInts& int_constant(size_t k, const std::string& what) const {
    check(has_input(k), "missing input " + std::to_string(k) + " (" + what + ")");
    auto it = g_.int_initializers.find(n_.inputs[k]);
    check(it != g_.int_initializers.end(), what + " '" + n_.inputs[k] + "' must be an integer initializer or Constant");
    return it->second;
  }

  // A 2-D attribute with equal entries (frugal's conv and pooling ops take one value for both axes).
  int square(const std::string& key, int64_t fallback) const {
    const std::vector<int64_t> v = n_.attr_ints(key, {fallback, fallback});
    check(v.size() == 2, key + " must have 2 entries (2-D only), got " + std::to_string(v.size()));
    check(v[0] == v[1] && v[0] > 0 && v[0] < (1 << 20),
          key + " [" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "] must be equal and positive");
    return static_cast<int>(v[0]);
  }

  void window() {
    const std::string auto_pad = n_.attr_string("auto_pad", "NOTSET");
    check(auto_pad == "NOTSET" || auto_pad == "VALID", "auto_pad " + auto_pad + " is not supported (NOTSET or VALID)");
    plan_.stride = square("strides", 1);
    check(square("dilations", 1) == 1, "dilations other than 1 are not supported");
    const std::vector<int64_t> pads = n_.attr_ints("pads", {0, 0, 0, 0});
    check(pads.size() == 4, "pads must have 4 entries (2-D only)");
    check(std::all_of(pads.begin(), pads.end(), [&](int64_t v) { return v == pads[0]; }) && pads[0] >= 0 &&
              pads[0] < (1 << 20),
          "pads must be equal on all sides");
    plan_.pad = auto_pad == "VALID" ? 0 : static_cast<int>(pads[0]);
  }

  void conv() {
    plan_.op = OnnxOp::Conv;
    window();
    const int64_t group = n_.attr_int("group", 1);
    check(group > 0 && group < (1 << 20), "group must be positive");
    plan_.groups = static_cast<int>(group);
    if (auto it = g_.initializers.find(n_.inputs.size() > 1 ? n_.inputs[1] : ""); it != g_.initializers.end())
      check(it->second.rank() == 4, "weight " + shape_str(it->second.shape()) + ": only 2-D convolution is supported");
  }

  void pool() {
    plan_.op = n_.op_type == "MaxPool" ? OnnxOp::MaxPool : OnnxOp::AveragePool;
    check(n_.ints.count("kernel_shape"), "missing kernel_shape");
    plan_.kernel = square("kernel_shape", 1);
    window();
    plan_.ceil_mode = n_.attr_int("ceil_mode", 0) != 0;
    if (plan_.op == OnnxOp::AveragePool)
      check(plan_.pad == 0 || n_.attr_int("count_include_pad", 0) == 1,
            "padding with count_include_pad=0 is not supported (frugal's average pooling counts the padding)");
  }

  void gemm() {
    plan_.op = OnnxOp::Gemm;
    check(n_.attr_int("transA", 0) == 0, "transA=1 is not supported");
    const Tensor& b = float_constant(1, "B");
    check(b.rank() == 2, "B must be 2-D, got " + shape_str(b.shape()));
    const Tensor w = n_.attr_int("transB", 0) != 0 ? b : transpose2d(b);
    plan_.weight = Var(scaled(w, n_.attr_float("alpha", 1.0f)));
    if (has_input(2)) {
      const Tensor& c = float_constant(2, "C");
      check(c.numel() == w.dim(0), "C " + shape_str(c.shape()) + " must hold one value per output (" +
                                       std::to_string(w.dim(0)) + ")");
      plan_.bias = Var(scaled(c, n_.attr_float("beta", 1.0f)).reshape({w.dim(0)}));
    }
  }

  void matmul() {
    plan_.op = OnnxOp::MatMul;
    auto it = g_.initializers.find(n_.inputs.size() > 1 ? n_.inputs[1] : "");
    if (it == g_.initializers.end()) return;  // both operands computed: a plain 2-D matmul at run time
    check(it->second.rank() == 2, "constant B must be 2-D, got " + shape_str(it->second.shape()));
    plan_.weight = Var(transpose2d(it->second));
  }

  float scalar(size_t k, const std::string& what, float fallback) const {
    if (!has_input(k)) return fallback;
    const Tensor& t = float_constant(k, what);
    check(t.numel() == 1, what + " must be a scalar, got " + shape_str(t.shape()));
    return t[0];
  }

  void clip() {
    plan_.op = OnnxOp::Clip;
    if (g_.opset < 11) {  // bounds were attributes before opset 11, inputs after
      plan_.lo = n_.attr_float("min", plan_.lo);
      plan_.hi = n_.attr_float("max", plan_.hi);
    } else {
      plan_.lo = scalar(1, "min", plan_.lo);
      plan_.hi = scalar(2, "max", plan_.hi);
    }
  }

  void batchnorm() {
    plan_.op = OnnxOp::BatchNorm;
    check(n_.attr_int("training_mode", 0) == 0, "training_mode=1 is not supported (inference only)");
    const Tensor& gamma = float_constant(1, "scale");
    const int64_t c = gamma.numel();
    const char* names[] = {"scale", "B", "input_mean", "input_var"};
    for (size_t k = 2; k <= 4; ++k)
      check(float_constant(k, names[k - 1]).numel() == c, std::string(names[k - 1]) + " must have " +
                                                              std::to_string(c) + " values like scale");
    plan_.weight = Var(gamma.reshape({c}));
    plan_.bias = Var(float_constant(2, "B").reshape({c}));
    plan_.mean = float_constant(3, "input_mean").clone().reshape({c});
    plan_.var = float_constant(4, "input_var").clone().reshape({c});
    plan_.eps = n_.attr_float("epsilon", 1e-5f);
  }

  void flatten() {
    plan_.op = OnnxOp::Flatten;
    plan_.axis = n_.attr_int("axis", 1);
  }

  void reshape() {
    plan_.op = OnnxOp::Reshape;
    plan_.allow_zero = n_.attr_int("allowzero", 0) != 0;
  }

  void gather() {
    plan_.op = OnnxOp::Gather;
    plan_.axis = n_.attr_int("axis", 0);
  }

  void concat() {
    plan_.op = OnnxOp::Concat;
    check(n_.ints.count("axis"), "missing axis");
    plan_.axis = n_.attr_int("axis", 0);
  }

  void dropout() {
    plan_.op = OnnxOp::Identity;  // inference: Dropout passes its input through
    if (has_input(2)) {
      const io::OnnxInts& training = int_constant(2, "training_mode");
      check(training.values.size() == 1 && training.values[0] == 0, "training_mode=true is not supported");
    }
  }

  void pad() {
    plan_.op = OnnxOp::Pad;
    check(n_.attr_string("mode", "constant") == "constant", "mode " + n_.attr_string("mode", "") + " is not supported");
    std::vector<int64_t> pads;
    float value = 0;
    if (g_.opset < 11) {
      pads = n_.attr_ints("pads", {});
      value = n_.attr_float("value", 0.0f);
    } else {
      pads = int_constant(1, "pads").values;
      value = scalar(2, "constant_value", 0.0f);
      check(!has_input(3), "the axes input is not supported");
    }
    check(value == 0.0f, "only zero padding is supported");
    // pads = [x1_begin, x2_begin, x3_begin, x4_begin, x1_end, ...] for an [N, C, H, W] input.
    check(pads.size() == 8 && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 && pads[5] == 0,
          "only padding of H and W of a 4-D input is supported");
    check(std::all_of(pads.begin(), pads.end(), [](int64_t v) { return v >= 0 && v < (1 << 20); }),
          "pads must be non-negative");
    plan_.ints = {pads[2], pads[3], pads[6], pads[7]};
  }

  void shape() {
    plan_.op = OnnxOp::ShapeOf;
    plan_.start = n_.attr_int("start", 0);
    plan_.end = n_.attr_int("end", std::numeric_limits<int64_t>::max());
  }

  void unsqueeze() {
    plan_.op = OnnxOp::Unsqueeze;
    plan_.ints = g_.opset < 13 ? n_.attr_ints("axes", {}) : int_constant(1, "axes").values;
    check(!plan_.ints.empty(), "missing axes");
  }

  const io::OnnxGraph& g_;
  const io::OnnxNode& n_;
  const std::set<std::string>& consumed_;
  OnnxNodePlan plan_;
};

class Evaluator {
 public:
  Evaluator(const io::OnnxGraph& g, const OnnxNodePlan& p) : g_(g), p_(p), n_(g.nodes[p.node]) {}

  Value run(const std::map<std::string, Value>& values) {
    values_ = &values;
    switch (p_.op) {
      case OnnxOp::Conv: {
        const Tensor x = input(0);
        require(x.rank() == 4, "expects a 4-D input [N, C, H, W], got " + shape_str(x.shape()));
        const Tensor w = input(1);
        const Var b = has_input(2) ? Var(input(2)) : Var();
        return floats(autograd::conv2d(Var(x), Var(w), b, {p_.stride, p_.pad, p_.groups}).value());
      }
      case OnnxOp::Gemm: {
        const Tensor x = input(0);
        require(x.rank() == 2, "expects a 2-D input, got " + shape_str(x.shape()));
        return floats(autograd::linear(Var(x), p_.weight, p_.bias).value());
      }
      case OnnxOp::MatMul: {
        if (p_.weight.defined()) return floats(autograd::linear(Var(input(0)), p_.weight, Var()).value());
        return floats(autograd::matmul(Var(input(0)), Var(input(1))).value());
      }
      case OnnxOp::Relu: return floats(autograd::relu(Var(input(0))).value());
      case OnnxOp::Clip: return clip();
      case OnnxOp::BatchNorm: return batchnorm();
      case OnnxOp::MaxPool:
      case OnnxOp::AveragePool: return pool();
      case OnnxOp::GlobalAveragePool: return global_average_pool();
      case OnnxOp::Flatten: return flatten();
      case OnnxOp::Reshape: return reshape();
      case OnnxOp::Add: return add();
      case OnnxOp::Concat: return concat();
      case OnnxOp::Identity: return value(0);
      case OnnxOp::Pad: return pad();
      case OnnxOp::ShapeOf: return shape_of();
      case OnnxOp::Gather: return gather();
      case OnnxOp::Unsqueeze: return unsqueeze();
    }
    throw Error("unknown plan");
  }

 private:
  bool has_input(size_t k) const { return k < n_.inputs.size() && !n_.inputs[k].empty(); }

  Value value(size_t k) const {
    require(has_input(k), "missing input " + std::to_string(k));
    const std::string& name = n_.inputs[k];
    if (auto it = values_->find(name); it != values_->end()) return it->second;
    Value v;
    if (auto it = g_.initializers.find(name); it != g_.initializers.end()) {
      v.f = it->second;
      return v;
    }
    auto it = g_.int_initializers.find(name);
    require(it != g_.int_initializers.end(), "input '" + name + "' has no value");
    v.is_int = true;
    v.i = it->second;
    return v;
  }

  Tensor input(size_t k) const {
    Value v = value(k);
    require(!v.is_int, "input '" + n_.inputs[k] + "' is an integer tensor; a float tensor is expected");
    return v.f;
  }

  io::OnnxInts int_input(size_t k) const {
    Value v = value(k);
    require(v.is_int, "input '" + n_.inputs[k] + "' is a float tensor; an integer tensor is expected");
    return v.i;
  }

  static Value floats(Tensor t) {
    Value v;
    v.f = std::move(t);
    return v;
  }

  static Value ints(Shape shape, std::vector<int64_t> values) {
    Value v;
    v.is_int = true;
    v.i = {std::move(shape), std::move(values)};
    return v;
  }

  static int64_t normalize_axis(int64_t axis, int64_t rank) {
    require(axis >= -rank && axis < rank, "axis " + std::to_string(axis) + " is out of range for rank " +
                                              std::to_string(rank));
    return axis < 0 ? axis + rank : axis;
  }

  Value clip() const {
    const Tensor x = input(0);
    Tensor y = Tensor::empty(x.shape());
    for (int64_t k = 0; k < x.numel(); ++k) y[k] = std::min(std::max(x[k], p_.lo), p_.hi);
    return floats(y);
  }

  Value batchnorm() const {
    const Tensor x = input(0);
    require(x.rank() >= 2 && x.rank() <= 4, "expects [N, C], [N, C, L] or [N, C, H, W], got " + shape_str(x.shape()));
    // batchnorm2d takes [N, C] or [N, C, H, W]; [N, C, L] is the same per-channel map with W = 1.
    const Tensor x4 = x.rank() == 3 ? x.reshape({x.dim(0), x.dim(1), x.dim(2), 1}) : x;
    Tensor mean = p_.mean, var = p_.var;  // handles: inference mode leaves them unchanged
    const Var y = autograd::batchnorm2d(Var(x4), p_.weight, p_.bias, mean, var, false, 0.1f, p_.eps);
    return floats(y.value().reshape(x.shape()));
  }

  Value pool() const {
    const Tensor x = input(0);
    require(x.rank() == 4, "expects a 4-D input [N, C, H, W], got " + shape_str(x.shape()));
    check_ceil_mode(x.dim(2), p_);
    check_ceil_mode(x.dim(3), p_);
    const Var y = p_.op == OnnxOp::MaxPool ? autograd::max_pool2d(Var(x), p_.kernel, p_.stride, p_.pad)
                                           : autograd::avg_pool2d(Var(x), p_.kernel, p_.stride, p_.pad);
    return floats(y.value());
  }

  Value global_average_pool() const {
    const Tensor x = input(0);
    require(x.rank() >= 3, "expects [N, C, spatial...], got " + shape_str(x.shape()));
    Shape out_shape = {x.dim(0), x.dim(1)};
    out_shape.resize(x.shape().size(), 1);
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t area = x.numel() / std::max<int64_t>(planes, 1);
    require(area > 0, "empty spatial extent in " + shape_str(x.shape()));
    Tensor y = Tensor::empty(out_shape);
    for (int64_t pl = 0; pl < planes; ++pl) {
      double sum = 0;
      for (int64_t k = 0; k < area; ++k) sum += x[pl * area + k];
      y[pl] = static_cast<float>(sum / static_cast<double>(area));
    }
    return floats(y);
  }

  Value flatten() const {
    const Tensor x = input(0);
    int64_t axis = p_.axis < 0 ? p_.axis + x.rank() : p_.axis;
    require(axis >= 0 && axis <= x.rank(), "axis " + std::to_string(p_.axis) + " is out of range for " +
                                               shape_str(x.shape()));
    int64_t outer = 1;
    for (int64_t k = 0; k < axis; ++k) outer *= x.dim(static_cast<int>(k));
    return floats(x.reshape({outer, x.numel() / std::max<int64_t>(outer, 1)}));
  }

  Value reshape() const {
    const Tensor x = input(0);
    const io::OnnxInts target = int_input(1);
    require(target.shape.size() == 1, "shape input must be 1-D, got " + shape_str(target.shape));
    Shape out = target.values;
    int infer = -1;
    int64_t known = 1;
    for (size_t k = 0; k < out.size(); ++k) {
      if (out[k] == 0 && !p_.allow_zero) {
        require(k < x.shape().size(), "shape " + shape_str(target.values) + " copies dimension " + std::to_string(k) +
                                          " that input " + shape_str(x.shape()) + " lacks");
        out[k] = x.shape()[k];
      }
      if (out[k] == -1) {
        require(infer < 0, "shape " + shape_str(target.values) + " has more than one -1");
        infer = static_cast<int>(k);
        continue;
      }
      require(out[k] >= 0, "shape " + shape_str(target.values) + " has a negative dimension");
      known *= out[k];
    }
    if (infer >= 0) {
      require(known > 0 && x.numel() % known == 0,
              "cannot reshape " + shape_str(x.shape()) + " to " + shape_str(target.values));
      out[infer] = x.numel() / known;
    }
    require(shape_numel(out) == x.numel(), "cannot reshape " + shape_str(x.shape()) + " to " + shape_str(target.values));
    return floats(x.reshape(out));
  }

  Value add() const {
    const Tensor a = input(0), b = input(1);
    if (a.shape() == b.shape()) return floats(autograd::add(Var(a), Var(b)).value());
    const Shape to = broadcast_shape(a.shape(), b.shape());
    return floats(autograd::add(Var(expand(a, to)), Var(expand(b, to))).value());
  }

  Value concat() const {
    const Value first = value(0);
    if (!first.is_int) {
      std::vector<Var> xs;
      for (size_t k = 0; k < n_.inputs.size(); ++k) xs.emplace_back(input(k));
      const int64_t axis = normalize_axis(p_.axis, first.f.rank());
      return floats(autograd::concat(xs, static_cast<int>(axis)).value());
    }
    normalize_axis(p_.axis, 1);
    std::vector<int64_t> out;
    for (size_t k = 0; k < n_.inputs.size(); ++k) {
      const io::OnnxInts part = int_input(k);
      require(part.shape.size() == 1, "integer concat expects 1-D inputs, got " + shape_str(part.shape));
      out.insert(out.end(), part.values.begin(), part.values.end());
    }
    const auto count = static_cast<int64_t>(out.size());
    return ints({count}, std::move(out));
  }

  Value pad() const {
    const Tensor x = input(0);
    require(x.rank() == 4, "expects a 4-D input [N, C, H, W], got " + shape_str(x.shape()));
    const int64_t top = p_.ints[0], left = p_.ints[1], bottom = p_.ints[2], right = p_.ints[3];
    if (top == 0 && left == 0 && bottom == 0 && right == 0) return floats(x);
    const int64_t h = x.dim(2), w = x.dim(3), oh = h + top + bottom, ow = w + left + right;
    Tensor y(Shape{x.dim(0), x.dim(1), oh, ow});
    for (int64_t pl = 0; pl < x.dim(0) * x.dim(1); ++pl)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t c = 0; c < w; ++c) y[(pl * oh + r + top) * ow + c + left] = x[(pl * h + r) * w + c];
    return floats(y);
  }

  Value shape_of() const {
    const Value v = value(0);
    const Shape& s = v.is_int ? v.i.shape : v.f.shape();
    const auto rank = static_cast<int64_t>(s.size());
    auto clamp = [rank](int64_t k) { return std::clamp(k < 0 ? k + rank : k, int64_t{0}, rank); };
    const int64_t start = clamp(p_.start), end = clamp(p_.end);
    std::vector<int64_t> dims(s.begin() + start, s.begin() + std::max(start, end));
    const auto count = static_cast<int64_t>(dims.size());
    return ints({count}, std::move(dims));
  }

  Value gather() const {
    const io::OnnxInts data = int_input(0);
    require(data.shape.size() == 1, "Gather is supported on 1-D integer data (shape values), got " +
                                        shape_str(data.shape));
    normalize_axis(p_.axis, 1);
    const io::OnnxInts idx = int_input(1);
    const auto size = static_cast<int64_t>(data.values.size());
    std::vector<int64_t> out;
    for (int64_t k : idx.values) {
      require(k >= -size && k < size, "index " + std::to_string(k) + " is out of range for " + std::to_string(size) +
                                          " values");
      out.push_back(data.values[k < 0 ? k + size : k]);
    }
    return ints(idx.shape, std::move(out));
  }

  Value unsqueeze() const {
    const Value v = value(0);
    const Shape& s = v.is_int ? v.i.shape : v.f.shape();
    const auto rank = static_cast<int64_t>(s.size() + p_.ints.size());
    std::vector<bool> inserted(rank, false);
    for (int64_t a : p_.ints) {
      const int64_t axis = normalize_axis(a, rank);
      require(!inserted[axis], "axis " + std::to_string(a) + " repeats");
      inserted[axis] = true;
    }
    Shape out;
    size_t next = 0;
    for (int64_t k = 0; k < rank; ++k) out.push_back(inserted[k] ? 1 : s[next++]);
    if (v.is_int) return ints(out, v.i.values);
    return floats(v.f.reshape(out));
  }

  const io::OnnxGraph& g_;
  const OnnxNodePlan& p_;
  const io::OnnxNode& n_;
  const std::map<std::string, Value>* values_ = nullptr;
};

}  // namespace

OnnxGraphRunner::OnnxGraphRunner(io::OnnxGraph graph) : graph_(std::move(graph)) {
  require(graph_.inputs.size() == 1, graph_.path + ": expected one graph input (besides initializers), got " +
                                         std::to_string(graph_.inputs.size()));
  require(graph_.outputs.size() == 1, graph_.path + ": expected one graph output, got " +
                                          std::to_string(graph_.outputs.size()));
  std::set<std::string> consumed;
  for (const auto& n : graph_.nodes) consumed.insert(n.inputs.begin(), n.inputs.end());
  for (const auto& v : graph_.outputs) consumed.insert(v.name);
  for (size_t k = 0; k < graph_.nodes.size(); ++k) plans_.push_back(Planner(graph_, k, consumed).plan());
}

OnnxGraphRunner::~OnnxGraphRunner() = default;
OnnxGraphRunner::OnnxGraphRunner(OnnxGraphRunner&&) noexcept = default;
OnnxGraphRunner& OnnxGraphRunner::operator=(OnnxGraphRunner&&) noexcept = default;

Tensor OnnxGraphRunner::run(const Tensor& input) const {
  const io::OnnxValueInfo& in = graph_.inputs[0];
  if (!in.shape.empty()) {
    bool ok = input.rank() == static_cast<int>(in.shape.size());
    for (size_t k = 0; ok && k < in.shape.size(); ++k) ok = in.shape[k] < 0 || in.shape[k] == input.shape()[k];
    require(ok, graph_.path + ": input '" + in.name + "' expects shape " + shape_str(in.shape) + " (-1: any), got " +
                    shape_str(input.shape()));
  }
  autograd::NoGradGuard no_grad;
  std::map<std::string, Value> values;
  values[in.name].f = input;
  for (const OnnxNodePlan& p : plans_) {
    const io::OnnxNode& n = graph_.nodes[p.node];
    try {
      values[n.outputs[0]] = Evaluator(graph_, p).run(values);
    } catch (const Error& e) {
      throw Error(graph_.path + ": " + n.label() + ": " + e.what());
    }
  }
  const std::string& out = graph_.outputs[0].name;
  auto it = values.find(out);
  if (it == values.end() && graph_.initializers.count(out)) return graph_.initializers.at(out);
  require(it != values.end() && !it->second.is_int, graph_.path + ": graph output '" + out + "' is not a float tensor");
  return it->second.f;
}

}  // namespace frugal::nn
