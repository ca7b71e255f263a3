// NIfTI reading and writing over nifti_clib (see nifti.h). nifti_clib reports problems on stderr
// and returns null; the checks below run first so the user gets a reason instead.
#include "frugal/io/nifti.h"

#include <nifti2_io.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "frugal/core/error.h"
#include "frugal/io/limits.h"

namespace frugal::io {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The start of the header (through gzip if compressed): sizeof_hdr (offset 0) names the version
// and byte order, dim[0] is an int16 at offset 40 (NIfTI-1) or an int64 at offset 16 (NIfTI-2).
struct HeaderStart {
  int32_t sizeof_hdr = 0;
  bool swapped = false;
  int64_t dim0 = 0;
};

HeaderStart read_header_start(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  require(f != nullptr, path + ": cannot open");
  unsigned char bytes[48] = {};
  int got = gzread(f, bytes, sizeof bytes);
  gzclose(f);
  require(got >= 4, path + ": file shorter than a NIfTI header");
  HeaderStart h;
  std::memcpy(&h.sizeof_hdr, bytes, 4);
  const int32_t size_swapped = static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(h.sizeof_hdr)));
  require(h.sizeof_hdr == 348 || h.sizeof_hdr == 540 || size_swapped == 348 || size_swapped == 540,
          path + ": header field sizeof_hdr is " + std::to_string(h.sizeof_hdr) +
              ", expected 348 (NIfTI-1) or 540 (NIfTI-2)");
  h.swapped = h.sizeof_hdr != 348 && h.sizeof_hdr != 540;
  if (h.swapped) h.sizeof_hdr = size_swapped;
  require(got == static_cast<int>(sizeof bytes), path + ": file shorter than a NIfTI header");
  if (h.sizeof_hdr == 348) {
    uint16_t d = 0;
    std::memcpy(&d, bytes + 40, 2);
    h.dim0 = static_cast<int16_t>(h.swapped ? __builtin_bswap16(d) : d);
  } else {
    uint64_t d = 0;
    std::memcpy(&d, bytes + 16, 8);
    h.dim0 = static_cast<int64_t>(h.swapped ? __builtin_bswap64(d) : d);
  }
  return h;
}

// Data bytes the file holds after the header, counting at most `need` (gzread passes plain files
// through, so .nii and .nii.gz are counted alike). nifti_clib allocates the whole volume before it
// reads, so the header's size is checked against this first: a 300-byte .nii.gz must not be able
// to claim 16 GiB of voxels.
int64_t data_bytes_available(const std::string& path, int64_t offset, int64_t need) {
  gzFile f = gzopen(path.c_str(), "rb");
  require(f != nullptr, path + ": cannot open");
  std::vector<char> buf(1 << 16);
  int64_t total = 0;
  while (total < offset + need) {
    int got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (got <= 0) break;
    total += got;
  }
  gzclose(f);
  return std::max<int64_t>(0, total - offset);
}

struct Freer {
  nifti_image* nim;
  ~Freer() {
    if (nim) nifti_image_free(nim);
  }
};
}  // namespace

NiftiVolume read_nifti(const std::string& path) {
  // nifti_clib 3.0.1 copies dim[1..dim[0]] of a NIfTI-2 header into fixed arrays without checking
  // dim[0]: a huge dim[0] overran the stack (found by fuzz_nifti). So it is checked here first.
  const HeaderStart start = read_header_start(path);
  require(start.dim0 >= 1 && start.dim0 <= 7,
          path + ": header field dim[0] is " + std::to_string(start.dim0) + ", expected 1..7");
  nifti_set_debug_level(0);
  nifti_image* header = nifti_image_read(path.c_str(), 0);
  require(header != nullptr, path + ": header is not valid NIfTI (magic or dim fields rejected by nifti_clib)");
  Freer free_header{header};
  // A two-file header (.hdr/.img magic) would make nifti_clib read the voxels from another file,
  // past the length check below.
  require(header->iname != nullptr && path == header->iname,
          path + ": header names a separate image file (.hdr/.img pair); only single-file .nii and .nii.gz are read");
  require(header->ndim >= 1 && header->ndim <= 7, path + ": dim[0] is " + std::to_string(header->ndim) + ", expected 1..7");
  for (int k = 4; k <= header->ndim; ++k)
    require(header->dim[k] == 1, path + ": dim[" + std::to_string(k) + "] is " + std::to_string(header->dim[k]) +
                                     ", expected a single 3-D volume");
  int64_t nx = header->nx, ny = header->ndim >= 2 ? header->ny : 1, nz = header->ndim >= 3 ? header->nz : 1;
  const int64_t cap = limits().max_tensor_elements;
  require(nx > 0 && ny > 0 && nz > 0 && nx <= cap && ny <= cap / nx && nz <= cap / (nx * ny),
          path + ": dims " + std::to_string(nx) + "x" + std::to_string(ny) + "x" + std::to_string(nz) +
              " must be positive with at most " + std::to_string(cap) + " voxels");
  int dt = header->datatype;
  require(dt == DT_UINT8 || dt == DT_INT8 || dt == DT_INT16 || dt == DT_UINT16 || dt == DT_INT32 ||
              dt == DT_FLOAT32 || dt == DT_FLOAT64,
          path + ": datatype " + std::to_string(dt) + " (" + nifti_datatype_string(dt) +
              ") unsupported; expected uint8, int8, int16, uint16, int32, float32 or float64");
  int64_t nbytes = nx * ny * nz * header->nbyper;
  require(header->iname_offset >= 0, path + ": header vox_offset " + std::to_string(header->iname_offset) + " is negative");
  int64_t have = data_bytes_available(path, header->iname_offset, nbytes);
  require(have >= nbytes, path + ": truncated data: header vox_offset " + std::to_string(header->iname_offset) + " needs " +
                              std::to_string(nbytes) + " data bytes, the file has " + std::to_string(have));
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
