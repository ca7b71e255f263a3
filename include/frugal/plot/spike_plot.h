// Pictures of one sample's spiking activity (`frugal eval --plot`): a spike raster (one pixel row
// per neuron, one column band per time step, layers stacked top to bottom) and membrane traces
// (one panel per layer: the most active neurons' U[t] with their thresholds dashed).
#pragma once
#include <vector>

#include "frugal/plot/png.h"
#include "frugal/snn/spike_record.h"

namespace frugal::plot {

inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kGray{170, 170, 170};

// Layer i's neuron n (n < rows[i]) at step t is the block of pixels x in [t*step_width,
// (t+1)*step_width), y = top[i] + n: black where it spiked, white where not. Layers are separated
// by gray bands of kRasterGap rows. Large layers show their first kRasterMaxRows neurons.
inline constexpr int kRasterGap = 4;
inline constexpr int64_t kRasterMaxRows = 2048;
struct Raster {
  Image image;
  int step_width = 1;
  std::vector<int> top;
  std::vector<int64_t> rows;
};
Raster draw_raster(const std::vector<snn::LayerTrace>& traces);

// One kPanelWidth x kPanelHeight panel per layer with membranes, stacked with kRasterGap gray rows
// between them; each shows up to kTracesPerPanel neurons (most spikes first, then highest peak).
inline constexpr int kPanelWidth = 640, kPanelHeight = 180, kTracesPerPanel = 6;
Image draw_membranes(const std::vector<snn::LayerTrace>& traces);

}  // namespace frugal::plot
