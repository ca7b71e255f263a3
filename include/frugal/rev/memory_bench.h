// The memory proof for the reversible U-Net (Pendse et al., BrainLes 2020: reversible MBConv
// blocks train volumes ~3x larger, 2x wider or 25% deeper in the same memory): one training step
// (forward, Dice + CE loss, backward) of the reversible and the plain version of the same net,
// measured by the tracking allocator's peak bytes, and the largest volume, width and depth each
// version trains within a byte budget. `frugal bench memory` and bench/rev_unet_memory call this.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "frugal/rev/unet3d.h"

namespace frugal::rev {

struct StepMeasurement {
  int64_t peak_bytes = 0;  // tracked bytes at the peak: parameters, input, gradients, oneDNN scratch
  int64_t max_rss = 0;     // the measuring child's max resident set size
  double seconds = 0;      // the last step's forward + loss + backward
};

// `steps` training steps of `config` on a random batch-1 volume of size^3 (the first warms up
// oneDNN; the last is timed), in a forked child so max RSS is the step's own. Throws Error if the
// child fails. Fork before this process runs any OpenMP region: libgomp's pool does not survive
// a fork.
StepMeasurement measure_training_step(const UNet3dConfig& config, int64_t size, int steps = 2);

struct MemoryBenchOptions {
  std::vector<int64_t> sizes{16, 24, 32, 40, 48, 56, 64};  // cubic volumes, increasing
  int64_t budget_bytes = int64_t{2} << 30;
  int64_t search_size = 0;   // volume of the width and depth searches; 0: the plain net's largest
  int max_width_quarters = 16;  // widths searched: channels x 4/4, 5/4, ..., up to this / 4
  int max_extra_blocks = 8;     // depths searched: blocks per level + 0, 1, ..., this
  int steps = 2;
};

struct MemoryRow {
  std::string search;  // volume | width | depth
  bool reversible = false;
  int64_t size = 0;
  std::vector<int> channels, blocks;
  StepMeasurement m;
  bool fits = false;
};

struct MemoryReport {
  std::vector<MemoryRow> rows;
  // Index 0: reversible, 1: plain. 0 where nothing fits.
  int64_t max_size[2] = {0, 0};
  int max_channels[2] = {0, 0};  // first-level channels at search_size
  int max_blocks[2] = {0, 0};    // blocks in the whole net (encoder + decoder) at search_size
  int64_t search_size = 0;
  // Both versions at the largest size the plain one fits (the step-time and peak comparison).
  int64_t compare_size = 0;
  StepMeasurement compare[2];
};

// Measures `base` reversible and plain: volumes, then widths and depths at search_size. Each
// version stops growing at its first size over the budget. on_row sees every measurement.
MemoryReport run_memory_bench(const UNet3dConfig& base, const MemoryBenchOptions& options,
                              const std::function<void(const MemoryRow&)>& on_row);

// Total blocks of a net (the encoder's levels and the decoder's, which skips the bottom level).
int total_blocks(const UNet3dConfig& config);
// The JSON keys of docs/cli.md: peak_bytes_{reversible,plain}, step_seconds_{...},
// max_voxels_{...}, max_channels_{...}, max_blocks_{...}, and every measurement.
nn::Json memory_report_json(const MemoryReport& report, int64_t budget_bytes);
// One aligned text line per measurement, and the summary lines.
std::string memory_row_text(const MemoryRow& row);
std::string memory_summary_text(const MemoryReport& report, int64_t budget_bytes);

}  // namespace frugal::rev
