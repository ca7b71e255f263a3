// NIfTI reading and writing over nifti_clib (see nifti.h). nifti_clib reports problems on stderr
// and returns null; the checks below run first so the user gets a reason instead.
#include "frugal/io/nifti.h"

#include <nifti2_io.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "frugal/core/error.h"

namespace frugal::io {

namespace {
constexpr int64_t kMaxVoxels = int64_t{1} << 31;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The first 4 bytes of the header (through gzip if compressed): sizeof_hdr names the version.
int32_t read_sizeof_hdr(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  require(f != nullptr, path + ": cannot open");
  int32_t v = 0;
  int got = gzread(f, &v, 4);
  gzclose(f);
  require(got == 4, path + ": file shorter than a NIfTI header");
  return v;
}

struct Freer {
  nifti_image* nim;
  ~Freer() {
    if (nim) nifti_image_free(nim);
  }
};
}  // namespace

NiftiVolume read_nifti(const std::string& path) {
  int32_t size = read_sizeof_hdr(path);
  int32_t swapped = static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(size)));
  require(size == 348 || size == 540 || swapped == 348 || swapped == 540,
          path + ": header field sizeof_hdr is " + std::to_string(size) + ", expected 348 (NIfTI-1) or 540 (NIfTI-2)");
  nifti_set_debug_level(0);
  nifti_image* header = nifti_image_read(path.c_str(), 0);
  require(header != nullptr, path + ": header is not valid NIfTI (magic or dim fields rejected by nifti_clib)");
  Freer free_header{header};
  require(header->ndim >= 1 && header->ndim <= 7, path + ": dim[0] is " + std::to_string(header->ndim) + ", expected 1..7");
  for (int k = 4; k <= header->ndim; ++k)
    require(header->dim[k] == 1, path + ": dim[" + std::to_string(k) + "] is " + std::to_string(header->dim[k]) +
                                     ", expected a single 3-D volume");
  int64_t nx = header->nx, ny = header->ndim >= 2 ? header->ny : 1, nz = header->ndim >= 3 ? header->nz : 1;
  require(nx > 0 && ny > 0 && nz > 0 && nx * ny <= kMaxVoxels && nx * ny * nz <= kMaxVoxels,
          path + ": dims " + std::to_string(nx) + "x" + std::to_string(ny) + "x" + std::to_string(nz) +
              " must be positive with at most 2^31 voxels");
  int dt = header->datatype;
  require(dt == DT_UINT8 || dt == DT_INT8 || dt == DT_INT16 || dt == DT_UINT16 || dt == DT_INT32 ||
              dt == DT_FLOAT32 || dt == DT_FLOAT64,
          path + ": datatype " + std::to_string(dt) + " (" + nifti_datatype_string(dt) +
              ") unsupported; expected uint8, int8, int16, uint16, int32, float32 or float64");
  int64_t nbytes = nx * ny * nz * header->nbyper;
  if (!ends_with(path, ".gz")) {
    struct stat st {};
    require(stat(path.c_str(), &st) == 0, path + ": cannot stat");
    require(static_cast<int64_t>(st.st_size) >= header->iname_offset + nbytes,
            path + ": truncated data: header vox_offset " + std::to_string(header->iname_offset) + " + " +
                std::to_string(nbytes) + " data bytes exceeds file size " + std::to_string(st.st_size));
  }
  nifti_image* nim = nifti_image_read(path.c_str(), 1);
  require(nim != nullptr && nim->data != nullptr,
          path + ": truncated or unreadable data (expected " + std::to_string(nbytes) + " bytes after the header)");
  Freer free_nim{nim};
  NiftiVolume v;
  v.nx = nx;
  v.ny = ny;
  v.nz = nz;
  v.spacing[0] = static_cast<float>(nim->dx);
  v.spacing[1] = static_cast<float>(nim->dy);
  v.spacing[2] = static_cast<float>(nim->dz);
  size_t n = static_cast<size_t>(nx * ny * nz);
  v.data.resize(n);
  double slope = nim->scl_slope != 0 && std::isfinite(nim->scl_slope) ? nim->scl_slope : 1.0;
  double inter = std::isfinite(nim->scl_inter) ? nim->scl_inter : 0.0;
  for (size_t i = 0; i < n; ++i) {
    double x = 0;
    switch (dt) {
      case DT_UINT8: x = static_cast<const uint8_t*>(nim->data)[i]; break;
      case DT_INT8: x = static_cast<const int8_t*>(nim->data)[i]; break;
      case DT_INT16: x = static_cast<const int16_t*>(nim->data)[i]; break;
      case DT_UINT16: x = static_cast<const uint16_t*>(nim->data)[i]; break;
      case DT_INT32: x = static_cast<const int32_t*>(nim->data)[i]; break;
      case DT_FLOAT32: x = static_cast<const float*>(nim->data)[i]; break;
      default: x = static_cast<const double*>(nim->data)[i]; break;
    }
    v.data[i] = static_cast<float>(x * slope + inter);
  }
  return v;
}

void write_nifti(const std::string& path, const NiftiVolume& volume, int version, bool as_uint8) {
  require(version == 1 || version == 2, path + ": NIfTI version must be 1 or 2");
  size_t n = static_cast<size_t>(volume.nx * volume.ny * volume.nz);
  require(volume.nx > 0 && volume.ny > 0 && volume.nz > 0 && volume.data.size() == n,
          path + ": volume data does not match its dims");
  int64_t dims[8] = {3, volume.nx, volume.ny, volume.nz, 1, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, as_uint8 ? DT_UINT8 : DT_FLOAT32, 1);
  require(nim != nullptr, path + ": nifti_clib could not create the image");
  Freer free_nim{nim};
  nim->nifti_type = version == 1 ? NIFTI_FTYPE_NIFTI1_1 : NIFTI_FTYPE_NIFTI2_1;
  nim->dx = nim->pixdim[1] = volume.spacing[0];
  nim->dy = nim->pixdim[2] = volume.spacing[1];
  nim->dz = nim->pixdim[3] = volume.spacing[2];
  for (size_t i = 0; i < n; ++i) {
    if (as_uint8)
      static_cast<uint8_t*>(nim->data)[i] =
          static_cast<uint8_t>(std::lround(std::fmin(255.0f, std::fmax(0.0f, volume.data[i]))));
    else
      static_cast<float*>(nim->data)[i] = volume.data[i];
  }
  // nifti_clib derives the file names from the prefix; write beside the target, then rename.
  std::string ext = ends_with(path, ".nii.gz") ? ".nii.gz" : ".nii";
  require(ends_with(path, ext), path + ": expected a .nii or .nii.gz file name");
  std::string temp = path.substr(0, path.size() - ext.size()) + ".tmp" + ext;
  require(nifti_set_filenames(nim, temp.c_str(), 0, 1) == 0, path + ": bad file name");
  nifti_image_write(nim);
  struct stat st {};
  require(stat(temp.c_str(), &st) == 0 && st.st_size > 0, path + ": writing failed");
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw Error(path + ": cannot rename the written file into place");
  }
}

}  // namespace frugal::io
