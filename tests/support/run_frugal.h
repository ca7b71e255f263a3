// Runs the frugal binary built beside the tests (FRUGAL_BINARY) with shell-quoted arguments and
// captures its exit code, stdout and stderr, for tests of the command line.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace frugal::testing {

struct RunResult {
  int code = -1;  // exit code; -1 when killed by a signal
  std::string out, err;
};

inline RunResult run_frugal(const std::string& args) {
  // One stderr file per call and process, so tests running in parallel do not share it.
  static int calls = 0;
  std::filesystem::path err_file = std::filesystem::temp_directory_path() /
                                   ("frugal_test_stderr_" + std::to_string(getpid()) + "_" + std::to_string(calls++));
  std::string cmd = std::string(FRUGAL_BINARY) + " " + args + " 2>" + err_file.string();
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  std::filesystem::remove(err_file);
  return r;
}

}  // namespace frugal::testing
