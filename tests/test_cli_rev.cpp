// The reversible U-Net through the frugal binary: `data phantom` writes a BraTS-layout folder,
// `train` on it writes Dice and HD95 per region, `bench memory` reports the reversible net's
// smaller peak and what fits a budget, and a malformed NIfTI file (bad header size, wrong dims,
// unsupported datatype, truncated data) stops training with exit 2 and a message naming the file.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "frugal/io/nifti.h"
#include "support/run_frugal.h"

namespace fs = std::filesystem;
using frugal::testing::run_frugal;
using Result = frugal::testing::RunResult;

namespace {

std::string example() { return std::string(FRUGAL_SOURCE_DIR) + "/examples/unet3d_rev.toml"; }
// A two-level net small enough for a test: 16^3 volumes train in a fraction of a second.
const char* kSmallNet = " --set model.channels=[8,16] --set model.blocks=[1,1] --set model.norm_groups=4";

fs::path phantoms(const std::string& name, int cases) {
  fs::path d = fs::temp_directory_path() / name;
  fs::remove_all(d);
  Result r = run_frugal("data phantom --out " + d.string() + " --cases " + std::to_string(cases) + " --size 16 --json");
  EXPECT_EQ(r.code, 0) << r.err;
  return d;
}

}  // namespace

TEST(CliRev, PhantomThenTrainWritesRegionScores) {
  fs::path data = phantoms("frugal_cli_rev_phantoms", 4);
  EXPECT_TRUE(fs::exists(data / "phantom_003" / "phantom_003_t1ce.nii.gz"));
  EXPECT_TRUE(fs::exists(data / "phantom_000" / "phantom_000_seg.nii.gz"));
  fs::path out = fs::temp_directory_path() / "frugal_cli_rev_run";
  fs::remove_all(out);
  Result r = run_frugal("train " + example() + " --data-dir " + data.string() + " --out " + out.string() +
                 " --set epochs=2 --set crop=8" + kSmallNet + " --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json m = nlohmann::json::parse(r.out);
  EXPECT_EQ(m["train_cases"], 3);
  EXPECT_EQ(m["test_cases"], 1);
  for (const char* region : {"WT", "TC", "ET"}) {
    EXPECT_GE(m["dice"][region].get<double>(), 0.0);
    EXPECT_LE(m["dice"][region].get<double>(), 1.0);
    EXPECT_GE(m["hd95"][region].get<double>(), 0.0);
  }
  EXPECT_GT(m["peak_bytes"].get<int64_t>(), 0);
  EXPECT_GT(m["train_seconds"].get<double>(), 0.0);
  EXPECT_EQ(m["epoch_loss"].size(), 2u);
  EXPECT_TRUE(fs::exists(out / "metrics.json"));
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));

  Result bad_crop = run_frugal("train " + example() + " --data-dir " + data.string() + " --out " + out.string() +
                        " --set crop=7" + kSmallNet);
  EXPECT_EQ(bad_crop.code, 2);
  EXPECT_NE(bad_crop.err.find("crop"), std::string::npos) << bad_crop.err;
}

TEST(CliRev, MalformedNiftiStopsTrainingNamingTheFile) {
  fs::path data = phantoms("frugal_cli_rev_bad_nifti", 2);
  fs::path flair = data / "phantom_000" / "phantom_000_flair.nii.gz";
  frugal::io::NiftiVolume v = frugal::io::read_nifti(flair.string());
  fs::remove(flair);
  fs::path plain = data / "phantom_000" / "phantom_000_flair.nii";
  std::string train = "train " + example() + " --data-dir " + data.string() + " --out " +
                      (fs::temp_directory_path() / "frugal_cli_rev_bad_run").string() + " --set epochs=1" + kSmallNet;

  frugal::io::write_nifti(plain.string(), v);
  std::ifstream in(plain, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), {});
  struct Case {
    std::string bytes, words;
  };
  std::vector<Case> cases;
  std::string b = good;
  int32_t bad_size = 100;
  std::memcpy(&b[0], &bad_size, 4);
  cases.push_back({b, "sizeof_hdr"});
  b = good;
  int16_t four_d[2] = {4, 5};  // dim[0] = 4 with 5 time points
  std::memcpy(&b[40], &four_d[0], 2);
  std::memcpy(&b[48], &four_d[1], 2);
  cases.push_back({b, "dim[4]"});
  b = good;
  int16_t rgb[2] = {128, 24};  // DT_RGB24, 24 bits per voxel
  std::memcpy(&b[70], &rgb[0], 2);
  std::memcpy(&b[72], &rgb[1], 2);
  cases.push_back({b, "datatype 128"});
  cases.push_back({good.substr(0, good.size() - 100), "truncated"});
  for (const Case& c : cases) {
    std::ofstream(plain, std::ios::binary | std::ios::trunc) << c.bytes;
    Result r = run_frugal(train);
    EXPECT_EQ(r.code, 2) << c.words;
    EXPECT_NE(r.err.find(plain.string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.words), std::string::npos) << r.err;
  }
}

TEST(CliRev, BenchMemoryReversibleFitsMore) {
  // Between the two versions' peaks at 16^3, so only the reversible net fits 16^3.
  Result r = run_frugal("bench memory " + example() + " --sizes 8,16 --budget-mib 6 --max-width 8 --max-extra-blocks 2" +
                 kSmallNet + " --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json m = nlohmann::json::parse(r.out);
  EXPECT_LT(m["peak_bytes_reversible"].get<int64_t>(), m["peak_bytes_plain"].get<int64_t>());
  EXPECT_EQ(m["max_voxels_reversible"], 16 * 16 * 16) << r.err;
  EXPECT_EQ(m["max_voxels_plain"], 8 * 8 * 8) << r.err;
  EXPECT_GE(m["max_channels_reversible"].get<int>(), m["max_channels_plain"].get<int>());
  EXPECT_GE(m["max_blocks_reversible"].get<int>(), m["max_blocks_plain"].get<int>());
  EXPECT_GT(m["step_seconds_plain"].get<double>(), 0.0);
  EXPECT_FALSE(m["measurements"].empty());

  Result bad = run_frugal("bench memory " + example() + " --budget lots");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--budget"), std::string::npos) << bad.err;
}
