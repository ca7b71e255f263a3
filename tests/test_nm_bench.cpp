// `frugal bench nm-gemm` and `frugal bench nm-step` (sparse/nm_bench.h, apps/frugal/bench_nm.cpp):
// the shape list parser (comments, errors naming file and line), the JSON that issue 4's
// done-when reads (a list of objects with m, n, k, pattern, speedup) with a sparse result that
// matches the dense product of the masked weights, the step bench's phases, and bad input
// exiting with code 2. Tiny shapes: these check the plumbing, not the speed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "frugal/core/error.h"
#include "frugal/nn/module.h"
#include "frugal/sparse/nm_bench.h"
#include "support/run_frugal.h"

using namespace frugal;
using frugal::testing::RunResult;
using frugal::testing::run_frugal;
namespace fs = std::filesystem;

namespace {

fs::path write_file(const std::string& name, const std::string& text) {
  fs::path p = fs::temp_directory_path() / name;
  std::ofstream(p) << text;
  return p;
}

}  // namespace

TEST(NMBench, ReadsShapeListsAndNamesTheBadLine) {
  fs::path good = write_file("frugal_nm_shapes_good.txt", "# m n k\n\n16 32 64  # a comment\n8 8 8\n");
  std::vector<sparse::NMGemmShape> shapes = sparse::read_nm_shapes(good.string());
  ASSERT_EQ(shapes.size(), 2u);
  EXPECT_EQ(shapes[0].m, 16);
  EXPECT_EQ(shapes[0].n, 32);
  EXPECT_EQ(shapes[0].k, 64);
  for (const char* bad : {"16 32\n", "16 32 64 1\n", "16 x 64\n", "0 8 8\n", "8 8 70000\n"}) {
    fs::path p = write_file("frugal_nm_shapes_bad.txt", std::string("8 8 8\n") + bad);
    try {
      sparse::read_nm_shapes(p.string());
      FAIL() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p.string() + ":2:"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(sparse::read_nm_shapes(write_file("frugal_nm_shapes_empty.txt", "# none\n").string()), Error);
  EXPECT_THROW(sparse::read_nm_shapes("/nonexistent/shapes.txt"), Error);
}

TEST(NMBench, GemmCommandEmitsOneObjectPerShapeAndPattern) {
  fs::path shapes = write_file("frugal_nm_shapes_cli.txt", "16 32 64\n24 40 48\n");
  RunResult r = run_frugal("bench nm-gemm --shapes " + shapes.string() + " --patterns 2:8,1:4 --reps 1 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  nn::Json j = nn::Json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["m"], 16);
  EXPECT_EQ(j[0]["n"], 32);
  EXPECT_EQ(j[0]["k"], 64);
  EXPECT_EQ(j[0]["pattern"], "2:8");
  EXPECT_EQ(j[1]["pattern"], "1:4");
  for (const nn::Json& row : j) {
    EXPECT_GT(row["speedup"].get<double>(), 0.0);
    EXPECT_GT(row["dense_ms"].get<double>(), 0.0);
    EXPECT_LT(row["max_abs_error"].get<double>(), 1e-3);
  }
  EXPECT_NE(r.err.find("speedup"), std::string::npos) << r.err;
  RunResult bad = run_frugal("bench nm-gemm --shapes " + shapes.string() + " --patterns 8:8");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("1 <= N < M <= 16"), std::string::npos) << bad.err;
}

TEST(NMBench, StepCommandTimesDenseAndSparsePhases) {
  fs::path cfg = write_file("frugal_nm_step.toml",
                            "batch_size = 16\nsparsity = \"2:8\"\n[optimizer]\ntype = \"adam\"\nlr = 1e-3\n"
                            "[[layers]]\ntype = \"linear\"\nin = 64\nout = 32\n[[layers]]\ntype = \"relu\"\n"
                            "[[layers]]\ntype = \"linear\"\nin = 32\nout = 10\n");
  RunResult r = run_frugal("bench nm-step " + cfg.string() + " --steps 2 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  nn::Json j = nn::Json::parse(r.out);
  EXPECT_EQ(j["batch"], 16);
  EXPECT_EQ(j["sparsity"], "2:8");
  EXPECT_EQ(j["sparsity_mode"], "bdwp");
  for (const char* side : {"dense", "sparse"})
    for (const char* key : {"forward_ms", "backward_ms", "optimizer_ms", "prepare_ms", "step_ms", "step_cpu_ms"})
      EXPECT_TRUE(j[side].contains(key)) << side << " " << key;
  EXPECT_GT(j["speedup"].get<double>(), 0.0);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][0]["in"], 64);
  EXPECT_EQ(j["layers"][1]["out"], 10);
  fs::path dense = write_file("frugal_nm_step_dense.toml", "[[layers]]\ntype = \"linear\"\nin = 4\nout = 2\n");
  RunResult bad = run_frugal("bench nm-step " + dense.string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("sparsity"), std::string::npos) << bad.err;
}
