// ONNX model reader (spec: onnx/onnx.proto, IR versions 3+, default-domain opsets 9 to 18): turns a
// .onnx file into plain structs: graph inputs and outputs, initializers, and nodes with their
// attributes. Constant nodes are folded into the initializers; external data files are read.
// It builds no model: nn/onnx_graph.h runs the graph, convert/ rewrites it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "frugal/core/tensor.h"

namespace frugal::io {

// An integer tensor, kept exact because shapes (Reshape targets, Gather indices) must not pass
// through float. Rank 0 (empty shape) is a scalar.
struct OnnxInts {
  Shape shape;
  std::vector<int64_t> values;
};

// A constant tensor of an attribute or a Constant node: float data (FLOAT, DOUBLE) or integers
// (INT32, INT64, BOOL as 0/1); exactly one is set.
struct OnnxConstant {
  bool is_int = false;
  Tensor floats;
  OnnxInts ints;
};

struct OnnxValueInfo {
  std::string name;
  Shape shape;  // dynamic or unnamed dimensions are -1; empty when the file gives no shape
};

struct OnnxNode {
  std::string name;  // the file's node name, or "<op_type>_<index>" when the file has none
  std::string op_type;
  std::string domain;  // "" for the default ONNX domain
  std::vector<std::string> inputs;  // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, std::vector<int64_t>> ints;  // INT (one value) and INTS attributes
  std::map<std::string, std::vector<float>> floats;  // FLOAT (one value) and FLOATS attributes
  std::map<std::string, std::string> strings;  // STRING attributes
  std::map<std::string, OnnxConstant> tensors;  // TENSOR attributes

  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  // "node 'conv1' (Conv)": the prefix of every error about this node.
  std::string label() const;
};

struct OnnxGraph {
  std::string path;  // the file it came from, for error messages
  int64_t opset = 0;  // default-domain opset version
  std::vector<OnnxValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<OnnxValueInfo> outputs;
  std::map<std::string, Tensor> initializers;  // FLOAT and DOUBLE tensors, as float32
  std::map<std::string, OnnxInts> int_initializers;  // INT32, INT64 and BOOL tensors
  std::vector<OnnxNode> nodes;  // topological order, Constant nodes removed
};

// Reads and validates a model: protobuf parse, opset range, tensor sizes against their dims
// (at most 2^31 elements each), external data kept inside the model's directory, and every node
// input produced by a graph input, an initializer or an earlier node. Errors name the file and
// the tensor or node.
OnnxGraph read_onnx(const std::string& path);

// The same, from bytes in memory; `path` names them in errors and anchors external data.
OnnxGraph parse_onnx(const std::string& bytes, const std::string& path);

}  // namespace frugal::io
