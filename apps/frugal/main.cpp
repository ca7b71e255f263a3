// frugal: the command-line tool. Each subcommand lives in its own file (train.cpp, eval.cpp, ...)
// and registers itself here; errors from anywhere below surface once, as one line and exit 2.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"
#include "frugal/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"frugal: train, convert, sparsify, run, hardwire and cost energy-efficient networks on CPUs"};
  app.require_subcommand(1);
  frugal::cli::add_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const frugal::Error& e) {
    std::fprintf(stderr, "frugal: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "frugal: error: %s\n", e.what());
    return 2;
  }
  return frugal::cli::exit_code();
}
