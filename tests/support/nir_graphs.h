// Small NIR graphs built in memory for the NIR tests: arrays, nodes, a fresh scratch folder, and
// input [3] -> affine [2x3] -> LIF [2] -> output with every shape stored, and in-place rewrites of
// a written file's datasets for the malformed-file tests.
#pragma once
#include <hdf5.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "frugal/io/nir.h"

namespace frugal::testing {

inline std::string temp_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::temp_directory_path() / ("frugal_nir_" + name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline io::NirArray array(const std::string& name, Shape shape, std::vector<double> values,
                          io::NirDtype dtype = io::NirDtype::f32) {
  io::NirArray a;
  a.name = name;
  a.shape = std::move(shape);
  a.values = std::move(values);
  a.dtype = dtype;
  return a;
}

inline io::NirNode node(const std::string& name, const std::string& type, std::vector<io::NirArray> arrays) {
  io::NirNode n;
  n.name = name;
  n.type = type;
  n.arrays = std::move(arrays);
  return n;
}

inline io::NirFile small_graph() {
  io::NirFile f;
  f.version = "0.2.0";
  f.graph.type = "NIRGraph";
  f.graph.nodes.push_back(node("input", "Input", {array("shape", {1}, {3}, io::NirDtype::i64)}));
  f.graph.nodes.push_back(node("fc", "Affine", {array("weight", {2, 3}, {1, 2, 3, 4, 5, 6}),
                                                 array("bias", {2}, {0.5, -0.5})}));
  f.graph.nodes.push_back(node("lif", "LIF", {array("tau", {2}, {2e-3, 3e-3}, io::NirDtype::f64),
                                               array("r", {2}, {1, 1}), array("v_leak", {2}, {0, 0}),
                                               array("v_threshold", {2}, {1, 1})}));
  f.graph.nodes.push_back(node("output", "Output", {array("shape", {1}, {2}, io::NirDtype::i64)}));
  f.graph.edges = {{"input", "fc"}, {"fc", "lif"}, {"lif", "output"}};
  return f;
}

// Rewrites dataset `path` of an HDF5 file with `values` in `type`, `dims` shaped.
inline void replace_numbers(hid_t file, const std::string& path, std::vector<hsize_t> dims, hid_t type,
                            std::vector<double> values) {
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(d);
  H5Sclose(space);
}

inline void replace_edges(hid_t file, const std::vector<std::string>& flat) {
  H5Ldelete(file, "node/edges", H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  hsize_t dims[2] = {flat.size() / 2, 2};
  hid_t space = H5Screate_simple(2, dims, nullptr);
  hid_t d = H5Dcreate2(file, "node/edges", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<const char*> p;
  for (const std::string& s : flat) p.push_back(s.c_str());
  H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
  H5Dclose(d);
  H5Sclose(space);
  H5Tclose(type);
}

}  // namespace frugal::testing
