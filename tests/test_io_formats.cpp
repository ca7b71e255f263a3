// File formats: safetensors (round trip, a Hugging Face-style file, a table of corrupt inputs),
// crash-safe writes, IDX (the real Fashion-MNIST files and broken copies) and NumPy .npy (round
// trip, files numpy wrote, broken headers).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "frugal/core/error.h"
#include "frugal/io/atomic_file.h"
#include "frugal/io/idx.h"
#include "frugal/io/npy.h"
#include "frugal/io/safetensors.h"

using namespace frugal;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(FRUGAL_SOURCE_DIR) + "/tests/data/io/";
const std::string kFmnist = "/usr/share/datasets/fashion-mnist/";

// A fresh, empty directory per test so leftovers (temp files) are visible.
std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("frugal_io_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Throws, and the message names the file and contains `needle`.
void expect_error(const std::function<void()>& f, const std::string& path, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << path << ": accepted, expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(needle), std::string::npos) << "expected '" << needle << "' in: " << m;
  }
}

std::string le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A safetensors file with this header text (unpadded) and `data_bytes` zero bytes of data.
std::string safetensors_bytes(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

int count_files(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++n;
  }
  return n;
}

}  // namespace

TEST(Safetensors, RoundTripKeepsValuesShapesOrderAndMetadata) {
  std::string dir = temp_dir("st_roundtrip");
  std::string path = dir + "/model.safetensors";
  io::SafetensorsFile file;
  file.tensors.push_back({"conv.weight", Tensor({2, 1, 3, 3}, std::vector<float>(18, 0.0f))});
  for (int i = 0; i < 18; ++i) file.tensors[0].second[i] = 0.1f * static_cast<float>(i) - 0.7f;
  file.tensors.push_back({"bias", Tensor({3}, {1.0f, -INFINITY, 3.5e-39f})});
  file.tensors.push_back({"scalar", Tensor(Shape{}, {42.0f})});
  file.tensors.push_back({"a.empty", Tensor(Shape{0, 5})});
  file.metadata = {{"format", "frugal"}, {"json", "{\"k\": [1, 2]}"}, {"utf8", "\xc3\xa9t\xc3\xa9"}};
  io::write_safetensors(path, file);

  std::string raw = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(raw[i]);
  EXPECT_EQ((8 + n) % 8, 0u) << "header must be padded to 8 bytes";
  EXPECT_EQ(raw.size(), 8 + n + (18 + 3 + 1) * 4);

  io::SafetensorsFile back = io::read_safetensors(path);
  ASSERT_EQ(back.tensors.size(), file.tensors.size());
  for (size_t t = 0; t < file.tensors.size(); ++t) {
    EXPECT_EQ(back.tensors[t].first, file.tensors[t].first);
    ASSERT_EQ(back.tensors[t].second.shape(), file.tensors[t].second.shape());
    EXPECT_EQ(std::memcmp(back.tensors[t].second.data(), file.tensors[t].second.data(), file.tensors[t].second.bytes()), 0);
  }
  EXPECT_EQ(back.metadata, file.metadata);
}

TEST(Safetensors, ReadsHuggingFaceStyleFileOfEveryDtype) {
  io::SafetensorsFile f = io::read_safetensors(kFixtures + "hf_mixed.safetensors");
  std::map<std::string, Tensor> t(f.tensors.begin(), f.tensors.end());
  ASSERT_EQ(t.size(), 9u);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(t["f32"].shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t["f32"][i], 0.5f * i - 1.0f);
  EXPECT_EQ(t["f64"][0], static_cast<float>(1.0 / 3.0));
  EXPECT_EQ(t["f64"][1], -2.5e-3f);
  EXPECT_EQ(t["f16"].shape(), (Shape{2, 2}));
  EXPECT_EQ(t["f16"].to_vector(), (std::vector<float>{1.5f, -2.0f, std::ldexp(1.0f, -24), 65504.0f}));
  EXPECT_EQ(t["bf16"].to_vector(), (std::vector<float>{1.0f, -0.5f, 3.0f, 256.0f}));
  EXPECT_EQ(t["i64"].to_vector(), (std::vector<float>{-3.0f, 0.0f, std::ldexp(1.0f, 40)}));
  EXPECT_EQ(t["i32"].to_vector(), (std::vector<float>{7.0f, -7.0f}));
  EXPECT_EQ(t["i8"].to_vector(), (std::vector<float>{-128.0f, 0.0f, 127.0f}));
  EXPECT_EQ(t["u8"].to_vector(), (std::vector<float>{0.0f, 255.0f}));
  EXPECT_EQ(t["empty"].shape(), (Shape{0, 4}));
}

