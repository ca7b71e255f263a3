// BraTS-layout segmentation data (Menze et al. 2015; Bakas et al. 2017): one folder per case
// holding <case>_{flair,t1,t1ce,t2,seg}.nii[.gz]; labels 0/1/2/4 become classes 0/1/2/3 (see
// rev/segmentation.h for the WT/TC/ET regions). BraTS cannot be downloaded here, so
// make_phantom() draws synthetic cases with the same structure, and write_phantom_dataset()
// writes them in the BraTS layout for the demo and tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"

namespace frugal::data {

struct SegCase {
  Tensor image;                 // [4, D, H, W]: flair, t1, t1ce, t2
  std::vector<uint8_t> labels;  // classes 0..3 per voxel, D*H*W
};

// Case folders directly under `dir` (sorted); Error when there are none.
std::vector<std::string> list_brats_cases(const std::string& dir);
// Reads one case folder and z-scores each modality over brain voxels (non-zero in that modality).
SegCase read_brats_case(const std::string& case_dir);
// A random crop of `size`^3 voxels (the whole axis when it is smaller than size is an Error).
SegCase random_crop(const SegCase& c, int64_t size, Rng& rng);

// A synthetic case of size^3 voxels: a brain ellipsoid; a tumour with an enhancing rim (label 4)
// around a necrotic core (1) inside an edema shell (2); modality contrasts per tissue, Gaussian
// noise and a smooth multiplicative bias field; background exactly 0 like skull-stripped MRI.
// Returned with raw intensities (not z-scored) and BraTS labels 0/1/2/4.
SegCase make_phantom(int64_t size, uint64_t seed);
// Writes `cases` phantoms as <dir>/phantom_NNN/phantom_NNN_{flair,t1,t1ce,t2,seg}.nii.gz.
void write_phantom_dataset(const std::string& dir, int cases, int64_t size, uint64_t seed);

}  // namespace frugal::data
