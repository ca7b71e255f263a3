#include "frugal/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "frugal/core/error.h"
#include "frugal/io/atomic_file.h"
#include "frugal/io/limits.h"

namespace frugal::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; frugal assumes a little-endian host");

namespace {

using Json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; a larger one is not a real file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr int64_t kMaxRank = 16;

enum class Dtype { F32, F64, F16, BF16, I64, I32, I8, U8, BOOL };

struct DtypeInfo {
  const char* name;
  Dtype dtype;
  int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", Dtype::F32, 4}, {"F64", Dtype::F64, 8}, {"F16", Dtype::F16, 2}, {"BF16", Dtype::BF16, 2},
    {"I64", Dtype::I64, 8}, {"I32", Dtype::I32, 4}, {"I8", Dtype::I8, 1},   {"U8", Dtype::U8, 1},
    {"BOOL", Dtype::BOOL, 1},
};

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// IEEE 754 binary16 to binary32, including subnormals, infinities and NaN.
float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise the mantissa into a float exponent.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

void convert(Dtype dtype, const unsigned char* src, int64_t n, float* dst) {
  switch (dtype) {
    case Dtype::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      break;
    case Dtype::F64:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<double>(src + 8 * i));
      break;
    case Dtype::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(load<uint16_t>(src + 2 * i));
      break;
    case Dtype::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = std::bit_cast<float>(static_cast<uint32_t>(load<uint16_t>(src + 2 * i)) << 16);
      break;
    case Dtype::I64:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int64_t>(src + 8 * i));
      break;
    case Dtype::I32:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int32_t>(src + 4 * i));
      break;
    case Dtype::I8:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int8_t>(src[i]));
      break;
    case Dtype::U8:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      break;
    case Dtype::BOOL:
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i] != 0 ? 1.0f : 0.0f;
      break;
  }
}

