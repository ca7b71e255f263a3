// Memory proof for the reversible U-Net as a standalone binary (the same measurement as
// `frugal bench memory`, from src/rev/memory_bench.cpp): peak tracked bytes, max RSS and step
// time of one training step, reversible vs plain, per volume size; then the largest volume, width
// and depth each version trains within the budget.
//   bench_rev_unet_memory [--config examples/unet3d_rev.toml] [--budget-mib 256] [--sizes 16,24,32]
//                         [--set key=value ...] [--json]
#include <cstdio>
#include <string>
#include <vector>

#include "frugal/core/error.h"
#include "frugal/rev/memory_bench.h"
#include "frugal/train/config.h"

using namespace frugal;

namespace {
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
    rev::MemoryBenchOptions options;
    options.budget_bytes = int64_t{256} << 20;
    std::vector<std::string> overrides;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      bool has_value = i + 1 < argc;
      if (a == "--config" && has_value)
        config_path = argv[++i];
      else if (a == "--budget-mib" && has_value)
        options.budget_bytes = static_cast<int64_t>(std::stod(argv[++i]) * 1048576.0);
      else if (a == "--sizes" && has_value)
        options.sizes = parse_sizes(argv[++i]);
      else if (a == "--set" && has_value)
        overrides.push_back(argv[++i]);
      else if (a == "--json")
        json = true;
      else
        throw Error("unknown or incomplete argument '" + a + "'");
    }
    nn::Json cfg = train::load_config(config_path, overrides);
    rev::UNet3dConfig base = rev::parse_unet3d_config(cfg.value("model", nn::Json::object()), config_path + " [model]");
    rev::MemoryReport report = rev::run_memory_bench(
        base, options, [](const rev::MemoryRow& row) { std::fprintf(stderr, "%s\n", rev::memory_row_text(row).c_str()); });
    std::fprintf(stderr, "%s\n", rev::memory_summary_text(report, options.budget_bytes).c_str());
    if (json) std::printf("%s\n", rev::memory_report_json(report, options.budget_bytes).dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