struct CorruptCase {
  const char* name;
  std::string bytes;
  const char* needle;
};

TEST(Safetensors, CorruptInputsAreErrorsNamingFileAndField) {
  std::string dir = temp_dir("st_corrupt");
  const std::string f32_2 = R"("dtype":"F32","shape":[2])";
  std::vector<CorruptCase> cases = {
      {"empty", "", "truncated"},
      {"truncated_length", std::string("\x10\0\0", 3), "truncated"},
      {"length_beyond_file", le64(1000) + "{\"a\":1}", "beyond the file size"},
      {"length_huge", le64(~uint64_t{0}) + "{}", "exceeds the limit"},
      {"not_json", safetensors_bytes("{\"a\": {\"dtype\": ", 0), "not valid JSON"},
      {"not_object", safetensors_bytes("[1, 2, 3]       ", 0), "does not start with '{'"},
      {"offsets_out_of_range", safetensors_bytes("{\"w\":{" + f32_2 + ",\"data_offsets\":[0,8]}}", 4), "beyond the data buffer"},
      {"offsets_reversed", safetensors_bytes("{\"w\":{" + f32_2 + ",\"data_offsets\":[8,0]}}", 8), "after end"},
      {"shape_size_mismatch", safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "needs 12"},
      {"overlap",
       safetensors_bytes("{\"a\":{" + f32_2 + ",\"data_offsets\":[0,8]},\"b\":{" + f32_2 + ",\"data_offsets\":[4,12]}}", 12),
       "overlaps"},
      {"hole",
       safetensors_bytes("{\"a\":{" + f32_2 + ",\"data_offsets\":[0,8]},\"b\":{" + f32_2 + ",\"data_offsets\":[12,20]}}", 20),
       "gap"},
      {"trailing_data", safetensors_bytes("{\"a\":{" + f32_2 + ",\"data_offsets\":[0,8]}}", 12), "cover 8 bytes"},
      {"unknown_dtype", safetensors_bytes(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1),
       "field 'dtype'"},
      {"negative_dim", safetensors_bytes(R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})", 0), "dimension 0"},
      {"too_many_elements",
       safetensors_bytes(R"({"w":{"dtype":"U8","shape":[65536,65536],"data_offsets":[0,0]}})", 0), "more than 2147483648 elements"},
      {"missing_offsets", safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1]}})", 1), "data_offsets"},
      {"metadata_not_string", safetensors_bytes(R"({"__metadata__":{"epoch":3}})", 0), "__metadata__"},
      {"entry_not_object", safetensors_bytes(R"({"w":3})", 0), "tensor 'w': header entry is not a JSON object"},
  };
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = dir + "/" + c.name + ".safetensors";
    write_bytes(path, c.bytes);
    expect_error([&] { io::read_safetensors(path); }, path, c.needle);
  }
  expect_error([&] { io::read_safetensors(dir + "/missing.safetensors"); }, dir + "/missing.safetensors", "cannot open");
}

TEST(Safetensors, WriterRejectsDuplicateAndReservedNames) {
  std::string path = temp_dir("st_names") + "/x.safetensors";
  io::SafetensorsFile dup;
  dup.tensors = {{"w", Tensor({1})}, {"w", Tensor({1})}};
  expect_error([&] { io::write_safetensors(path, dup); }, path, "appears twice");
  io::SafetensorsFile reserved;
  reserved.tensors = {{"__metadata__", Tensor({1})}};
  expect_error([&] { io::write_safetensors(path, reserved); }, path, "not allowed");
  EXPECT_FALSE(fs::exists(path));
}

TEST(AtomicFile, ReplacesContentAndLeavesNoTempFile) {
  std::string dir = temp_dir("atomic_ok");
  std::string path = dir + "/metrics.json";
  io::write_file_atomic(path, "old");
  io::write_file_atomic(path, "new content");
  EXPECT_EQ(read_bytes(path), "new content");
  EXPECT_EQ(count_files(dir), 1);
}

