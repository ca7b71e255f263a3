// NIfTI-1/-2 round trips (plain and gzip), malformed files (header size, dims, datatype,
// truncated data) as Errors naming the problem, and the phantom generator read back through the
// BraTS layout reader (label mapping, nested regions, z-scoring, crops).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "frugal/core/error.h"
#include "frugal/data/brats.h"
#include "frugal/io/nifti.h"

using namespace frugal;
namespace fs = std::filesystem;

namespace {

std::string temp_dir(const std::string& name) {
  std::string d = (fs::temp_directory_path() / ("frugal_test_" + name + "_" + std::to_string(getpid()))).string();
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

io::NiftiVolume sample_volume() {
  io::NiftiVolume v;
  v.nx = 5;
  v.ny = 4;
  v.nz = 3;
  v.spacing[0] = 1.5f;
  for (int i = 0; i < 60; ++i) v.data.push_back(0.25f * static_cast<float>(i) - 3.0f);
  return v;
}

TEST(Nifti, RoundTripsVersionsAndCompression) {
  std::string d = temp_dir("nifti_rt");
  for (int version : {1, 2})
    for (const char* ext : {".nii", ".nii.gz"}) {
      std::string p = d + "/v" + std::to_string(version) + ext;
      io::write_nifti(p, sample_volume(), version);
      io::NiftiVolume r = io::read_nifti(p);
      EXPECT_EQ(r.nx, 5);
      EXPECT_EQ(r.ny, 4);
      EXPECT_EQ(r.nz, 3);
      EXPECT_FLOAT_EQ(r.spacing[0], 1.5f);
      EXPECT_EQ(r.data, sample_volume().data) << p;
    }
  fs::remove_all(d);
}

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }

void expect_error(const std::string& path, const std::string& words) {
  try {
    io::read_nifti(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(Nifti, MalformedFilesAreNamedErrors) {
  std::string d = temp_dir("nifti_bad");
  std::string good = d + "/good.nii";
  io::write_nifti(good, sample_volume(), 1);
  std::string bytes = read_bytes(good);

  std::string b = bytes;
  int32_t bad_size = 100;
  std::memcpy(&b[0], &bad_size, 4);
  write_bytes(d + "/size.nii", b);
  expect_error(d + "/size.nii", "sizeof_hdr");

  b = bytes;
  int16_t four_d[2] = {4, 5};  // dim[0] = 4 with 2 time points
  std::memcpy(&b[40], &four_d[0], 2);
  std::memcpy(&b[48], &four_d[1], 2);
  write_bytes(d + "/dims.nii", b);
  expect_error(d + "/dims.nii", "dim[4]");

  b = bytes;
  int16_t rgb[2] = {128, 24};  // DT_RGB24
  std::memcpy(&b[70], &rgb[0], 2);
  std::memcpy(&b[72], &rgb[1], 2);
  write_bytes(d + "/dtype.nii", b);
  expect_error(d + "/dtype.nii", "datatype 128");

  write_bytes(d + "/short.nii", bytes.substr(0, bytes.size() - 17));
  expect_error(d + "/short.nii", "truncated");

  write_bytes(d + "/tiny.nii", "ab");
  expect_error(d + "/tiny.nii", "shorter than a NIfTI header");
  fs::remove_all(d);
}

TEST(Phantoms, BratsLayoutRoundTrip) {
  std::string d = temp_dir("phantoms");
  data::write_phantom_dataset(d, 2, 24, 5);
  std::vector<std::string> cases = data::list_brats_cases(d);
  ASSERT_EQ(cases.size(), 2u);
  data::SegCase raw = data::make_phantom(24, 5);
  data::SegCase c = data::read_brats_case(cases[0]);
  ASSERT_EQ(c.image.shape(), (Shape{4, 24, 24, 24}));
  int64_t counts[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < c.labels.size(); ++i) {
    uint8_t want = raw.labels[i] == 4 ? 3 : raw.labels[i];
    ASSERT_EQ(c.labels[i], want);
    ++counts[c.labels[i]];
  }
  for (int k = 0; k < 4; ++k) EXPECT_GT(counts[k], 0) << "class " << k;
  // Each modality has mean 0 and unit variance over the brain.
  int64_t vox = 24 * 24 * 24;
  for (int m = 0; m < 4; ++m) {
    double s = 0, sq = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < vox; ++i)
      if (raw.image[m * vox + i] != 0) {
        s += c.image[m * vox + i];
        sq += c.image[m * vox + i] * c.image[m * vox + i];
        ++n;
      }
    EXPECT_NEAR(s / n, 0.0, 1e-3);
    EXPECT_NEAR(sq / n, 1.0, 1e-2);
  }
  Rng rng(1);
  data::SegCase crop = data::random_crop(c, 16, rng);
  EXPECT_EQ(crop.image.shape(), (Shape{4, 16, 16, 16}));
  EXPECT_THROW(data::random_crop(c, 25, rng), Error);
  fs::remove(cases[1] + "/phantom_001_t2.nii.gz");
  EXPECT_THROW(data::read_brats_case(cases[1]), Error);
  fs::remove_all(d);
}

}  // namespace
