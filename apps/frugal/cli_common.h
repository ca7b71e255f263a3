// Helpers every subcommand shares: the --json convention (one JSON object on stdout, human text
// on stderr), --threads, and human logging.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace frugal::cli {

using Json = nlohmann::json;

struct CommonOptions {
  bool json = false;
  int threads = 0;  // 0: OpenMP default
};

// Adds --json and --threads to a subcommand.
void add_common_options(CLI::App* cmd, CommonOptions& options);
// Applies --threads; call first thing in a callback.
void apply_common_options(const CommonOptions& options);
// Prints `result` as one JSON line on stdout when --json was given.
void emit_json(const CommonOptions& options, const Json& result);
// The command group `name` (frugal data ..., frugal bench ...), made on first use so each of its
// subcommands can register from its own file.
CLI::App* command_group(CLI::App& app, const std::string& name, const std::string& description);
// Human text: always stderr, so stdout stays machine-readable.
void log(const std::string& line);

}  // namespace frugal::cli
