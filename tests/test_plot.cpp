// PNG writer and spike plots: the files decode as valid PNGs (signature, chunk CRCs, zlib stream,
// filter bytes) with the stated size, and every raster pixel is black exactly where the recorded
// layer spiked, which is checked against spikes computed independently from the net's layers.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "frugal/autograd/tape.h"
#include "frugal/core/error.h"
#include "frugal/nn/builder.h"
#include "frugal/nn/layers.h"
#include "frugal/plot/png.h"
#include "frugal/plot/spike_plot.h"
#include "frugal/snn/layers.h"
#include "frugal/snn/spike_record.h"
#include "frugal/train/config.h"
#include "frugal/train/layer_families.h"

using namespace frugal;
namespace fs = std::filesystem;

namespace {

const bool kRegistered = [] {
  train::register_layer_families();
  return true;
}();

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | uint32_t{b[at + 3]};
}

// A strict decoder for what write_png produces: 8-bit RGB, filter 0, one zlib stream over IDATs.
// Fails the test (returns a 1x1 image) on any deviation.
plot::Image decode_png(const std::vector<uint8_t>& b) {
  const plot::Image bad(1, 1, plot::kWhite);
  const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() < 8 || std::memcmp(b.data(), sig, 8) != 0) {
    ADD_FAILURE() << "bad PNG signature";
    return bad;
  }
  size_t at = 8;
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> idat;
  bool ended = false;
  while (at + 12 <= b.size() && !ended) {
    const uint32_t len = be32(b, at);
    if (at + 12 + len > b.size()) break;
    const std::string type(b.begin() + static_cast<long>(at + 4), b.begin() + static_cast<long>(at + 8));
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, b.data() + at + 4, 4 + len);
    EXPECT_EQ(static_cast<uint32_t>(crc), be32(b, at + 8 + len)) << "CRC of chunk " << type;
    const uint8_t* data = b.data() + at + 8;
    if (type == "IHDR") {
      EXPECT_EQ(len, 13u);
      width = be32(b, at + 8);
      height = be32(b, at + 12);
      EXPECT_EQ(data[8], 8) << "bit depth";
      EXPECT_EQ(data[9], 2) << "colour type RGB";
      EXPECT_EQ(data[10] + data[11] + data[12], 0) << "compression, filter, interlace";
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    } else if (type == "IEND") {
      ended = true;
    }
    at += 12 + len;
  }
  EXPECT_TRUE(ended) << "no IEND";
  EXPECT_EQ(at, b.size()) << "bytes after IEND";
  if (width == 0 || height == 0) return bad;
  const size_t row = size_t{width} * 3 + 1;
  std::vector<uint8_t> raw(row * height + 1);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, idat.data(), idat.size()) != Z_OK || raw_size != row * height) {
    ADD_FAILURE() << "IDAT does not inflate to " << row * height << " bytes";
    return bad;
  }
  plot::Image img(static_cast<int>(width), static_cast<int>(height), plot::kWhite);
  for (uint32_t y = 0; y < height; ++y) {
    EXPECT_EQ(raw[y * row], 0) << "filter byte of row " << y;
    std::memcpy(img.rgb.data() + size_t{y} * width * 3, raw.data() + y * row + 1, size_t{width} * 3);
  }
  return img;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Png, WrittenFileDecodesToTheSamePixels) {
  plot::Image img(37, 5, plot::kWhite);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      img.set(x, y, {static_cast<uint8_t>(x * 7), static_cast<uint8_t>(y * 50), static_cast<uint8_t>(x ^ y)});
  img.set(-1, 0, plot::kBlack);  // outside: ignored
  img.set(37, 4, plot::kBlack);
  fs::path p = fs::temp_directory_path() / "frugal_test_plot.png";
  plot::write_png(p.string(), img);
  plot::Image back = decode_png(read_bytes(p));
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 5);
  EXPECT_EQ(back.rgb, img.rgb);
  fs::remove(p);
}

TEST(Png, RejectsEmptyAndHugeImages) {
  EXPECT_THROW(plot::Image(0, 3, plot::kWhite), Error);
  EXPECT_THROW(plot::Image(1 << 14, 1 << 14, plot::kWhite), Error);
}

// Two spiking layers of different widths, one of them CuBa-LIF with per-neuron thresholds.
const char* kNet = R"(
[[layers]]
type = "encoder"
code = "direct"
steps = 9
[[layers]]
type = "flatten"
start_axis = 2
[[layers]]
type = "linear"
in = 12
out = 7
[[layers]]
type = "lif"
beta = 0.5
threshold = 0.4
[[layers]]
type = "linear"
in = 7
out = 3
[[layers]]
type = "cuba_lif"
alpha = 0.5
beta = 0.8
neurons = 3
threshold = 0.3
[[layers]]
type = "readout"
mode = "count"
)";

