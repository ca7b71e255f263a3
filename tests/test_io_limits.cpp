// Hostile headers: files of a few hundred bytes whose headers claim gigabytes (IDX, npy,
// safetensors, NIfTI plain and gzipped) or deep nesting (safetensors JSON, TOML) must be refused
// with frugal::Error before anything large is allocated (tracked peak bytes and max RSS stay
// small), and the caps of io::limits() must be honoured when a program lowers them.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "frugal/core/allocator.h"
#include "frugal/core/error.h"
#include "frugal/io/idx.h"
#include "frugal/io/limits.h"
#include "frugal/io/nifti.h"
#include "frugal/io/nir.h"
#include "frugal/io/npy.h"
#include "frugal/io/safetensors.h"
#include "frugal/train/config.h"

namespace fs = std::filesystem;
using namespace frugal;

namespace {

constexpr int64_t kSmall = int64_t{64} << 20;  // what one refused file may cost, in bytes

std::string file_with(const std::string& name, const std::string& bytes) {
  fs::path p = fs::temp_directory_path() / ("frugal_limits_" + name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

std::string gzip(const std::string& bytes) {
  uLongf n = compressBound(static_cast<uLong>(bytes.size())) + 32;
  std::string out(n, '\0');
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: gzip wrapper
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Runs f, expects frugal::Error containing `needle`, and that neither tracked peak bytes nor the
// process's max RSS grew by more than kSmall.
void expect_refused_cheaply(const std::function<void()>& f, const std::string& needle) {
  reset_peak_bytes();
  int64_t peak0 = peak_bytes(), rss0 = max_rss_bytes();
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_LT(peak_bytes() - peak0, kSmall);
  EXPECT_LT(max_rss_bytes() - rss0, kSmall);
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string npy(const std::string& dict) {
  std::string header = dict + std::string((64 - (10 + dict.size() + 1) % 64) % 64, ' ') + "\n";
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xff) +
         static_cast<char>(header.size() >> 8) + header;
}

std::string safetensors(const std::string& json, const std::string& data = "") {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((json.size() >> (8 * i)) & 0xff));
  return out + json + data;
}

// A NIfTI-1 header (nifti1.h layout) of float64 voxels with data at byte 352 and `data` after it.
std::string nifti1(int16_t nx, int16_t ny, int16_t nz, const std::string& data) {
  std::string h(348, '\0');
  int32_t size = 348;
  int16_t dim[8] = {3, nx, ny, nz, 1, 1, 1, 1};
  int16_t dt[2] = {64, 64};
  float pixdim[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  float vox_offset = 352;
  std::memcpy(&h[0], &size, 4);
  std::memcpy(&h[40], dim, sizeof dim);
  std::memcpy(&h[70], dt, sizeof dt);
  std::memcpy(&h[76], pixdim, sizeof pixdim);
  std::memcpy(&h[108], &vox_offset, 4);
  std::memcpy(&h[344], "n+1\0", 4);
  return h + std::string(4, '\0') + data;
}

TEST(HostileHeaders, IdxClaimingTwoGigabytesIsTruncatedNotAllocated) {
  std::string header = std::string("\x00\x00\x08\x02", 4) + be32(32768) + be32(65536);  // 2^31 bytes
  std::string path = file_with("huge.idx", header + std::string(100, '\x07'));
  expect_refused_cheaply([&] { io::read_idx(path); }, "truncated");
  std::string gz = file_with("huge.idx.gz", gzip(header + std::string(100, '\x07')));
  expect_refused_cheaply([&] { io::read_idx(gz); }, "truncated");
  std::string over = file_with("over.idx", std::string("\x00\x00\x08\x02", 4) + be32(65536) + be32(65536));
  expect_refused_cheaply([&] { io::read_idx(over); }, "cap");
}

TEST(HostileHeaders, NpyClaimingGigabytesIsRefusedBeforeReading) {
  std::string path = file_with("huge.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824, 2), }"));
  expect_refused_cheaply([&] { io::read_npy(path); }, "data bytes");
  std::string over = file_with("over.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"));
  expect_refused_cheaply([&] { io::read_npy(over); }, "exceeds the cap");
  std::string product = file_with("product.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 2147483648, 2147483648), }"));
  expect_refused_cheaply([&] { io::read_npy(product); }, "elements");
}

TEST(HostileHeaders, SafetensorsClaimingGigabytesIsRefused) {
  std::string path = file_with("huge.safetensors",
      safetensors(R"({"w":{"dtype":"F64","shape":[1073741824,2],"data_offsets":[0,17179869184]}})"));
  expect_refused_cheaply([&] { io::read_safetensors(path); }, "beyond the data buffer");
  std::string product = file_with("product.safetensors",
      safetensors(R"({"w":{"dtype":"F32","shape":[2147483648,2147483648,2147483648],"data_offsets":[0,0]}})"));
  expect_refused_cheaply([&] { io::read_safetensors(product); }, "elements");
}

TEST(HostileHeaders, SafetensorsDeeplyNestedHeaderIsRefused) {
  std::string deep = "{\"__metadata__\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  std::string path = file_with("deep.safetensors", safetensors(deep));
  expect_refused_cheaply([&] { io::read_safetensors(path); }, "nests deeper");
}

TEST(HostileHeaders, NiftiClaimingGigabytesIsRefusedBeforeNiftiClibAllocates) {
  // 2048 x 1024 x 1024 float64 voxels would be 16 GiB; the file holds 8 bytes of them.
  std::string header = nifti1(2048, 1024, 1024, std::string(8, '\0'));
  std::string plain = file_with("huge.nii", header);
  expect_refused_cheaply([&] { io::read_nifti(plain); }, "the file has 8");
  // The gzip form used to skip the size check, so nifti_clib allocated the whole volume first.
  std::string gz = file_with("huge.nii.gz", gzip(header));
  expect_refused_cheaply([&] { io::read_nifti(gz); }, "the file has 8");
}

void h5_string(hid_t group, const char* name, const std::string& value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.size());
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t d = H5Dcreate2(group, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value.data());
  H5Dclose(d);
  H5Sclose(space);
  H5Tclose(type);
}

