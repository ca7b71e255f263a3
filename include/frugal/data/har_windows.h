// Human-activity recognition datasets for sequence models: sensor series from io/har.h turned
// into Dataset inputs [N, T, channels] (batch first; the LMU layers swap to [T, N, F]), with
// per-channel z-score normalization using training-set statistics, and WISDM's raw stream cut
// into fixed windows split by subject (Kwapisz, Weiss & Moore 2011; 20 Hz, e.g. 2 s = 40 steps).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frugal/data/dataset.h"
#include "frugal/io/har.h"

namespace frugal::data {

// values[(i*C + c)*L + t] -> inputs[i][t][c]; labels and classes kept.
Dataset series_to_dataset(const io::SeriesSet& s, const std::string& name);

struct ChannelStats {
  std::vector<float> mean, stddev;  // per channel of [N, T, C] inputs
};
ChannelStats channel_stats(const Dataset& d);
// (x - mean) / stddev per channel; a constant channel (stddev 0) is only centred.
void normalize(Dataset& d, const ChannelStats& stats);

// Keeps `limit` samples chosen by a seeded shuffle (class-sorted files stay balanced), in their
// original order; limit 0 or >= N keeps all.
Dataset take_subset(const Dataset& d, int64_t limit, uint64_t seed);

struct WindowOptions {
  int length = 40;     // steps per window
  int stride = 20;     // steps between window starts
  double test_fraction = 0.2;  // share of subjects held out for test
  uint64_t seed = 42;
};
// Windows of one subject and one activity in consecutive records (3 channels: x, y, z); subjects
// split by a seeded shuffle so no subject is in both train and test.
Dataset wisdm_windows(const io::WisdmData& w, const WindowOptions& opt, bool train);

// The named HAR sets, normalized with the training split's statistics:
//   basicmotions: dir/BasicMotions_{TRAIN,TEST}.ts (default: $FRUGAL_CACHE or ~/.cache/frugal,
//                 /BasicMotions; scripts/fetch_har.sh puts it there), 100 steps x 6 channels, 4 classes
//   uci-har:      dir/{train,test} of "UCI HAR Dataset", 128 steps x 9 channels, 6 classes
//   wisdm:        dir/WISDM_ar_v1.1_raw.txt, 40-step windows x 3 channels, 6 classes
//   har-ts:       dir/TRAIN.ts and dir/TEST.ts of any equal-length .ts set (tests' fixture)
Dataset load_har(const std::string& name, const std::string& dir, bool train, int64_t limit);
std::string default_har_dir(const std::string& name);

}  // namespace frugal::data