struct Entry {
  std::string name;
  Dtype dtype;
  Shape shape;
  int64_t numel;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const Json& j, uint64_t buffer_bytes) {
  std::string at = path + ": tensor '" + name + "'";
  require(j.is_object(), at + ": header entry is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    require(it.key() == "dtype" || it.key() == "shape" || it.key() == "data_offsets",
            at + ": unexpected field '" + it.key() + "' (expected dtype, shape, data_offsets)");
  Entry e;
  e.name = name;

  auto dt = j.find("dtype");
  require(dt != j.end() && dt->is_string(), at + ": field 'dtype' missing or not a string");
  const DtypeInfo* info = nullptr;
  for (const DtypeInfo& d : kDtypes)
    if (dt->get<std::string>() == d.name) info = &d;
  require(info != nullptr, at + ": field 'dtype' is '" + dt->get<std::string>() +
                               "', expected one of F32 F64 F16 BF16 I64 I32 I8 U8 BOOL");
  e.dtype = info->dtype;

  auto sh = j.find("shape");
  require(sh != j.end() && sh->is_array(), at + ": field 'shape' missing or not an array");
  require(static_cast<int64_t>(sh->size()) <= kMaxRank, at + ": field 'shape' has " + std::to_string(sh->size()) +
                                                            " dimensions, at most " + std::to_string(kMaxRank) + " allowed");
  e.numel = 1;
  const int64_t cap = limits().max_tensor_elements;
  for (size_t i = 0; i < sh->size(); ++i) {
    const Json& d = (*sh)[i];
    require(d.is_number_unsigned(), at + ": field 'shape' dimension " + std::to_string(i) + " is not a non-negative integer");
    uint64_t v = d.get<uint64_t>();
    require(v <= static_cast<uint64_t>(cap), at + ": field 'shape' dimension " + std::to_string(i) + " is " +
                                                 std::to_string(v) + ", above the element cap " + std::to_string(cap));
    e.shape.push_back(static_cast<int64_t>(v));
    require(v == 0 || e.numel <= cap / static_cast<int64_t>(v),
            at + ": field 'shape' " + shape_str(e.shape) + " has more than " + std::to_string(cap) + " elements");
    e.numel *= static_cast<int64_t>(v);
  }

  auto off = j.find("data_offsets");
  require(off != j.end() && off->is_array() && off->size() == 2 && (*off)[0].is_number_unsigned() &&
              (*off)[1].is_number_unsigned(),
          at + ": field 'data_offsets' must be an array of two non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  require(e.begin <= e.end, at + ": field 'data_offsets' begin " + std::to_string(e.begin) + " is after end " +
                                std::to_string(e.end));
  require(e.end <= buffer_bytes, at + ": field 'data_offsets' end " + std::to_string(e.end) +
                                     " is beyond the data buffer of " + std::to_string(buffer_bytes) + " bytes");
  uint64_t expected = static_cast<uint64_t>(e.numel) * static_cast<uint64_t>(info->size);
  require(e.end - e.begin == expected, at + ": field 'data_offsets' spans " + std::to_string(e.end - e.begin) +
                                           " bytes, but shape " + shape_str(e.shape) + " of " + info->name + " needs " +
                                           std::to_string(expected));
  return e;
}

}  // namespace

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  Json header = Json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    require(!name.empty() && name != "__metadata__", path + ": tensor name '" + name + "' is not allowed");
    require(names.insert(name).second, path + ": tensor '" + name + "' appears twice");
    require(tensor.defined(), path + ": tensor '" + name + "' is undefined");
    uint64_t bytes = tensor.bytes();
    header[name] = {{"dtype", "F32"}, {"shape", tensor.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;

  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {
    throw Error(path + ": cannot encode the header (metadata and names must be UTF-8): " + e.what());
  }
  // Pad so 8 + N is a multiple of 8: every tensor then starts 8-byte aligned.
  while (text.size() % 8 != 0) text.push_back(' ');

  std::string out;
  out.reserve(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xffu));
  out += text;
  for (const auto& entry : file.tensors)
    if (entry.second.bytes() > 0) out.append(reinterpret_cast<const char*>(entry.second.data()), entry.second.bytes());
  write_file_atomic(path, out);
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::error_code ec;
  uint64_t file_size = std::filesystem::file_size(path, ec);
  require(!ec, path + ": cannot open safetensors file: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  require(in.good(), path + ": cannot open safetensors file");
  require(file_size >= 8, path + ": truncated: " + std::to_string(file_size) + " bytes, the header length field needs 8");

  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  require(in.good(), path + ": cannot read the header length field");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  require(header_len <= kMaxHeaderBytes, path + ": header length " + std::to_string(header_len) + " exceeds the limit of " +
                                             std::to_string(kMaxHeaderBytes) + " bytes");
  require(header_len <= file_size - 8, path + ": header length " + std::to_string(header_len) + " is beyond the file size of " +
                                           std::to_string(file_size) + " bytes");
  require(header_len >= 2, path + ": header length " + std::to_string(header_len) + " is too small for a JSON object");

  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  require(in.good(), path + ": cannot read the " + std::to_string(header_len) + "-byte header");
  require(text[0] == '{', path + ": header does not start with '{'");
  Json header;
  // A valid header nests three levels; refusing deeper input while parsing keeps a hostile header
  // from building (and later recursively copying or printing) a deeply nested tree.
  const int max_depth = limits().max_nesting_depth;
  auto depth_check = [&](int depth, Json::parse_event_t, Json&) {
    require(depth <= max_depth, path + ": header nests deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  try {
    header = Json::parse(text, depth_check);
  } catch (const Json::exception& e) {
    throw Error(path + ": header is not valid JSON: " + e.what());
  }
  require(header.is_object(), path + ": header is not a JSON object");

  SafetensorsFile result;
  uint64_t buffer_bytes = file_size - 8 - header_len;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    require(static_cast<int64_t>(it.key().size()) <= limits().max_string_bytes,
            path + ": a tensor name is longer than " + std::to_string(limits().max_string_bytes) + " bytes");
    if (it.key() == "__metadata__") {
      require(it->is_object(), path + ": field '__metadata__' is not a JSON object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        require(m->is_string(), path + ": field '__metadata__' entry '" + m.key() + "' is not a string");
        result.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, it.key(), *it, buffer_bytes));
  }

  // The format forbids holes and overlaps: sorted by offset, each tensor starts where the last
  // ended and the last ends at the end of the file.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected_begin = 0;
  std::string previous = "(start of data)";
  for (const Entry& e : entries) {
    require(e.begin >= expected_begin, path + ": tensor '" + e.name + "': field 'data_offsets' [" + std::to_string(e.begin) +
                                           ", " + std::to_string(e.end) + ") overlaps tensor '" + previous + "'");
    require(e.begin == expected_begin, path + ": tensor '" + e.name + "': field 'data_offsets' begins at " +
                                           std::to_string(e.begin) + ", leaving a gap after " + previous + " at " +
                                           std::to_string(expected_begin));
    expected_begin = e.end;
    previous = "'" + e.name + "'";
  }
  require(expected_begin == buffer_bytes, path + ": the tensors cover " + std::to_string(expected_begin) +
                                              " bytes of data, but the file holds " + std::to_string(buffer_bytes));

  std::vector<unsigned char> bytes;
  for (const Entry& e : entries) {
    uint64_t span = e.end - e.begin;
    bytes.resize(span);
    if (span > 0) {
      in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(span));
      require(in.good(), path + ": tensor '" + e.name + "': cannot read " + std::to_string(span) + " bytes of data");
    }
    Tensor t = Tensor::empty(e.shape);
    convert(e.dtype, bytes.data(), e.numel, t.data());
    result.tensors.push_back({e.name, t});
  }
  return result;
}

}  // namespace frugal::io
