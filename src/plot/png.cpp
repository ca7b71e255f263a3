#include "frugal/plot/png.h"

#include <zlib.h>

#include "frugal/core/error.h"
#include "frugal/io/atomic_file.h"

namespace frugal::plot {

namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// length, type, data, CRC-32 of type and data (PNG spec section 5.3).
void put_chunk(std::vector<uint8_t>& out, const char type[5], const std::vector<uint8_t>& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + type_at, static_cast<uInt>(4 + data.size()));
  put_u32(out, static_cast<uint32_t>(crc));
}

}  // namespace

Image::Image(int width, int height, Rgb fill) : width(width), height(height) {
  // PNG allows 2^31-1; the cap keeps a plot from asking for gigabytes.
  require(width > 0 && height > 0 && static_cast<int64_t>(width) * height <= (int64_t{1} << 26),
          "plot: image size " + std::to_string(width) + "x" + std::to_string(height) +
              " outside 1..2^26 pixels");
  rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = fill.r;
    rgb[i + 1] = fill.g;
    rgb[i + 2] = fill.b;
  }
}

void Image::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
  rgb[i] = c.r;
  rgb[i + 1] = c.g;
  rgb[i + 2] = c.b;
}

Rgb Image::at(int x, int y) const {
  require(x >= 0 && y >= 0 && x < width && y < height, "plot: pixel outside the image");
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
  return {rgb[i], rgb[i + 1], rgb[i + 2]};
}

std::vector<uint8_t> encode_png(const Image& image) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_u32(ihdr, static_cast<uint32_t>(image.width));
  put_u32(ihdr, static_cast<uint32_t>(image.height));
  // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering method 0, no interlace.
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  put_chunk(out, "IHDR", ihdr);

  const size_t row = static_cast<size_t>(image.width) * 3;
  std::vector<uint8_t> raw;
  raw.reserve((row + 1) * static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    raw.push_back(0);  // filter type None
    const uint8_t* src = image.rgb.data() + static_cast<size_t>(y) * row;
    raw.insert(raw.end(), src, src + row);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> idat(packed_size);
  int rc = compress2(idat.data(), &packed_size, raw.data(), static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION);
  require(rc == Z_OK, "plot: zlib compress2 failed with code " + std::to_string(rc));
  idat.resize(packed_size);
  put_chunk(out, "IDAT", idat);
  put_chunk(out, "IEND", {});
  return out;
}

void write_png(const std::string& path, const Image& image) {
  std::vector<uint8_t> bytes = encode_png(image);
  io::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace frugal::plot