TEST(HostileHeaders, NirDatasetWithoutStoredDataIsRefused) {
  // An Input node whose 'shape' dataset declares 2^27 float64 values (1 GiB) but was never written.
  std::string path = (fs::temp_directory_path() / "frugal_limits_unwritten.nir").string();
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  h5_string(file, "version", "0.2.0");
  hid_t node = H5Gcreate2(file, "node", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  h5_string(node, "type", "NIRGraph");
  hsize_t no_edges[2] = {0, 2};
  hid_t edge_space = H5Screate_simple(2, no_edges, nullptr);
  hid_t edge_type = H5Tcopy(H5T_C_S1);
  H5Tset_size(edge_type, 8);
  H5Dclose(H5Dcreate2(node, "edges", edge_type, edge_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Tclose(edge_type);
  H5Sclose(edge_space);
  hid_t nodes = H5Gcreate2(node, "nodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t input = H5Gcreate2(nodes, "input", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  h5_string(input, "type", "Input");
  hsize_t dims[1] = {hsize_t{1} << 27};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  H5Dclose(H5Dcreate2(input, "shape", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(space);
  for (hid_t g : {input, nodes, node}) H5Gclose(g);
  H5Fclose(file);
  ASSERT_LT(fs::file_size(path), 100000u);
  expect_refused_cheaply([&] { io::read_nir(path); }, "stores no data");
}

TEST(HostileHeaders, DeeplyNestedTomlIsRefused) {
  std::string text = "a = " + std::string(200, '[') + std::string(200, ']') + "\n";
  expect_refused_cheaply([&] { train::toml_to_json(text, "deep.toml"); }, "deep.toml");
}

// Lowered caps are honoured: files that load with the defaults are refused.
TEST(Limits, LoweredCapsAreHonoured) {
  io::Limits saved = io::limits();
  std::string idx = file_with("small.idx", std::string("\x00\x00\x08\x01", 4) + be32(100) + std::string(100, '\x01'));
  std::string nested = "a = [[[[1]]]]\n";
  std::string st = file_with("small.safetensors",
      safetensors(R"({"w":{"dtype":"U8","shape":[10,10],"data_offsets":[0,100]}})", std::string(100, '\x02')));
  ASSERT_NO_THROW(io::read_idx(idx));
  ASSERT_NO_THROW(io::read_safetensors(st));
  ASSERT_NO_THROW(train::toml_to_json(nested, "nested.toml"));
  io::Limits low = saved;
  low.max_tensor_elements = 99;
  low.max_nesting_depth = 3;
  io::set_limits(low);
  EXPECT_THROW(io::read_idx(idx), Error);
  EXPECT_THROW(io::read_safetensors(st), Error);
  EXPECT_THROW(train::toml_to_json(nested, "nested.toml"), Error);
  io::set_limits(saved);
}

}  // namespace
