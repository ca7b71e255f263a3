// Memory proof for the reversible U-Net: one training step (forward, Dice + CE loss, backward)
// of the reversible and the plain version of the same net, at growing cubic volumes. Each
// measurement runs in a forked child so max RSS is that step's alone. Reports peak tracked
// bytes, max RSS and step time, and the largest volume each version trains within a budget.
//   bench_rev_unet_memory [--config examples/unet3d_rev.toml] [--budget-mib 256] [--sizes 16,24,32]
//                         [--set key=value ...] [--json]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/rev/segmentation.h"
#include "frugal/rev/unet3d.h"
#include "frugal/train/config.h"

using namespace frugal;

namespace {

struct Measurement {
  int64_t peak_bytes = 0;  // tracked bytes at the step's peak, parameters and input included
  int64_t max_rss = 0;
  double seconds = 0;
  bool ok = false;
};

Measurement measure_in_child(const rev::UNet3dConfig& config, int64_t size) {
  int fds[2];
  require(pipe(fds) == 0, "pipe failed");
  pid_t pid = fork();
  require(pid >= 0, "fork failed");
  if (pid == 0) {
    close(fds[0]);
    Measurement m;
    try {
      Rng rng(1);
      rev::UNet3d net(config, rng);
      Tensor x = Tensor::empty({1, config.in_channels, size, size, size});
      for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.normal();
      std::vector<uint8_t> labels(static_cast<size_t>(size * size * size));
      for (auto& l : labels) l = static_cast<uint8_t>(rng.below(4));
      reset_peak_bytes();
      auto start = std::chrono::steady_clock::now();
      autograd::Var loss = rev::dice_ce_loss(net.forward(autograd::Var(x)), labels);
      autograd::backward(loss);
      m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      m.peak_bytes = peak_bytes();
      m.max_rss = max_rss_bytes();
      m.ok = true;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "size %ld: %s\n", static_cast<long>(size), e.what());
    }
    ssize_t wrote = write(fds[1], &m, sizeof m);
    _exit(wrote == static_cast<ssize_t>(sizeof m) ? 0 : 1);
  }
  close(fds[1]);
  Measurement m;
  ssize_t got = read(fds[0], &m, sizeof m);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof m)) m.ok = false;
  return m;
}

std::vector<int64_t> parse_sizes(const std::string& text) {
  std::vector<int64_t> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::stoll(text.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string config_path = "examples/unet3d_rev.toml";
    double budget_mib = 256;
    std::vector<int64_t> sizes{16, 24, 32, 40, 48, 56, 64};
    std::vector<std::string> overrides;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      bool has_value = i + 1 < argc;
      if (a == "--config" && has_value)
        config_path = argv[++i];
      else if (a == "--budget-mib" && has_value)
        budget_mib = std::stod(argv[++i]);
      else if (a == "--sizes" && has_value)
        sizes = parse_sizes(argv[++i]);
      else if (a == "--set" && has_value)
        overrides.push_back(argv[++i]);
      else if (a == "--json")
        json = true;
      else
        throw Error("unknown or incomplete argument '" + a + "'");
    }
    nn::Json cfg = train::load_config(config_path, overrides);
    rev::UNet3dConfig base = rev::parse_unet3d_config(cfg.value("model", nn::Json::object()), config_path + " [model]");
    int64_t budget = static_cast<int64_t>(budget_mib * 1024 * 1024);
    int64_t fit[2] = {0, 0};  // largest size within the budget: reversible, plain
    bool over[2] = {false, false};
    nn::Json rows = nn::Json::array();
    std::fprintf(stderr, "%-6s %-10s %14s %12s %10s\n", "size", "version", "peak_MiB", "maxrss_MiB", "step_s");
    for (int64_t s : sizes) {
      for (int v = 0; v < 2; ++v) {
        rev::UNet3dConfig c = base;
        c.reversible = v == 0;
        // Past the budget once, a version only gets bigger: skip its larger sizes.
        if (over[v]) continue;
        Measurement m = measure_in_child(c, s);
        if (!m.ok) throw Error("measurement failed at size " + std::to_string(s));
        const char* name = c.reversible ? "rev" : "plain";
        std::fprintf(stderr, "%-6ld %-10s %14.1f %12.1f %10.3f\n", static_cast<long>(s), name,
                     static_cast<double>(m.peak_bytes) / 1048576.0, static_cast<double>(m.max_rss) / 1048576.0,
                     m.seconds);
        rows.push_back({{"size", s}, {"version", name}, {"peak_bytes", m.peak_bytes}, {"max_rss_bytes", m.max_rss},
                        {"step_seconds", m.seconds}});
        if (m.peak_bytes <= budget)
          fit[v] = s;
        else
          over[v] = true;
      }
    }
    double ratio = fit[1] > 0 ? static_cast<double>(fit[0] * fit[0] * fit[0]) / static_cast<double>(fit[1] * fit[1] * fit[1]) : 0;
    std::fprintf(stderr, "budget %.0f MiB: reversible fits %ld^3, plain fits %ld^3 -> %.2fx the voxels\n", budget_mib,
                 static_cast<long>(fit[0]), static_cast<long>(fit[1]), ratio);
    if (json) {
      nn::Json out = {{"budget_bytes", budget},
                      {"max_voxels_reversible", fit[0] * fit[0] * fit[0]},
                      {"max_voxels_plain", fit[1] * fit[1] * fit[1]},
                      {"voxel_ratio", ratio},
                      {"measurements", rows}};
      std::printf("%s\n", out.dump().c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
