// BraTS layout reader, per-modality z-scoring over brain voxels, random crops (see brats.h).
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "frugal/core/error.h"
#include "frugal/data/brats.h"
#include "frugal/io/nifti.h"

namespace frugal::data {

namespace fs = std::filesystem;

std::vector<std::string> list_brats_cases(const std::string& dir) {
  require(fs::is_directory(dir), dir + ": not a directory (expected one folder per BraTS case)");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  require(!out.empty(), dir + ": no case folders");
  return out;
}

namespace {
std::string find_file(const std::string& case_dir, const std::string& suffix) {
  std::string name = fs::path(case_dir).filename().string();
  for (const char* ext : {".nii.gz", ".nii"}) {
    std::string p = case_dir + "/" + name + "_" + suffix + ext;
    if (fs::exists(p)) return p;
  }
  throw Error(case_dir + ": missing " + name + "_" + suffix + ".nii.gz");
}
}  // namespace

SegCase read_brats_case(const std::string& case_dir) {
  static const char* modalities[4] = {"flair", "t1", "t1ce", "t2"};
  io::NiftiVolume seg = io::read_nifti(find_file(case_dir, "seg"));
  int64_t vox = seg.nx * seg.ny * seg.nz;
  SegCase c{Tensor::empty({4, seg.nz, seg.ny, seg.nx}), std::vector<uint8_t>(static_cast<size_t>(vox))};
  for (int64_t i = 0; i < vox; ++i) {
    float l = seg.data[static_cast<size_t>(i)];
    require(l == 0 || l == 1 || l == 2 || l == 4,
            case_dir + ": seg label " + std::to_string(l) + " at voxel " + std::to_string(i) + ", expected 0, 1, 2 or 4");
    c.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(l == 4 ? 3 : l);
  }
  for (int m = 0; m < 4; ++m) {
    std::string path = find_file(case_dir, modalities[m]);
    io::NiftiVolume v = io::read_nifti(path);
    require(v.nx == seg.nx && v.ny == seg.ny && v.nz == seg.nz, path + ": dims differ from the seg volume");
    double sum = 0, sq = 0;
    int64_t count = 0;
    for (float x : v.data)
      if (x != 0) {
        sum += x;
        sq += static_cast<double>(x) * x;
        ++count;
      }
    double mean = count ? sum / static_cast<double>(count) : 0;
    double sd = count ? std::sqrt(std::max(0.0, sq / static_cast<double>(count) - mean * mean)) : 1;
    if (sd == 0) sd = 1;
    // Background stays 0 after normalization, as in nnU-Net's BraTS preprocessing.
    for (int64_t i = 0; i < vox; ++i) {
      float x = v.data[static_cast<size_t>(i)];
      c.image[m * vox + i] = x == 0 ? 0.0f : static_cast<float>((x - mean) / sd);
    }
  }
  return c;
}

SegCase random_crop(const SegCase& c, int64_t size, Rng& rng) {
  const Shape& s = c.image.shape();
  require(s.size() == 4 && size > 0 && size <= s[1] && size <= s[2] && size <= s[3],
          "random_crop: crop " + std::to_string(size) + " does not fit volume " + shape_str(s));
  int64_t d = s[1], h = s[2], w = s[3], ch = s[0];
  int64_t z0 = rng.below(d - size + 1), y0 = rng.below(h - size + 1), x0 = rng.below(w - size + 1);
  SegCase out{Tensor::empty({ch, size, size, size}), std::vector<uint8_t>(static_cast<size_t>(size * size * size))};
  for (int64_t z = 0; z < size; ++z)
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x) {
        int64_t src = ((z0 + z) * h + y0 + y) * w + x0 + x, dst = (z * size + y) * size + x;
        out.labels[static_cast<size_t>(dst)] = c.labels[static_cast<size_t>(src)];
        for (int64_t m = 0; m < ch; ++m) out.image[m * size * size * size + dst] = c.image[m * d * h * w + src];
      }
  return out;
}

}  // namespace frugal::data
