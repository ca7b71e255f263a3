// NIR interoperability: the published fixtures load (tests/data/nir, from neuromorphs/NIR paper/),
// shapes are inferred, write -> read round trips, and malformed files (a table of mutations made
// with the HDF5 C API) give frugal::Error naming the node.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "frugal/core/error.h"
#include "frugal/io/nir.h"

using namespace frugal;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(FRUGAL_SOURCE_DIR) + "/tests/data/nir/";

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("frugal_nir_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

io::NirArray array(const std::string& name, Shape shape, std::vector<double> values,
                   io::NirDtype dtype = io::NirDtype::f32) {
  io::NirArray a;
  a.name = name;
  a.shape = std::move(shape);
  a.values = std::move(values);
  a.dtype = dtype;
  return a;
}

io::NirNode node(const std::string& name, const std::string& type, std::vector<io::NirArray> arrays) {
  io::NirNode n;
  n.name = name;
  n.type = type;
  n.arrays = std::move(arrays);
  return n;
}

// input [3] -> affine [2x3] -> LIF [2] -> output, all shapes stored.
io::NirFile small_graph() {
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

const io::NirNode& child(const io::NirNode& g, const std::string& name) {
  const io::NirNode* n = g.find_node(name);
  if (!n) throw std::runtime_error("test: no node " + name);
  return *n;
}

}  // namespace

TEST(NirRead, LifNorseFixture) {
  io::NirFile f = io::read_nir(kData + "lif_norse.nir");
  EXPECT_EQ(f.version, "0.1.1");
  ASSERT_EQ(f.graph.nodes.size(), 4u);
  ASSERT_EQ(f.graph.edges.size(), 3u);
  const io::NirNode& lif = child(f.graph, "1");
  EXPECT_EQ(lif.type, "LIF");
  EXPECT_NEAR(lif.get("tau", "").values[0], 0.0025, 1e-9);
  EXPECT_NEAR(lif.get("v_threshold", "").values[0], 0.1, 1e-7);
  EXPECT_EQ(lif.output_shape, Shape({1}));
}

TEST(NirRead, CnnSinabsShapes) {
  io::NirFile f = io::read_nir(kData + "cnn_sinabs.nir");
  EXPECT_EQ(f.graph.nodes.size(), 15u);
  EXPECT_EQ(child(f.graph, "input").output_shape, Shape({2, 34, 34}));
  EXPECT_EQ(child(f.graph, "0").output_shape, Shape({16, 16, 16}));
  EXPECT_EQ(child(f.graph, "4").output_shape, Shape({16, 8, 8}));   // SumPool2d: inferred from the edge
  EXPECT_EQ(child(f.graph, "7").output_shape, Shape({8, 4, 4}));
  EXPECT_EQ(child(f.graph, "8").output_shape, Shape({128}));        // Flatten
  EXPECT_EQ(child(f.graph, "12").output_shape, Shape({10}));
  EXPECT_EQ(child(f.graph, "output").input_shape, Shape({10}));
  EXPECT_EQ(child(f.graph, "0").get("groups", "").shape, Shape({}));  // HDF5 scalar
}

TEST(NirRead, BrailleRecurrentShapes) {
  io::NirFile f = io::read_nir(kData + "braille_noDelay_bias_zero.nir");
  EXPECT_EQ(f.graph.edges.size(), 7u);
  const io::NirNode& lif = child(f.graph, "lif1.lif");
  EXPECT_EQ(lif.type, "CubaLIF");
  EXPECT_EQ(lif.get("tau_mem", "").dtype, io::NirDtype::f64);
  EXPECT_EQ(lif.output_shape, Shape({38}));
  EXPECT_EQ(child(f.graph, "lif1.w_rec").output_shape, Shape({38}));
  EXPECT_EQ(child(f.graph, "lif2").output_shape, Shape({7}));
}

TEST(NirWrite, RoundTripKeepsValuesDtypesAndNesting) {
  std::string dir = temp_dir("roundtrip");
  io::NirFile f = small_graph();
  // A nested graph node: input -> scale -> output inside, wired after the LIF.
  io::NirNode sub = node("sub", "NIRGraph", {});
  sub.nodes.push_back(node("input", "Input", {array("shape", {1}, {2}, io::NirDtype::i64)}));
  sub.nodes.push_back(node("s", "Scale", {array("scale", {2}, {2.0, 0.25})}));
  sub.nodes.push_back(node("output", "Output", {array("shape", {1}, {2}, io::NirDtype::i64)}));
  sub.edges = {{"input", "s"}, {"s", "output"}};
  f.graph.nodes.push_back(sub);
  f.graph.edges = {{"input", "fc"}, {"fc", "lif"}, {"lif", "sub"}, {"sub", "output"}};
  io::write_nir(dir + "/g.nir", f);
  io::NirFile g = io::read_nir(dir + "/g.nir");
  EXPECT_EQ(g.version, "0.2.0");
  ASSERT_EQ(g.graph.nodes.size(), f.graph.nodes.size());
  EXPECT_EQ(g.graph.edges, f.graph.edges);
  for (const io::NirNode& want : f.graph.nodes) {
    const io::NirNode& got = child(g.graph, want.name);
    EXPECT_EQ(got.type, want.type);
    ASSERT_EQ(got.arrays.size(), want.arrays.size()) << want.name;
    for (const io::NirArray& a : want.arrays) {
      const io::NirArray& b = got.get(a.name, "");
      EXPECT_EQ(b.dtype, a.dtype) << want.name << "." << a.name;
      EXPECT_EQ(b.shape, a.shape);
      for (size_t i = 0; i < a.values.size(); ++i)
        EXPECT_EQ(b.values[i], a.dtype == io::NirDtype::f32 ? double(float(a.values[i])) : a.values[i]);
    }
  }
  const io::NirNode& s = child(g.graph, "sub");
  EXPECT_EQ(s.nodes.size(), 3u);
  EXPECT_EQ(s.edges.size(), 2u);
  EXPECT_EQ(s.output_shape, Shape({2}));
  EXPECT_TRUE(fs::exists(dir + "/g.nir"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no temp left
}

namespace {

using Mutation = std::function<void(hid_t file)>;

void replace_string(hid_t file, const std::string& path, const std::string& value) {
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t d = H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const char* p = value.c_str();
  H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p);
  H5Dclose(d);
  H5Sclose(space);
  H5Tclose(type);
}

void replace_numbers(hid_t file, const std::string& path, std::vector<hsize_t> dims, hid_t type,
                     std::vector<double> values) {
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(d);
  H5Sclose(space);
}

void replace_edges(hid_t file, const std::vector<std::string>& flat) {
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

struct BadCase {
  std::string name;
  Mutation mutate;
  std::string message;  // a part of the expected error
};

}  // namespace

TEST(NirRead, MalformedFilesAreErrors) {
  std::string dir = temp_dir("bad");
  const std::vector<BadCase> cases = {
      {"no_node_group", [](hid_t f) { H5Ldelete(f, "node", H5P_DEFAULT); }, "missing group 'node'"},
      {"no_nodes", [](hid_t f) { H5Ldelete(f, "node/nodes", H5P_DEFAULT); }, "missing group 'nodes'"},
      {"no_edges", [](hid_t f) { H5Ldelete(f, "node/edges", H5P_DEFAULT); }, "missing dataset 'edges'"},
      {"no_type", [](hid_t f) { H5Ldelete(f, "node/nodes/lif/type", H5P_DEFAULT); }, "node 'lif': missing dataset 'type'"},
      {"unknown_type", [](hid_t f) { replace_string(f, "node/nodes/lif/type", "Quantum"); },
       "node 'lif': unknown node type 'Quantum'"},
      {"missing_param", [](hid_t f) { H5Ldelete(f, "node/nodes/lif/tau", H5P_DEFAULT); },
       "node 'lif': missing dataset 'tau'"},
      {"int_weight",
       [](hid_t f) { replace_numbers(f, "node/nodes/fc/weight", {2, 3}, H5T_STD_I64LE, {1, 2, 3, 4, 5, 6}); },
       "node 'fc': 'weight' must be float32 or float64"},
      {"string_tau", [](hid_t f) { replace_string(f, "node/nodes/lif/tau", "fast"); }, "node 'lif': 'tau' is the string"},
      {"rank3_weight",
       [](hid_t f) { replace_numbers(f, "node/nodes/fc/weight", {1, 2, 3}, H5T_IEEE_F32LE, {1, 2, 3, 4, 5, 6}); },
       "node 'fc': 'weight' must have rank 2"},
      {"bias_size", [](hid_t f) { replace_numbers(f, "node/nodes/fc/bias", {3}, H5T_IEEE_F32LE, {1, 2, 3}); },
       "node 'fc': 'bias' must have 2 elements"},
      {"neuron_sizes", [](hid_t f) { replace_numbers(f, "node/nodes/lif/r", {3}, H5T_IEEE_F32LE, {1, 1, 1}); },
       "node 'lif': 'tau' has 2 elements, expected 3"},
      {"dangling_edge", [](hid_t f) { replace_edges(f, {"input", "fc", "fc", "lif", "lif", "nowhere"}); },
       "edge 'lif' -> 'nowhere' ends at no node"},
      {"edges_rank", [](hid_t f) { replace_numbers(f, "node/edges", {3}, H5T_IEEE_F32LE, {1, 2, 3}); },
       "'edges' must be [E, 2] strings"},
      {"shape_mismatch",
       [](hid_t f) { replace_numbers(f, "node/nodes/input/shape", {1}, H5T_STD_I64LE, {4}); },
       "node 'fc': input shape [3] but edge from 'input' brings [4]"},
  };
  for (const BadCase& c : cases) {
    std::string path = dir + "/" + c.name + ".nir";
    io::write_nir(path, small_graph());
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    c.mutate(f);
    H5Fclose(f);
    try {
      io::read_nir(path);
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << c.name << ": " << e.what();
    }
  }
  std::ofstream(dir + "/text.nir") << "not hdf5";
  EXPECT_THROW(io::read_nir(dir + "/text.nir"), Error);
  EXPECT_THROW(io::read_nir(dir + "/absent.nir"), Error);
}
