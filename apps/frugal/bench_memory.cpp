// `frugal bench memory CONFIG [--sizes 16,24,32] [--budget 2GiB | --budget-mib M] [--set k=v]...
// [--json]`: peak bytes, max RSS and step time of one training step of a U-Net config, reversible
// vs plain, and the largest volume, width and depth each trains within the budget
// (rev/memory_bench.h; docs/reversible.md).
#include <memory>

#include "cli_common.h"
#include "commands.h"
#include "frugal/core/error.h"
#include "frugal/rev/memory_bench.h"
#include "frugal/train/config.h"

namespace frugal::cli {

namespace {
// "2GiB", "512MiB", "64KiB" or plain bytes.
int64_t parse_bytes(const std::string& text) {
  struct Unit {
    const char* suffix;
    double scale;
  };
  for (Unit u : {Unit{"GiB", 1073741824.0}, Unit{"MiB", 1048576.0}, Unit{"KiB", 1024.0}, Unit{"B", 1.0}, Unit{"", 1.0}}) {
    std::string s(u.suffix);
    if (text.size() <= s.size() || text.compare(text.size() - s.size(), s.size(), s) != 0) continue;
    std::string number = text.substr(0, text.size() - s.size());
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(number, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == number.size() && v > 0, "--budget: expected a size like 2GiB or 512MiB, got '" + text + "'");
    return static_cast<int64_t>(v * u.scale);
  }
  throw Error("--budget: expected a size like 2GiB or 512MiB, got '" + text + "'");
}
}  // namespace

void add_bench_memory(CLI::App& app) {
  struct Options {
    CommonOptions common;
    std::string config, budget = "2GiB";
    double budget_mib = 0;
    std::vector<std::string> sets;
    rev::MemoryBenchOptions bench;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* group = command_group(app, "bench", "measure speed and memory");
  CLI::App* cmd = group->add_subcommand("memory", "U-Net training-step memory, reversible vs plain, and what fits a budget");
  cmd->add_option("config", opt->config, "TOML config with a [model] table (examples/unet3d_rev.toml)")->required();
  cmd->add_option("--sizes", opt->bench.sizes, "cubic volume edges, increasing (default 16,24,...,64)")->delimiter(',');
  CLI::Option* budget = cmd->add_option("--budget", opt->budget, "peak-bytes budget, e.g. 2GiB or 512MiB (default 2GiB)");
  cmd->add_option("--budget-mib", opt->budget_mib, "the budget in MiB")->excludes(budget)->check(CLI::PositiveNumber);
  cmd->add_option("--search-size", opt->bench.search_size, "volume of the width and depth searches (default: the plain net's largest)");
  cmd->add_option("--max-width", opt->bench.max_width_quarters, "widest width searched, in quarters of the config's (default 16: 4x)")
      ->check(CLI::Range(4, 64));
  cmd->add_option("--max-extra-blocks", opt->bench.max_extra_blocks, "most blocks added per level in the depth search (default 8)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--set", opt->sets, "override a config key: --set model.expansion=6");
  add_common_options(cmd, opt->common);
  cmd->callback([opt] {
    apply_common_options(opt->common);
    rev::MemoryBenchOptions bench = opt->bench;
    bench.budget_bytes = opt->budget_mib > 0 ? static_cast<int64_t>(opt->budget_mib * 1048576.0) : parse_bytes(opt->budget);
    for (size_t i = 0; i < bench.sizes.size(); ++i)
      require(bench.sizes[i] > 0 && (i == 0 || bench.sizes[i] > bench.sizes[i - 1]),
              "--sizes: expected increasing positive edges");
    Json raw = train::load_config(opt->config, opt->sets);
    require(raw.contains("model"), opt->config + ": no [model] table (a U-Net config is needed)");
    rev::UNet3dConfig base = rev::parse_unet3d_config(raw["model"], opt->config + ": model");
    rev::MemoryReport report =
        rev::run_memory_bench(base, bench, [](const rev::MemoryRow& row) { log(rev::memory_row_text(row)); });
    log(rev::memory_summary_text(report, bench.budget_bytes));
    emit_json(opt->common, rev::memory_report_json(report, bench.budget_bytes));
  });
}

}  // namespace frugal::cli
