// A minimal PNG writer (ISO/IEC 15948, W3C PNG 2nd edition): 8-bit truecolour RGB, no
// interlace, every scanline with filter type 0, the image data compressed by zlib. It exists so
// plots (spike rasters, membrane traces) can be drawn pixel by pixel without a plotting library.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace frugal::plot {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// Row-major RGB pixels, (0, 0) at the top left.
struct Image {
  Image(int width, int height, Rgb fill);
  int width, height;
  std::vector<uint8_t> rgb;  // width * height * 3
  void set(int x, int y, Rgb c);  // ignores pixels outside the image
  Rgb at(int x, int y) const;
};

// The PNG file's bytes.
std::vector<uint8_t> encode_png(const Image& image);
// Written to a temp file and renamed, so a crash never leaves a torn PNG.
void write_png(const std::string& path, const Image& image);

}  // namespace frugal::plot
