// Crash-safe training, end to end with the frugal binary in child processes: SIGKILL at random
// moments after the first checkpoint leaves a readable checkpoint that --resume finishes from
// (20 trials); SIGTERM saves and exits with 130, also when stop signals keep arriving; a disk that fills while a checkpoint is written
// (RLIMIT_FSIZE in the child) leaves the previous checkpoint byte for byte and exits 2 naming the
// file; a non-finite loss stops training naming the step, or is skipped with skip_nonfinite = true.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "frugal/core/error.h"
#include "frugal/io/safetensors.h"
#include "frugal/nn/model_file.h"

namespace fs = std::filesystem;
using namespace frugal;

namespace {

// A small MLP on a slice of Fashion-MNIST: 64 steps per epoch, a checkpoint every 4 steps.
const char* kConfig = R"(name = "crash"
dataset = "fashion-mnist"
epochs = 2
batch_size = 32
train_limit = 2048
test_limit = 200
checkpoint_every = 4
seed = 7
[optimizer]
type = "sgd"
lr = 0.05
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
in = 784
out = 32
[[layers]]
type = "relu"
[[layers]]
type = "linear"
in = 32
out = 10
)";

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

fs::path write_config(const fs::path& dir) {
  fs::path p = dir / "crash.toml";
  std::ofstream(p) << kConfig;
  return p;
}

struct Child {
  pid_t pid = -1;
  fs::path err;
};

// Starts `frugal train config --out dir [extra...]`, stderr to dir/stderr.txt. fsize_limit > 0
// caps the size of any file the child writes (a full disk, as the child sees it).
Child start(const fs::path& config, const fs::path& dir, std::vector<std::string> extra, long fsize_limit = 0) {
  Child c;
  c.err = dir / "stderr.txt";
  std::vector<std::string> args = {FRUGAL_BINARY, "train", config.string(), "--out", dir.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  c.pid = fork();
  if (c.pid == 0) {
    freopen(c.err.c_str(), "w", stderr);
    freopen("/dev/null", "w", stdout);
    setenv("OMP_NUM_THREADS", "1", 1);
    if (fsize_limit > 0) {
      // EFBIG instead of the default SIGXFSZ kill, as a full disk gives ENOSPC.
      signal(SIGXFSZ, SIG_IGN);
      rlimit r{static_cast<rlim_t>(fsize_limit), static_cast<rlim_t>(fsize_limit)};
      setrlimit(RLIMIT_FSIZE, &r);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return c;
}

// Exit code, or -signal when the child was killed.
int wait_for(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool wait_until(const std::function<bool()>& ready, int timeout_ms) {
  for (int t = 0; t < timeout_ms; t += 5) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ready();
}

bool all_finite(const io::SafetensorsFile& f) {
  for (const auto& [name, t] : f.tensors)
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(t.data()[i])) return false;
  return !f.tensors.empty();
}

// Starts a run and signals it at a random moment after its first checkpoint, `window_ms` at most;
// when the run had already finished by then the trial is repeated with half the window, so every
// counted trial interrupted a run mid-way. `repeat` keeps sending the signals, one every 200 us,
// until the child exits. Returns the child's exit code (or -signal).
int signal_mid_run(const fs::path& dir, const std::vector<std::string>& extra, const std::vector<int>& signals,
                   bool repeat, std::mt19937& rng, int& retries) {
  int window_ms = 400;
  for (;;) {
    fs::remove(dir / "checkpoint.safetensors");
    Child c = start(dir / "crash.toml", dir, extra);
    if (!wait_until([&] { return fs::exists(dir / "checkpoint.safetensors"); }, 180000)) {
      kill(c.pid, SIGKILL);
      wait_for(c);
      ADD_FAILURE() << "no checkpoint within 3 minutes: " << slurp(c.err);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, window_ms)(rng)));
    int status = 0;
    kill(c.pid, signals[0]);
    for (size_t n = 1; repeat && waitpid(c.pid, &status, WNOHANG) == 0; ++n) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      kill(c.pid, signals[n % signals.size()]);
    }
    if (!repeat) waitpid(c.pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (code != 0 || window_ms == 0) return code;
    ++retries;
    window_ms /= 2;
  }
}

TEST(CrashSafety, SigkillAtRandomMomentsThenResumeFinishes) {
  constexpr int kTrials = 20;
  std::mt19937 rng(2024);
  int ok = 0, retries = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    fs::path dir = fresh_dir("frugal_crash_kill");
    fs::path config = write_config(dir);
    ASSERT_EQ(signal_mid_run(dir, {}, {SIGKILL}, false, rng, retries), -SIGKILL);
    ASSERT_NO_THROW(io::read_safetensors((dir / "checkpoint.safetensors").string()));
    Child r = start(config, dir, {"--resume"});
    ASSERT_EQ(wait_for(r), 0) << slurp(r.err);
    EXPECT_NE(slurp(r.err).find("resumed from"), std::string::npos);
    // Readable: the saved model loads as a frugal model and its weights are finite.
    nn::SavedModel model = nn::load_model((dir / "model.safetensors").string());
    io::SafetensorsFile weights = io::read_safetensors((dir / "model.safetensors").string());
    EXPECT_TRUE(model.model != nullptr && all_finite(weights));
    ok += model.model != nullptr && all_finite(weights);
  }
  std::printf("kill/resume trials: %d/%d killed mid-run, resumed and finished with a readable model "
              "(%d runs that ended before their kill were repeated)\n",
              ok, kTrials, retries);
  EXPECT_EQ(ok, kTrials);
}

