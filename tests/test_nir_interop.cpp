// Round trip with the NIR reference implementation (issue 9): runs tests/interop/nir_roundtrip.py
// with Debian's python3, which installs the `nir` package (and snnTorch) into a venv, reads every
// file frugal exports with nir, runs files written by nir in frugal against a NumPy simulation of
// the NIR neurons, and compares snnTorch exports' spikes. Skipped, with the script's reason, where
// python3 is missing or the package index cannot be reached (the script exits 77).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

TEST(NirInterop, RoundTripWithNirPackageAndSnnTorch) {
  const std::string python = "/usr/bin/python3";
  if (!fs::exists(python)) GTEST_SKIP() << python << " is not installed";
  const std::string src = FRUGAL_SOURCE_DIR;
  const fs::path work = fs::temp_directory_path() / "frugal_nir_interop";
  fs::remove_all(work);
  const std::string cmd = python + " " + src + "/tests/interop/nir_roundtrip.py --frugal " + FRUGAL_BINARY +
                          " --data " + src + "/tests/data/nir --work " + work.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::printf("%s", out.c_str());
  if (code == 77) GTEST_SKIP() << out;
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("0 failure(s)"), std::string::npos) << out;
}
