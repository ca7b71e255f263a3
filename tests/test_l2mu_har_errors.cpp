// The L2MU's HAR inputs end to end through the command line: a WISDM or UCI-HAR file with a
// malformed line (missing fields, a non-numeric value, an unknown activity code) stops
// `frugal train examples/har_l2mu.toml` with exit code 2 and one error naming the file and line.
// The files are written by the test; the readers' own unit tests are in test_io_har.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/run_frugal.h"

namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

frugal::testing::RunResult train_on(const std::string& dataset, const fs::path& dir) {
  return frugal::testing::run_frugal("train " + std::string(FRUGAL_SOURCE_DIR) + "/examples/har_l2mu.toml --set 'dataset=\"" +
                                     dataset + "\"' --set epochs=1 --data-dir '" + dir.string() + "' --out '" +
                                     (dir / "run").string() + "'");
}

void expect_exit2_at(const frugal::testing::RunResult& r, const std::string& file_line, const std::string& what) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(file_line), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

// Three good WISDM v1.1 records, then `bad` as line 4.
void wisdm_case(const std::string& name, const std::string& bad, const std::string& what) {
  fs::path dir = fresh_dir("frugal_l2mu_wisdm_" + name);
  const fs::path file = dir / "WISDM_ar_v1.1_raw.txt";
  std::ofstream(file) << "33,Jogging,49105962326000,-0.69,12.68,0.50;\n"
                      << "33,Jogging,49106062271000,5.01,11.26,0.95;\n"
                      << "34,Walking,49106112167000,4.90,10.88,-0.08;\n"
                      << bad << "\n";
  expect_exit2_at(train_on("wisdm", dir), file.string() + ":4", what);
}

TEST(L2muHarErrors, WisdmMalformedLinesExit2WithFileAndLine) {
  wisdm_case("fields", "34,Walking,1,2,3;", "expected 6 fields");
  wisdm_case("number", "34,Walking,1,2,x3,4;", "not a finite number");
  wisdm_case("code", "34,Flying,1,2,3,4;", "unknown activity code 'Flying'");
}

// A two-window UCI-HAR train split (9 inertial signals of 4 samples); `edit` breaks one file.
fs::path uci_dir(const std::string& name) {
  fs::path dir = fresh_dir("frugal_l2mu_uci_" + name);
  for (const char* split : {"train", "test"}) {
    fs::path s = dir / split;
    fs::create_directories(s / "Inertial Signals");
    std::ofstream(s / ("y_" + std::string(split) + ".txt")) << "1\n2\n";
    std::ofstream(s / ("subject_" + std::string(split) + ".txt")) << "1\n2\n";
    for (const char* sig : {"body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z",
                            "total_acc_x", "total_acc_y", "total_acc_z"})
      std::ofstream(s / "Inertial Signals" / (std::string(sig) + "_" + split + ".txt")) << "1 2 3 4\n5 6 7 8\n";
  }
  return dir;
}

TEST(L2muHarErrors, UciHarMalformedLinesExit2WithFileAndLine) {
  {
    fs::path dir = uci_dir("label");
    const fs::path y = dir / "train" / "y_train.txt";
    std::ofstream(y) << "1\n9\n";
    expect_exit2_at(train_on("uci-har", dir), y.string() + ":2", "unknown activity label 9");
  }
  {
    fs::path dir = uci_dir("number");
    const fs::path f = dir / "train" / "Inertial Signals" / "body_gyro_z_train.txt";
    std::ofstream(f) << "1 2 3 4\n5 six 7 8\n";
    expect_exit2_at(train_on("uci-har", dir), f.string() + ":2", "not a finite number");
  }
  {
    fs::path dir = uci_dir("fields");
    const fs::path f = dir / "train" / "Inertial Signals" / "total_acc_x_train.txt";
    std::ofstream(f) << "1 2 3 4\n5 6 7\n";
    expect_exit2_at(train_on("uci-har", dir), f.string() + ":2", "3 samples, expected 4");
  }
}

}  // namespace
