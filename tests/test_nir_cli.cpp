// NIR through the command line, for issue 9's done-when: a model trained by `frugal train` exports
// to NIR, imports back and gives identical outputs under `frugal run`; a file with a missing node
// type, a dangling edge, a wrong-rank weight or a cycle without a neuron makes `frugal import`
// exit 2 with a message naming the node, and writes no model.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "frugal/core/rng.h"
#include "frugal/io/nir.h"
#include "frugal/io/npy.h"
#include "support/run_frugal.h"

using namespace frugal;
using frugal::testing::run_frugal;
namespace fs = std::filesystem;

namespace {

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("frugal_nir_cli_" + name);
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

// input [3] -> fc [2x3] -> LIF [2] -> output.
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

// Rewrites dataset `path` of an HDF5 file with `values` in `type`, `dims` shaped.
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

void mutate(const std::string& path, const std::function<void(hid_t)>& change) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0) << path;
  change(f);
  H5Fclose(f);
}

}  // namespace

TEST(NirCli, TrainedModelExportsImportsAndGivesIdenticalOutputs) {
  const std::string dir = temp_dir("trained");
  // A conv net with only the layers a frugal Sequential exports to NIR (conv, pooling, flatten,
  // linear), trained one short epoch on Fashion-MNIST.
  std::ofstream(dir + "/net.toml") << R"(name = "nir_trained"
dataset = "fashion-mnist"
epochs = 1
batch_size = 64
seed = 3
loss = "cross_entropy"
train_limit = 512
test_limit = 128

[optimizer]
type = "adam"
lr = 1e-2

[[layers]]
type = "conv2d"
in = 1
out = 4
kernel = 3
stride = 2
pad = 1

[[layers]]
type = "avgpool2d"
kernel = 2

[[layers]]
type = "flatten"

[[layers]]
type = "linear"
in = 196
out = 10
)";
  if (!fs::exists("/usr/share/datasets/fashion-mnist"))
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed (scripts/setup.sh installs it)";
  auto train = run_frugal("train " + dir + "/net.toml --out " + dir + "/run");
  ASSERT_EQ(train.code, 0) << train.err;
  const std::string model = dir + "/run/model.safetensors";
  auto exp = run_frugal("export " + model + " --nir " + dir + "/m.nir --input-shape 1,28,28");
  ASSERT_EQ(exp.code, 0) << exp.err;
  io::NirFile file = io::read_nir(dir + "/m.nir");
  ASSERT_EQ(file.graph.nodes.size(), 6u);  // input, conv, pool, flatten, affine, output
  auto imp = run_frugal("import " + dir + "/m.nir --out " + dir + "/back.safetensors");
  ASSERT_EQ(imp.code, 0) << imp.err;

  Rng rng(11);
  Tensor x0({5, 1, 28, 28});  // the Sequential model takes [batch, C, H, W]
  for (int64_t i = 0; i < x0.numel(); ++i) x0[i] = rng.uniform();
  Tensor x({2, 5, 1, 28, 28});  // the imported graph takes [T, batch, C, H, W]: the batch twice
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = x0[i % x0.numel()];
  io::write_npy(dir + "/x.npy", x);
  io::write_npy(dir + "/x0.npy", x0);
  ASSERT_EQ(run_frugal("run " + model + " --input " + dir + "/x0.npy --output " + dir + "/y0.npy").code, 0);
  auto run = run_frugal("run " + dir + "/back.safetensors --input " + dir + "/x.npy --output " + dir + "/y.npy");
  ASSERT_EQ(run.code, 0) << run.err;
  Tensor want = io::read_npy(dir + "/y0.npy"), got = io::read_npy(dir + "/y.npy");
  ASSERT_EQ(want.shape(), Shape({5, 10}));
  ASSERT_EQ(got.shape(), Shape({2, 5, 10}));
  double spread = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    EXPECT_EQ(got[i], want[i]) << i;                // step 0
    EXPECT_EQ(got[want.numel() + i], want[i]) << i;  // step 1: the same image again
    spread += std::abs(want[i] - want[0]);
  }
  EXPECT_GT(spread, 0.0);  // trained logits differ between classes and samples
}

TEST(NirCli, MalformedFilesExitTwoNamingTheNode) {
  const std::string dir = temp_dir("bad");
  struct Case {
    std::string name;
    std::function<void(const std::string&)> make;
    std::string message;
  };
  auto write_then = [](std::function<void(hid_t)> change) {
    return [change](const std::string& path) {
      io::write_nir(path, small_graph());
      mutate(path, change);
    };
  };
  const std::vector<Case> cases = {
      {"missing_type", write_then([](hid_t f) { H5Ldelete(f, "node/nodes/lif/type", H5P_DEFAULT); }),
       "node 'lif': missing dataset 'type'"},
      {"dangling_edge", write_then([](hid_t f) { replace_edges(f, {"input", "fc", "fc", "lif", "lif", "nowhere"}); }),
       "edge 'lif' -> 'nowhere' ends at no node"},
      {"rank3_weight",
       write_then([](hid_t f) {
         replace_numbers(f, "node/nodes/fc/weight", {1, 2, 3}, H5T_IEEE_F32LE, {1, 2, 3, 4, 5, 6});
       }),
       "node 'fc': 'weight' must have rank 2"},
      {"cycle_without_neuron",
       [](const std::string& path) {
         io::NirFile f = small_graph();
         f.graph.nodes.push_back(node("fc_back", "Linear", {array("weight", {3, 2}, {1, 0, 0, 1, 1, 1})}));
         f.graph.edges = {{"input", "fc"}, {"fc", "fc_back"}, {"fc_back", "fc"}, {"fc", "lif"}, {"lif", "output"}};
         io::write_nir(path, f);
       },
       "cycle"},
  };
  for (const Case& c : cases) {
    const std::string path = dir + "/" + c.name + ".nir", out = dir + "/" + c.name + ".safetensors";
    c.make(path);
    auto r = run_frugal("import " + path + " --out " + out);
    EXPECT_EQ(r.code, 2) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(path), std::string::npos) << c.name << ": " << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.name;
  }
  // The cycle's message names a node on it.
  auto r = run_frugal("import " + dir + "/cycle_without_neuron.nir --out " + dir + "/c.safetensors");
  EXPECT_NE(r.err.find("fc"), std::string::npos) << r.err;
}
