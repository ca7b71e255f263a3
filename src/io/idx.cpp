#include "frugal/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "frugal/core/error.h"
#include "frugal/io/limits.h"

namespace frugal::io {

namespace {

constexpr int64_t kChunk = int64_t{1} << 20;

// gzread reads plain files unchanged, so one reader covers both forms.
struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Reads up to n bytes; fewer only at the end of the data. A corrupt stream is an error.
int64_t read_some(GzFile& in, unsigned char* dst, int64_t n, const std::string& path) {
  int64_t got = 0;
  while (got < n) {
    unsigned ask = static_cast<unsigned>(std::min<int64_t>(n - got, kChunk));
    int r = gzread(in.f, dst + got, ask);
    if (r < 0) {
      int errnum = 0;
      const char* msg = gzerror(in.f, &errnum);
      if (errnum == Z_BUF_ERROR) throw Error(path + ": truncated: the gzip stream ends early");
      throw Error(path + ": cannot decompress: " + (msg ? msg : "unknown zlib error"));
    }
    if (r == 0) break;
    got += r;
  }
  return got;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::error_code ec;
  require(std::filesystem::is_regular_file(path, ec), path + ": no such IDX file");
  GzFile in;
  in.f = gzopen(path.c_str(), "rb");
  require(in.f != nullptr, path + ": cannot open IDX file");

  unsigned char magic[4];
  require(read_some(in, magic, 4, path) == 4, path + ": truncated: the 4-byte field 'magic' is incomplete");
  require(magic[0] == 0 && magic[1] == 0, path + ": field 'magic' must start with two zero bytes, got " +
                                              std::to_string(magic[0]) + " " + std::to_string(magic[1]) + " (not an IDX file)");
  require(magic[2] == 0x08, path + fmt::format(": field 'magic' has data type 0x{:02x}, only 0x08 (unsigned byte) is supported",
                                            magic[2]));
  int ndim = magic[3];
  require(ndim >= 1, path + ": field 'magic' declares 0 dimensions");

  IdxArray out;
  int64_t numel = 1;
  for (int i = 0; i < ndim; ++i) {
    unsigned char b[4];
    std::string field = "dimension " + std::to_string(i);
    require(read_some(in, b, 4, path) == 4, path + ": truncated: field '" + field + "' is incomplete");
    int64_t d = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    out.shape.push_back(d);
    int64_t cap = limits().max_tensor_elements;
    require(d <= cap && (d == 0 || numel <= cap / d), path + ": field '" + field + "' is " + std::to_string(d) +
                                              ", the array would exceed the cap of " + std::to_string(cap) + " elements");
    numel *= d;
  }

  // Grow with the bytes that actually arrive, so a lying header cannot make us allocate 2 GiB.
  int64_t got = 0;
  while (got < numel) {
    int64_t want = std::min<int64_t>(numel - got, kChunk * 16);
    out.data.resize(static_cast<size_t>(got + want));
    int64_t r = read_some(in, out.data.data() + got, want, path);
    got += r;
    if (r < want) break;
  }
  require(got == numel, path + ": truncated: the dimensions need " + std::to_string(numel) + " data bytes, the file has " +
                            std::to_string(got));
  unsigned char extra;
  require(read_some(in, &extra, 1, path) == 0,
          path + ": dimension mismatch: the file has more data than the dimensions declare (" + std::to_string(numel) + " bytes)");
  return out;
}

}  // namespace frugal::io
