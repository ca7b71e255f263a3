#include "frugal/io/npy.h"

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "frugal/core/error.h"
#include "frugal/io/atomic_file.h"
#include "frugal/io/limits.h"

namespace frugal::io {

static_assert(std::endian::native == std::endian::little, "npy '<' dtypes are little-endian; frugal assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr uint64_t kMaxHeaderBytes = 1 << 20;
constexpr size_t kMaxRank = 32;  // NumPy's own limit

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A reader for the one Python literal NumPy writes: a dict of str keys whose values are a str,
// True/False, or a tuple of non-negative ints.
class DictParser {
 public:
  DictParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = string_literal("a key");
      expect(':');
      if (key == "descr") {
        h.descr = string_literal("field 'descr'");
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "' (expected descr, fortran_order, shape)");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' at header byte " + std::to_string(pos_));
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after the header dict");
    if (!have_descr || !have_order || !have_shape) fail("header misses one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { throw Error(path_ + ": npy header: " + what); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "' at header byte " + std::to_string(pos_));
    ++pos_;
  }
  std::string string_literal(const std::string& what) {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') fail(what + " is not a quoted string");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail(what + " has no closing quote");
    std::string v = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("field 'fortran_order' is not True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    int64_t numel = 1;
    int64_t cap = limits().max_tensor_elements;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("field 'shape' dimension " + std::to_string(shape.size()) + " is not a non-negative integer");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + (peek() - '0');
        if (v > cap) fail("field 'shape' dimension " + std::to_string(shape.size()) + " exceeds the cap of " + std::to_string(cap));
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs in old files
      shape.push_back(v);
      if (v > 0 && numel > cap / v) numel = cap + 1;
      else numel *= v;
      if (numel > cap) fail("field 'shape' " + shape_str(shape) + " has more than " + std::to_string(cap) + " elements");
      if (shape.size() > kMaxRank) fail("field 'shape' has more than " + std::to_string(kMaxRank) + " dimensions");
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != ')') fail("field 'shape' is not a tuple of integers");
    }
    ++pos_;
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  size_t pos_ = 0;
};

template <typename T>
void convert(const char* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

}  // namespace

Tensor read_npy(const std::string& path) {
  std::error_code ec;
  uint64_t file_size = std::filesystem::file_size(path, ec);
  require(!ec, path + ": cannot open npy file: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  require(in.good(), path + ": cannot open npy file");

  char pre[12];
  require(file_size >= 10, path + ": truncated: " + std::to_string(file_size) + " bytes, the npy preamble needs 10");
  in.read(pre, 10);
  require(in.good() && std::memcmp(pre, kMagic, kMagicLen) == 0, path + ": field 'magic' is not \\x93NUMPY (not an npy file)");
  int major = static_cast<unsigned char>(pre[6]);
  int minor = static_cast<unsigned char>(pre[7]);
  require((major == 1 || major == 2 || major == 3) && minor == 0,
          path + ": field 'version' is " + std::to_string(major) + "." + std::to_string(minor) + ", expected 1.0, 2.0 or 3.0");
  uint64_t header_len = static_cast<unsigned char>(pre[8]) | (uint64_t{static_cast<unsigned char>(pre[9])} << 8);
  uint64_t prefix = 10;
  if (major >= 2) {
    require(file_size >= 12, path + ": truncated: the 4-byte field 'header_len' is incomplete");
    in.read(pre + 10, 2);
    header_len |= (uint64_t{static_cast<unsigned char>(pre[10])} << 16) | (uint64_t{static_cast<unsigned char>(pre[11])} << 24);
    prefix = 12;
  }
  require(header_len <= kMaxHeaderBytes, path + ": field 'header_len' is " + std::to_string(header_len) + ", above the 1 MiB limit");
  require(prefix + header_len <= file_size, path + ": field 'header_len' " + std::to_string(header_len) +
                                                " is beyond the file size of " + std::to_string(file_size) + " bytes");
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  require(in.good(), path + ": cannot read the npy header");
  NpyHeader h = DictParser(text, path).parse();
  require(!h.fortran_order, path + ": field 'fortran_order' is True; only C order is supported (save with np.ascontiguousarray)");

  int64_t item = 0;
  if (h.descr == "<f4" || h.descr == "<i4") item = 4;
  else if (h.descr == "<f8" || h.descr == "<i8") item = 8;
  else if (h.descr == "|u1" || h.descr == "|b1") item = 1;
  require(item > 0, path + ": field 'descr' is '" + h.descr + "', expected one of <f4 <f8 <i8 <i4 |u1 |b1");

  int64_t n = shape_numel(h.shape);
  uint64_t data_bytes = static_cast<uint64_t>(n) * static_cast<uint64_t>(item);
  uint64_t have = file_size - prefix - header_len;
  require(have == data_bytes, path + ": shape " + shape_str(h.shape) + " of " + h.descr + " needs " + std::to_string(data_bytes) +
                                  " data bytes, the file has " + std::to_string(have));
  std::vector<char> raw(data_bytes);
  if (data_bytes > 0) {
    in.read(raw.data(), static_cast<std::streamsize>(data_bytes));
    require(in.good(), path + ": cannot read " + std::to_string(data_bytes) + " bytes of data");
  }
  Tensor t = Tensor::empty(h.shape);
  float* dst = t.data();
  if (h.descr == "<f4") convert<float>(raw.data(), n, dst);
  else if (h.descr == "<f8") convert<double>(raw.data(), n, dst);
  else if (h.descr == "<i8") convert<int64_t>(raw.data(), n, dst);
  else if (h.descr == "<i4") convert<int32_t>(raw.data(), n, dst);
  else if (h.descr == "|u1") convert<uint8_t>(raw.data(), n, dst);
  else for (int64_t i = 0; i < n; ++i) dst[i] = raw[i] != 0 ? 1.0f : 0.0f;
  return t;
}

void write_npy(const std::string& path, const Tensor& tensor) {
  require(tensor.defined(), path + ": cannot write an undefined tensor");
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) shape += (i ? ", " : "") + std::to_string(tensor.shape()[i]);
  if (tensor.shape().size() == 1) shape += ",";  // a 1-tuple in Python needs the comma
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // NumPy pads with spaces and ends with '\n' so the data starts on a 64-byte boundary.
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  require(header.size() <= 65535, path + ": npy header too long for format 1.0");
  std::string out(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  if (tensor.bytes() > 0) out.append(reinterpret_cast<const char*>(tensor.data()), tensor.bytes());
  write_file_atomic(path, out);
}

}  // namespace frugal::io
