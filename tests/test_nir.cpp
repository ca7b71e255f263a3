// NIR interoperability: the published fixtures load (tests/data/nir, from neuromorphs/NIR paper/),
// shapes are inferred, write -> read round trips, malformed files (a table of mutations made with
// the HDF5 C API) give frugal::Error naming the node; imported graphs run (lif_norse reproduces the
// exact simulation's spikes), survive save/load and export/import, and the CLI exits 2 on bad files.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "frugal/core/error.h"
#include "frugal/autograd/tape.h"
#include "frugal/core/rng.h"
#include "frugal/io/nir.h"
#include "frugal/io/npy.h"
#include "frugal/nn/model_file.h"
#include "frugal/nn/nir_graph.h"
#include "support/nir_graphs.h"

using namespace frugal;
namespace fs = std::filesystem;
using frugal::testing::array;
using frugal::testing::node;
using frugal::testing::small_graph;
using frugal::testing::replace_edges;
using frugal::testing::replace_numbers;
using frugal::testing::temp_dir;

namespace {

const std::string kData = std::string(FRUGAL_SOURCE_DIR) + "/tests/data/nir/";

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

namespace {

Tensor run(nn::Module& m, const Tensor& x) {
  autograd::NoGradGuard g;
  m.reset_state();
  return m.forward(autograd::Var(x)).value();
}

Tensor random_input(Shape shape, uint64_t seed, float p) {
  Rng rng(seed);
  Tensor x(std::move(shape));
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform() < p ? 1.0f : 0.0f;
  return x;
}

bool binary(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (t[i] != 0.0f && t[i] != 1.0f) return false;
  return true;
}

double sum(const Tensor& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t[i];
  return s;
}

}  // namespace

// Tolerance in spike times: 0 steps. With dt = 0.1 ms (the fixture's row step) every output spike
// of the exact event-based simulation falls on the same row.
TEST(NirRun, LifNorseReproducesExactSpikes) {
  std::ifstream csv(kData + "lif_exact.csv");
  std::vector<float> input;
  std::vector<int64_t> want;
  std::string line;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    double in, v, spike;
    char c;
    ss >> in >> c >> v >> c >> spike;
    if (spike > 0.5) want.push_back(static_cast<int64_t>(input.size()));
    input.push_back(static_cast<float>(in));
  }
  ASSERT_EQ(input.size(), 1000u);
  ASSERT_EQ(want.size(), 4u);
  auto model = nn::import_nir(io::read_nir(kData + "lif_norse.nir"), 1e-4, "lif_norse");
  EXPECT_FALSE(model->recurrent());
  Tensor y = run(*model, Tensor({1000, 1, 1}, input));
  std::vector<int64_t> got;
  for (int64_t t = 0; t < 1000; ++t)
    if (y[t] > 0.5f) got.push_back(t);
  EXPECT_EQ(got, want);
}

TEST(NirRun, CnnSinabsRunsWithShapes) {
  auto model = nn::import_nir(io::read_nir(kData + "cnn_sinabs.nir"), 1e-4, "cnn_sinabs");
  EXPECT_FALSE(model->recurrent());
  EXPECT_EQ(model->nodes[0].out_shape, Shape({2, 34, 34}));
  Tensor y = run(*model, random_input({4, 2, 2, 34, 34}, 1, 0.3f));
  EXPECT_EQ(y.shape(), Shape({4, 2, 10}));
  EXPECT_TRUE(binary(y));
  EXPECT_THROW(run(*model, random_input({4, 2, 2, 32, 32}, 1, 0.3f)), Error);
}

TEST(NirRun, BrailleRecurrentRunsStepByStep) {
  auto model = nn::import_nir(io::read_nir(kData + "braille_noDelay_bias_zero.nir"), 1e-4, "braille");
  EXPECT_TRUE(model->recurrent());
  Tensor y = run(*model, random_input({30, 3, 12}, 2, 0.5f));
  EXPECT_EQ(y.shape(), Shape({30, 3, 7}));
  EXPECT_TRUE(binary(y));
  EXPECT_GT(sum(y), 0.0);  // biases of 0.26..0.36 per step drive the output neurons
}

namespace {

// input [3] -> fc -> CubaLIF [4] -> fc2 -> LIF [2] -> output; `rec` adds a zero-weight loop on
// the CuBa layer, which forces the step-by-step path without changing the result.
io::NirFile cuba_graph(bool rec) {
  io::NirFile f;
  f.graph.type = "NIRGraph";
  std::vector<double> w1, w2;
  for (int i = 0; i < 12; ++i) w1.push_back(0.1 * ((i * 7) % 11) - 0.3);
  for (int i = 0; i < 8; ++i) w2.push_back(0.2 * ((i * 5) % 7) - 0.2);
  f.graph.nodes.push_back(node("input", "Input", {array("shape", {1}, {3}, io::NirDtype::i64)}));
  f.graph.nodes.push_back(node("fc", "Affine", {array("weight", {4, 3}, w1), array("bias", {4}, {0.1, 0.2, 0, -0.1})}));
  f.graph.nodes.push_back(node("cuba", "CubaLIF",
                               {array("tau_syn", {4}, {2e-4, 3e-4, 5e-4, 1e-3}, io::NirDtype::f64),
                                array("tau_mem", {4}, {1e-3, 2e-3, 1e-3, 4e-3}, io::NirDtype::f64),
                                array("r", {4}, {10, 20, 10, 40}), array("v_leak", {4}, {0, 0, 0, 0}),
                                array("v_threshold", {4}, {1, 1, 0.5, 1}), array("w_in", {4}, {2, 3, 5, 10})}));
  f.graph.nodes.push_back(node("fc2", "Linear", {array("weight", {2, 4}, w2)}));
  f.graph.nodes.push_back(node("lif", "LIF", {array("tau", {2}, {1e-3, 2e-3}), array("r", {2}, {10, 20}),
                                               array("v_leak", {2}, {0, 0}), array("v_threshold", {2}, {0.3, 0.5})}));
  f.graph.nodes.push_back(node("output", "Output", {array("shape", {1}, {2}, io::NirDtype::i64)}));
  f.graph.edges = {{"input", "fc"}, {"fc", "cuba"}, {"cuba", "fc2"}, {"fc2", "lif"}, {"lif", "output"}};
  if (rec) {
    f.graph.nodes.push_back(node("wrec", "Linear", {array("weight", {4, 4}, std::vector<double>(16, 0.0))}));
    f.graph.edges.push_back({"cuba", "wrec"});
    f.graph.edges.push_back({"wrec", "cuba"});
  }
  io::infer_nir_shapes(f.graph, "test");
  return f;
}

}  // namespace