TEST(AtomicFile, MissingDirectoryIsAnErrorNamingThePath) {
  std::string path = temp_dir("atomic_nodir") + "/no/such/dir/file.bin";
  expect_error([&] { io::write_file_atomic(path, "x"); }, path, "No such file or directory");
}

TEST(AtomicFile, FailedRenameLeavesTargetAndNoTempFile) {
  // The target is a non-empty directory, so rename(2) fails after the data was written.
  std::string dir = temp_dir("atomic_rename");
  std::string path = dir + "/model.safetensors";
  fs::create_directories(path);
  write_bytes(path + "/keep", "k");
  expect_error([&] { io::write_file_atomic(path, "new"); }, path, "rename");
  EXPECT_EQ(read_bytes(path + "/keep"), "k");
  EXPECT_EQ(count_files(dir), 1);
}

TEST(AtomicFile, FailedWriteKeepsOldFileIntact) {
  // A file-size limit makes write(2) fail part-way (EFBIG), as a full disk (ENOSPC) would.
  std::string dir = temp_dir("atomic_efbig");
  std::string path = dir + "/checkpoint.safetensors";
  io::write_file_atomic(path, "previous checkpoint");
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 4096;
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  bool threw = false;
  std::string message;
  try {
    io::write_file_atomic(path, std::string(100000, 'x'));
  } catch (const Error& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(std::strerror(EFBIG)), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path), "previous checkpoint");
  EXPECT_EQ(count_files(dir), 1);
}

TEST(Idx, ReadsRealFashionMnistTestFiles) {
  io::IdxArray labels = io::read_idx(kFmnist + "t10k-labels-idx1-ubyte.gz");
  ASSERT_EQ(labels.shape, (std::vector<int64_t>{10000}));
  ASSERT_EQ(labels.data.size(), 10000u);
  EXPECT_EQ(labels.data[0], 9);  // the first test image is an ankle boot
  EXPECT_EQ(labels.data[1], 2);
  io::IdxArray images = io::read_idx(kFmnist + "t10k-images-idx3-ubyte.gz");
  ASSERT_EQ(images.shape, (std::vector<int64_t>{10000, 28, 28}));
  ASSERT_EQ(images.data.size(), 10000u * 28 * 28);
}

TEST(Idx, PlainAndGzipReadTheSame) {
  std::string dir = temp_dir("idx_plain");
  std::string plain = dir + "/a-idx2-ubyte";
  write_bytes(plain, std::string("\0\0\x08\x02\0\0\0\x02\0\0\0\x03", 12) + std::string("\x01\x02\x03\x04\x05\xff", 6));
  io::IdxArray a = io::read_idx(plain);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 255}));
  std::string gz = dir + "/a-idx2-ubyte.gz";
  gzFile f = gzopen(gz.c_str(), "wb");
  std::string bytes = read_bytes(plain);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  io::IdxArray b = io::read_idx(gz);
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
}

TEST(Idx, BrokenFilesAreErrorsNamingFileAndField) {
  std::string dir = temp_dir("idx_broken");
  std::string header = std::string("\0\0\x08\x01\0\0\0\x04", 8);
  std::vector<CorruptCase> cases = {
      {"empty", "", "'magic'"},
      {"wrong_magic", std::string("\x1f\x00\x08\x01", 4) + std::string(4, '\0'), "'magic'"},
      {"float_type", std::string("\0\0\x0d\x01\0\0\0\x01", 8) + std::string(4, '\0'), "0x0d"},
      {"zero_dims", std::string("\0\0\x08\x00", 4), "0 dimensions"},
      {"truncated_dims", std::string("\0\0\x08\x03\0\0\0\x02\0\0", 10), "dimension 1"},
      {"truncated_data", header + "abc", "truncated"},
      {"extra_data", header + "abcde", "dimension mismatch"},
      {"too_large", std::string("\0\0\x08\x02\0\x01\0\0\0\x01\0\0", 12), "dimension 1"},
  };
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = dir + "/" + c.name;
    write_bytes(path, c.bytes);
    expect_error([&] { io::read_idx(path); }, path, c.needle);
  }
  // A gzip stream cut short: the real labels file without its last half.
  std::string gz = read_bytes(kFmnist + "t10k-labels-idx1-ubyte.gz");
  std::string cut = dir + "/cut-labels-idx1-ubyte.gz";
  write_bytes(cut, gz.substr(0, gz.size() / 2));
  expect_error([&] { io::read_idx(cut); }, cut, "truncated");
  expect_error([&] { io::read_idx(dir + "/absent"); }, dir + "/absent", "no such IDX file");
}

