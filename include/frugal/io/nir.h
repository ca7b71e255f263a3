// NIR (Neuromorphic Intermediate Representation, neuromorphs/NIR, nir/serialization.py) files:
// HDF5 with a "version" string and a "node" group; a node group holds a "type" string and one
// dataset per parameter; a NIRGraph node also holds a "nodes" group (one subgroup per node) and an
// "edges" dataset of [E, 2] strings. This reads bytes into plain structs and writes them back;
// turning a graph into modules happens in nn/nir_import.h.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "frugal/core/tensor.h"

namespace frugal::io {

enum class NirDtype { f32, f64, i64 };

// One numeric dataset. Values are kept as double so float64 files survive a round trip.
struct NirArray {
  std::string name;
  NirDtype dtype = NirDtype::f32;
  Shape shape;  // {} for an HDF5 scalar
  std::vector<double> values;
};

struct NirNode {
  std::string name;
  std::string type;  // "Affine", "LIF", "NIRGraph", ...
  std::vector<NirArray> arrays;
  // Only for type "NIRGraph": the nested graph.
  std::vector<NirNode> nodes;
  std::vector<std::pair<std::string, std::string>> edges;
  // Per-sample shapes (no batch, no time); filled by infer_nir_shapes, empty while unknown.
  Shape input_shape, output_shape;

  const NirArray* find(const std::string& key) const;  // null when absent
  // The array `key`; throws naming `where` (file and node) when it is missing.
  const NirArray& get(const std::string& key, const std::string& where) const;
  const NirNode* find_node(const std::string& node_name) const;  // NIRGraph only
};

struct NirFile {
  std::string version;  // "0.2.0"
  NirNode graph;        // type "NIRGraph", name ""
};

// The node types frugal understands; anything else is an error naming the node.
const std::vector<std::string>& nir_node_types();

// Throws frugal::Error naming the file and node for a missing group or dataset, a wrong dtype,
// an unknown node type, a parameter missing for its node type, a dangling edge, or an array larger
// than 1<<28 elements. Also runs infer_nir_shapes.
NirFile read_nir(const std::string& path);
// Writes every array in its dtype, strings as variable-length UTF-8 (as h5py does). Atomic.
void write_nir(const std::string& path, const NirFile& file);

// Fills input_shape/output_shape of every node (recursively) from stored shapes, parameter shapes
// and the edges; `where` names the file in errors (mismatched or unknown shapes).
void infer_nir_shapes(NirNode& graph, const std::string& where);

}  // namespace frugal::io
