// Synthetic brain-tumour phantoms in the BraTS layout (see brats.h).
#include <cmath>
#include <filesystem>

#include "frugal/core/error.h"
#include "frugal/data/brats.h"
#include "frugal/io/nifti.h"

namespace frugal::data {

SegCase make_phantom(int64_t size, uint64_t seed) {
  require(size >= 8 && size <= 512, "phantom: size must be in 8..512, got " + std::to_string(size));
  Rng rng(seed);
  double c = (static_cast<double>(size) - 1) / 2;
  double brain[3] = {0.42 * size * rng.uniform(0.9f, 1.0f), 0.45 * size * rng.uniform(0.9f, 1.0f),
                     0.38 * size * rng.uniform(0.9f, 1.0f)};
  // Tumour centre well inside the brain; radii of core, enhancing rim and edema nested.
  double tc[3], r_core = size * rng.uniform(0.05f, 0.08f);
  for (int k = 0; k < 3; ++k) tc[k] = c + rng.uniform(-0.35f, 0.35f) * brain[k] * 0.5;
  double r_rim = r_core + size * rng.uniform(0.03f, 0.05f), r_edema = r_rim + size * rng.uniform(0.05f, 0.1f);
  double stretch[3] = {rng.uniform(0.8f, 1.2f), rng.uniform(0.8f, 1.2f), rng.uniform(0.8f, 1.2f)};
  // Mean intensity per tissue (background, brain, core, edema, enhancing) per modality.
  const float contrast[4][5] = {{0, 0.5f, 0.6f, 1.0f, 0.8f},   // flair: edema bright
                                {0, 0.7f, 0.3f, 0.5f, 0.6f},   // t1
                                {0, 0.7f, 0.3f, 0.5f, 1.0f},   // t1ce: enhancing rim bright
                                {0, 0.5f, 0.9f, 0.9f, 0.7f}};  // t2
  double bias[3] = {rng.uniform(-0.2f, 0.2f), rng.uniform(-0.2f, 0.2f), rng.uniform(-0.2f, 0.2f)};
  int64_t vox = size * size * size;
  SegCase out{Tensor::empty({4, size, size, size}), std::vector<uint8_t>(static_cast<size_t>(vox))};
  for (int64_t z = 0; z < size; ++z)
    for (int64_t y = 0; y < size; ++y)
      for (int64_t x = 0; x < size; ++x) {
        int64_t i = (z * size + y) * size + x;
        double p[3] = {static_cast<double>(z), static_cast<double>(y), static_cast<double>(x)};
        double b = 0, t = 0;
        for (int k = 0; k < 3; ++k) {
          b += (p[k] - c) * (p[k] - c) / (brain[k] * brain[k]);
          t += (p[k] - tc[k]) * (p[k] - tc[k]) / (stretch[k] * stretch[k]);
        }
        t = std::sqrt(t);
        int tissue = 0, label = 0;
        if (b <= 1) {
          tissue = 1;
          if (t <= r_core) tissue = 2, label = 1;
          else if (t <= r_rim) tissue = 4, label = 4;
          else if (t <= r_edema) tissue = 3, label = 2;
        }
        out.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(label);
        double field = 1 + bias[0] * (p[0] - c) / size + bias[1] * (p[1] - c) / size + bias[2] * (p[2] - c) / size;
        for (int m = 0; m < 4; ++m)
          out.image[m * vox + i] =
              tissue == 0 ? 0.0f : static_cast<float>(field * (contrast[m][tissue] + 0.05 * rng.normal()) * 1000.0);
      }
  return out;
}

void write_phantom_dataset(const std::string& dir, int cases, int64_t size, uint64_t seed) {
  require(cases > 0, "phantom: cases must be positive");
  static const char* modalities[4] = {"flair", "t1", "t1ce", "t2"};
  for (int k = 0; k < cases; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "phantom_%03d", k);
    std::string case_dir = dir + "/" + name;
    std::filesystem::create_directories(case_dir);
    SegCase c = make_phantom(size, seed + static_cast<uint64_t>(k));
    io::NiftiVolume v;
    v.nx = v.ny = v.nz = size;
    size_t vox = static_cast<size_t>(size * size * size);
    v.data.resize(vox);
    for (int m = 0; m < 4; ++m) {
      for (size_t i = 0; i < vox; ++i) v.data[i] = c.image[static_cast<int64_t>(m * vox + i)];
      io::write_nifti(case_dir + "/" + name + "_" + modalities[m] + ".nii.gz", v);
    }
    for (size_t i = 0; i < vox; ++i) v.data[i] = c.labels[i];
    io::write_nifti(case_dir + "/" + name + "_seg.nii.gz", v, 1, true);
  }
}

}  // namespace frugal::data
