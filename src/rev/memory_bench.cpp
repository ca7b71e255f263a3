// Reversible vs plain U-Net memory benchmark (see memory_bench.h).
#include "frugal/rev/memory_bench.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/core/rng.h"
#include "frugal/rev/segmentation.h"

namespace frugal::rev {

namespace {

// What the child sends back through the pipe: plain bytes, no pointers.
struct ChildReport {
  StepMeasurement m;
  bool ok = false;
  char error[256] = {};
};

void child_measure(const UNet3dConfig& config, int64_t size, int steps, ChildReport& report) {
  Rng rng(1);
  UNet3d net(config, rng);
  Tensor x = Tensor::empty({1, config.in_channels, size, size, size});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.normal();
  std::vector<uint8_t> labels(static_cast<size_t>(size * size * size));
  for (auto& l : labels) l = static_cast<uint8_t>(rng.below(static_cast<uint64_t>(config.classes)));
  std::vector<nn::Param> params = net.parameters();
  int64_t peak = 0;
  for (int s = 0; s < steps; ++s) {
    for (nn::Param& p : params) p.var.zero_grad();
    reset_peak_bytes();
    auto start = std::chrono::steady_clock::now();
    // The reversible forward releases its input's storage, so each step gets a fresh input.
    autograd::Var loss = dice_ce_loss(net.forward(autograd::Var(x.clone())), labels);
    autograd::backward(loss);
    report.m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    peak = std::max(peak, peak_bytes());
  }
  report.m.peak_bytes = peak;
  report.m.max_rss = max_rss_bytes();
  report.ok = true;
}

std::string level_list(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += '/';
    s += std::to_string(v[i]);
  }
  return s;
}

// Channel counts the MBConv blocks accept: even, and with group norm the groups dividing the
// expanded half.
bool channels_valid(const UNet3dConfig& c) {
  for (int ch : c.channels) {
    if (ch <= 0 || ch % 2 != 0) return false;
    int expanded = ch / 2 * c.block.expansion;
    if (c.block.norm == "group" && expanded % std::min(c.block.norm_groups, expanded) != 0) return false;
  }
  return true;
}

// The largest index in [0, count) for which the monotone predicate holds (true, then false), or
// -1. Gallops up and bisects back, so a version that fits far costs O(log count) measurements.
int largest_fit(int count, const std::function<bool(int)>& fits) {
  if (count == 0 || !fits(0)) return -1;
  int good = 0, bad = count, step = 1;
  while (good + step < bad) {
    if (!fits(good + step)) {
      bad = good + step;
      break;
    }
    good += step;
    step *= 2;
  }
  while (bad - good > 1) {
    int mid = good + (bad - good) / 2;
    if (fits(mid))
      good = mid;
    else
      bad = mid;
  }
  return good;
}

}  // namespace

StepMeasurement measure_training_step(const UNet3dConfig& config, int64_t size, int steps) {
  require(size > 0 && steps > 0, "measure_training_step: size and steps must be positive");
  int fds[2];
  require(pipe(fds) == 0, "measure_training_step: pipe failed");
  pid_t pid = fork();
  require(pid >= 0, "measure_training_step: fork failed");
  if (pid == 0) {
    close(fds[0]);
    ChildReport report;
    try {
      child_measure(config, size, steps, report);
    } catch (const std::exception& e) {
      std::snprintf(report.error, sizeof report.error, "%s", e.what());
    }
    ssize_t wrote = write(fds[1], &report, sizeof report);
    _exit(wrote == static_cast<ssize_t>(sizeof report) ? 0 : 1);
  }
  close(fds[1]);
  ChildReport report;
  ssize_t got = read(fds[0], &report, sizeof report);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string what = "training step at " + std::to_string(size) + "^3, channels " + level_list(config.channels) +
                     ", blocks " + level_list(config.blocks) + (config.reversible ? " (reversible)" : " (plain)");
  require(got == static_cast<ssize_t>(sizeof report),
          what + ": the measuring process died (out of memory?), exit status " + std::to_string(status));
  require(report.ok, what + ": " + report.error);
  return report.m;
}

int total_blocks(const UNet3dConfig& config) {
  int total = 0;
  for (size_t l = 0; l < config.blocks.size(); ++l) total += config.blocks[l] * (l + 1 < config.blocks.size() ? 2 : 1);
  return total;
}