TEST(SpikePlot, RasterPixelsAreTheRecordedSpikes) {
  Rng rng(5);
  nn::ModulePtr model = nn::build_sequential(train::toml_to_json(kNet, "net.toml")["layers"], rng);
  Tensor x = Tensor::empty({2, 3, 2, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform(0.0f, 1.0f);
  std::vector<snn::LayerTrace> traces = snn::record_traces(*model, x);
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[0].name, "3:lif");
  EXPECT_EQ(traces[1].name, "5:cuba_lif");

  // The same spikes, layer by layer through the net's own forward passes.
  auto& seq = dynamic_cast<nn::Sequential&>(*model);
  std::vector<Tensor> expected;
  {
    autograd::NoGradGuard no_grad;
    autograd::Var h(x);
    for (size_t i = 0; i + 1 < seq.layers.size(); ++i) {
      h = seq.layers[i]->forward(h);
      if (i == 3 || i == 5) expected.push_back(h.value());
    }
  }
  int64_t total_spikes = 0;
  for (size_t l = 0; l < 2; ++l) {
    const snn::LayerTrace& tr = traces[l];
    ASSERT_EQ(tr.steps, 9);
    ASSERT_EQ(tr.neurons, l == 0 ? 7 : 3);
    ASSERT_EQ(tr.membranes.size(), tr.spikes.size());
    for (int64_t t = 0; t < tr.steps; ++t)
      for (int64_t n = 0; n < tr.neurons; ++n) {
        const size_t k = static_cast<size_t>(t * tr.neurons + n);
        EXPECT_EQ(tr.spikes[k], expected[l][(t * 2) * tr.neurons + n]) << tr.name << " t " << t << " n " << n;
        // Spikes are H(U - thr) of the recorded membrane (strict, as in snnTorch).
        EXPECT_EQ(tr.spikes[k] != 0.0f, tr.membranes[k] > tr.threshold[tr.threshold.size() == 1 ? 0 : n]);
        total_spikes += tr.spikes[k] != 0.0f;
      }
  }
  ASSERT_GT(total_spikes, 5) << "the test input should make the layers fire";

  plot::Raster r = plot::draw_raster(traces);
  fs::path p = fs::temp_directory_path() / "frugal_test_raster.png";
  plot::write_png(p.string(), r.image);
  plot::Image img = decode_png(read_bytes(p));
  fs::remove(p);
  ASSERT_EQ(r.step_width, 16);  // 512 / 9 steps, capped at 16
  ASSERT_EQ(img.width, 9 * 16);
  ASSERT_EQ(img.height, 7 + plot::kRasterGap + 3);
  EXPECT_EQ(r.top, (std::vector<int>{0, 7 + plot::kRasterGap}));
  int64_t black = 0;
  for (size_t l = 0; l < 2; ++l) {
    const snn::LayerTrace& tr = traces[l];
    for (int64_t t = 0; t < tr.steps; ++t)
      for (int64_t n = 0; n < tr.neurons; ++n)
        for (int dx = 0; dx < r.step_width; ++dx) {
          plot::Rgb c = img.at(static_cast<int>(t) * r.step_width + dx, r.top[l] + static_cast<int>(n));
          const bool spiked = tr.spikes[static_cast<size_t>(t * tr.neurons + n)] != 0.0f;
          EXPECT_EQ(c, spiked ? plot::kBlack : plot::kWhite) << tr.name << " t " << t << " n " << n;
          black += c == plot::kBlack;
        }
  }
  EXPECT_EQ(black, total_spikes * r.step_width);
  for (int y = 7; y < 7 + plot::kRasterGap; ++y) EXPECT_EQ(img.at(0, y), plot::kGray);

  plot::Image mem = plot::draw_membranes(traces);
  EXPECT_EQ(mem.width, plot::kPanelWidth);
  EXPECT_EQ(mem.height, 2 * plot::kPanelHeight + plot::kRasterGap);
  int64_t drawn = 0;
  for (size_t i = 0; i < mem.rgb.size(); i += 3) drawn += mem.rgb[i] != 255 || mem.rgb[i + 1] != 255;
  EXPECT_GT(drawn, 2 * plot::kPanelWidth) << "traces should be drawn";
}

TEST(SpikePlot, NetsWithoutSpikingLayersAreAnError) {
  Rng rng(1);
  nn::ModulePtr model = nn::build_sequential(
      train::toml_to_json("[[layers]]\ntype = \"linear\"\nin = 4\nout = 2\n", "net.toml")["layers"], rng);
  std::vector<snn::LayerTrace> traces = snn::record_traces(*model, Tensor::zeros({1, 4}));
  EXPECT_TRUE(traces.empty());
  EXPECT_THROW(plot::draw_raster(traces), Error);
  EXPECT_THROW(plot::draw_membranes(traces), Error);
}

}  // namespace
