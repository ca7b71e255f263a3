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
#include "frugal/nn/builder.h"
#include "frugal/nn/layers.h"
#include "frugal/nn/model_file.h"
#include "frugal/train/layer_families.h"
#include "support/run_frugal.h"
#include "support/nir_graphs.h"

using namespace frugal;
using frugal::testing::run_frugal;
namespace fs = std::filesystem;
using frugal::testing::array;
using frugal::testing::node;
using frugal::testing::small_graph;
using frugal::testing::replace_edges;
using frugal::testing::replace_numbers;
using frugal::testing::temp_dir;

namespace {

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

TEST(NirCli, TrainedSpikingModelExportsImportsAndGivesIdenticalSpikes) {
  const std::string dir = temp_dir("trained_snn");
  // A spiking CNN trained by frugal (direct encoding, per-neuron learned LIF, a learned IF, a
  // CuBa-LIF output with learned decays, count readout), one short epoch on Fashion-MNIST.
  std::ofstream(dir + "/net.toml") << R"(name = "nir_trained_snn"
dataset = "fashion-mnist"
epochs = 1
batch_size = 64
seed = 5
loss = "ce_count"
train_limit = 512
test_limit = 128

[optimizer]
type = "adam"
lr = 5e-3

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
type = "encoder"
code = "direct"
steps = 6

[[layers]]
type = "lif"
beta = 0.7
threshold = 0.5
reset = "zero"
neurons = 196
learn_beta = true
learn_threshold = true
surrogate = "fast_sigmoid"
surrogate_param = 25.0

[[layers]]
type = "flatten"
start_axis = 2

[[layers]]
type = "linear"
in = 196
out = 32

[[layers]]
type = "if"
threshold = 0.5
neurons = 32
learn_threshold = true

[[layers]]
type = "linear"
in = 32
out = 10

[[layers]]
type = "cuba_lif"
alpha = 0.6
beta = 0.8
threshold = 0.25
reset = "zero"
neurons = 10
learn_alpha = true
learn_beta = true

[[layers]]
type = "readout"
mode = "count"
)";
  if (!fs::exists("/usr/share/datasets/fashion-mnist"))
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed (scripts/setup.sh installs it)";
  auto train = run_frugal("train " + dir + "/net.toml --out " + dir + "/run");
  ASSERT_EQ(train.code, 0) << train.err;
  const std::string model = dir + "/run/model.safetensors";
  auto exp = run_frugal("export " + model + " --nir " + dir + "/m.nir --input-shape 1,28,28");
  ASSERT_EQ(exp.code, 0) << exp.err;
  EXPECT_NE(exp.err.find("layer 9 (readout)"), std::string::npos) << exp.err;  // says what the Output is
  io::NirFile file = io::read_nir(dir + "/m.nir");
  std::vector<std::string> types;  // nodes are named by layer index; the encoder (2) and readout (9) have none
  for (const char* name : {"input", "0", "1", "3", "4", "5", "6", "7", "8", "output"}) {
    const io::NirNode* n = file.graph.find_node(name);
    ASSERT_NE(n, nullptr) << name;
    types.push_back(n->type);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"Input", "Conv2d", "AvgPool2d", "LIF", "Flatten", "Affine", "IF",
                                             "Affine", "CubaLIF", "Output"}));
  EXPECT_EQ(file.graph.nodes.size(), 10u);
  EXPECT_EQ(file.graph.find_node("3")->get("tau", "lif").shape, Shape({4, 7, 7}));  // per neuron, the layer's shape
  auto imp = run_frugal("import " + dir + "/m.nir --out " + dir + "/back.safetensors");
  ASSERT_EQ(imp.code, 0) << imp.err;

  Rng rng(12);
  Tensor x0({7, 1, 28, 28});  // the trained model takes images [batch, C, H, W] and repeats them
  for (int64_t i = 0; i < x0.numel(); ++i) x0[i] = rng.uniform();
  Tensor x({6, 7, 1, 28, 28});  // the NIR graph takes that sequence [T, batch, C, H, W]
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = x0[i % x0.numel()];
  io::write_npy(dir + "/x.npy", x);
  io::write_npy(dir + "/x0.npy", x0);
  ASSERT_EQ(run_frugal("run " + model + " --input " + dir + "/x0.npy --output " + dir + "/counts.npy").code, 0);
  auto run = run_frugal("run " + dir + "/back.safetensors --input " + dir + "/x.npy --output " + dir + "/y.npy");
  ASSERT_EQ(run.code, 0) << run.err;
  Tensor counts = io::read_npy(dir + "/counts.npy"), spikes = io::read_npy(dir + "/y.npy");
  ASSERT_EQ(counts.shape(), Shape({7, 10}));
  ASSERT_EQ(spikes.shape(), Shape({6, 7, 10}));
  // The same spikes in the trained model, before its readout (the library runs its layers).
  train::register_layer_families();
  nn::SavedModel saved = nn::load_model(model);
  auto& seq = dynamic_cast<nn::Sequential&>(*saved.model);
  autograd::Var v(x0);
  for (size_t i = 0; i + 1 < seq.layers.size(); ++i) v = seq.layers[i]->forward(v);
  ASSERT_EQ(v.value().shape(), spikes.shape());
  int64_t fired = 0;
  for (int64_t i = 0; i < spikes.numel(); ++i) {
    EXPECT_EQ(spikes[i], v.value()[i]) << i;
    fired += spikes[i] > 0.0f;
  }
  EXPECT_GT(fired, spikes.numel() / 10);  // the comparison is over real spike trains
  for (int64_t i = 0; i < counts.numel(); ++i) {  // and the readout of the NIR graph's spikes
    float sum = 0;
    for (int64_t t = 0; t < 6; ++t) sum += spikes[t * counts.numel() + i];
    EXPECT_EQ(sum, counts[i]) << i;
  }
}

TEST(NirCli, SpikingLayerWithoutNirEquivalentExitsTwoNamingTheLayer) {
  const std::string dir = temp_dir("refused");
  train::register_layer_families();
  Rng rng(1);
  // fmnist_snn.toml's neurons: LIF with the default reset by subtraction, which NIR's LIF lacks.
  nn::ModulePtr m = nn::build_sequential(
      nn::Json::parse(R"([{"type": "encoder", "code": "direct", "steps": 4}, {"type": "linear", "in": 3, "out": 2},
                          {"type": "lif", "beta": 0.5}, {"type": "readout", "mode": "count"}])"),
      rng);
  nn::save_model(dir + "/m.safetensors", *m, nn::Json::object());
  auto r = run_frugal("export " + dir + "/m.safetensors --nir " + dir + "/m.nir --input-shape 3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("layer 2 (lif): reset = \"subtract\" has no NIR equivalent"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/m.nir"));
}

TEST(NirCli, MalformedFilesExitTwoNamingTheNode) {
  const std::string dir = temp_dir("cli_bad");
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
