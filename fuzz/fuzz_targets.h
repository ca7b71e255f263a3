// The parser behind each fuzz target (fuzz/fuzz_<target>.cpp) and the regression test that replays
// the crashing inputs kept in tests/data/fuzz/<target>/: both call parse_as, so a saved input is
// replayed through exactly the code the fuzzer ran. Bad input must end in frugal::Error; any other
// exception, crash, leak or sanitizer report is a bug.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "frugal/core/error.h"
#include "frugal/io/har.h"
#include "frugal/io/idx.h"
#include "frugal/io/nifti.h"
#include "frugal/io/nir.h"
#include "frugal/io/npy.h"
#include "frugal/io/onnx.h"
#include "frugal/io/safetensors.h"
#include "frugal/train/config.h"

namespace frugal::fuzz {

// Runs the parser of `target` on the file at `path`.
inline void parse_as(const std::string& target, const std::string& path) {
  if (target == "idx") {
    io::read_idx(path);
  } else if (target == "har") {
    // One text input drives both text readers; each fails on the other's format at its own line.
    try {
      io::read_wisdm(path);
    } catch (const Error&) {
    }
    io::read_ts(path);
  } else if (target == "nifti") {
    io::read_nifti(path);
  } else if (target == "nir") {
    io::read_nir(path);
  } else if (target == "safetensors") {
    io::read_safetensors(path);
  } else if (target == "npy") {
    io::read_npy(path);
  } else if (target == "onnx") {
    io::read_onnx(path);
  } else if (target == "config") {
    train::parse_train_config(train::load_config(path, {}), path);
  } else {
    throw Error("fuzz: unknown target '" + target + "'");
  }
}

// The file name suffix each target's scratch file gets (the readers do not look at it, except
// NIfTI, whose library picks gzip by name).
inline std::string target_suffix(const std::string& target) {
  if (target == "har") return ".txt";
  if (target == "config") return ".toml";
  if (target == "nifti") return ".nii";
  return "." + target;
}

// The parsers read files, so each input is written to a scratch file named after the process (in
// /dev/shm when there is one, to keep the disk out of the loop). NIfTI picks gzip by the file
// name, so a gzip stream gets a .gz suffix. The file is removed when the input is done, so runs
// leave nothing in /dev/shm; a process that dies inside the parser leaves it behind, which is
// the input that killed it (libFuzzer also saves that input itself under -artifact_prefix).
class ScratchFile {
 public:
  ScratchFile(const uint8_t* data, size_t size, const std::string& target) {
    std::filesystem::path dir =
        std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    path_ = (dir / ("frugal_fuzz_" + std::to_string(getpid()) + target_suffix(target) + (gz ? ".gz" : ""))).string();
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The body of every LLVMFuzzerTestOneInput.
inline int run_one(const std::string& target, const uint8_t* data, size_t size) {
  ScratchFile file(data, size, target);
  try {
    parse_as(target, file.path());
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace frugal::fuzz
