// NIfTI-1 and NIfTI-2 volumes (.nii, .nii.gz) through nifti_clib (Debian libnifti2-dev), with the
// header checked first so a malformed file is an Error naming the file and the field: header
// size (348 or 540), dimensions, datatype, and data length against the header.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace frugal::io {

// A 3-D scalar volume; x varies fastest (NIfTI's order), so data[(z * ny + y) * nx + x].
struct NiftiVolume {
  int64_t nx = 0, ny = 0, nz = 0;
  float spacing[3] = {1, 1, 1};  // mm
  std::vector<float> data;
};

// Reads a 3-D volume (a 4-D file with one time point is accepted) of datatype uint8, int8,
// int16, uint16, int32, float32 or float64 as float32.
NiftiVolume read_nifti(const std::string& path);

// Writes float32 (or uint8 for label maps, values rounded and clamped to 0..255), NIfTI-1 or -2
// by `version`; gzip when the path ends in .gz. The file appears atomically (temp + rename).
void write_nifti(const std::string& path, const NiftiVolume& volume, int version = 1, bool as_uint8 = false);

}  // namespace frugal::io
