// The spiking net through the frugal binary: bad neuron and encoder settings (negative beta,
// threshold <= 0, T = 0, unknown surrogate) stop `frugal train` with exit code 2 and a message
// naming the layer and key; `frugal eval --plot` writes a raster and membrane PNG of one test
// image whose raster holds as many spike pixels as the reported spikes; `frugal bench lif` runs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "support/run_frugal.h"

namespace fs = std::filesystem;
using frugal::testing::run_frugal;

namespace {

// A small spiking MLP on Fashion-MNIST; `lif` and `encoder` are spliced into its layer list.
std::string config(const std::string& encoder, const std::string& lif) {
  return "name = \"snn_cli\"\ndataset = \"fashion-mnist\"\nepochs = 1\nbatch_size = 64\nloss = \"ce_count\"\n"
         "train_limit = 256\ntest_limit = 64\n"
         "[[layers]]\ntype = \"encoder\"\ncode = \"direct\"\n" + encoder +
         "\n[[layers]]\ntype = \"flatten\"\nstart_axis = 2\n"
         "[[layers]]\ntype = \"linear\"\nin = 784\nout = 32\n"
         "[[layers]]\ntype = \"lif\"\n" + lif +
         "\n[[layers]]\ntype = \"linear\"\nin = 32\nout = 10\n"
         "[[layers]]\ntype = \"lif\"\nbeta = 0.5\n"
         "[[layers]]\ntype = \"readout\"\nmode = \"count\"\n";
}

fs::path write_config(const std::string& name, const std::string& text) {
  fs::path p = fs::temp_directory_path() / ("frugal_snn_cli_" + name + ".toml");
  std::ofstream(p) << text;
  return p;
}

TEST(SnnCli, BadNeuronSettingsExitWithCode2) {
  struct Case {
    const char* name;
    std::string encoder, lif, needle;
  };
  const Case cases[] = {
      {"beta", "steps = 4", "beta = -0.5", "layers[3]: beta must be in [0, 1]"},
      {"threshold", "steps = 4", "threshold = 0.0", "threshold must be positive"},
      {"steps", "steps = 0", "beta = 0.5", "layers[0].steps: T must be at least 1"},
      {"surrogate", "steps = 4", "surrogate = \"relu\"", "relu"},
  };
  for (const Case& c : cases) {
    fs::path p = write_config(c.name, config(c.encoder, c.lif));
    auto r = run_frugal("train " + p.string() + " --out " + (fs::temp_directory_path() / "frugal_snn_cli_bad").string());
    EXPECT_EQ(r.code, 2) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.name << ": stderr lacks '" << c.needle << "':\n" << r.err;
    fs::remove(p);
  }
}

TEST(SnnCli, EvalPlotWritesRasterAndMembranePngs) {
  fs::path p = write_config("plot", config("steps = 6", "beta = 0.5\nthreshold = 0.5"));
  fs::path out = fs::temp_directory_path() / "frugal_snn_cli_plot";
  fs::remove_all(out);
  auto t = run_frugal("train " + p.string() + " --out " + out.string());
  ASSERT_EQ(t.code, 0) << t.err;
  auto e = run_frugal("eval " + (out / "model.safetensors").string() + " --plot " + (out / "plots").string() +
                      " --plot-sample 3 --json");
  ASSERT_EQ(e.code, 0) << e.err;
  auto j = nlohmann::json::parse(e.out);
  ASSERT_TRUE(j.contains("plot"));
  const auto& plot = j["plot"];
  EXPECT_EQ(plot["sample"], 3);
  ASSERT_EQ(plot["layers"].size(), 2u);
  EXPECT_EQ(plot["layers"][0]["name"], "3:lif");
  EXPECT_EQ(plot["layers"][0]["neurons"], 32);
  EXPECT_EQ(plot["layers"][1]["neurons"], 10);
  for (const char* key : {"raster", "membranes"}) {
    std::ifstream in(plot[key].get<std::string>(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_GT(bytes.size(), 33u) << key;
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << key;
    EXPECT_EQ(bytes.substr(12, 4), "IHDR") << key;
    auto be32 = [&](size_t at) {
      return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
             (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
    };
    if (std::string(key) == "raster") {
      EXPECT_EQ(be32(16), 6u * plot["raster_step_width"].get<uint32_t>());
      EXPECT_EQ(be32(20), 32u + 4u + 10u);
    } else {
      EXPECT_EQ(be32(16), 640u);
      EXPECT_EQ(be32(20), 2u * 180u + 4u);
    }
  }
  auto bad = run_frugal("eval " + (out / "model.safetensors").string() + " --plot " + (out / "plots").string() +
                        " --plot-sample 64");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--plot-sample"), std::string::npos) << bad.err;
  fs::remove(p);
}

TEST(SnnCli, BenchLifReportsSecondsPerSize) {
  auto r = run_frugal("bench lif --sizes 8,24 --steps 5 --batch 3 --repeats 1 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][1]["n"], 24);
  EXPECT_GT(j["rows"][0]["seconds"].get<double>(), 0.0);
  EXPECT_GE(j["rows"][0]["seconds"].get<double>(), j["rows"][0]["forward_seconds"].get<double>());
  EXPECT_EQ(run_frugal("bench lif --sizes 0").code, 2);
}

}  // namespace
