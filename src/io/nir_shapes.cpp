// Shape inference over a NIR graph: per-sample shapes (no batch or time axis) start from what the
// file stores (Input/Output shapes, Conv input_shape, Flatten input_type, per-neuron parameter
// shapes) and flow along edges until nothing changes, so cycles (recurrent edges) settle too.
// Output sizes follow nir/ir/utils.py (calculate_conv_output, calc_flatten_output).
#include <cmath>

#include "frugal/core/error.h"
#include "frugal/io/nir.h"

namespace frugal::io {

namespace {

Shape int_shape(const NirArray& a) {
  Shape s;
  for (double v : a.values) s.push_back(static_cast<int64_t>(v));
  return s;
}

// Entry i of a parameter given as one value for all axes or one per axis.
int64_t axis_value(const NirArray& a, size_t i) {
  return static_cast<int64_t>(a.values.size() == 1 ? a.values[0] : a.values[i]);
}

// Per-neuron parameter shape when some array has more than one element (else unknown: shared
// parameters fit any width).
Shape elementwise_shape(const NirNode& n) {
  for (const NirArray& a : n.arrays) {
    if (a.name == "input_type" || a.name == "output_type") continue;
    if (shape_numel(a.shape) > 1) return a.shape;
  }
  return {};
}

Shape conv_output(const NirNode& n, const Shape& in, const std::string& where) {
  const NirArray& w = n.get("weight", where);
  const size_t spatial = w.shape.size() - 2;
  require(in.size() == spatial + 1, where + ": input " + shape_str(in) + " must be [C" +
                                        (spatial == 2 ? ", H, W]" : ", L]"));
  const int64_t groups = static_cast<int64_t>(n.get("groups", where).values[0]);
  require(in[0] == w.shape[1] * groups, where + ": input has " + std::to_string(in[0]) + " channels, weight expects " +
                                            std::to_string(w.shape[1] * groups));
  const NirArray& stride = n.get("stride", where);
  const NirArray& pad = n.get("padding", where);
  const NirArray& dil = n.get("dilation", where);
  Shape out = {w.shape[0]};
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t s = axis_value(stride, i), p = axis_value(pad, i), d = axis_value(dil, i);
    require(s >= 1 && d >= 1 && p >= 0, where + ": stride and dilation must be >= 1, padding >= 0");
    const int64_t o = (in[i + 1] + 2 * p - d * (w.shape[i + 2] - 1) - 1) / s + 1;
    require(o >= 1, where + ": output would be empty for input " + shape_str(in));
    out.push_back(o);
  }
  return out;
}

Shape pool_output(const NirNode& n, const Shape& in, const std::string& where) {
  require(in.size() == 3, where + ": input " + shape_str(in) + " must be [C, H, W]");
  const NirArray& k = n.get("kernel_size", where);
  const NirArray& stride = n.get("stride", where);
  const NirArray& pad = n.get("padding", where);
  Shape out = {in[0]};
  for (size_t i = 0; i < 2; ++i) {
    const int64_t kk = axis_value(k, i), s = axis_value(stride, i), p = axis_value(pad, i);
    require(kk >= 1 && s >= 1 && p >= 0, where + ": kernel and stride must be >= 1, padding >= 0");
    const int64_t o = (in[i + 1] + 2 * p - kk) / s + 1;
    require(o >= 1, where + ": output would be empty for input " + shape_str(in));
    out.push_back(o);
  }
  return out;
}

Shape flatten_output(const NirNode& n, const Shape& in, const std::string& where) {
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t start = static_cast<int64_t>(n.get("start_dim", where).values.at(0));
  int64_t end = static_cast<int64_t>(n.get("end_dim", where).values.at(0));
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  require(start >= 0 && end < rank && start <= end,
          where + ": start_dim/end_dim out of range for input " + shape_str(in));
  Shape out(in.begin(), in.begin() + start);
  int64_t mid = 1;
  for (int64_t i = start; i <= end; ++i) mid *= in[static_cast<size_t>(i)];
  out.push_back(mid);
  out.insert(out.end(), in.begin() + end + 1, in.end());
  return out;
}

// Output shape from input shape for node types whose output depends on the input.
Shape output_from_input(const NirNode& n, const Shape& in, const std::string& where) {
  if (n.type == "Conv1d" || n.type == "Conv2d") return conv_output(n, in, where);
  if (n.type == "SumPool2d" || n.type == "AvgPool2d") return pool_output(n, in, where);
  if (n.type == "Flatten") return flatten_output(n, in, where);
  if (n.type == "Affine" || n.type == "Linear") return {n.get("weight", where).shape[0]};
  return in;  // Input, Output and the elementwise nodes
}

// What the node itself says about its shapes.
void local_shapes(NirNode& n, const std::string& where) {
  if (n.type == "NIRGraph") {
    infer_nir_shapes(n, where);
    const NirNode* in = nullptr;
    const NirNode* out = nullptr;
    for (const NirNode& c : n.nodes) {
      if (c.type == "Input") in = in ? nullptr : &c;
      if (c.type == "Output") out = out ? nullptr : &c;
    }
    require(in && out, where + ": a nested graph needs exactly one Input and one Output node");
    n.input_shape = in->output_shape;
    n.output_shape = out->input_shape;
    return;
  }
  if (n.type == "Input") {
    n.input_shape = int_shape(n.get("shape", where));
  } else if (n.type == "Output") {
    if (const NirArray* s = n.find("shape")) n.input_shape = int_shape(*s);
    else if (const NirArray* t = n.find("output_type")) n.input_shape = int_shape(*t);
  } else if (n.type == "Affine" || n.type == "Linear") {
    n.input_shape = {n.get("weight", where).shape[1]};
  } else if (n.type == "Conv1d" || n.type == "Conv2d") {
    if (const NirArray* s = n.find("input_shape")) {
      const NirArray& w = n.get("weight", where);
      const int64_t groups = static_cast<int64_t>(n.get("groups", where).values[0]);
      Shape in = {w.shape[1] * groups};
      for (double v : s->values) in.push_back(static_cast<int64_t>(v));
      n.input_shape = in;
    }
  } else if (n.type == "Flatten") {
    if (const NirArray* t = n.find("input_type")) n.input_shape = int_shape(*t);
  } else if (n.type != "SumPool2d" && n.type != "AvgPool2d") {
    n.input_shape = elementwise_shape(n);
  }
  if (!n.input_shape.empty()) n.output_shape = output_from_input(n, n.input_shape, where);
}

NirNode& node_named(NirNode& graph, const std::string& name) {
  for (NirNode& n : graph.nodes)
    if (n.name == name) return n;
  throw Error("no node '" + name + "'");  // unreachable after read checks; kept for hand-built graphs
}

}  // namespace