MemoryReport run_memory_bench(const UNet3dConfig& base, const MemoryBenchOptions& o,
                              const std::function<void(const MemoryRow&)>& on_row) {
  require(!o.sizes.empty() && o.budget_bytes > 0, "bench memory: needs at least one size and a positive budget");
  MemoryReport report;
  // Volume, width and depth searches share configs (the base net at search_size): measure once.
  auto measure = [&](const std::string& search, UNet3dConfig c, bool reversible, int64_t size) -> const MemoryRow& {
    c.reversible = reversible;
    for (const MemoryRow& r : report.rows)
      if (r.reversible == reversible && r.size == size && r.channels == c.channels && r.blocks == c.blocks) return r;
    MemoryRow row{search, reversible, size, c.channels, c.blocks, measure_training_step(c, size, o.steps), false};
    row.fits = row.m.peak_bytes <= o.budget_bytes;
    report.rows.push_back(row);
    if (on_row) on_row(row);
    return report.rows.back();
  };

  for (int v = 0; v < 2; ++v) {
    // Memory only grows with the volume: the first size over the budget ends the search.
    for (int64_t s : o.sizes) {
      if (!measure("volume", base, v == 0, s).fits) break;
      report.max_size[v] = s;
    }
  }
  report.compare_size = report.max_size[1] > 0 ? report.max_size[1] : o.sizes.front();
  for (int v = 0; v < 2; ++v) report.compare[v] = measure("volume", base, v == 0, report.compare_size).m;

  report.search_size = o.search_size > 0 ? o.search_size : report.compare_size;
  std::vector<UNet3dConfig> widths, depths;
  for (int q = 4; q <= o.max_width_quarters; ++q) {
    UNet3dConfig c = base;
    bool whole = true;
    for (int& ch : c.channels) {
      whole = whole && ch * q % 4 == 0;
      ch = ch * q / 4;
    }
    if (whole && channels_valid(c)) widths.push_back(c);
  }
  for (int d = 0; d <= o.max_extra_blocks; ++d) {
    UNet3dConfig c = base;
    for (int& b : c.blocks) b += d;
    depths.push_back(c);
  }
  for (int v = 0; v < 2; ++v) {
    int w = largest_fit(static_cast<int>(widths.size()), [&](int i) {
      return measure("width", widths[static_cast<size_t>(i)], v == 0, report.search_size).fits;
    });
    if (w >= 0) report.max_channels[v] = widths[static_cast<size_t>(w)].channels[0];
    int d = largest_fit(static_cast<int>(depths.size()), [&](int i) {
      return measure("depth", depths[static_cast<size_t>(i)], v == 0, report.search_size).fits;
    });
    if (d >= 0) report.max_blocks[v] = total_blocks(depths[static_cast<size_t>(d)]);
  }
  return report;
}

nn::Json memory_report_json(const MemoryReport& r, int64_t budget_bytes) {
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  nn::Json rows = nn::Json::array();
  for (const MemoryRow& row : r.rows)
    rows.push_back({{"search", row.search},
                    {"version", row.reversible ? "reversible" : "plain"},
                    {"size", row.size},
                    {"channels", row.channels},
                    {"blocks", row.blocks},
                    {"peak_bytes", row.m.peak_bytes},
                    {"max_rss_bytes", row.m.max_rss},
                    {"step_seconds", row.m.seconds},
                    {"fits", row.fits}});
  double vox[2];
  for (int v = 0; v < 2; ++v) vox[v] = static_cast<double>(r.max_size[v] * r.max_size[v] * r.max_size[v]);
  const StepMeasurement &rev = r.compare[0], &plain = r.compare[1];
  return {{"budget_bytes", budget_bytes},
          {"compare_size", r.compare_size},
          {"peak_bytes_reversible", rev.peak_bytes},
          {"peak_bytes_plain", plain.peak_bytes},
          {"max_rss_bytes_reversible", rev.max_rss},
          {"max_rss_bytes_plain", plain.max_rss},
          {"step_seconds_reversible", rev.seconds},
          {"step_seconds_plain", plain.seconds},
          {"peak_ratio", ratio(static_cast<double>(plain.peak_bytes), static_cast<double>(rev.peak_bytes))},
          {"step_time_ratio", ratio(rev.seconds, plain.seconds)},
          {"max_size_reversible", r.max_size[0]},
          {"max_size_plain", r.max_size[1]},
          {"max_voxels_reversible", static_cast<int64_t>(vox[0])},
          {"max_voxels_plain", static_cast<int64_t>(vox[1])},
          {"voxel_ratio", ratio(vox[0], vox[1])},
          {"search_size", r.search_size},
          {"max_channels_reversible", r.max_channels[0]},
          {"max_channels_plain", r.max_channels[1]},
          {"channel_ratio", ratio(r.max_channels[0], r.max_channels[1])},
          {"max_blocks_reversible", r.max_blocks[0]},
          {"max_blocks_plain", r.max_blocks[1]},
          {"depth_ratio", ratio(r.max_blocks[0], r.max_blocks[1])},
          {"measurements", rows}};
}

std::string memory_row_text(const MemoryRow& row) {
  char line[256];
  std::snprintf(line, sizeof line, "%-6s %-10s %4ld^3  channels %-12s blocks %-8s peak %8.1f MiB  max RSS %8.1f MiB  step %7.3f s%s",
                row.search.c_str(), row.reversible ? "reversible" : "plain", static_cast<long>(row.size),
                level_list(row.channels).c_str(), level_list(row.blocks).c_str(),
                static_cast<double>(row.m.peak_bytes) / 1048576.0, static_cast<double>(row.m.max_rss) / 1048576.0,
                row.m.seconds, row.fits ? "" : "  (over budget)");
  return line;
}

std::string memory_summary_text(const MemoryReport& r, int64_t budget_bytes) {
  auto mib = [](int64_t b) { return static_cast<double>(b) / 1048576.0; };
  char text[1024];
  const StepMeasurement &rev = r.compare[0], &plain = r.compare[1];
  std::snprintf(text, sizeof text,
                "at %ld^3: peak %.1f MiB reversible vs %.1f MiB plain (%.2fx less); step %.3f s vs %.3f s (%.2fx)\n"
                "within %g MiB: volume %ld^3 vs %ld^3; at %ld^3: first-level channels %d vs %d, blocks %d vs %d "
                "(reversible vs plain)",
                static_cast<long>(r.compare_size), mib(rev.peak_bytes), mib(plain.peak_bytes),
                rev.peak_bytes > 0 ? static_cast<double>(plain.peak_bytes) / static_cast<double>(rev.peak_bytes) : 0.0,
                rev.seconds, plain.seconds, plain.seconds > 0 ? rev.seconds / plain.seconds : 0.0, mib(budget_bytes),
                static_cast<long>(r.max_size[0]), static_cast<long>(r.max_size[1]), static_cast<long>(r.search_size),
                r.max_channels[0], r.max_channels[1], r.max_blocks[0], r.max_blocks[1]);
  return text;
}

}  // namespace frugal::rev
