// Runs an imported ONNX graph (io/onnx.h) for inference on frugal's ops, with ONNX operator
// semantics (onnx/docs/Operators.md, opsets 9 to 18). It is the ANN the converter starts from and
// the check that an import reproduces the exporting framework's logits.
// Ops: Conv, Gemm, MatMul, Relu, Clip, BatchNormalization, MaxPool, AveragePool,
// GlobalAveragePool, Flatten, Reshape, Add, Concat, Identity, Dropout, Pad (zeros), and the integer
// shape ops PyTorch emits for x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat, evaluated on
// exact integers.
#pragma once
#include <vector>

#include "frugal/core/tensor.h"
#include "frugal/io/onnx.h"

namespace frugal::nn {

struct OnnxNodePlan;  // a node's checked attributes and prepared weights

class OnnxGraphRunner {
 public:
  // Checks every node's op and attributes up front, so an unsupported op fails at load
  // ("node 'x': unsupported op Y"), not halfway through a run.
  explicit OnnxGraphRunner(io::OnnxGraph graph);
  ~OnnxGraphRunner();
  OnnxGraphRunner(OnnxGraphRunner&&) noexcept;
  OnnxGraphRunner& operator=(OnnxGraphRunner&&) noexcept;

  // The graph's one output for its one input; the input must match the declared rank and fixed
  // dimensions. Errors name the file and the failing node.
  Tensor run(const Tensor& input) const;

  const io::OnnxGraph& graph() const { return graph_; }

 private:
  io::OnnxGraph graph_;
  std::vector<OnnxNodePlan> plans_;
};

}  // namespace frugal::nn
