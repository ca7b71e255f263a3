// The subcommands of the frugal CLI. Each add_<name> attaches one subcommand whose callback does
// the work; callbacks throw frugal::Error on bad input and set the exit code on other failures.
#pragma once
#include <CLI/CLI.hpp>

namespace frugal::cli {

void add_commands(CLI::App& app);

void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_info(CLI::App& app);
void add_import(CLI::App& app);
void add_export(CLI::App& app);
void add_run(CLI::App& app);
void add_data_phantom(CLI::App& app);
void add_bench_memory(CLI::App& app);
void add_bench_lif(CLI::App& app);
void add_bench_nm(CLI::App& app);
void add_hardwire(CLI::App& app);
// `frugal hardwire cost`, attached to the hardwire subcommand; returns it.
CLI::App* add_hardwire_cost(CLI::App& hardwire);
void add_convert(CLI::App& app);
void add_compress_l2mu(CLI::App& app);
int exit_code();
void set_exit_code(int code);

}  // namespace frugal::cli