TEST(CrashSafety, SigtermSavesACheckpointAndExitsCleanly) {
  fs::path dir = fresh_dir("frugal_crash_term");
  fs::path config = write_config(dir);
  Child c = start(config, dir, {"--set", "checkpoint_every=0", "--set", "epochs=3"});
  ASSERT_TRUE(wait_until([&] { return slurp(dir / "train.log").find("epoch 1/3 ") != std::string::npos; }, 60000))
      << slurp(c.err);
  kill(c.pid, SIGTERM);
  ASSERT_EQ(wait_for(c), 130) << slurp(c.err);
  EXPECT_NE(slurp(dir / "train.log").find("interrupted: checkpoint saved"), std::string::npos);
  ASSERT_NO_THROW(io::read_safetensors((dir / "checkpoint.safetensors").string()));
  Child r = start(config, dir, {"--set", "checkpoint_every=0", "--set", "epochs=3", "--resume"});
  ASSERT_EQ(wait_for(r), 0) << slurp(r.err);
  EXPECT_TRUE(all_finite(io::read_safetensors((dir / "model.safetensors").string())));
}

// A stop signal that lands inside a oneDNN JIT GEMM once corrupted the heap (the kernel wrote the
// handler's frame where the kernel's rsp pointed, into a heap workspace). Signals at random
// moments of the run, repeated until the child exits, must always end in a clean stop.
TEST(CrashSafety, StopSignalsAtRandomMomentsNeverCorruptTheRun) {
  constexpr int kTrials = 10;
  std::mt19937 rng(99);
  int retries = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    fs::path dir = fresh_dir("frugal_crash_storm");
    write_config(dir);
    int code = signal_mid_run(dir, {"--set", "epochs=4"}, {SIGTERM, SIGINT}, true, rng, retries);
    ASSERT_EQ(code, 130) << slurp(dir / "stderr.txt");
    EXPECT_NE(slurp(dir / "train.log").find("interrupted: checkpoint saved"), std::string::npos);
    EXPECT_TRUE(all_finite(io::read_safetensors((dir / "checkpoint.safetensors").string())));
  }
  std::printf("stop-signal trials: %d/%d stopped cleanly (%d runs that ended first were repeated)\n", kTrials,
              kTrials, retries);
}

TEST(CrashSafety, FullDiskWhileSavingKeepsThePreviousCheckpoint) {
  fs::path dir = fresh_dir("frugal_crash_full");
  fs::path config = write_config(dir);
  Child first = start(config, dir, {"--set", "epochs=1"});
  ASSERT_EQ(wait_for(first), 0) << slurp(first.err);
  fs::path ckpt = dir / "checkpoint.safetensors";
  std::string before = slurp(ckpt);
  ASSERT_GT(before.size(), 1000u);
  // Resume into a second epoch with files capped at half a checkpoint: the next save must fail.
  Child full = start(config, dir, {"--set", "epochs=2", "--resume"}, static_cast<long>(before.size() / 2));
  EXPECT_EQ(wait_for(full), 2);
  std::string err = slurp(full.err);
  EXPECT_NE(err.find(ckpt.string()), std::string::npos) << err;
  EXPECT_EQ(slurp(ckpt), before);
  for (const auto& f : fs::directory_iterator(dir))
    EXPECT_EQ(f.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << f.path();
}

TEST(Numerics, NonFiniteLossStopsTrainingNamingTheStep) {
  fs::path dir = fresh_dir("frugal_crash_nan");
  Child c = start(write_config(dir), dir, {"--set", "optimizer.lr=1e30", "--set", "epochs=1"});
  EXPECT_EQ(wait_for(c), 2);
  std::string err = slurp(c.err);
  EXPECT_NE(err.find("not finite"), std::string::npos) << err;
  EXPECT_NE(err.find("epoch 1, batch "), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
}

TEST(Numerics, SkipNonfiniteSkipsStepsAndKeepsWeightsFinite) {
  fs::path dir = fresh_dir("frugal_crash_skip");
  Child c = start(write_config(dir), dir,
                  {"--set", "optimizer.lr=1e30", "--set", "epochs=1", "--set", "skip_nonfinite=true", "--json"});
  ASSERT_EQ(wait_for(c), 0) << slurp(c.err);
  nlohmann::json m = nlohmann::json::parse(slurp(dir / "metrics.json"));
  EXPECT_GT(m["skipped_steps"].get<int64_t>(), 0);
  EXPECT_TRUE(all_finite(io::read_safetensors((dir / "model.safetensors").string())));
}

}  // namespace
