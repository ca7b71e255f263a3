// The frugal binary end to end: train then eval agree on accuracy, and each kind of bad input
// (truncated or wrong-magic IDX, corrupt safetensors, unknown or mistyped config key, missing data
// directory, NaN loss) gives one error line naming the file or field, and exit code 2.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/run_frugal.h"

namespace fs = std::filesystem;

namespace {

using Result = frugal::testing::RunResult;
Result run(const std::string& args) { return frugal::testing::run_frugal(args); }

std::string example() { return std::string(FRUGAL_SOURCE_DIR) + "/examples/fmnist_cnn.toml"; }
const char* kQuick = " --set train_limit=256 --set test_limit=100 --set epochs=1";

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A data directory whose test images file is replaced by `images` (labels and train files real).
fs::path data_dir_with_images(const std::string& name, const std::string& images) {
  fs::path d = fresh_dir(name);
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    fs::copy_file(fs::path("/usr/share/datasets/fashion-mnist") / f, d / f);
  std::ofstream(d / "t10k-images-idx3-ubyte", std::ios::binary) << images;
  return d;
}

void expect_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr lacks '" << needle << "':\n" << r.err;
  EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
}

TEST(Cli, TrainThenEvalReportTheSameAccuracy) {
  fs::path out = fresh_dir("frugal_cli_run");
  Result t = run("train " + example() + kQuick + " --out " + out.string() + " --json");
  ASSERT_EQ(t.code, 0) << t.err;
  auto tm = nlohmann::json::parse(t.out);
  for (const char* key : {"test_accuracy", "train_seconds", "train_samples_per_s", "peak_bytes"})
    EXPECT_TRUE(tm.contains(key)) << key;
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
  EXPECT_TRUE(fs::exists(out / "metrics.json"));
  Result e = run("eval " + (out / "model.safetensors").string() + " --json");
  ASSERT_EQ(e.code, 0) << e.err;
  auto em = nlohmann::json::parse(e.out);
  EXPECT_DOUBLE_EQ(em["test_accuracy"].get<double>(), tm["test_accuracy"].get<double>());
  EXPECT_TRUE(em.contains("samples_per_s"));
  Result i = run("info " + (out / "model.safetensors").string() + " --json");
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_NO_THROW(nlohmann::json::parse(i.out));
}

TEST(Cli, TruncatedIdxIsAnError) {
  std::string header("\x00\x00\x08\x03\x00\x00\x27\x10\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
  fs::path d = data_dir_with_images("frugal_cli_truncated", header + std::string(1000, '\x01'));
  expect_error(run("train " + example() + kQuick + " --data-dir " + d.string()), "t10k-images-idx3-ubyte");
}

TEST(Cli, WrongMagicIdxIsAnError) {
  fs::path d = data_dir_with_images("frugal_cli_magic", std::string("\x12\x34\x08\x03", 4) + std::string(60, '\0'));
  expect_error(run("train " + example() + kQuick + " --data-dir " + d.string()), "magic");
}

TEST(Cli, MissingDataDirectoryIsAnError) {
  expect_error(run("train " + example() + kQuick + " --data-dir /nonexistent/fmnist"), "/nonexistent/fmnist");
}

TEST(Cli, CorruptSafetensorsHeaderIsAnError) {
  fs::path d = fresh_dir("frugal_cli_safetensors");
  std::ofstream(d / "bad.safetensors", std::ios::binary) << std::string("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": [1, 2", 19);
  expect_error(run("eval " + (d / "bad.safetensors").string()), "bad.safetensors");
}

TEST(Cli, UnknownConfigKeyIsAnError) {
  expect_error(run("train " + example() + kQuick + " --set learning_rate=0.1"), "learning_rate");
}

TEST(Cli, MistypedConfigKeyIsAnError) {
  expect_error(run("train " + example() + kQuick + " --set batch_size=big"), "batch_size");
}

TEST(Cli, NanLossStopsTraining) {
  Result r = run("train " + example() + kQuick + " --set optimizer.type=sgd --set optimizer.lr=1e30 --out " +
                 fresh_dir("frugal_cli_nan").string());
  expect_error(r, "not finite");
}

// Ctrl-C during training saves a checkpoint and exits with 130; --resume then finishes the run.
TEST(Cli, InterruptSavesCheckpointAndResumeFinishes) {
  fs::path out = fresh_dir("frugal_cli_interrupt");
  std::string config = example();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stderr);
    freopen("/dev/null", "w", stdout);
    execl(FRUGAL_BINARY, FRUGAL_BINARY, "train", config.c_str(), "--set", "epochs=1", "--set", "train_limit=20000",
          "--set", "test_limit=100", "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Interrupt once the log shows the first progress line (10% of the epoch); allow a slow,
  // loaded machine up to 3 minutes to load the data and get there.
  auto log_has_progress = [&] {
    std::ifstream in(out / "train.log");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return text.find("epoch 1/1 ") != std::string::npos;
  };
  for (int i = 0; i < 3600 && !log_has_progress(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130);
  ASSERT_TRUE(fs::exists(out / "checkpoint.safetensors"));
  Result r = run("train " + config + " --set epochs=1 --set train_limit=20000 --set test_limit=100 --out " + out.string() + " --resume --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from"), std::string::npos) << r.err;
  EXPECT_GT(nlohmann::json::parse(r.out)["test_accuracy"].get<double>(), 0.5);
}

}  // namespace