TEST(Npy, RoundTripFloat32) {
  std::string dir = temp_dir("npy_roundtrip");
  for (const Shape& shape : {Shape{2, 3, 4}, Shape{5}, Shape{}, Shape{0, 3}}) {
    SCOPED_TRACE(shape_str(shape));
    Tensor t(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.37f * static_cast<float>(i) - 1.0f;
    std::string path = dir + "/t.npy";
    io::write_npy(path, t);
    EXPECT_EQ(read_bytes(path).size() % 64, static_cast<size_t>(t.bytes() % 64)) << "data must start 64-byte aligned";
    Tensor back = io::read_npy(path);
    EXPECT_EQ(back.shape(), shape);
    EXPECT_EQ(back.to_vector(), t.to_vector());
  }
}

TEST(Npy, ReadsFilesWrittenByNumpy) {
  Tensor f4 = io::read_npy(kFixtures + "np_f4.npy");
  ASSERT_EQ(f4.shape(), (Shape{2, 3, 4}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(f4[i], 0.25f * i - 2.0f);
  Tensor f8 = io::read_npy(kFixtures + "np_f8.npy");
  ASSERT_EQ(f8.shape(), (Shape{3, 4}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(f8[i], static_cast<float>(i / 3.0));
  EXPECT_EQ(io::read_npy(kFixtures + "np_i8.npy").to_vector(), (std::vector<float>{-2, -1, 0, 1}));
  Tensor i4 = io::read_npy(kFixtures + "np_i4.npy");
  EXPECT_EQ(i4.shape(), Shape{});
  EXPECT_EQ(i4[0], -5.0f);
  EXPECT_EQ(io::read_npy(kFixtures + "np_u1.npy").to_vector(), (std::vector<float>{0, 200, 255}));
  EXPECT_EQ(io::read_npy(kFixtures + "np_b1.npy").to_vector(), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(io::read_npy(kFixtures + "np_v2_f4.npy").to_vector(), (std::vector<float>{0, 1, 2, 3, 4}));
}

TEST(Npy, BrokenFilesAreErrorsNamingFileAndField) {
  std::string fortran = kFixtures + "np_fortran.npy";
  expect_error([&] { io::read_npy(fortran); }, fortran, "fortran_order");
  std::string dir = temp_dir("npy_broken");
  auto npy = [](const std::string& dict, const std::string& data) {
    std::string h = dict + "\n";
    return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size()) + '\0' + h + data;
  };
  std::vector<CorruptCase> cases = {
      {"short", "\x93NUM", "truncated"},
      {"bad_magic", std::string("\x93NUMPZ\x01\x00\x00\x00", 10), "'magic'"},
      {"bad_version", std::string("\x93NUMPY\x04\x00\x00\x00", 10), "'version'"},
      {"header_beyond_file", std::string("\x93NUMPY\x01\x00\xff\x00{}", 12), "'header_len'"},
      {"big_endian", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd"), "'descr'"},
      {"complex", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "abcdefgh"), "'descr'"},
      {"short_data", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "abcd"), "needs 8"},
      {"long_data", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "abcdefgh"), "needs 4"},
      {"huge_shape", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (65536, 65536), }", ""), "more than 2147483648 elements"},
      {"negative_dim", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (-1,), }", ""), "dimension 0"},
      {"missing_shape", npy("{'descr': '|u1', 'fortran_order': False, }", ""), "'shape'"},
      {"not_a_dict", npy("['descr']", ""), "expected '{'"},
      {"unknown_key", npy("{'descr': '|u1', 'order': False, 'shape': (), }", ""), "'order'"},
  };
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = dir + "/" + c.name + ".npy";
    write_bytes(path, c.bytes);
    expect_error([&] { io::read_npy(path); }, path, c.needle);
  }
}
