// Replays fuzzing inputs through the parser of their target (fuzz/fuzz_targets.h): every file in
// tests/data/fuzz/<target>/ (inputs that once crashed, leaked or tripped a sanitizer) must now end
// in success or frugal::Error, and every seed in tests/data/fuzz_seeds/<target>/ must parse. Run
// under the asan preset this also proves the fixes are free of sanitizer reports.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../fuzz/fuzz_targets.h"
#include "frugal/train/config.h"

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Files under root/<target>/, as (target, file) pairs; skips generator scripts.
std::vector<std::pair<std::string, fs::path>> inputs_under(const fs::path& root) {
  std::vector<std::pair<std::string, fs::path>> out;
  if (!fs::is_directory(root)) return out;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(dir.path()))
      if (f.is_regular_file()) out.push_back({dir.path().filename().string(), f.path()});
  }
  return out;
}

// Parses the bytes exactly as the fuzz target does (same scratch file naming).
void parse_like_the_fuzzer(const std::string& target, const fs::path& file) {
  std::string bytes = read_bytes(file);
  frugal::fuzz::ScratchFile scratch(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), target);
  frugal::fuzz::parse_as(target, scratch.path());
}

TEST(FuzzRegressions, EveryCrashInputEndsInSuccessOrError) {
  int count = 0;
  for (const auto& [target, file] : inputs_under(fs::path(FRUGAL_SOURCE_DIR) / "tests/data/fuzz")) {
    SCOPED_TRACE(file.string());
    try {
      parse_like_the_fuzzer(target, file);
    } catch (const frugal::Error& e) {
      EXPECT_FALSE(std::string(e.what()).empty());
    }
    ++count;
  }
  std::printf("replayed %d fuzz regression inputs\n", count);
}