TEST(NirRun, StepByStepPathEqualsFusedKernels) {
  auto chain = nn::import_nir(cuba_graph(false), 1e-4, "chain");
  auto loop = nn::import_nir(cuba_graph(true), 1e-4, "loop");
  ASSERT_FALSE(chain->recurrent());
  ASSERT_TRUE(loop->recurrent());
  Tensor x = random_input({40, 5, 3}, 3, 0.6f);
  Tensor a = run(*chain, x), b = run(*loop, x);
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_GT(sum(a), 0.0);
  EXPECT_EQ(a.to_vector(), b.to_vector());
}

TEST(NirRun, SaveLoadExportImportGiveIdenticalOutputs) {
  std::string dir = temp_dir("model");
  for (const char* name : {"braille_noDelay_bias_zero.nir", "cnn_sinabs.nir"}) {
    auto model = nn::import_nir(io::read_nir(kData + name), 1e-4, name);
    Shape in = {6, 2};
    in.insert(in.end(), model->nodes[0].out_shape.begin(), model->nodes[0].out_shape.end());
    Tensor x = random_input(in, 4, 0.4f);
    Tensor want = run(*model, x);
    nn::save_model(dir + "/m.safetensors", *model, nn::Json::object());
    nn::SavedModel loaded = nn::load_model(dir + "/m.safetensors");
    EXPECT_EQ(run(*loaded.model, x).to_vector(), want.to_vector()) << name;
    io::write_nir(dir + "/back.nir", nn::export_nir(*loaded.model, 1e-4, {}));
    auto again = nn::import_nir(io::read_nir(dir + "/back.nir"), 1e-4, "back");
    EXPECT_EQ(again->recurrent(), model->recurrent());
    EXPECT_EQ(run(*again, x).to_vector(), want.to_vector()) << name;
  }
}

TEST(NirRun, CycleWithoutNeuronIsAnError) {
  io::NirFile f = small_graph();
  f.graph.nodes.push_back(node("fc_back", "Linear", {array("weight", {3, 2}, {1, 0, 0, 1, 1, 1})}));
  f.graph.edges = {{"input", "fc"}, {"fc", "fc_back"}, {"fc_back", "fc"}, {"fc", "lif"}, {"lif", "output"}};
  // fc_back brings [3] into fc, which is [3]-shaped on input: shapes agree, the cycle is the fault.
  io::infer_nir_shapes(f.graph, "cyc");
  try {
    nn::import_nir(f, 1e-4, "cyc.nir");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fc"), std::string::npos) << e.what();
  }
  io::NirFile g = small_graph();
  g.graph.nodes.push_back(node("d", "Delay", {array("delay", {2}, {1, 1})}));
  g.graph.edges = {{"input", "fc"}, {"fc", "d"}, {"d", "lif"}, {"lif", "output"}};
  io::infer_nir_shapes(g.graph, "delay");
  EXPECT_THROW(nn::import_nir(g, 1e-4, "delay.nir"), Error);
}

TEST(NirCli, ImportRunExportAndBadFile) {
  std::string dir = temp_dir("cli");
  const std::string bin = FRUGAL_BINARY;
  auto sh = [](const std::string& cmd) {
    int rc = std::system((cmd + " 2>/dev/null >/dev/null").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  ASSERT_EQ(sh(bin + " import " + kData + "lif_norse.nir --dt 1e-4 --out " + dir + "/lif.safetensors"), 0);
  Tensor x({20, 1, 1});
  for (int t = 0; t < 20; ++t) x[t] = 1.0f;  // constant drive: U = 1, 1.96, 2.88 > 2.5 spikes at t = 2
  io::write_npy(dir + "/x.npy", x);
  ASSERT_EQ(sh(bin + " run " + dir + "/lif.safetensors --input " + dir + "/x.npy --output " + dir + "/y.npy"), 0);
  Tensor y = io::read_npy(dir + "/y.npy");
  EXPECT_EQ(y.shape(), Shape({20, 1, 1}));
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 1.0f);
  ASSERT_EQ(sh(bin + " export " + dir + "/lif.safetensors --nir " + dir + "/out.nir"), 0);
  io::NirFile back = io::read_nir(dir + "/out.nir");
  EXPECT_EQ(back.graph.nodes.size(), 4u);
  std::ofstream(dir + "/bad.nir") << "not an hdf5 file";
  EXPECT_EQ(sh(bin + " import " + dir + "/bad.nir --out " + dir + "/bad.safetensors"), 2);
  EXPECT_FALSE(fs::exists(dir + "/bad.safetensors"));
  EXPECT_EQ(sh(bin + " run " + dir + "/lif.safetensors --input " + dir + "/absent.npy --output " + dir + "/z.npy"), 2);
}