void infer_nir_shapes(NirNode& graph, const std::string& file) {
  for (NirNode& n : graph.nodes) local_shapes(n, file + ": node '" + n.name + "'");
  bool changed = true;
  while (changed) {
    changed = false;
    for (const auto& e : graph.edges) {
      NirNode& a = node_named(graph, e.first);
      NirNode& b = node_named(graph, e.second);
      const std::string where = file + ": node '" + b.name + "'";
      if (a.output_shape.empty()) continue;
      if (b.input_shape.empty()) {
        b.input_shape = a.output_shape;
        changed = true;
      } else {
        require(b.input_shape == a.output_shape, where + ": input shape " + shape_str(b.input_shape) + " but edge from '" +
                                                     a.name + "' brings " + shape_str(a.output_shape));
      }
      if (b.output_shape.empty()) {
        b.output_shape = output_from_input(b, b.input_shape, where);
        changed = true;
      }
    }
  }
  for (const NirNode& n : graph.nodes) {
    require(!n.input_shape.empty() && !n.output_shape.empty(),
            file + ": node '" + n.name + "': cannot infer its shape (no stored shape and no edge from a shaped node)");
    require(shape_numel(n.output_shape) <= (int64_t(1) << 28), file + ": node '" + n.name + "': output too large");
  }
}

}  // namespace frugal::io