// fuzz_config's finding: toml++ 3.3 has undefined behaviour on some non-ASCII characters outside
// strings, so the config reader refuses those (and bytes that are not UTF-8) itself, naming the
// file, line and column, while strings and comments keep any UTF-8.
TEST(FuzzRegressions, ConfigBytesOutsideTomlAreRefusedWithFileAndLine) {
  using frugal::train::toml_to_json;
  const auto error_of = [](const std::string& text) {
    try {
      toml_to_json(text, "run.toml");
    } catch (const frugal::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string outside = ": non-ASCII character outside a string or comment (TOML allows them only in strings and comments)";
  EXPECT_EQ(error_of("name = \"x\"\nkernel = \xCE\xBE\n"), "run.toml:2:10" + outside);
  EXPECT_EQ(error_of("\xCE\xBE = 1\n"), "run.toml:1:1" + outside);
  EXPECT_EQ(error_of("a = \"ok\"\nb = \"\xFF\"\n"), "run.toml:2:6: byte 0xFF is not valid UTF-8 (TOML files must be UTF-8)");
  EXPECT_EQ(error_of("a = 1 # \xED\xA0\x80 surrogate\n"), "run.toml:1:9: byte 0xED is not valid UTF-8 (TOML files must be UTF-8)");
  // After a closing delimiter (with the quotes allowed right before it) the scan is outside again.
  EXPECT_EQ(error_of("a = \"\"\"x\"\"\"\"\"\nb = \xCE\xBE\n"), "run.toml:2:5" + outside);
  EXPECT_EQ(error_of("a = 'x' # c\nb = \xCE\xBE\n"), "run.toml:2:5" + outside);

  frugal::nn::Json ok = toml_to_json(
      "\xEF\xBB\xBF# caf\xC3\xA9 \xCE\xBE\n"
      "\"\xCE\xBE key\" = \"\xCE\xBE \\\" \xF0\x9F\x98\x80\"\n"
      "lit = '\xCE\xBE'\n"
      "multi = \"\"\"\xCE\xBE \\\"\"\" \xCE\xBE\"\"\"\n"
      "ml = '''\xCE\xBE'''  # \xCE\xBE\n",
      "run.toml");
  EXPECT_EQ(ok["\xCE\xBE key"], "\xCE\xBE \" \xF0\x9F\x98\x80");
  EXPECT_EQ(ok["lit"], "\xCE\xBE");
  EXPECT_EQ(ok["multi"], "\xCE\xBE \"\"\" \xCE\xBE");
  EXPECT_EQ(ok["ml"], "\xCE\xBE");
}

// fuzz_nir's out-of-memory findings: libhdf5 mallocs a variable-length string's claimed length
// times its character size inside H5Dread. The first input (a 2 GiB length) is now stopped even
// earlier, by its truncated local heap; the second (characters of a corrupt size, 8.5 GB) by the
// datatype check. Both errors name the scratch file.
TEST(FuzzRegressions, NirStringAllocationsAreCheckedBeforeReading) {
  const fs::path dir = fs::path(FRUGAL_SOURCE_DIR) / "tests/data/fuzz/nir";
  const auto error_of = [&](const std::string& name) {
    try {
      parse_like_the_fuzzer("nir", dir / name);
    } catch (const frugal::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string first = error_of("oom-430b8eb868760e821eb5e1db5d19a6878de41752");
  EXPECT_NE(first.find("frugal_fuzz_"), std::string::npos) << first;
  const std::string second = error_of("oom-b7942ad46e034fa2497eef5b582f6812800e9d64");
  EXPECT_NE(second.find("frugal_fuzz_"), std::string::npos) << second;
  EXPECT_NE(second.find(": characters of "), std::string::npos) << second;
}

// fuzz_nir's allocation-size-too-big finding: a local heap whose data segment size is near 2^64
// made libhdf5 realloc a wrapped, negative size while looking up a group member.
TEST(FuzzRegressions, NirLocalHeapLargerThanTheFileIsRefused) {
  const fs::path input = fs::path(FRUGAL_SOURCE_DIR) / "tests/data/fuzz/nir/crash-63bed7f9d54686c001ed2b19d891732a89dd32b7";
  std::string message;
  try {
    parse_like_the_fuzzer("nir", input);
  } catch (const frugal::Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find(": local heap at byte "), std::string::npos) << message;
}

// The fuzz targets write each input to a scratch file; it must be gone once the input is done,
// whether the parser succeeded or threw, so long runs leave nothing in /dev/shm.
TEST(FuzzRegressions, ScratchFilesAreRemovedAfterEachInput) {
  const std::string prefix = "frugal_fuzz_" + std::to_string(getpid()) + ".";
  const auto leftovers = [&] {
    int count = 0;
    for (const fs::path& dir : {fs::path("/dev/shm"), fs::temp_directory_path()}) {
      if (!fs::is_directory(dir)) continue;
      for (const auto& f : fs::directory_iterator(dir))
        if (f.path().filename().string().rfind(prefix, 0) == 0) ++count;
    }
    return count;
  };
  const std::string bad = "not a model";
  const std::string good = read_bytes(fs::path(FRUGAL_SOURCE_DIR) / "examples" / "fmnist_mlp.toml");
  ASSERT_FALSE(good.empty());
  for (const char* target : {"nir", "config", "idx"}) {
    frugal::fuzz::run_one(target, reinterpret_cast<const uint8_t*>(bad.data()), bad.size());
    EXPECT_EQ(leftovers(), 0) << target;
  }
  frugal::fuzz::run_one("config", reinterpret_cast<const uint8_t*>(good.data()), good.size());
  EXPECT_EQ(leftovers(), 0);
}

TEST(FuzzRegressions, EverySeedParses) {
  auto seeds = inputs_under(fs::path(FRUGAL_SOURCE_DIR) / "tests/data/fuzz_seeds");
  ASSERT_GE(seeds.size(), 8u);
  for (const auto& [target, file] : seeds) {
    SCOPED_TRACE(file.string());
    if (target == "har") {
      // A seed is either WISDM or .ts; the other reader rejects it, so call the right one.
      if (file.extension() == ".ts") EXPECT_NO_THROW(frugal::io::read_ts(file.string()));
      else EXPECT_NO_THROW(frugal::io::read_wisdm(file.string()));
      continue;
    }
    EXPECT_NO_THROW(parse_like_the_fuzzer(target, file));
  }
}

}  // namespace
