// A NIR graph as a frugal module: nodes (dense layers, pools, neurons) joined by edges, run over a
// sequence x [T, batch, ...]. Without cycles every node runs once over the whole sequence (the
// fused neuron kernels of snn/neurons.h); with recurrent edges the graph runs one time step at a
// time and each back edge carries the previous step's value (zero at t = 0), as snnTorch's
// RLeaky/RSynaptic do. The continuous-time NIR neurons map to discrete ones with a step dt
// (formulas in docs/nir.md).
#pragma once
#include <string>
#include <vector>

#include "frugal/io/nir.h"
#include "frugal/nn/module.h"

namespace frugal::nn {

struct NirGraphNode {
  std::string name;
  // identity, linear, conv2d, avgpool, sumpool, flatten, scale, threshold,
  // lif, cuba_lif, if, li, cuba_li
  std::string kind;
  std::vector<int> inputs;      // indices of the nodes whose outputs are summed into this one
  std::vector<bool> recurrent;  // per input: the value from the previous time step
  Shape out_shape;              // per sample
  int stride = 1, pad = 0, groups = 1, kernel = 1;
  Var weight, bias;             // linear, conv2d (parameters)
  // Buffers (saved, not trained): per-neuron or shared values.
  Tensor beta, alpha, threshold, gain, scale;
};

class NirGraph : public Module {
 public:
  Var forward(const Var& x) override;  // x [T, batch, input shape...]
  std::string type() const override { return "nir_graph"; }
  Json spec() const override;
  std::vector<Param> parameters() override;
  std::vector<Buffer> buffers() override;

  bool recurrent() const;
  double dt = 1e-4;
  std::vector<NirGraphNode> nodes;  // topological order (back edges excluded); nodes[0] is the Input
  int output = 0;                   // index of the Output node
};

// Spec -> module with zeroed tensors (load_model fills them); null when the type is not nir_graph.
ModulePtr try_build_nir(const Json& spec, const std::string& where);

// NIR file -> module. Errors (unsupported node or parameter, a cycle without a neuron in it) name
// `where` (the file) and the node.
std::unique_ptr<NirGraph> import_nir(const io::NirFile& file, double dt, const std::string& where);

// A NirGraph, or a Sequential of linear / conv2d / avgpool2d / flatten layers and trained spiking
// layers (lif, cuba_lif with reset "zero", if; a direct encoder; a closing count readout), -> NIR.
// Layers with no NIR equivalent are refused naming the layer; `notes` (when given) receives one
// line per layer that is mapped without a node of its own (encoder, readout, dropout).
io::NirFile export_nir(Module& model, double dt, const Shape& input_shape, std::vector<std::string>* notes = nullptr);

}  // namespace frugal::nn
