#include "cli_common.h"

#include <cstdio>

#include "frugal/core/parallel.h"

namespace frugal::cli {

void add_common_options(CLI::App* cmd, CommonOptions& options) {
  cmd->add_flag("--json", options.json, "print one JSON object on stdout (human text goes to stderr)");
  cmd->add_option("--threads", options.threads, "threads for frugal's kernels and oneDNN (default: all cores)")
      ->check(CLI::NonNegativeNumber);
}

void apply_common_options(const CommonOptions& options) { set_num_threads(options.threads); }

void emit_json(const CommonOptions& options, const Json& result) {
  if (options.json) std::printf("%s\n", result.dump().c_str());
}

CLI::App* command_group(CLI::App& app, const std::string& name, const std::string& description) {
  for (CLI::App* sub : app.get_subcommands({}))
    if (sub->get_name() == name) return sub;
  CLI::App* group = app.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

void log(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

}  // namespace frugal::cli
